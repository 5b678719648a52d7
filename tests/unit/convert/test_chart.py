"""--chart: the chart's templates, rendered with its default values, give the plain output.

helm is not needed: the chart's templates only use the small Go-template subset that
kompy/convert/chart.py documents, which ``_render_go`` below evaluates (and any other
``{{ ... }}`` fails the test).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from kompy.convert import Conversion, convert
from kompy.convert.chart import ref, render_chart, split_image
from kompy.convert.options import ConvertOptions
from kompy.model import Deploy as DeployModel
from kompy.model import PortMapping, Project, Resources, ResourceSpec, Service

REPO = Path(__file__).resolve().parents[3]
_ACTION = re.compile(r"\{\{(.*?)\}\}")
_REF = r'(?:\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)|\(index \.Values((?: "[^"]*")+)\))'
_VALUE = re.compile(rf"^ {_REF}(?: \| (toJson))? $")
_INDEX = re.compile(rf"^ index {_REF} (\d+) \| toJson $")


def _lookup(values: dict[str, Any], dotted: str | None, quoted: str | None) -> Any:
    parts = dotted.strip(".").split(".") if dotted else re.findall(r'"([^"]*)"', quoted or "")
    node: Any = values
    for part in parts:
        node = node[part]
    return node


def _go_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _render_go(text: str, values: dict[str, Any], namespace: str | None) -> str:
    def action(match: re.Match[str]) -> str:
        body = match.group(1)
        if body == ' "{{" ':
            return "{{"
        if body == " .Release.Namespace | toJson ":
            assert namespace is not None
            return json.dumps(namespace)
        found = _VALUE.match(body)
        if found:
            value = _lookup(values, found.group(1), found.group(2))
            return json.dumps(value) if found.group(3) else _go_string(value)
        found = _INDEX.match(body)
        if found:
            return json.dumps(_lookup(values, found.group(1), found.group(2))[int(found.group(3))])
        raise AssertionError(f"template action outside the documented subset: {{{{{body}}}}}")

    return _ACTION.sub(action, text)


def _render_chart(files: dict[str, str], namespace: str | None,
                  values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    yaml = YAML(typ="safe")
    values = yaml.load(files["values.yaml"]) if values is None else values
    objects: list[dict[str, Any]] = []
    for name in sorted(files):
        if name.startswith("templates/"):
            objects.extend(doc for doc in yaml.load_all(_render_go(files[name], values, namespace))
                           if doc is not None)
    return objects


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return (obj["kind"], obj["metadata"]["name"])


def _assert_same(chart_objects: list[dict[str, Any]], conversion: Conversion) -> None:
    rendered = {_key(o): o for o in chart_objects}
    # Helm owns the release namespace (helm install --create-namespace): no Namespace object.
    plain = {_key(o): json.loads(json.dumps(o)) for o in conversion.objects
             if o["kind"] != "Namespace"}
    assert rendered.keys() == plain.keys()
    for key, obj in plain.items():
        assert rendered[key] == obj, key


def _project() -> Project:
    web = Service("web", image="registry.local:5000/shop/web:1.25", ports=(
        PortMapping(80, published="8080"),), labels={
            "kompose.service.expose": "shop.example,api.shop.example/v1",
            "kompose.service.expose.tls-secret": "tls",
            "kompose.service.expose.ingress-class-name": "nginx",
            "kompose.service.type": "nodeport", "kompose.hpa.replicas.max": "7"},
        command=("sh", "-c", "echo '{{ not a template }}'"),
        # A secret-looking variable: a Secret of its own, referenced with secretKeyRef.
        environment={"MODE": "prod", "DB_PASSWORD": "chart-pw"},
        deploy=DeployModel(replicas=2, resources=Resources(
            limits=ResourceSpec(cpus=0.5, memory=None))))
    worker = Service("queue-worker", image="busybox", command=("sleep", "1d"))
    digest = Service("pinned", image="redis@sha256:" + "a" * 64, expose=("6379",))
    return Project(name="shop", working_dir="/p", services={
        s.name: s for s in (web, worker, digest)})


@pytest.mark.parametrize("namespace", [None, "shop-prod"])
def test_default_values_reproduce_plain_output(namespace: str | None) -> None:
    project = _project()
    options = ConvertOptions(namespace=namespace, network_policies=True)
    conversion = convert(project, options)
    files = render_chart(conversion, project, options)
    assert {"Chart.yaml", "values.yaml"} <= set(files)
    _assert_same(_render_chart(files, namespace), conversion)
    values = YAML(typ="safe").load(files["values.yaml"])
    assert values["web"]["replicas"] == 2
    assert values["web"]["image"] == {"repository": "registry.local:5000/shop/web",
                                      "tag": "1.25"}
    assert values["web"]["resources"]["limits"]["cpu"]
    assert values["web"]["service"]["type"] == "NodePort"
    assert values["web"]["ingress"] == {"className": "nginx",
                                        "hosts": ["shop.example", "api.shop.example"]}
    assert values["web"]["autoscaling"] == {"minReplicas": 1, "maxReplicas": 7}
    assert values["queue-worker"]["image"] == {"repository": "busybox"}
    assert values["pinned"]["image"]["repository"].startswith("redis@sha256:")
    deployment = files["templates/web-deployment.yaml"]
    assert "{{ .Values.web.replicas | toJson }}" in deployment
    assert '"{{ .Values.web.image.repository }}:{{ .Values.web.image.tag }}"' in deployment
    assert '(index .Values "queue-worker" "image" "repository")' in files[
        "templates/queue-worker-deployment.yaml"]
    assert "templates/web-env-secret-secret.yaml" in files
    assert "chart-pw" not in deployment
    chart = YAML(typ="safe").load(files["Chart.yaml"])
    assert chart["apiVersion"] == "v2" and chart["name"] == "shop"


def test_values_really_parameterise() -> None:
    project = _project()
    options = ConvertOptions()
    files = render_chart(convert(project, options), project, options)
    values = YAML(typ="safe").load(files["values.yaml"])
    values["web"]["replicas"] = 5
    values["web"]["image"]["tag"] = "2.0"
    values["web"]["service"]["type"] = "LoadBalancer"
    values["web"]["ingress"]["hosts"] = ["new.example", "api.new.example"]
    objects = {_key(o): o for o in _render_chart(files, None, values)}
    deployment = objects[("Deployment", "web")]
    assert deployment["spec"]["replicas"] == 5
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "registry.local:5000/shop/web:2.0")
    assert objects[("Service", "web")]["spec"]["type"] == "LoadBalancer"
    ingress = objects[("Ingress", "web")]["spec"]
    assert [r["host"] for r in ingress["rules"]] == ["new.example", "api.new.example"]
    assert ingress["tls"][0]["hosts"] == ["new.example", "api.new.example"]


def test_chart_of_each_sample_reproduces_plain_output() -> None:
    from kompy.compose.loader import LoadOptions, load_project

    for sample in ("webapp", "database", "configs-secrets"):
        project = load_project(LoadOptions(project_directory=str(REPO / "samples" / sample),
                                           environ={"DB_PASSWORD": "pw"}))
        options = ConvertOptions(namespace="demo")
        conversion = convert(project, options)
        files = render_chart(conversion, project, options)
        _assert_same(_render_chart(files, "demo"), conversion)
        assert render_chart(convert(project, options), project, options) == files


def test_helpers() -> None:
    assert split_image("nginx") == ("nginx", None)
    assert split_image("nginx:1.25") == ("nginx", "1.25")
    assert split_image("localhost:5000/app") == ("localhost:5000/app", None)
    assert ref(["web", "image"]) == ".Values.web.image"
    assert ref(["my-web", "image"]) == '(index .Values "my-web" "image")'


def test_chart_of_each_corpus_project_reproduces_plain_output(corpus: Path,
                                                              tmp_path: Path) -> None:
    """awesome-compose projects (copied, with stand-ins for their secret files)."""
    import shutil

    from kompy.compose.loader import LoadOptions, load_project

    yaml = YAML(typ="safe")
    samples = sorted((corpus / "awesome-compose").glob("*/compose.yaml"))
    assert samples
    for source in samples:
        folder = tmp_path / source.parent.name
        folder.mkdir()
        shutil.copy(source, folder / "compose.yaml")
        data = yaml.load(source.read_text())
        for section in ("secrets", "configs"):
            for definition in (data.get(section) or {}).values():
                if isinstance(definition, dict) and "file" in definition:
                    target = folder / definition["file"]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text("stand-in\n")
        project = load_project(LoadOptions(project_directory=str(folder), environ={}))
        for options in (ConvertOptions(), ConvertOptions(namespace="ns", network_policies=True,
                                                         service_type="nodeport")):
            conversion = convert(project, options)
            files = render_chart(conversion, project, options)
            _assert_same(_render_chart(files, options.namespace), conversion)
