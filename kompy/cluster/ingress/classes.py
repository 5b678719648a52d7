"""Which Ingresses are kompy's to serve, by IngressClass (pure functions).

https://kubernetes.io/docs/concepts/services-networking/ingress/#ingress-class: an Ingress
names its class in ``spec.ingressClassName`` (or, before Kubernetes 1.18, in the
``kubernetes.io/ingress.class`` annotation); one without either belongs to the default
IngressClass, the one annotated ``ingressclass.kubernetes.io/is-default-class: "true"`` (the
newest when several are). kompy serves every IngressClass whose ``spec.controller`` is
``kompy.dev/ingress``: the cluster creates one, ``kompy``, as the default class, and a user can
add others (an IngressClass ``nginx`` with kompy's controller makes manifests written for
ingress-nginx work as they are).
"""

from __future__ import annotations

from kompy.client.objects import Obj, meta, name

CONTROLLER = "kompy.dev/ingress"
CLASS_NAME = "kompy"
DEFAULT_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
LEGACY_ANNOTATION = "kubernetes.io/ingress.class"


def default_class_object() -> Obj:
    """The IngressClass the cluster creates at its first start."""
    return {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": {"name": CLASS_NAME, "annotations": {DEFAULT_ANNOTATION: "true"},
                         "labels": {"app.kubernetes.io/managed-by": "kompy"}},
            "spec": {"controller": CONTROLLER}}


def is_default(ingress_class: Obj) -> bool:
    return str((meta(ingress_class).get("annotations") or {}).get(DEFAULT_ANNOTATION, "")
               ).lower() == "true"


def default_class(classes: list[Obj]) -> Obj | None:
    """The default IngressClass: the newest of those marked default (kube-apiserver's
    DefaultIngressClass admission picks the same one)."""
    marked = [c for c in classes if is_default(c)]
    if not marked:
        return None
    return max(marked, key=lambda c: (str(meta(c).get("creationTimestamp") or ""), name(c)))


def class_of(ingress: Obj) -> str | None:
    """The class an Ingress names, if it names one."""
    spec = ingress.get("spec") or {}
    if spec.get("ingressClassName"):
        return str(spec["ingressClassName"])
    legacy = (meta(ingress).get("annotations") or {}).get(LEGACY_ANNOTATION)
    return str(legacy) if legacy else None


def ours(ingress: Obj, classes: list[Obj]) -> bool:
    """Whether kompy serves this Ingress."""
    wanted = class_of(ingress)
    if wanted is None:
        found = default_class(classes)
    else:
        found = next((c for c in classes if name(c) == wanted), None)
        if found is None:
            # The legacy annotation predates IngressClass objects: it names the controller's
            # class directly, as ingress-nginx's --ingress-class does.
            return wanted == CLASS_NAME and class_of_annotation_only(ingress)
    return found is not None and (found.get("spec") or {}).get("controller") == CONTROLLER


def class_of_annotation_only(ingress: Obj) -> bool:
    return not (ingress.get("spec") or {}).get("ingressClassName")
