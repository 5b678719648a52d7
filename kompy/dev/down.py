"""``kompy down``: remove a project from the built-in cluster, as ``docker compose down``.

Every object in the project's namespace is deleted, then the namespace itself; the cluster's
kubelet removes the pods' containers. Afterwards no container and no network of the namespace
is left on the Docker engine. PersistentVolumeClaims' Docker volumes stay (the data survives a
later ``up``, as named volumes survive ``docker compose down``) unless ``--volumes``: their
PersistentVolumes are made Retain before the claims go, then deleted (the Docker volumes
stay); with ``--volumes`` the default class's Delete policy removes them.

On another cluster a claim's data goes with the claim, so there the claims (and the
namespace that holds them) stay unless ``--volumes``. A namespace kompy did not create (one
that existed before ``up``) is never deleted: only the objects kompy applied in it are.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TextIO

from kompy.client import Gone, KubeClient, NotFound
from kompy.dev.target import ClusterTarget
from kompy.dev.up import count
from kompy.errors import EXIT_OK, ClusterError, KompyError

PART_OF = "app.kubernetes.io/part-of"
PROGRESS_SECONDS = 5.0   # how often a wait says what it still waits for
# Deleted in this order: controllers before what they own, so nothing is re-created.
DELETED = ("cronjobs", "jobs", "deployments", "statefulsets", "daemonsets", "replicasets",
           "pods", "services", "ingresses", "networkpolicies", "horizontalpodautoscalers",
           "configmaps", "secrets", "persistentvolumeclaims")


@dataclass(frozen=True)
class DownRequest:
    files: tuple[str, ...] = ()
    project_directory: str | None = None
    project_name: str | None = None
    env_files: tuple[str, ...] = ()
    volumes: bool = False
    timeout: float = 60.0
    cluster: str | None = None
    environ: Mapping[str, str] | None = None
    target: ClusterTarget | None = None   # another cluster (--context); None: the built-in one
    grace_period: int | None = None       # at most this for each pod to stop (kompy dev's)

    def where(self) -> ClusterTarget:
        return self.target or ClusterTarget(cluster=self.cluster)


def run_down(request: DownRequest, out: TextIO, err: TextIO,
             client: KubeClient | None = None) -> int:
    """``client``: the one a ``kompy dev`` session already has. Its clean-up must not go
    through :meth:`ClusterTarget.connect`, which starts the built-in cluster when its
    health check misses, and waits up to two minutes for a slow daemon to answer."""
    def say(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    from kompy.dev.up import namespace_of

    target = request.where()
    namespace = namespace_of(request.project_name or _project_name(request), target)
    client = client or target.connect(say)
    try:
        found = read_namespace(client, namespace)
    except NotFound:
        say(f"namespace {namespace}: nothing to remove")
    else:
        # Another cluster's claims hold the data (their volumes go with them, by the usual
        # reclaim policy): kept unless --volumes, as docker compose down keeps volumes. The
        # built-in cluster's claims go, their volumes made Retain first (keep_claim_volumes).
        claims = target.builtin or request.volumes
        ours = _made_by_kompy(found)
        kept = keep_claim_volumes(client, namespace, ours) if target.builtin and \
            not request.volumes else []
        if not ours:
            delete_project(client, namespace, request.timeout, say, request.grace_period,
                           claims)
            forget_volumes(client, kept)
            return EXIT_OK   # the namespace stays, with its network
        delete_namespace(client, namespace, request.timeout, say, request.grace_period,
                         claims)
        forget_volumes(client, kept)
    if target.builtin:   # the built-in cluster's Docker objects; another cluster's are its own
        _clean_docker(namespace, request, say)
    return EXIT_OK


def _project_name(request: DownRequest) -> str:
    from kompy.compose.loader import LoadOptions, load_project

    project = load_project(LoadOptions(
        files=request.files, project_directory=request.project_directory,
        env_files=request.env_files, environ=request.environ))
    return project.name


def delete_namespace(client: KubeClient, namespace: str, timeout: float,
                     say: Callable[[str], None], grace: int | None = None,
                     claims: bool = True) -> None:
    """Delete every object of the namespace, wait for its pods to go, then the namespace.
    ``grace``: the most any pod gets to stop (each asks for its own otherwise). Without
    ``claims`` the volume claims stay, and so does the namespace when there are any."""
    # Each pod gets its grace period (Kubernetes' default 30 s; Compose's stop_grace_period
    # when set) to stop before the wait below gives up.
    longest = _longest_grace(client, namespace)
    deadline = time.monotonic() + timeout + (longest if grace is None else min(longest, grace))
    _delete_each(client, namespace, say, grace, claims=claims)
    _wait_no_pods(client, namespace, deadline, say=say)
    if not claims and _kept_claims(client, namespace, None, say):
        return
    try:
        client.delete("namespaces", namespace)
        say(f"namespace {namespace} deleted")
    except NotFound:
        pass


def read_namespace(client: KubeClient, namespace: str) -> dict[str, Any]:
    """The namespace (NotFound when there is none); {} when this user may not read
    namespaces (RBAC on a shared cluster: then it is not one kompy made)."""
    from kompy.client import ApiError

    try:
        return client.get("namespaces", namespace)
    except NotFound:
        raise
    except ApiError as error:
        if error.status == 403:
            return {}
        raise


def force_delete(client: KubeClient, namespace: str) -> None:
    """The second Ctrl-C: every pod of the project deleted at once (grace period 0), then
    the namespace when kompy made it, else kompy's objects in it; no waiting."""
    from kompy.dev.up import MANAGED_BY_SELECTOR

    try:
        ours = _made_by_kompy(read_namespace(client, namespace))
    except NotFound:
        return
    selector = None if ours else _project_selector(client, namespace)
    if ours or selector:
        for pod in client.list("pods", namespace, label_selector=selector).get("items") or []:
            with contextlib.suppress(NotFound):
                client.delete("pods", str(pod["metadata"]["name"]), namespace,
                              grace_period_seconds=0)
    if not ours:
        _delete_each(client, namespace, lambda _line: None, 0, MANAGED_BY_SELECTOR)
        return
    with contextlib.suppress(NotFound):
        client.delete("namespaces", namespace)


def _made_by_kompy(namespace: dict[str, Any]) -> bool:
    from kompy.dev.up import MANAGED_BY_LABEL

    labels = (namespace.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY_LABEL) == "kompy"


def delete_project(client: KubeClient, namespace: str, timeout: float,
                   say: Callable[[str], None], grace: int | None = None,
                   claims: bool = True) -> None:
    """In a namespace kompy did not make (it was there before ``up``): delete only the
    objects kompy applied (labelled ``managed-by=kompy``), wait for their pods to go, and
    leave the namespace and everything else in it."""
    from kompy.dev.up import MANAGED_BY_SELECTOR

    project = _project_selector(client, namespace)
    longest = _longest_grace(client, namespace, project) if project else 0.0
    deadline = time.monotonic() + timeout + (longest if grace is None else min(longest, grace))
    _delete_each(client, namespace, say, grace, MANAGED_BY_SELECTOR, claims=claims)
    if project:
        _wait_no_pods(client, namespace, deadline, project, say)
    if not claims:
        _kept_claims(client, namespace, MANAGED_BY_SELECTOR, say)
    say(f"namespace {namespace} kept (kompy did not create it)")


def _kept_claims(client: KubeClient, namespace: str, selector: str | None,
                 say: Callable[[str], None]) -> bool:
    """Say which volume claims were kept; whether there are any."""
    try:
        items = client.list("persistentvolumeclaims", namespace,
                            label_selector=selector).get("items") or []
    except KompyError:
        return False
    names = sorted(str(item["metadata"]["name"]) for item in items)
    if names:
        say(f"namespace {namespace} kept: it holds the volume claims {', '.join(names)} "
            "(their data; `kompy down --volumes` removes them)")
    return bool(names)


def _project_selector(client: KubeClient, namespace: str) -> str | None:
    """The pods of kompy's workloads carry ``part-of`` (not ``managed-by``): the selector
    of the ``part-of`` values of kompy's objects here, None when there are none."""
    from kompy.dev.up import MANAGED_BY_SELECTOR

    values: set[str] = set()
    for plural in ("deployments", "statefulsets", "daemonsets", "jobs", "pods"):
        with contextlib.suppress(KompyError):
            for item in client.list(plural, namespace,
                                    label_selector=MANAGED_BY_SELECTOR).get("items") or []:
                labels = (item.get("metadata") or {}).get("labels") or {}
                if labels.get(PART_OF):
                    values.add(str(labels[PART_OF]))
    return f"{PART_OF} in ({','.join(sorted(values))})" if values else None


def _delete_each(client: KubeClient, namespace: str, say: Callable[[str], None],
                 grace: int | None, selector: str | None = None, *, claims: bool = True
                 ) -> None:
    """Delete in three steps, the kinds of each step at once (a Ctrl-C's clean-up is timed):
    the controllers, then the pods (their grace period starts), then everything else."""
    plurals = [p for p in DELETED if claims or p != "persistentvolumeclaims"]
    steps = (plurals[:plurals.index("pods")], ["pods"], plurals[plurals.index("pods") + 1:])

    def one(plural: str) -> list[str]:
        try:
            items = client.list(plural, namespace, label_selector=selector).get("items") or []
        except (NotFound, KompyError):
            return []  # a kind this cluster does not serve
        gone = []
        for item in items:
            name = str(item["metadata"]["name"])
            with contextlib.suppress(NotFound):
                client.delete(plural, name, namespace,
                              grace_period_seconds=grace if plural == "pods" else None)
                gone.append(f"  {plural.rstrip('s')}/{name} deleted")
        return gone
    with ThreadPoolExecutor(8, thread_name_prefix="kompy-down") as pool:
        for step in steps:
            for lines in pool.map(one, step):   # said in DELETED's order
                for line in lines:
                    say(line)


def keep_claim_volumes(client: KubeClient, namespace: str, whole: bool) -> list[str]:
    """The PersistentVolumes of kompy's provisioner bound to the claims down deletes (all of
    the namespace's, or kompy's only when it is not ``whole``ly kompy's), made Retain (as a
    cluster admin does before deleting a claim whose data must stay): their Docker volumes
    outlive the claims, and a later ``up`` provisions its claims on them again (the volume
    is named after its claim). Returns their names."""
    from kompy.cluster.kubelet.claims import PROVISIONER
    from kompy.dev.up import MANAGED_BY_SELECTOR

    kept = []
    selector = None if whole else MANAGED_BY_SELECTOR
    for claim in client.list("persistentvolumeclaims", namespace,
                             label_selector=selector).get("items") or []:
        volume_name = (claim.get("spec") or {}).get("volumeName")
        if not volume_name:
            continue
        try:
            volume = client.get("persistentvolumes", str(volume_name))
        except NotFound:
            continue
        spec = volume.get("spec") or {}
        if (spec.get("csi") or {}).get("driver") != PROVISIONER:
            continue
        if spec.get("persistentVolumeReclaimPolicy") == "Delete":
            client.patch("persistentvolumes", str(volume_name), None,
                         {"spec": {"persistentVolumeReclaimPolicy": "Retain"}})
        kept.append(str(volume_name))
    return kept


def forget_volumes(client: KubeClient, names: list[str], wait: float = 10.0) -> None:
    """Delete the PersistentVolume objects (Retain) whose claims are gone; their Docker
    volumes stay. A claim still Terminating (its pvc-protection finalizer is taken off
    once its pods are gone, which they are by now) is waited for up to ``wait``."""
    deadline = time.monotonic() + wait
    for volume_name in names:
        with contextlib.suppress(NotFound):
            ref = (client.get("persistentvolumes", volume_name).get("spec") or {}).get(
                "claimRef") or {}
            while _claim_state(client, ref) == "terminating" and time.monotonic() < deadline:
                time.sleep(0.1)
            if _claim_state(client, ref):
                continue
            client.delete("persistentvolumes", volume_name)


def _claim_state(client: KubeClient, ref: dict[str, Any]) -> str:
    """"" when the claim of ``ref`` is gone, else "terminating" or "yes"."""
    try:
        claim = client.get("persistentvolumeclaims", str(ref.get("name")),
                           str(ref.get("namespace")))
    except NotFound:
        return ""
    meta = claim.get("metadata") or {}
    if meta.get("uid") != ref.get("uid"):
        return ""
    return "terminating" if meta.get("deletionTimestamp") else "yes"


def _longest_grace(client: KubeClient, namespace: str, selector: str | None = None
                   ) -> float:
    pods = client.list("pods", namespace, label_selector=selector).get("items") or []
    return float(max((int((p.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
                      for p in pods), default=0))


class Progress:
    """A line now and then while a wait goes on: a wait that says nothing looks hung, and
    one that names what it waits for says where to look."""

    def __init__(self, say: Callable[[str], None], every: float | None = None) -> None:
        self.say = say
        self.every = PROGRESS_SECONDS if every is None else every
        self.due = time.monotonic() + self.every

    def tick(self, line: str) -> None:
        now = time.monotonic()
        if now >= self.due:
            self.say(line)
            self.due = now + self.every


def _wait_no_pods(client: KubeClient, namespace: str, deadline: float,
                  selector: str | None = None,
                  say: Callable[[str], None] = lambda _: None) -> None:
    """Until no pod (of ``selector``, when given) is left in the namespace."""
    progress = Progress(say)
    while True:
        listing = client.list("pods", namespace, label_selector=selector)
        pods = listing.get("items") or []
        if not pods:
            return
        names = ", ".join(str(p["metadata"]["name"]) for p in pods)
        left = deadline - time.monotonic()
        if left <= 0:
            raise ClusterError(f"timed out waiting for pods to stop: {names}",
                               hint="see `kompy get pods` and the daemon log")
        progress.tick(f"waiting for {count(len(pods), 'pod')} to stop "
                      f"(at most {left:.0f} s more): {names}")
        version = str((listing.get("metadata") or {}).get("resourceVersion") or "")
        try:
            for _ in client.watch("pods", namespace, resource_version=version or None,
                                  label_selector=selector, timeout_seconds=1):
                break  # a pod changed (or went): look again
        except Gone:
            pass


def _clean_docker(namespace: str, request: DownRequest,
                  say: Callable[[str], None]) -> None:
    """Wait for the namespace's containers to go; remove its network and, asked, its volumes.

    Only objects labelled with this cluster and namespace are touched (docs/cluster.md,
    "kompy up / kompy down").
    """
    from kompy.cluster.daemon.state import cluster_state
    from kompy.cluster.kubelet.backend import LABEL_NAMESPACE
    from kompy.cluster.kubelet.docker_backend import DockerBackend

    state = cluster_state(request.cluster)
    backend = DockerBackend(state.name, str(state.dir))
    labels = {LABEL_NAMESPACE: namespace}
    deadline = time.monotonic() + request.timeout
    progress = Progress(say)
    while containers := backend.list_containers(labels):
        names = ", ".join(c.name for c in containers)
        if time.monotonic() >= deadline:
            raise ClusterError(f"containers still running after down: {names}",
                               hint="see the cluster's daemon.log")
        progress.tick(f"waiting for the kubelet to remove "
                      f"{count(len(containers), 'container')}: {names}")
        time.sleep(0.2)  # the kubelet removes them right after their pods are deleted
    for network in backend.list_networks(labels):
        backend.remove_network(network.name)
        say(f"network {network.name} removed")
    if request.volumes:
        for volume in backend.list_volumes(labels):
            backend.remove_volume(volume)
            say(f"volume {volume} removed")
