"""Where a service's image comes from and where it runs (issue #9 class 6): build-only
services warn which image must exist where, unless built and pushed; platforms pin nodes."""

from __future__ import annotations

import pytest

from kompy.convert.builds import pushed_name
from kompy.model import Build, Service

from .helpers import container, find, messages, pod_spec, run


def _built(**build: object) -> Service:
    return Service(name="web", build=Build(context="/p/web", **build))  # type: ignore[arg-type]


def _build_records(conversion: object) -> list[str]:
    return [r.status for r in conversion.report  # type: ignore[attr-defined]
            if r.key == "services.web.build"]


def test_build_only_service_warns_which_image_must_exist_where() -> None:
    conversion = run(_built())
    assert container(find(conversion, "Deployment", "web"))["image"] == "demo-web:latest"
    warning = [m for m in messages(conversion) if "demo-web:latest" in m]
    assert warning and "is built from ./web, not by this conversion" in warning[0]
    assert _build_records(conversion) == ["approximated"]  # never "mapped" when not built


def test_built_but_not_pushed_says_only_this_engine_has_it() -> None:
    conversion = run(_built(), built_images=frozenset({"demo-web:latest"}))
    assert any("built into the local Docker engine only" in m for m in messages(conversion))
    assert _build_records(conversion) == ["approximated"]


def test_pushed_image_is_what_the_pods_run() -> None:
    pushed = {"demo-web:latest": "127.0.0.1:5000/demo-web:latest"}
    conversion = run(_built(), built_images=frozenset(pushed), cluster_images=pushed)
    c = container(find(conversion, "Deployment", "web"))
    assert c["image"] == "127.0.0.1:5000/demo-web:latest"
    assert not any("demo-web" in m for m in messages(conversion))
    assert _build_records(conversion) == ["mapped"]


@pytest.mark.parametrize(("image", "registry", "pushed"), [
    ("shop/web:1", "reg.io:5000", "reg.io:5000/shop/web:1"),
    ("registry.example.com/shop/web:2", "reg.io", "reg.io/shop/web:2"),
    ("localhost:5000/a/b", "reg.io", "reg.io/a/b:latest"),
    ("web", None, "web"),
])
def test_push_registry_replaces_the_image_registry(image: str, registry: str | None,
                                                   pushed: str) -> None:
    assert pushed_name(image, registry) == pushed


def test_platforms_choose_the_nodes() -> None:
    one = pod_spec(find(run(_built(platforms=("linux/arm64",))), "Deployment", "web"))
    assert one["nodeSelector"] == {"kubernetes.io/os": "linux", "kubernetes.io/arch": "arm64"}
    two = pod_spec(find(run(_built(platforms=("linux/amd64", "linux/arm64/v8"))),
                        "Deployment", "web"))
    assert two["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert two["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"] == [{"matchExpressions": [
            {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]}]}]
    service = Service(name="web", image="x", platform="linux/x86_64")
    assert pod_spec(find(run(service), "Deployment", "web"))["nodeSelector"] == {
        "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}


def test_a_wasm_platform_selects_no_node_and_says_why() -> None:
    # awesome-compose's wasmedge backend: `platform: wasi/wasm`. No node reports os "wasi"
    # (the kubelet's own OS is the label): selecting it would leave the pod Pending forever.
    wasm = run(Service(name="web", image="x", platform="wasi/wasm"))
    assert "nodeSelector" not in pod_spec(find(wasm, "Deployment", "web"))
    assert any("platform wasi/wasm: no Kubernetes node reports this OS" in m
               for m in messages(wasm))
    mixed = run(_built(platforms=("linux/amd64", "wasi/wasm")))
    assert pod_spec(find(mixed, "Deployment", "web"))["nodeSelector"] == {
        "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
