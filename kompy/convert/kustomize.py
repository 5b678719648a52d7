"""``kompy convert -o DIR --kustomize``: a ``kustomization.yaml`` listing the written files.

With it, ``kubectl apply -k DIR`` applies the conversion, and an overlay can patch it
(https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/). The resources
keep the conversion's order (what others refer to comes first); ``--namespace`` becomes
the kustomization's ``namespace``, which kustomize sets on every namespaced object.
"""

from __future__ import annotations

from typing import Any

from kompy.convert.output import dump_yaml

KUSTOMIZATION = "kustomization.yaml"


def kustomization(file_names: list[str], namespace: str | None = None) -> str:
    """The text of ``kustomization.yaml`` for the files of one output folder."""
    return dump_yaml([kustomization_object(file_names, namespace)])


def kustomization_object(file_names: list[str], namespace: str | None = None) -> dict[str, Any]:
    """The Kustomization object for the files of one output folder (in their order)."""
    doc: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
    }
    if namespace:
        doc["namespace"] = namespace
    doc["resources"] = [name for name in file_names if name != KUSTOMIZATION]
    return doc


def add_kustomization(files: dict[str, str], namespace: str | None = None) -> dict[str, str]:
    """``files`` (name -> text, as output.render_files gives) plus ``kustomization.yaml``."""
    return {**files, KUSTOMIZATION: kustomization(list(files), namespace)}
