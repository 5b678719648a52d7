"""``kompy convert --chart``: a Helm chart whose templates take the values that matter.

The chart's templates are the plain conversion's objects with these fields replaced by
references to ``values.yaml`` (whose defaults are the plain output's values, so installing
the chart with default values gives exactly ``kompy convert``'s objects):

- workload ``spec.replicas``: ``<workload>.replicas``;
- container ``image``: ``<container>.image.repository`` and ``.tag``;
- container ``resources``: ``<container>.resources``;
- Service ``spec.type``: ``<service>.service.type``;
- Ingress ``spec.ingressClassName``: ``<ingress>.ingress.className``;
- Ingress rule and TLS hosts: ``<ingress>.ingress.hosts[i]``;
- HPA ``spec.minReplicas`` / ``maxReplicas``: ``<hpa>.autoscaling.minReplicas`` / ``.maxReplicas``;
- ``metadata.namespace`` (``-n``): the release namespace.

``<container>`` is the container's name (the Compose service); a container whose name is
already taken by another workload's container gets ``<workload>-<container>``. Images
without a tag (or with a digest) have only ``repository`` (the whole reference).

The emitted Go-template subset is small on purpose (and is all a test needs to render the
chart without helm, tests/unit/convert/test_chart.py):

- ``{{ REF | toJson }}``: a value of any type, as JSON (which is YAML);
- ``{{ index REF N | toJson }}``: item N of a list (the Ingress hosts);
- ``"{{ REF }}:{{ REF }}"``: an image from repository and tag;
- ``{{ .Release.Namespace | toJson }}``;
- ``{{ "{{" }}``: a literal ``{{`` from the objects themselves (so Helm leaves it alone);

where REF is ``.Values.a.b`` or, when a name is not a Go identifier,
``(index .Values "a-b" "c")``.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from kompy import __version__
from kompy.convert.context import k8s_name
from kompy.convert.conversion import Conversion
from kompy.convert.options import ConvertOptions
from kompy.convert.output import dump_yaml, file_name
from kompy.convert.render import Renderer
from kompy.convert.validate import resolve_version
from kompy.model import Project

CHART_VERSION = "0.1.0"
_WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet")
_TOKEN = re.compile(r"__kompy_chart_(\d+)__")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Chart:
    """Collects values and the Go expression standing for each replaced field."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.expressions: list[str] = []
        self.owners: dict[tuple[str, str], str] = {}  # (block, key) -> owner object

    def block(self, name: str, key: str, owner: str, fallback: str) -> str:
        """The values block for ``key``: ``name``, or ``fallback`` when another owns it."""
        claimed = self.owners.get((name, key))
        if claimed is not None and claimed != owner:
            name = fallback
        self.owners[(name, key)] = owner
        return name

    def put(self, path: list[str], value: Any) -> None:
        node = self.values
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = copy.deepcopy(value)

    def token(self, expression: str) -> str:
        self.expressions.append(expression)
        return f"__kompy_chart_{len(self.expressions) - 1}__"

    def value(self, path: list[str], value: Any) -> str:
        """Store ``value`` at ``path`` in values.yaml; the token that stands for it."""
        self.put(path, value)
        return self.token(f"{{{{ {ref(path)} | toJson }}}}")


def ref(path: list[str]) -> str:
    """A Go template reference to ``.Values`` at ``path``."""
    if all(_IDENT.fullmatch(part) for part in path):
        return ".Values." + ".".join(path)
    return "(index .Values " + " ".join(f'"{part}"' for part in path) + ")"


def render_chart(conversion: Conversion, project: Project | str,
                 options: ConvertOptions | None = None) -> dict[str, str]:
    """The chart's files (relative path -> text): Chart.yaml, values.yaml, templates/*.

    ``project`` is the project (or its name): it names the chart. ``options`` gives the
    templates folder (a user's ``chart/Chart.yaml.j2``) and the Kubernetes version.
    """
    options = options or ConvertOptions()
    project_name = project if isinstance(project, str) else project.name
    chart = _Chart()
    files: dict[str, str] = {}
    for obj in conversion.objects:
        if obj.get("kind") == "Namespace":
            # Helm owns the release namespace: `helm install -n NS --create-namespace`. A
            # Namespace object in the chart would make that install fail ("exists and cannot
            # be imported into the current release").
            continue
        templated = _parameterise(chart, copy.deepcopy(obj))
        name = "templates/" + file_name(obj, "yaml")
        if name in files:  # same name and kind in two namespaces, as output.render_files
            namespace = str(obj.get("metadata", {}).get("namespace", "other"))
            name = f"{name[:-5]}-{namespace}.yaml"
        files[name] = _substitute(chart, dump_yaml([templated]))
    renderer = Renderer(options.templates_dir)
    (chart_doc,) = renderer.render("chart/Chart.yaml.j2", {
        "name": k8s_name(project_name),
        "description": f"{project_name}, converted from Compose by kompy {__version__}",
        "version": CHART_VERSION,
        "app_version": __version__,
        "kube_version": resolve_version(options.kube_version),
    })
    header = ("# Values of the chart kompy generated; the defaults reproduce the plain\n"
              "# `kompy convert` output. Per workload: replicas; per container: image\n"
              "# (repository, tag) and resources; per Service: service.type; per Ingress:\n"
              "# ingress.hosts and ingress.className; per autoscaler: autoscaling.minReplicas\n"
              "# and autoscaling.maxReplicas.\n")
    return {"Chart.yaml": dump_yaml([chart_doc]),
            "values.yaml": header + (dump_yaml([chart.values]) if chart.values else "{}\n"),
            **dict(sorted(files.items()))}


def _parameterise(chart: _Chart, obj: dict[str, Any]) -> dict[str, Any]:
    kind = obj.get("kind")
    meta = obj.get("metadata", {})
    name = str(meta.get("name", ""))
    if "namespace" in meta:
        meta["namespace"] = chart.token("{{ .Release.Namespace | toJson }}")
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return obj
    if kind in _WORKLOADS:
        if "replicas" in spec:
            spec["replicas"] = chart.value([name, "replicas"], spec["replicas"])
        pod = _pod_spec(kind, spec)
        for container in (pod or {}).get("containers", []):
            _container(chart, name, container)
    elif kind == "Service" and "type" in spec and spec["type"] != "ExternalName":
        # (an ExternalName Service stays one: another type would need a selector and ports)
        spec["type"] = chart.value([name, "service", "type"], spec["type"])
    elif kind == "Ingress":
        _ingress(chart, name, spec)
    elif kind == "HorizontalPodAutoscaler":
        for field in ("minReplicas", "maxReplicas"):
            if field in spec:
                spec[field] = chart.value([name, "autoscaling", field], spec[field])
    return obj


def _pod_spec(kind: str, spec: dict[str, Any]) -> dict[str, Any] | None:
    if kind == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    pod: dict[str, Any] | None = spec.get("template", {}).get("spec")
    return pod


def _container(chart: _Chart, workload: str, container: dict[str, Any]) -> None:
    cname = str(container.get("name", workload))
    fallback = f"{workload}-{cname}"
    image = container.get("image")
    if isinstance(image, str):
        block = chart.block(cname, "image", workload, fallback)
        repository, tag = split_image(image)
        if tag is None:
            container["image"] = chart.value([block, "image", "repository"], repository)
        else:
            chart.put([block, "image", "repository"], repository)
            chart.put([block, "image", "tag"], tag)
            container["image"] = chart.token(
                f'"{{{{ {ref([block, "image", "repository"])} }}}}:'
                f'{{{{ {ref([block, "image", "tag"])} }}}}"')
    if container.get("resources"):
        block = chart.block(cname, "resources", workload, fallback)
        container["resources"] = chart.value([block, "resources"], container["resources"])


def split_image(image: str) -> tuple[str, str | None]:
    """"registry:5000/app:1.2" -> ("registry:5000/app", "1.2"); digests keep no tag."""
    if "@" in image:
        return image, None
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon + 1:]
    return image, None


def _ingress(chart: _Chart, name: str, spec: dict[str, Any]) -> None:
    if "ingressClassName" in spec:
        spec["ingressClassName"] = chart.value([name, "ingress", "className"],
                                               spec["ingressClassName"])
    hosts: list[str] = []
    for rule in spec.get("rules", []):
        if "host" in rule and rule["host"] not in hosts:
            hosts.append(rule["host"])
    for tls in spec.get("tls", []):
        for host in tls.get("hosts", []):
            if host not in hosts:
                hosts.append(host)
    if not hosts:
        return
    chart.put([name, "ingress", "hosts"], hosts)

    def host_token(host: str) -> str:
        index = hosts.index(host)
        return chart.token(f"{{{{ index {ref([name, 'ingress', 'hosts'])} {index} | toJson }}}}")

    for rule in spec.get("rules", []):
        if "host" in rule:
            rule["host"] = host_token(rule["host"])
    for tls in spec.get("tls", []):
        if "hosts" in tls:
            tls["hosts"] = [host_token(host) for host in tls["hosts"]]


def _substitute(chart: _Chart, text: str) -> str:
    """Escape literal "{{" of the objects, then put the Go expressions in for the tokens."""
    text = text.replace("{{", '{{ "{{" }}')
    return _TOKEN.sub(lambda m: chart.expressions[int(m.group(1))], text)
