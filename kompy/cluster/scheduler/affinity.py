"""Node selector terms and pod affinity terms, as kube-scheduler's helpers match them.

https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kompy.client.objects import Obj, labels, namespace
from kompy.client.selectors import matches_labels, selector_from_match


def _expression(expr: Mapping[str, Any], value: str | None) -> bool:
    """One NodeSelectorRequirement against a label's value (None: no such label)."""
    op = expr.get("operator")
    values = [str(v) for v in expr.get("values") or []]
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and len(values) == 1:
        try:
            have, want = int(value), int(values[0])
        except ValueError:
            return False
        return have > want if op == "Gt" else have < want
    return False


def term_matches(term: Mapping[str, Any], node: Obj) -> bool:
    """A NodeSelectorTerm: every expression holds; a term without any matches nothing."""
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False
    node_labels = labels(node)
    node_fields = {"metadata.name": str((node.get("metadata") or {}).get("name") or "")}
    return (all(_expression(e, node_labels.get(str(e.get("key")))) for e in exprs) and
            all(_expression(f, node_fields.get(str(f.get("key")))) for f in fields))


def node_affinity(pod: Obj) -> dict[str, Any]:
    return dict(((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {})


def matches_node_selector(pod: Obj, node: Obj) -> bool:
    """``nodeSelector`` and required node affinity (its terms ORed), as the NodeAffinity
    filter checks them."""
    spec = pod.get("spec") or {}
    node_labels = labels(node)
    for key, value in (spec.get("nodeSelector") or {}).items():
        if node_labels.get(key) != str(value):
            return False
    required = node_affinity(pod).get("requiredDuringSchedulingIgnoredDuringExecution")
    if required:
        terms = required.get("nodeSelectorTerms") or []
        return any(term_matches(t, node) for t in terms)
    return True


def preferred_node_score(pod: Obj, node: Obj) -> int:
    """The sum of the weights of the preferred node affinity terms the node matches."""
    total = 0
    for pref in node_affinity(pod).get("preferredDuringSchedulingIgnoredDuringExecution") or []:
        if term_matches(pref.get("preference") or {}, node):
            total += int(pref.get("weight") or 0)
    return total


def pod_term_matches(term: Mapping[str, Any], owner: Obj, other: Obj,
                     namespace_labels: Mapping[str, Mapping[str, str]]) -> bool:
    """Whether ``other`` is a pod the PodAffinityTerm of ``owner`` selects: its namespaces
    (the owner's own when neither ``namespaces`` nor ``namespaceSelector`` is given) and its
    label selector (a missing one selects nothing)."""
    names = [str(n) for n in term.get("namespaces") or []]
    ns_selector = term.get("namespaceSelector")
    other_ns = namespace(other)
    if not names and ns_selector is None:
        if other_ns != namespace(owner):
            return False
    elif other_ns not in names:
        if ns_selector is None:
            return False
        reqs = selector_from_match(ns_selector)  # {} selects every namespace
        if not matches_labels(reqs, namespace_labels.get(other_ns, {})):
            return False
    selector = term.get("labelSelector")
    if selector is None:
        return False
    return matches_labels(selector_from_match(selector), labels(other))


def pod_affinity_terms(pod: Obj, kind: str, required: bool) -> list[dict[str, Any]]:
    """``kind``: podAffinity or podAntiAffinity. Preferred terms come as
    {weight, podAffinityTerm}; required ones as the terms themselves."""
    block = ((pod.get("spec") or {}).get("affinity") or {}).get(kind) or {}
    key = ("requiredDuringSchedulingIgnoredDuringExecution" if required else
           "preferredDuringSchedulingIgnoredDuringExecution")
    return [dict(t) for t in block.get(key) or []]
