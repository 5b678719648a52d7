"""kustomization.yaml for --kustomize."""

from __future__ import annotations

from ruamel.yaml import YAML

from kompy.convert import Conversion
from kompy.convert.kustomize import add_kustomization, kustomization, kustomization_object
from kompy.convert.output import render_files


def test_kustomization_lists_files_in_order_with_namespace() -> None:
    conversion = Conversion(objects=[
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-env"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}},
    ])
    files = add_kustomization(render_files(conversion), "shop")
    assert list(files) == ["web-env-configmap.yaml", "web-service.yaml", "kustomization.yaml"]
    doc = YAML(typ="safe").load(files["kustomization.yaml"])
    assert doc == {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                   "namespace": "shop",
                   "resources": ["web-env-configmap.yaml", "web-service.yaml"]}


def test_no_namespace_and_never_lists_itself() -> None:
    doc = kustomization_object(["a.yaml", "kustomization.yaml"])
    assert doc == {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                   "resources": ["a.yaml"]}


def test_kustomization_text() -> None:
    assert YAML(typ="safe").load(kustomization(["a.yaml"], "ns"))["namespace"] == "ns"
