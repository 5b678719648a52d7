"""The HorizontalPodAutoscaler controller (autoscaling/v2), as kube-controller-manager's.

Every sync period (15 s, ``--horizontal-pod-autoscaler-sync-period``; here
``KOMPY_HPA_SYNC_PERIOD``) each HPA is reconciled (reconcileAutoscaler in
pkg/controller/podautoscaler/horizontal.go): read the target's ``/scale``; clamp a count
outside min/max at once; else ask each metric for a count (hpa_metrics.py, hpa_replicas.py),
take the largest, damp it (hpa_behavior.py), write the new count through ``/scale`` with a
``SuccessfulRescale`` event, and write the status: current and desired replicas, the
current metrics, and the AbleToScale, ScalingActive and ScalingLimited conditions.
https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/
"""

from __future__ import annotations

import copy
import logging
import os
import time
from collections.abc import Hashable
from typing import Any

from kompy.client import KubeClient, NotFound
from kompy.client.errors import ApiError
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers, key_of
from kompy.client.objects import Obj, labels, meta, now
from kompy.client.resources import RESOURCES
from kompy.client.selectors import matches_labels, parse_label_selector
from kompy.cluster.controllers import hpa_behavior as behavior
from kompy.cluster.controllers.base import Controller
from kompy.cluster.controllers.hpa_metrics import Outcome, compute
from kompy.errors import KompyError

log = logging.getLogger(__name__)

DEFAULT_SYNC_PERIOD = 15.0
SYNC_PERIOD_ENV = "KOMPY_HPA_SYNC_PERIOD"
SCALABLE = ("Deployment", "ReplicaSet", "StatefulSet")


def sync_period_from_env() -> float:
    raw = os.environ.get(SYNC_PERIOD_ENV, "").strip().removesuffix("s")
    try:
        return max(0.2, float(raw)) if raw else DEFAULT_SYNC_PERIOD
    except ValueError:
        return DEFAULT_SYNC_PERIOD


def set_condition(conditions: list[Obj], kind: str, status: bool, reason: str,
                  message: str) -> None:
    """Set one condition; its lastTransitionTime moves only when its status changes."""
    value = "True" if status else "False"
    for condition in conditions:
        if condition.get("type") == kind:
            if condition.get("status") != value:
                condition["lastTransitionTime"] = now()
            condition.update(status=value, reason=reason, message=message)
            return
    conditions.append({"type": kind, "status": value, "lastTransitionTime": now(),
                       "reason": reason, "message": message})


def scale_path(namespace: str, ref: Obj) -> str:
    """The ``/scale`` of the target, or NotFound naming what cannot be scaled."""
    kind, api_version = str(ref.get("kind") or ""), str(ref.get("apiVersion") or "")
    for res in RESOURCES:
        if res.kind == kind and res.api_version == api_version and kind in SCALABLE:
            return res.path(namespace, str(ref.get("name") or ""), "scale")
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    raise NotFound(404, "NotFound", f'no matches for kind "{kind}" in group "{group}"')


class HorizontalPodAutoscalerController(Controller):
    name = "horizontal-pod-autoscaler"

    def __init__(self, client: KubeClient, informers: Informers, recorder: EventRecorder,
                 sync_period: float | None = None) -> None:
        super().__init__(client, informers, recorder, workers=1)
        self.period = sync_period or sync_period_from_env()
        self.hpas = informers["horizontalpodautoscalers"]
        self.pods = informers["pods"]
        self.histories: dict[Hashable, behavior.History] = {}
        self._generations: dict[Hashable, Any] = {}
        self._due: dict[Hashable, float] = {}   # when each HPA's next periodic sync comes
        self.hpas.add_handler(self._on_hpa)

    def _on_hpa(self, hpa: Obj, deleted: bool) -> None:
        """A new or changed spec is reconciled at once; status writes (ours) wait for the
        next period, as they change nothing to decide on."""
        key = key_of(hpa)
        generation = meta(hpa).get("generation")
        if deleted:
            self._generations.pop(key, None)
        elif self._generations.get(key) != generation:
            self._generations[key] = generation
            self.queue.add(key)

    def sync(self, key: Hashable) -> None:
        assert isinstance(key, tuple)
        hpa = self.hpas.get(*key)
        if hpa is None:
            self.histories.pop(key, None)
            self._due.pop(key, None)
            return
        try:
            self.reconcile(key, copy.deepcopy(hpa))
        finally:
            # One timer per HPA: a sync for a changed spec does not start a second chain.
            if self._due.get(key, 0.0) <= time.monotonic():
                self._due[key] = time.monotonic() + self.period
                self.queue.add_after(key, self.period)

    # -- one reconciliation -------------------------------------------------------------------

    def reconcile(self, key: Hashable, hpa: Obj, clock: float | None = None) -> None:
        at = time.time() if clock is None else clock
        namespace, spec = str(meta(hpa).get("namespace")), hpa.get("spec") or {}
        original = copy.deepcopy(hpa.get("status") or {})
        status = hpa.setdefault("status", {})
        conditions: list[Obj] = status.setdefault("conditions", [])
        ref = spec.get("scaleTargetRef") or {}
        reference = f"{ref.get('kind')}/{namespace}/{ref.get('name')}"
        try:
            path = scale_path(namespace, ref)
            scale = self.client.request("GET", path).json()
        except (ApiError, KompyError) as error:
            self.recorder.warning(hpa, "FailedGetScale", str(error))
            set_condition(conditions, "AbleToScale", False, "FailedGetScale",
                          f"the HPA controller was unable to get the target's current scale: "
                          f"{error}")
            self._write_status(hpa, original)
            return
        set_condition(conditions, "AbleToScale", True, "SucceededGetScale",
                      "the HPA controller was able to get the target's current scale")
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        history = self.histories.get(key)
        if history is None:
            history = self.histories[key] = behavior.History([(current, at)])
        lowest, highest = int(spec.get("minReplicas") or 1), int(spec.get("maxReplicas") or 1)
        desired, reason, outcomes = current, "", []
        if current == 0 and lowest != 0:
            desired = 0
            set_condition(conditions, "ScalingActive", False, "ScalingDisabled",
                          "scaling is disabled since the replica count of the target is zero")
        elif current > highest:
            desired, reason = highest, "Current number of replicas above Spec.MaxReplicas"
        elif current < lowest:
            desired, reason = lowest, "Current number of replicas below Spec.MinReplicas"
        else:
            selector = str((scale.get("status") or {}).get("selector") or "")
            outcomes = self._outcomes(hpa, namespace, selector, current, at)
            proposed = self._proposal(hpa, outcomes, current, conditions)
            if proposed is None:
                self._set_replicas(status, current, current, outcomes, rescaled=False)
                self._write_status(hpa, original)
                return
            desired, metric = proposed
            if desired > current:
                reason = f"{metric} above target"
            elif desired < current:
                reason = "All metrics below target"
            desired = self._normalize(history, spec, conditions, current, desired, at)
        rescaled = desired != current
        if rescaled and not self._rescale(hpa, path, scale, desired, reason, reference,
                                          conditions):
            self._set_replicas(status, current, current, outcomes, rescaled=False)
            self._write_status(hpa, original)
            return
        if rescaled:
            up, down = (behavior.rules(spec.get("behavior"), d) for d in ("scaleUp", "scaleDown"))
            history.record_scale(current, desired, at, behavior.longest_period(up, down))
        self._set_replicas(status, current, desired, outcomes, rescaled=rescaled)
        self._write_status(hpa, original)

    def _outcomes(self, hpa: Obj, namespace: str, selector: str, current: int,
                  at: float) -> list[Outcome]:
        wanted = parse_label_selector(selector)
        pods = [p for p in self.pods.list(namespace) if matches_labels(wanted, labels(p))]
        specs = (hpa.get("spec") or {}).get("metrics") or [{
            "type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": 80}}}]
        return [compute(self.client, namespace, selector, pods, m, current, at) for m in specs]

    def _proposal(self, hpa: Obj, outcomes: list[Outcome], current: int,
                  conditions: list[Obj]) -> tuple[int, str] | None:
        """computeReplicasForMetrics: the largest proposal; None when the metrics cannot
        be trusted (all invalid, or some invalid and the rest would scale down)."""
        valid = [o for o in outcomes if o.replicas is not None]
        invalid = [o for o in outcomes if o.replicas is None]
        for failed in invalid:
            self.recorder.warning(hpa, failed.reason, failed.error)
        best = max(valid, key=lambda o: o.replicas or 0, default=None)
        if best is None or (invalid and (best.replicas or 0) < current):
            first = invalid[0]
            set_condition(conditions, "ScalingActive", False, first.reason,
                          f"the HPA was unable to compute the replica count: {first.error}")
            self.recorder.warning(hpa, "FailedComputeMetricsReplicas",
                                  f"invalid metrics ({len(invalid)} invalid out of "
                                  f"{len(outcomes)}), first error is: {first.error}")
            return None
        set_condition(conditions, "ScalingActive", True, "ValidMetricFound",
                      f"the HPA was able to successfully calculate a replica count from "
                      f"{best.name}")
        return int(best.replicas or 0), best.name

    def _normalize(self, history: behavior.History, spec: Obj, conditions: list[Obj],
                   current: int, desired: int, at: float) -> int:
        given = spec.get("behavior")
        up, down = behavior.rules(given, "scaleUp"), behavior.rules(given, "scaleDown")
        stable = behavior.stabilize(history, up, down, current, desired, at)
        if stable.replicas != desired:
            set_condition(conditions, "AbleToScale", True, stable.reason, stable.message)
        else:
            set_condition(conditions, "AbleToScale", True, "ReadyForNewScale",
                          "recommended size matches current size")
        lowest, highest = int(spec.get("minReplicas") or 1), int(spec.get("maxReplicas") or 1)
        if given is None:
            limited = behavior.legacy_limit(current, stable.replicas, lowest, highest)
        else:
            limited = behavior.rate_limit(history, up, down, current, stable.replicas, lowest,
                                          highest, at)
        set_condition(conditions, "ScalingLimited", limited.replicas != stable.replicas,
                      limited.reason, limited.message)
        return limited.replicas

    def _rescale(self, hpa: Obj, path: str, scale: Obj, desired: int, reason: str,
                 reference: str, conditions: list[Obj]) -> bool:
        body = {**scale, "spec": {**(scale.get("spec") or {}), "replicas": desired}}
        try:
            self.client.request("PUT", path, body=body)
        except (ApiError, KompyError) as error:
            self.recorder.warning(hpa, "FailedRescale", f"New size: {desired}; reason: "
                                                        f"{reason}; error: {error}")
            set_condition(conditions, "AbleToScale", False, "FailedUpdateScale",
                          f"the HPA controller was unable to update the target scale: {error}")
            return False
        set_condition(conditions, "AbleToScale", True, "SucceededRescale",
                      f"the HPA controller was able to update the target scale to {desired}")
        self.recorder.normal(hpa, "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
        log.info("%s: %s scaled to %d (%s)", self.name, reference, desired, reason)
        return True

    @staticmethod
    def _set_replicas(status: Obj, current: int, desired: int, outcomes: list[Outcome],
                      rescaled: bool) -> None:
        status["currentReplicas"] = current
        status["desiredReplicas"] = desired
        if outcomes:
            status["currentMetrics"] = [o.status for o in outcomes]
        if rescaled:
            status["lastScaleTime"] = now()

    def _write_status(self, hpa: Obj, original: Obj) -> None:
        hpa["status"]["observedGeneration"] = meta(hpa).get("generation")
        if hpa["status"] != original:
            self.client.replace_status(hpa)
