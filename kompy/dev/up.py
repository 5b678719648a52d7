"""``kompy up``: a Compose project running on the built-in cluster, as ``docker compose up -d``.

load -> convert (namespace = project name) -> check that the cluster can start, then start
it while the images build -> stamp each workload's pod template with the ids of its built
images (a rebuilt image rolls the pods) -> create the namespace -> apply every object (and
delete the ones an earlier ``up`` applied that the project no longer produces) -> wait until
every workload is ready, failing fast on a pod that cannot get there -> print the URLs of
published ports, which the cluster's proxy serves at 127.0.0.1:<published> from the
Services' ``kompy.dev/host-ports`` annotation (docs/cluster.md, "Services, DNS and isolation").
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TextIO

from kompy.client import KubeClient, NotFound
from kompy.dev.console import Console
from kompy.dev.target import ClusterTarget
from kompy.errors import EXIT_OK, Diagnostic, KompyError

HOST_PORTS_ANNOTATION = "kompy.dev/host-ports"
# Where the host ports go when the built-in extras are off: kompy dev forwards them.
PUBLISHED_ANNOTATION = "kompy.dev/published-ports"
IMAGE_IDS_ANNOTATION = "kompy.dev/image-ids"
ROLLED_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
# up and dev apply server-side under this field manager (any cluster serves it since 1.22).
FIELD_MANAGER = "kompy"
MANAGED_BY_SELECTOR = f"{MANAGED_BY_LABEL}=kompy"
# Applied first: what workloads refer to must exist before their pods start.
_APPLY_ORDER = {"Namespace": 0, "ConfigMap": 1, "Secret": 1, "PersistentVolumeClaim": 1,
                "ServiceAccount": 1, "Service": 2}
# Kinds `up` prunes when the project no longer produces them. PVCs are never pruned (data).
PRUNED = ("deployments", "statefulsets", "daemonsets", "jobs", "cronjobs", "pods", "services",
          "configmaps", "secrets", "ingresses", "networkpolicies", "horizontalpodautoscalers")
# Images tried, in order, for convert's helper init containers (depends_on waits, volume
# seeds: sh, nc and a static busybox): nothing may be pullable, so use one the engine has
# (kompy/busybox:1, Debian's busybox-static, is built by samples/base-images).
WAIT_IMAGES = ("busybox:1.36-musl", "kompy/busybox:1")


@dataclass(frozen=True)
class UpRequest:
    files: tuple[str, ...] = ()
    project_directory: str | None = None
    project_name: str | None = None
    env_files: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    build: bool = True
    wait: bool = True
    wait_timeout: float = 120.0
    cluster: str | None = None
    environ: Mapping[str, str] | None = None
    target: ClusterTarget | None = None   # another cluster (--context); None: the built-in one

    def where(self) -> ClusterTarget:
        return self.target or ClusterTarget(cluster=self.cluster)


@dataclass(frozen=True)
class Url:
    service: str
    host_port: int
    port: int
    protocol: str
    k8s_service: str = ""   # the Service's name (the Compose service's, as k8s spells it)

    def text(self) -> str:
        if self.protocol != "tcp":
            return f"{self.protocol}://127.0.0.1:{self.host_port}"
        return f"http://127.0.0.1:{self.host_port}"


def run_up(request: UpRequest, out: TextIO, err: TextIO) -> int:
    console = Console(out, err)
    target = request.where()
    project, diagnostics = load(request)
    namespace = namespace_of(project.name, target)
    options = convert_options(namespace, target)
    conversion = convert_project(project, options, diagnostics)
    for diagnostic in diagnostics:
        if not _about_develop(diagnostic):
            console.warn(diagnostic.format())
    from kompy.dev.builder import plan_builds

    plan = plan_builds(project, options, request.services)
    for diagnostic in plan.diagnostics:
        console.warn(diagnostic.format())
    client, images = start_and_build(target, plan, request.build, console)
    use_built(conversion.objects, images, target)
    target.use_run_states(client, namespace)
    console.say(f"applying {count(len(conversion.objects), 'object')} to namespace "
                f"{namespace}")
    applied = apply_all(client, namespace, conversion.objects, console.say)
    if not request.services:  # `up web` leaves the project's other services alone
        prune(client, namespace, applied, console.say)
    if request.wait:
        from kompy.dev.readiness import WORKLOAD_KINDS, wait_ready

        workloads = [(o["kind"], o["metadata"]["name"]) for o in conversion.objects
                     if o.get("kind") in WORKLOAD_KINDS]
        wait_ready(client, namespace, workloads, request.wait_timeout, console.say)
    _print_published(client, target, namespace, conversion.objects, console)
    from kompy.dev.ingress_urls import print_ingress_urls

    print_ingress_urls(client, target, namespace, conversion.objects, console)
    return EXIT_OK


def _print_published(client: KubeClient, target: ClusterTarget, namespace: str,
                     objects: list[dict[str, Any]], console: Console) -> None:
    """Where each published Compose port answers: at 127.0.0.1 on the built-in cluster's
    host ports; through a port-forward when there are none."""
    if not target.extras:
        # No host ports on this cluster: kompy dev forwards them; `up` cannot stay to.
        for url in published_urls(objects, with_extras=False):
            console.say(f"{url.service}: port {url.host_port} is published through "
                        f"port-forward: `kompy dev` forwards it, or `kompy port-forward "
                        f"svc/{url.k8s_service} {url.host_port}:{url.port} -n {namespace}"
                        f"{target.flags()}`")
        return
    urls = published_urls(objects)
    taken = _listen_failures(client, namespace) if urls else {}
    for url in urls:
        if url.host_port in taken:
            console.warn(f"{url.service}: {taken[url.host_port]}")
        reachable = _await_port(url.host_port, 10.0) if url.protocol == "tcp" else True
        note = "" if reachable else "  (not answering yet)"
        console.say(f"{url.service}: {url.text()}{note}")


def _about_develop(diagnostic: Diagnostic) -> bool:
    """convert's note that ``develop`` has no Kubernetes meaning: ``up`` and ``dev`` are
    what it is written for."""
    return diagnostic.key_path[-1:] == ("develop",) and diagnostic.key_path[:1] == ("services",)


def start_and_build(target: ClusterTarget, plan: Any, build: bool, console: Console
                    ) -> tuple[KubeClient, list[Any]]:
    """The cluster's client and the project's images (dev/images.py: content-tagged,
    renamed under --default-repo, pushed when asked; built only when their inputs changed).

    The built-in cluster's start-up checks come first (a conflicting cluster fails before a
    long build); the daemon then starts while the images build, and the build goes on
    showing its progress. Without ``build``, the images are those the engine already has
    under the names convert gives, so a `docker build` made by hand still rolls the pods."""
    from kompy.dev.builder import BuildPlan, build_images
    from kompy.dev.images import ImageTarget, ServiceImage, prepare

    def build_one(spec: Any) -> str:
        return build_images(BuildPlan((spec,)), console)[spec.image]

    def images() -> list[ServiceImage]:
        if not build:
            return [ServiceImage(spec.service, spec.image, spec.image, image_id, False, False)
                    for spec, image_id in local_image_ids(plan)]
        return prepare(plan.specs, ImageTarget(target.default_repo, target.pushes), build_one,
                       console.say, push_out=console.err, terminal=console.terminal)

    target.preflight()
    with ThreadPoolExecutor(1, thread_name_prefix="kompy-start") as pool:
        starting = pool.submit(target.connect, console.say)
        built = images()
        return starting.result(), built


def local_image_ids(plan: Any) -> list[tuple[Any, str]]:
    from kompy.engine.images import inspect_image

    found = [(spec, inspect_image(spec.image)) for spec in plan.specs]
    return [(spec, details.id) for spec, details in found if details is not None]


def use_built(objects: list[dict[str, Any]], images: list[Any], target: ClusterTarget) -> None:
    """Point the pods at the images that were built (their content tags) and record their
    ids in the templates; drop the host ports when the built-in extras are off."""
    from kompy.dev.images import use_images
    from kompy.dev.target import without_host_ports

    use_images(objects, {image.name: image.ref for image in images})
    stamp_image_ids(objects, {image.ref: image.image_id for image in images})
    if not target.extras:
        without_host_ports(objects)


def stamp_image_ids(objects: list[dict[str, Any]], image_ids: Mapping[str, str]) -> None:
    """Record in each rolled workload's pod template the ids of the built images its
    containers run (``kompy.dev/image-ids``): a rebuilt image changes the template, and so
    rolls the pods, as ``docker compose up --build`` recreates the containers, while an
    unchanged image (a cache hit) changes nothing. With content tags the image reference
    changes with the content already; the ids also catch an image rebuilt by hand under
    the same name (``--no-build``)."""
    for obj in objects:
        if obj.get("kind") not in ROLLED_KINDS:
            continue
        template = (obj.get("spec") or {}).get("template") or {}
        pod_spec = template.get("spec") or {}
        ids = sorted(f"{c.get('name')}={image_ids[str(c.get('image'))]}"
                     for c in [*(pod_spec.get("initContainers") or []),
                               *(pod_spec.get("containers") or [])]
                     if str(c.get("image")) in image_ids)
        if ids:
            annotations = template.setdefault("metadata", {}).setdefault("annotations", {})
            annotations[IMAGE_IDS_ANNOTATION] = ",".join(ids)


def count(n: int, noun: str) -> str:
    """``1 object``, ``5 objects``."""
    return f"{n} {noun}{'s' * (n != 1)}"


def _listen_failures(client: KubeClient, namespace: str) -> dict[int, str]:
    """Host ports the cluster's proxy could not listen on (its FailedToListen events): another
    program holds them, and it, not the project, would answer there."""
    try:
        events = client.list("events", namespace).get("items") or []
    except KompyError:
        return {}
    failures: dict[int, str] = {}
    for event in events:
        message = str(event.get("message") or "")
        match = re.search(r"127\.0\.0\.1:(\d+)/", message)
        if event.get("reason") == "FailedToListen" and match:
            failures[int(match[1])] = message
    return failures


def load(request: UpRequest) -> tuple[Any, list[Diagnostic]]:
    from kompy.compose.loader import LoadOptions, load_project

    diagnostics: list[Diagnostic] = []
    project = load_project(LoadOptions(
        files=request.files, project_directory=request.project_directory,
        project_name=request.project_name, env_files=request.env_files,
        profiles=request.profiles, services=request.services, environ=request.environ,
    ), diagnostics)
    return project, diagnostics


def namespace_of(project_name: str, target: ClusterTarget | None = None) -> str:
    """Where a project runs: ``-n`` when given, else a namespace named after it."""
    from kompy.convert.context import k8s_name

    if target is not None and target.namespace:
        return target.namespace
    return k8s_name(project_name)


def convert_options(namespace: str, target: ClusterTarget | None = None) -> Any:
    from kompy.convert.options import DEFAULT_WAIT_IMAGE, ConvertOptions

    # The built-in cluster pulls nothing it need not: the wait image is one its engine has.
    # Another cluster pulls the converter's default from its registry.
    builtin = target is None or target.builtin
    wait_image = _wait_image() if builtin else DEFAULT_WAIT_IMAGE
    # apply_all creates the namespace itself (with kompy's labels): no Namespace object.
    return ConvertOptions(namespace=namespace, wait_image=wait_image, create_namespace=False)


def _wait_image() -> str:
    from kompy.engine.images import image_exists

    for image in WAIT_IMAGES:
        if image_exists(image):
            return image
    return WAIT_IMAGES[0]


def convert_project(project: Any, options: Any, diagnostics: list[Diagnostic]) -> Any:
    from dataclasses import replace

    from kompy.convert import convert
    from kompy.convert.builds import plan_builds

    # The built-in cluster runs on the engine the builder builds into: it pulls nothing.
    local = {spec.image: spec.image for spec in plan_builds(project, options).specs}
    conversion = convert(project, replace(options, cluster_images=local))
    diagnostics.extend(conversion.diagnostics)
    return conversion


def apply_all(client: KubeClient, namespace: str, objects: list[dict[str, Any]],
              say: Callable[[str], None]) -> set[tuple[str, str]]:
    """Create the namespace when missing, then apply every object server-side (field manager
    ``kompy``, conflicts forced: the project's files are the truth for what they say);
    returns the (kind, name) applied."""
    from kompy.client import resources

    ensure_namespace(client, namespace)
    applied: set[tuple[str, str]] = set()
    for obj in sorted(objects, key=lambda o: _APPLY_ORDER.get(str(o.get("kind")), 3)):
        kind = str(obj.get("kind"))
        meta = obj.setdefault("metadata", {})
        if resources.lookup(kind).namespaced:
            meta["namespace"] = namespace
        _, result = client.apply_server_side(obj, FIELD_MANAGER)
        applied.add((kind, str(meta.get("name"))))
        if result != "unchanged":
            say(f"  {kind.lower()}/{meta.get('name')} {result}")
    return applied


def ensure_namespace(client: KubeClient, namespace: str) -> None:
    """Create the project's namespace, labelled as kompy's, unless it exists: a namespace
    that was there before (one a cluster's admin made for the team) is used as it is, and
    ``kompy down`` then removes only what kompy put in it (kompy/dev/down.py)."""
    from kompy.client import ApiError, Conflict

    try:
        client.get("namespaces", namespace)
        return
    except NotFound:
        pass
    except ApiError as error:
        if error.status == 403:
            return   # may not read namespaces (RBAC): the user's own namespace, presumably
        raise
    with contextlib.suppress(Conflict):   # made meanwhile (another kompy): used as it is
        client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": namespace, "labels": {MANAGED_BY_LABEL: "kompy",
                                          "app.kubernetes.io/part-of": namespace}}})


def prune(client: KubeClient, namespace: str, applied: set[tuple[str, str]],
          say: Callable[[str], None]) -> None:
    """Delete objects an earlier ``up`` made that the project no longer produces."""
    for plural in PRUNED:
        try:
            items = client.list(plural, namespace, label_selector=MANAGED_BY_SELECTOR)["items"]
        except (NotFound, KompyError):
            continue  # a kind this cluster does not serve
        for item in items:
            kind = str(item.get("kind") or _kind_of(plural))
            name = str(item["metadata"]["name"])
            if (kind, name) in applied or _owned(item):
                continue
            try:
                client.delete(plural, name, namespace)
                say(f"  {kind.lower()}/{name} deleted (no longer in the project)")
            except NotFound:
                pass


def _kind_of(plural: str) -> str:
    from kompy.client import resources

    return resources.lookup(plural).kind


def _owned(item: dict[str, Any]) -> bool:
    """Objects a controller made (a Deployment's pods) are its to delete, not ours."""
    return bool((item.get("metadata") or {}).get("ownerReferences"))


def published_urls(objects: list[dict[str, Any]], *, with_extras: bool = True) -> list[Url]:
    """Every published port, from the Services' ``kompy.dev/host-ports`` annotation (also
    when the built-in extras are off: then read before it is dropped, for port-forwards)."""
    urls: list[Url] = []
    for obj in objects:
        if obj.get("kind") != "Service":
            continue
        meta = obj.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        value = annotations.get(HOST_PORTS_ANNOTATION) or \
            ("" if with_extras else annotations.get(PUBLISHED_ANNOTATION))
        service = (meta.get("labels") or {}).get("app.kubernetes.io/name") or meta.get("name")
        for entry in str(value or "").split(","):
            parsed = _host_port(entry.strip())
            if parsed:
                urls.append(Url(str(service), *parsed, k8s_service=str(meta.get("name"))))
    return sorted(set(urls), key=lambda u: (u.host_port, u.protocol))


def _host_port(entry: str) -> tuple[int, int, str] | None:
    """``"8080:80/tcp"`` -> (8080, 80, "tcp")."""
    ports, _, protocol = entry.partition("/")
    host, _, port = ports.partition(":")
    if not (host.isdigit() and port.isdigit()):
        return None
    return int(host), int(port), (protocol or "tcp").lower()


def _await_port(port: int, timeout: float) -> bool:
    """Wait until 127.0.0.1:port accepts a connection (the proxy listens), up to ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            # A refused connection returns at once: wait a little before trying again.
            time.sleep(0.1)
