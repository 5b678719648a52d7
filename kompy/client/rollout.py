"""Is a workload's rollout done? kubectl's rules, once, as a typed verdict.

The rules are kubectl's status viewers (kubectl ``pkg/polymorphichelpers/rollout_status.go``),
tried in kubectl's order, the first that matches deciding:

- Deployment: waiting until the controller has observed the spec
  (``metadata.generation <= status.observedGeneration``); failed once its Progressing
  condition's reason is ``ProgressDeadlineExceeded``; waiting while fewer replicas are
  updated than ``spec.replicas``, while old replicas are pending termination
  (``status.replicas > updatedReplicas``), while fewer are available than updated; else done.
- StatefulSet: only ``RollingUpdate`` can be judged (kubectl refuses ``OnDelete``); waiting
  until observed (here ``observedGeneration`` 0 never counts as observed); waiting while fewer
  pods are ready than ``spec.replicas``; with ``rollingUpdate`` set, waiting while fewer pods
  are updated than ``replicas - partition``, else done ("partitioned roll out complete");
  without it, waiting while ``updateRevision != currentRevision``, else done.
- DaemonSet: only ``RollingUpdate``; waiting until observed; waiting while fewer pods are
  updated, or available, than ``desiredNumberScheduled``; else done.

kubectl reads objects the API server has defaulted, so fields an API server always fills
are filled here first, as it fills them (k8s.io/kubernetes ``pkg/apis/apps/v1/defaults.go``;
``metadata.generation`` starts at 1): ``spec.replicas`` 1, ``updateStrategy.type``
``RollingUpdate`` (a StatefulSet's ``rollingUpdate`` then ``{partition: 0}``, but only when
the type itself was missing). kubectl's wording (``kompy rollout status``) and ``kompy
dev``'s short form are two renderings of the same :class:`Verdict`.
https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#deployment-status
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

Obj = Mapping[str, Any]
ROLLING_UPDATE = "RollingUpdate"
KINDS = ("Deployment", "StatefulSet", "DaemonSet")


class State(Enum):
    DONE = "done"
    WAITING = "waiting"
    FAILED = "failed"
    # kubectl cannot follow this rollout (an OnDelete StatefulSet or DaemonSet): it says so
    # and stops, neither done nor failed.
    UNSUPPORTED = "unsupported"


class Rule(Enum):
    """Which of kubectl's rules decided, and so what the rollout is, or waits, for."""

    NOT_ROLLING_UPDATE = ("unsupported", State.UNSUPPORTED)
    SPEC_NOT_OBSERVED = ("spec-not-observed", State.WAITING)
    PROGRESS_DEADLINE_EXCEEDED = ("progress-deadline-exceeded", State.FAILED)
    REPLICAS_NOT_UPDATED = ("replicas-not-updated", State.WAITING)          # Deployment
    OLD_REPLICAS_PENDING = ("old-replicas-pending-termination", State.WAITING)
    UPDATED_NOT_AVAILABLE = ("updated-not-available", State.WAITING)
    PODS_NOT_UPDATED = ("pods-not-updated", State.WAITING)                  # DaemonSet
    PODS_NOT_AVAILABLE = ("pods-not-available", State.WAITING)
    PODS_NOT_READY = ("pods-not-ready", State.WAITING)                      # StatefulSet
    PARTITION_NOT_UPDATED = ("partition-not-updated", State.WAITING)
    REVISION_NOT_UPDATED = ("revision-not-updated", State.WAITING)
    ROLLED_OUT = ("rolled-out", State.DONE)                                 # Deployment, DaemonSet
    PARTITION_ROLLED_OUT = ("partition-rolled-out", State.DONE)             # StatefulSet
    REVISION_ROLLED_OUT = ("revision-rolled-out", State.DONE)

    @property
    def state(self) -> State:
        return self.value[1]


@dataclass(frozen=True)
class Counts:
    """The numbers the rules compared (0 where the kind has no such number).

    ``desired``: ``spec.replicas`` (a DaemonSet: ``status.desiredNumberScheduled``);
    ``total``: pods of every revision (``status.replicas``); ``current``: a StatefulSet's
    pods at ``currentRevision``; ``target``: how many must be updated (``replicas -
    partition`` for a partitioned StatefulSet, else ``desired``)."""

    desired: int = 0
    total: int = 0
    updated: int = 0
    ready: int = 0
    available: int = 0
    current: int = 0
    target: int = 0

    @property
    def old(self) -> int:
        """Pods of an older revision still there (a Deployment's pending termination)."""
        return self.total - self.updated

    @property
    def unready(self) -> int:
        return self.desired - self.ready


@dataclass(frozen=True)
class Verdict:
    kind: str
    name: str
    rule: Rule
    counts: Counts
    observed: bool                 # has the controller observed the newest spec?
    strategy: str = ROLLING_UPDATE
    update_revision: str = ""      # a StatefulSet's status.updateRevision / currentRevision
    current_revision: str = ""

    @property
    def state(self) -> State:
        return self.rule.state

    @property
    def done(self) -> bool:
        return self.state is State.DONE


def judge(kind: str, obj: Obj) -> Verdict:
    """The verdict on ``obj``, a Deployment, StatefulSet or DaemonSet (``kind``)."""
    rules = _RULES.get(kind)
    if rules is None:
        raise ValueError(f"no status viewer has been implemented for {kind}")
    return rules(obj)


def _deployment(obj: Obj) -> Verdict:
    spec, status = _dict(obj, "spec"), _dict(obj, "status")
    replicas = _int(spec.get("replicas"), 1)
    counts = _counts(status, _REPLICAS, desired=replicas, target=replicas)
    observed = _generation(obj) <= _int(status.get("observedGeneration"))

    def verdict(rule: Rule) -> Verdict:
        return Verdict("Deployment", _name(obj), rule, counts, observed)

    if not observed:
        return verdict(Rule.SPEC_NOT_OBSERVED)
    progressing = next((c for c in status.get("conditions") or ()
                        if isinstance(c, Mapping) and c.get("type") == "Progressing"), {})
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return verdict(Rule.PROGRESS_DEADLINE_EXCEEDED)
    if counts.updated < replicas:
        return verdict(Rule.REPLICAS_NOT_UPDATED)
    if counts.total > counts.updated:
        return verdict(Rule.OLD_REPLICAS_PENDING)
    if counts.available < counts.updated:
        return verdict(Rule.UPDATED_NOT_AVAILABLE)
    return verdict(Rule.ROLLED_OUT)


def _statefulset(obj: Obj) -> Verdict:
    spec, status = _dict(obj, "spec"), _dict(obj, "status")
    replicas = _int(spec.get("replicas"), 1)
    strategy = _dict(spec, "updateStrategy")
    kind = str(strategy.get("type") or "")
    rolling = strategy.get("rollingUpdate")
    if not kind:   # the server's default: RollingUpdate, partition 0
        kind, rolling = ROLLING_UPDATE, rolling if isinstance(rolling, Mapping) else {}
    partition = _int(rolling.get("partition")) if isinstance(rolling, Mapping) else None
    target = replicas - partition if partition is not None else replicas
    counts = _counts(status, _REPLICAS, desired=replicas, target=target)
    seen = _int(status.get("observedGeneration"))
    observed = seen != 0 and _generation(obj) <= seen

    def verdict(rule: Rule) -> Verdict:
        return Verdict("StatefulSet", _name(obj), rule, counts, observed, kind,
                       str(status.get("updateRevision") or ""),
                       str(status.get("currentRevision") or ""))

    if kind != ROLLING_UPDATE:
        return verdict(Rule.NOT_ROLLING_UPDATE)
    if not observed:
        return verdict(Rule.SPEC_NOT_OBSERVED)
    if counts.ready < replicas:
        return verdict(Rule.PODS_NOT_READY)
    if partition is not None:
        if counts.updated < target:
            return verdict(Rule.PARTITION_NOT_UPDATED)
        return verdict(Rule.PARTITION_ROLLED_OUT)
    if status.get("updateRevision") != status.get("currentRevision"):
        return verdict(Rule.REVISION_NOT_UPDATED)
    return verdict(Rule.REVISION_ROLLED_OUT)


def _daemonset(obj: Obj) -> Verdict:
    spec, status = _dict(obj, "spec"), _dict(obj, "status")
    kind = str(_dict(spec, "updateStrategy").get("type") or ROLLING_UPDATE)
    desired = _int(status.get("desiredNumberScheduled"))
    counts = _counts(status, _DAEMON_PODS, desired=desired, target=desired)
    observed = _generation(obj) <= _int(status.get("observedGeneration"))

    def verdict(rule: Rule) -> Verdict:
        return Verdict("DaemonSet", _name(obj), rule, counts, observed, kind)

    if kind != ROLLING_UPDATE:
        return verdict(Rule.NOT_ROLLING_UPDATE)
    if not observed:
        return verdict(Rule.SPEC_NOT_OBSERVED)
    if counts.updated < desired:
        return verdict(Rule.PODS_NOT_UPDATED)
    if counts.available < desired:
        return verdict(Rule.PODS_NOT_AVAILABLE)
    return verdict(Rule.ROLLED_OUT)


# Which status field holds each count: a Deployment's and a StatefulSet's replicas, a
# DaemonSet's pods (currentNumberScheduled: nodes running one of its pods, of any revision).
_REPLICAS = {"total": "replicas", "updated": "updatedReplicas", "ready": "readyReplicas",
             "available": "availableReplicas", "current": "currentReplicas"}
_DAEMON_PODS = {"total": "currentNumberScheduled", "updated": "updatedNumberScheduled",
                "ready": "numberReady", "available": "numberAvailable"}


def _counts(status: Obj, fields: Mapping[str, str], *, desired: int, target: int) -> Counts:
    return Counts(desired=desired, target=target,
                  **{count: _int(status.get(field)) for count, field in fields.items()})


_RULES: dict[str, Callable[[Obj], Verdict]] = {
    "Deployment": _deployment, "StatefulSet": _statefulset, "DaemonSet": _daemonset}


def _dict(obj: Obj, key: str) -> Obj:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def _name(obj: Obj) -> str:
    return str(_dict(obj, "metadata").get("name") or "")


def _generation(obj: Obj) -> int:
    # The API server sets metadata.generation to 1 on create and bumps it on each change of
    # the spec: a missing generation is an object no server has seen, generation 1.
    return _int(_dict(obj, "metadata").get("generation"), 1)


def _int(value: Any, default: int = 0) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
