"""The ``kompy describe`` layouts of policies: ResourceQuota and LimitRange, as kubectl
1.33's describeQuota and describeLimitRange lay them out (rows sorted by resource, where
kubectl walks a Go map), and PriorityClass (describePriorityClass)."""

from __future__ import annotations

from fractions import Fraction

from kompy.client import KubeClient
from kompy.client.objects import Obj
from kompy.client.quantity import Quantity, QuantityError
from kompy.kubectl.describe_common import Writer, events_block
from kompy.kubectl.describe_storage import format_labels

Events = list[Obj] | None

_SCOPE_HELP = {
    "Terminating": "Matches all pods that have an active deadline. These pods have a limited "
                   "lifespan on a node before being actively terminated by the system.",
    "NotTerminating": "Matches all pods that do not have an active deadline. These pods "
                      "usually include long running pods whose container command is not "
                      "expected to terminate.",
    "BestEffort": "Matches all pods that do not have resource requirements set. These pods "
                  "have a best effort quality of service.",
    "NotBestEffort": "Matches all pods that have at least one resource requirement set. These "
                     "pods have a burstable or guaranteed quality of service.",
}


def priority_class(client: KubeClient, obj: Obj, events: Events) -> str:
    meta = obj.get("metadata") or {}
    w = Writer()
    w(0, f"Name:\t{meta.get('name')}\n")
    w(0, f"Value:\t{obj.get('value', 0)}\n")
    w(0, f"GlobalDefault:\t{'true' if obj.get('globalDefault') else 'false'}\n")
    w(0, f"PreemptionPolicy:\t{obj.get('preemptionPolicy') or ''}\n")
    w(0, f"Description:\t{obj.get('description') or ''}\n")
    w(0, f"Annotations:\t{format_labels(meta.get('annotations') or {})}\n")
    events_block(w, events)
    return w.text()


def quota(client: KubeClient, obj: Obj, events: Events) -> str:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, \
        obj.get("status") or {}
    w = Writer()
    w(0, f"Name:\t{meta.get('name')}\n")
    w(0, f"Namespace:\t{meta.get('namespace')}\n")
    _scopes(w, 0, " * ", spec)
    w(0, "Resource\tUsed\tHard\n")
    w(0, "--------\t----\t----\n")
    hard, used = status.get("hard") or {}, status.get("used") or {}
    for name in sorted(hard):
        w(0, f"{name}\t{_used_as_hard(used.get(name, '0'), hard[name])}\t"
             f"{_text(hard[name])}\n")
    return w.text()


def _scopes(w: Writer, level: int, bullet: str, spec: Obj) -> None:
    scopes = sorted(str(s) for s in spec.get("scopes") or [])
    if scopes:
        w(level, f"Scopes:\t{', '.join(scopes)}\n")
        for scope in scopes:
            if scope in _SCOPE_HELP:
                w(level, f"{bullet}{_SCOPE_HELP[scope]}\n")


def quotas_block(w: Writer, quotas: list[Obj]) -> None:
    """DescribeResourceQuotas: a namespace's quotas, in ``kubectl describe namespace``."""
    if not quotas:
        w(0, "No resource quota.\n")
        return
    w(0, "Resource Quotas\n")
    for item in sorted(quotas, key=lambda q: str((q.get("metadata") or {}).get("name"))):
        w(1, f"Name:\t{(item.get('metadata') or {}).get('name')}\n")
        _scopes(w, 1, "* ", item.get("spec") or {})
        w(1, "Resource\tUsed\tHard\n")
        w(1, "--------\t---\t---\n")
        status = item.get("status") or {}
        hard, used = status.get("hard") or {}, status.get("used") or {}
        for name in sorted(hard):
            w(1, f"{name}\t{_text(used.get(name, '0'))}\t{_text(hard[name])}\n")


def limit_ranges_block(w: Writer, ranges: list[Obj]) -> None:
    """DescribeLimitRanges: a namespace's LimitRanges, in ``kubectl describe namespace``."""
    if not ranges:
        w(0, "No LimitRange resource.\n")
        return
    w(0, "Resource Limits\n Type\tResource\tMin\tMax\tDefault Request\tDefault Limit\t"
         "Max Limit/Request Ratio\n")
    w(0, " ----\t--------\t---\t---\t---------------\t-------------\t"
         "-----------------------\n")
    for item in ranges:
        for row in _limit_rows(item):
            w(0, " " + row)


def _limit_rows(limit_range: Obj) -> list[str]:
    rows = []
    for item in (limit_range.get("spec") or {}).get("limits") or []:
        names = sorted({str(k) for field in _LIMIT_FIELDS for k in (item.get(field) or {})})
        for name in names:
            cells = [_text((item.get(field) or {})[name]) if name in (item.get(field) or {})
                     else "-" for field in _LIMIT_FIELDS]
            rows.append(f"{item.get('type')}\t{name}\t" + "\t".join(cells) + "\n")
    return rows


def _text(value: object) -> str:
    try:
        return str(Quantity.parse(value))
    except QuantityError:
        return str(value)


def _used_as_hard(used: object, hard: object) -> str:
    """kubectl shows the used amount in the hard amount's format (whole units)."""
    try:
        u, h = Quantity.parse(used), Quantity.parse(hard)
    except QuantityError:
        return str(used)
    if u.format == h.format:
        return str(u)
    return str(Quantity(Fraction(-(-u.value.numerator // u.value.denominator)), h.format))


_LIMIT_FIELDS = ("min", "max", "defaultRequest", "default", "maxLimitRequestRatio")


def limit_range(client: KubeClient, obj: Obj, events: Events) -> str:
    meta = obj.get("metadata") or {}
    w = Writer()
    w(0, f"Name:\t{meta.get('name')}\n")
    w(0, f"Namespace:\t{meta.get('namespace')}\n")
    w(0, "Type\tResource\tMin\tMax\tDefault Request\tDefault Limit\t"
         "Max Limit/Request Ratio\n")
    w(0, "----\t--------\t---\t---\t---------------\t-------------\t"
         "-----------------------\n")
    for row in _limit_rows(obj):
        w(0, row)
    return w.text()


__all__ = ["limit_range", "limit_ranges_block", "priority_class", "quota", "quotas_block"]
