"""Which image references the manifests get (content tags, --default-repo)."""

from __future__ import annotations

from typing import Any

from kompy.dev.images import ImageTarget, image_ref, use_images
from kompy.engine.images import BuildSpec

DIGEST = "0123456789abcdef" + "0" * 48


def test_image_ref() -> None:
    spec = BuildSpec(service="web", image="webapp-web:latest", context=".")
    assert image_ref(spec, ImageTarget(), DIGEST) == "webapp-web:0123456789abcdef"
    assert image_ref(spec, ImageTarget("127.0.0.1:5000/team"), DIGEST) == \
        "127.0.0.1:5000/team/webapp-web:0123456789abcdef"
    mine = BuildSpec(service="web", image="myorg/web:1.2", context=".")
    assert image_ref(mine, ImageTarget("r.example.com"), DIGEST) == \
        "r.example.com/myorg_web:0123456789abcdef"


def workload(kind: str, path: tuple[str, ...]) -> dict[str, Any]:
    spec: dict[str, Any] = {"initContainers": [{"name": "wait", "image": "busybox:1.36"}],
                            "containers": [{"name": "web", "image": "web:dev"},
                                           {"name": "side", "image": "redis:7"}]}
    obj: dict[str, Any] = {"kind": kind}
    node = obj
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = spec
    return obj


def test_use_images_in_every_kind_with_a_pod_template() -> None:
    objects = [workload("Deployment", ("spec", "template", "spec")),
               workload("CronJob", ("spec", "jobTemplate", "spec", "template", "spec")),
               workload("Pod", ("spec",)),
               {"kind": "Service", "spec": {"containers": [{"image": "web:dev"}]}}]
    use_images(objects, {"web:dev": "r/web:abc", "busybox:1.36": "r/busybox:1.36"})
    for obj, path in zip(objects[:3], [("spec", "template", "spec"),
                                       ("spec", "jobTemplate", "spec", "template", "spec"),
                                       ("spec",)], strict=True):
        node: Any = obj
        for key in path:
            node = node[key]
        assert [c["image"] for c in node["containers"]] == ["r/web:abc", "redis:7"]
        assert node["initContainers"][0]["image"] == "r/busybox:1.36"
    assert objects[3]["spec"]["containers"][0]["image"] == "web:dev"  # not a pod template
