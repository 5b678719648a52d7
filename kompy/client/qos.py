"""A pod's quality-of-service class, as the API server writes it into ``status.qosClass``
when the pod is created (k8s.io/kubernetes pkg/apis/core/helper/qos ``ComputePodQOS``).

The rule sums each resource over all the pod's containers, init containers included; only
CPU and memory count, and only positive quantities:

- nothing requested or limited: ``BestEffort``;
- every container limits both CPU and memory, and the pod's summed requests equal its
  summed limits for every resource: ``Guaranteed``;
- anything else: ``Burstable``.

The API server defaults a missing request to its limit before this runs, so a container
with limits only counts as requesting them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kompy.client.quantity import Quantity, QuantityError

BEST_EFFORT, BURSTABLE, GUARANTEED = "BestEffort", "Burstable", "Guaranteed"
_COMPUTE = frozenset({"cpu", "memory"})


def qos_class(spec: Mapping[str, Any]) -> str:
    """The QoS class of a pod with this spec."""
    requests: dict[str, Quantity] = {}
    limits: dict[str, Quantity] = {}
    guaranteed = True
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        resources = (container.get("resources") if isinstance(container, dict) else None) or {}
        _add_positive(requests, resources.get("requests"))
        if not _add_positive(limits, resources.get("limits")) >= _COMPUTE:
            guaranteed = False
    if not requests and not limits:
        return BEST_EFFORT
    if guaranteed and requests.keys() == limits.keys() and all(
            limits[name].value == amount.value for name, amount in requests.items()):
        return GUARANTEED
    return BURSTABLE


def _add_positive(sums: dict[str, Quantity], amounts: Any) -> set[str]:
    """Adds each positive CPU or memory quantity of ``amounts`` to ``sums``; returns the
    names added. A quantity that does not parse counts as absent: validation refuses it."""
    found: set[str] = set()
    if not isinstance(amounts, dict):
        return found
    for name, text in amounts.items():
        if name not in _COMPUTE:
            continue
        try:
            amount = Quantity.parse(text)
        except QuantityError:
            continue
        if amount.value > 0:
            found.add(name)
            sums[name] = sums[name] + amount if name in sums else amount
    return found
