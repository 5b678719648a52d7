"""The disruption controller: each PodDisruptionBudget's status, which the Eviction
subresource reads (``kompy/cluster/apiserver/eviction.py``).

``currentHealthy`` counts the selected pods that are Ready and not being deleted (nor just
evicted: ``status.disruptedPods`` names pods whose eviction was granted, until they are
deleting or two minutes passed); ``desiredHealthy`` comes from ``minAvailable``, or from
``maxUnavailable`` over ``expectedPods``: for a number ``minAvailable`` the selected pods,
otherwise the replicas of their controllers (a Deployment's ReplicaSets, a StatefulSet...),
as upstream's scale lookup finds them. ``disruptionsAllowed`` is the difference, never
below 0. https://kubernetes.io/docs/tasks/run-application/configure-pdb/
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any, cast

from kompy.client import KubeClient
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers, key_of
from kompy.client.objects import (
    Obj,
    controller_ref,
    labels,
    meta,
    name,
    namespace,
    now,
    parse_time,
    pod_ready,
    pod_terminal,
    selector_matches,
    terminating,
)
from kompy.cluster.controllers.base import Controller

# A granted eviction whose pod is not deleting after this long is forgotten (upstream's
# DeletionTimeout).
DISRUPTED_TIMEOUT = 120.0
SCALED_OWNERS = {"ReplicaSet": "replicasets", "StatefulSet": "statefulsets",
                 "ReplicationController": "replicationcontrollers"}


def resolve(value: Any, total: int, round_up: bool) -> int:
    """An IntOrString of a budget: a number, or a percentage of ``total``."""
    if isinstance(value, str) and value.endswith("%"):
        try:
            share = float(value[:-1]) * total / 100
        except ValueError:
            return 0
        return math.ceil(share) if round_up else math.floor(share)
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class DisruptionController(Controller):
    name = "disruption"

    def __init__(self, client: KubeClient, informers: Informers, recorder: EventRecorder
                 ) -> None:
        super().__init__(client, informers, recorder, workers=1)
        self.budgets = informers["poddisruptionbudgets"]
        self.pods = informers["pods"]
        self.informers = informers
        self.budgets.add_handler(lambda obj, deleted: self.queue.add(key_of(obj)))
        self.pods.add_handler(self._on_pod)

    def _on_pod(self, pod: Obj, deleted: bool) -> None:
        for budget in self.budgets.list(namespace(pod)):
            if selector_matches((budget.get("spec") or {}).get("selector"), labels(pod)):
                self.queue.add(key_of(budget))

    def _expected(self, pods: list[Obj]) -> int:
        """The replicas of the pods' controllers (pods without one count one each)."""
        total, seen = 0, set()
        for pod in pods:
            ref = controller_ref(pod)
            resource = SCALED_OWNERS.get(str((ref or {}).get("kind")))
            if ref is None or resource is None:
                total += 1
                continue
            if ref.get("uid") in seen:
                continue
            seen.add(ref.get("uid"))
            owner = self.informers[resource].get(namespace(pod), str(ref.get("name")))
            replicas = ((owner or {}).get("spec") or {}).get("replicas")
            total += int(replicas) if isinstance(replicas, int) else 1
        return total

    def sync(self, key: Hashable) -> None:
        ns, budget_name = cast(tuple[str, str], key)
        budget = self.budgets.get(ns, budget_name)
        if budget is None or terminating(budget):
            return
        spec = budget.get("spec") or {}
        status = dict(budget.get("status") or {})
        pods = [p for p in self.pods.list(ns) if not pod_terminal(p) and
                selector_matches(spec.get("selector"), labels(p))]
        disrupted = self._still_disrupted(status.get("disruptedPods") or {}, pods)
        healthy = sum(1 for p in pods if pod_ready(p) and not terminating(p) and
                      name(p) not in disrupted)
        if spec.get("maxUnavailable") is not None:
            expected = self._expected(pods)
            desired = max(expected - resolve(spec["maxUnavailable"], expected, True), 0)
        elif isinstance(spec.get("minAvailable"), str):
            expected = self._expected(pods)
            desired = resolve(spec["minAvailable"], expected, True)
        else:
            expected = len(pods)
            desired = resolve(spec.get("minAvailable", 1), expected, True)
        allowed = max(healthy - desired, 0) if expected > 0 else 0
        wanted = {"observedGeneration": meta(budget).get("generation", 1),
                  "disruptionsAllowed": allowed, "currentHealthy": healthy,
                  "desiredHealthy": desired, "expectedPods": expected,
                  "disruptedPods": disrupted or None}
        condition = self._condition(status, allowed)
        if all(status.get(k) == v for k, v in wanted.items()) and \
                status.get("conditions") == [condition]:
            return
        status.update(wanted)
        if not disrupted:
            status.pop("disruptedPods", None)
        status["conditions"] = [condition]
        self.budgets.upsert_local(self.client.replace_status({**budget, "status": status}))

    @staticmethod
    def _still_disrupted(disrupted: dict[str, str], pods: list[Obj]) -> dict[str, str]:
        live = {name(p): p for p in pods if not terminating(p)}
        out = {}
        for pod_name, stamp in disrupted.items():
            granted = parse_time(stamp)
            if pod_name in live and granted is not None and \
                    granted + DISRUPTED_TIMEOUT > (parse_time(now()) or 0):
                out[pod_name] = stamp
        return out

    @staticmethod
    def _condition(status: dict[str, Any], allowed: int) -> dict[str, Any]:
        ok = allowed > 0
        old = [c for c in status.get("conditions") or [] if c.get("type") == "DisruptionAllowed"]
        state = "True" if ok else "False"
        since = old[0].get("lastTransitionTime") if old and old[0].get("status") == state \
            else now()
        return {"type": "DisruptionAllowed", "status": state,
                "reason": "SufficientPods" if ok else "InsufficientPods", "message": "",
                "observedGeneration": status.get("observedGeneration", 1),
                "lastTransitionTime": since}
