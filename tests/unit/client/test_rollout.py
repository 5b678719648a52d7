"""kubectl's rollout rules (kompy.client.rollout), rule by rule and edge by edge, against
what kubectl's pkg/polymorphichelpers/rollout_status.go decides on objects as an API server
has defaulted them. Each rule has a row on each side of its boundary."""

from __future__ import annotations

from typing import Any

import pytest

from kompy.client.rollout import Rule, State, judge

Obj = dict[str, Any]
MISSING: Any = object()   # leave the field out


def _put(target: Obj, key: str, value: Any) -> None:
    if value is not MISSING:
        target[key] = value


def dep(*, generation: Any = 2, observed: Any = 2, replicas: Any = 3, updated: int = 3,
        total: int = 3, available: int = 3, ready: int = 3, reason: str | None = None) -> Obj:
    meta: Obj = {"name": "web"}
    _put(meta, "generation", generation)
    spec: Obj = {}
    _put(spec, "replicas", replicas)
    status: Obj = {"updatedReplicas": updated, "replicas": total,
                   "availableReplicas": available, "readyReplicas": ready}
    _put(status, "observedGeneration", observed)
    if reason:
        status["conditions"] = [{"type": "Progressing", "status": "False", "reason": reason}]
    return {"metadata": meta, "spec": spec, "status": status}


def sts(*, generation: Any = 1, observed: Any = 1, replicas: Any = 3, ready: int = 3,
        updated: int = 3, current: int = 3, strategy: Any = MISSING,
        rolling: Any = MISSING, update_rev: str = "r1", current_rev: str = "r1") -> Obj:
    meta: Obj = {"name": "db"}
    _put(meta, "generation", generation)
    update_strategy: Obj = {}
    _put(update_strategy, "type", strategy)
    _put(update_strategy, "rollingUpdate", rolling)
    spec: Obj = {"updateStrategy": update_strategy}
    _put(spec, "replicas", replicas)
    status: Obj = {"readyReplicas": ready, "updatedReplicas": updated,
                   "currentReplicas": current, "updateRevision": update_rev,
                   "currentRevision": current_rev}
    _put(status, "observedGeneration", observed)
    return {"metadata": meta, "spec": spec, "status": status}


def ds(*, generation: Any = 1, observed: Any = 1, desired: int = 2, updated: int = 2,
       available: int = 2, ready: int = 2, strategy: Any = MISSING) -> Obj:
    meta: Obj = {"name": "agent"}
    _put(meta, "generation", generation)
    update_strategy: Obj = {}
    _put(update_strategy, "type", strategy)
    status: Obj = {"desiredNumberScheduled": desired, "updatedNumberScheduled": updated,
                   "numberAvailable": available, "numberReady": ready}
    _put(status, "observedGeneration", observed)
    return {"metadata": meta, "spec": {"updateStrategy": update_strategy}, "status": status}


DEADLINE = "ProgressDeadlineExceeded"

DEPLOYMENT = [
    pytest.param(dep(), Rule.ROLLED_OUT, id="all-updated-available"),
    pytest.param(dep(generation=3, observed=2), Rule.SPEC_NOT_OBSERVED, id="generation-ahead"),
    pytest.param(dep(generation=2, observed=3), Rule.ROLLED_OUT, id="observed-ahead"),
    pytest.param(dep(generation=1, observed=MISSING), Rule.SPEC_NOT_OBSERVED,
                 id="observed-missing"),
    pytest.param(dep(generation=1, observed=0), Rule.SPEC_NOT_OBSERVED, id="observed-0"),
    # the server starts generation at 1: a missing one is 1, not 0
    pytest.param(dep(generation=MISSING, observed=0), Rule.SPEC_NOT_OBSERVED,
                 id="generation-missing-observed-0"),
    pytest.param(dep(generation=MISSING, observed=1), Rule.ROLLED_OUT,
                 id="generation-missing-observed-1"),
    # kubectl compares generation <= observedGeneration and nothing more (unlike a
    # StatefulSet, observedGeneration 0 is not special)
    pytest.param(dep(generation=0, observed=0), Rule.ROLLED_OUT, id="generation-0-observed-0"),
    pytest.param(dep(reason=DEADLINE), Rule.PROGRESS_DEADLINE_EXCEEDED,
                 id="deadline-even-when-complete"),
    pytest.param(dep(reason=DEADLINE, generation=3), Rule.SPEC_NOT_OBSERVED,
                 id="deadline-of-an-older-generation"),
    pytest.param(dep(reason="NewReplicaSetAvailable"), Rule.ROLLED_OUT, id="progressing-ok"),
    pytest.param(dep(reason="ReplicaSetUpdated", updated=2, total=3),
                 Rule.REPLICAS_NOT_UPDATED, id="updated-below-replicas"),
    pytest.param(dep(updated=2, total=2, available=2), Rule.REPLICAS_NOT_UPDATED,
                 id="updated-below-replicas-no-old"),
    # the server defaults spec.replicas to 1, so the rule applies without it
    pytest.param(dep(replicas=MISSING, updated=0, total=0, available=0),
                 Rule.REPLICAS_NOT_UPDATED, id="replicas-missing-none-updated"),
    pytest.param(dep(replicas=MISSING, updated=1, total=1, available=1), Rule.ROLLED_OUT,
                 id="replicas-missing-one-updated"),
    pytest.param(dep(replicas=0, updated=0, total=0, available=0), Rule.ROLLED_OUT,
                 id="scaled-to-0"),
    pytest.param(dep(total=4), Rule.OLD_REPLICAS_PENDING, id="old-pending-termination"),
    pytest.param(dep(available=2), Rule.UPDATED_NOT_AVAILABLE, id="updated-not-available"),
    # ready is not a rule (available is): ready but not yet available for minReadySeconds
    pytest.param(dep(ready=0), Rule.ROLLED_OUT, id="ready-not-a-rule"),
    pytest.param(dep(ready=3, available=0), Rule.UPDATED_NOT_AVAILABLE,
                 id="ready-not-available"),
    # scaling down: more updated than wanted, none old: kubectl says done
    pytest.param(dep(replicas=1, updated=3, total=3, available=3), Rule.ROLLED_OUT,
                 id="scaling-down"),
]

STATEFULSET = [
    # the server's default strategy: RollingUpdate with rollingUpdate {partition: 0}
    pytest.param(sts(), Rule.PARTITION_ROLLED_OUT, id="defaulted-strategy"),
    pytest.param(sts(strategy="RollingUpdate", rolling={"partition": 0}),
                 Rule.PARTITION_ROLLED_OUT, id="partition-0"),
    pytest.param(sts(updated=2), Rule.PARTITION_NOT_UPDATED, id="defaulted-partition-waits"),
    pytest.param(sts(strategy="RollingUpdate", rolling={}, updated=2),
                 Rule.PARTITION_NOT_UPDATED, id="rolling-without-partition"),
    pytest.param(sts(strategy="RollingUpdate", rolling={"partition": 1}, updated=1),
                 Rule.PARTITION_NOT_UPDATED, id="partition-1-one-updated"),
    pytest.param(sts(strategy="RollingUpdate", rolling={"partition": 1}, updated=2),
                 Rule.PARTITION_ROLLED_OUT, id="partition-1-two-updated"),
    # a type given without rollingUpdate is not defaulted: kubectl compares revisions
    pytest.param(sts(strategy="RollingUpdate", update_rev="r2"), Rule.REVISION_NOT_UPDATED,
                 id="no-rolling-new-revision"),
    pytest.param(sts(strategy="RollingUpdate", updated=0), Rule.REVISION_ROLLED_OUT,
                 id="no-rolling-same-revision"),
    pytest.param(sts(strategy="OnDelete"), Rule.NOT_ROLLING_UPDATE, id="on-delete"),
    pytest.param(sts(strategy="OnDelete", observed=0, ready=0), Rule.NOT_ROLLING_UPDATE,
                 id="on-delete-before-anything"),
    pytest.param(sts(observed=0), Rule.SPEC_NOT_OBSERVED, id="observed-0"),
    pytest.param(sts(observed=MISSING), Rule.SPEC_NOT_OBSERVED, id="observed-missing"),
    pytest.param(sts(generation=0, observed=0), Rule.SPEC_NOT_OBSERVED,
                 id="generation-0-observed-0"),
    pytest.param(sts(generation=2, observed=1), Rule.SPEC_NOT_OBSERVED, id="generation-ahead"),
    pytest.param(sts(generation=MISSING, observed=1), Rule.PARTITION_ROLLED_OUT,
                 id="generation-missing"),
    pytest.param(sts(ready=2), Rule.PODS_NOT_READY, id="not-ready"),
    pytest.param(sts(replicas=MISSING, ready=0, updated=0), Rule.PODS_NOT_READY,
                 id="replicas-missing"),
    pytest.param(sts(replicas=MISSING, ready=1, updated=1), Rule.PARTITION_ROLLED_OUT,
                 id="replicas-missing-ready"),
    pytest.param(sts(replicas=0, ready=0, updated=0), Rule.PARTITION_ROLLED_OUT,
                 id="scaled-to-0"),
]

DAEMONSET = [
    pytest.param(ds(), Rule.ROLLED_OUT, id="rolled-out"),
    pytest.param(ds(strategy="RollingUpdate"), Rule.ROLLED_OUT, id="rolling-explicit"),
    pytest.param(ds(strategy="OnDelete"), Rule.NOT_ROLLING_UPDATE, id="on-delete"),
    pytest.param(ds(strategy="OnDelete", generation=2), Rule.NOT_ROLLING_UPDATE,
                 id="on-delete-before-observed"),
    pytest.param(ds(generation=2), Rule.SPEC_NOT_OBSERVED, id="generation-ahead"),
    pytest.param(ds(observed=MISSING), Rule.SPEC_NOT_OBSERVED, id="observed-missing"),
    pytest.param(ds(generation=0, observed=0), Rule.ROLLED_OUT, id="generation-0-observed-0"),
    pytest.param(ds(updated=1), Rule.PODS_NOT_UPDATED, id="not-updated"),
    pytest.param(ds(available=1), Rule.PODS_NOT_AVAILABLE, id="not-available"),
    pytest.param(ds(ready=0), Rule.ROLLED_OUT, id="ready-not-a-rule"),
    pytest.param(ds(desired=0, updated=0, available=0), Rule.ROLLED_OUT, id="no-nodes"),
]


@pytest.mark.parametrize(("obj", "rule"), DEPLOYMENT)
def test_deployment_rules(obj: Obj, rule: Rule) -> None:
    assert judge("Deployment", obj).rule is rule


@pytest.mark.parametrize(("obj", "rule"), STATEFULSET)
def test_statefulset_rules(obj: Obj, rule: Rule) -> None:
    assert judge("StatefulSet", obj).rule is rule


@pytest.mark.parametrize(("obj", "rule"), DAEMONSET)
def test_daemonset_rules(obj: Obj, rule: Rule) -> None:
    assert judge("DaemonSet", obj).rule is rule


def test_every_rule_has_a_state() -> None:
    assert {rule.state for rule in Rule} == set(State)
    assert judge("Deployment", dep()).done
    assert judge("Deployment", dep(reason=DEADLINE)).state is State.FAILED
    assert judge("StatefulSet", sts(strategy="OnDelete")).state is State.UNSUPPORTED
    assert judge("DaemonSet", ds(updated=0)).state is State.WAITING


def test_the_counts_are_the_ones_compared() -> None:
    verdict = judge("StatefulSet", sts(strategy="RollingUpdate", rolling={"partition": 1},
                                       updated=1, ready=3, current=2))
    assert (verdict.counts.desired, verdict.counts.target, verdict.counts.updated,
            verdict.counts.current) == (3, 2, 1, 2)
    verdict = judge("Deployment", dep(replicas=MISSING, updated=0, total=2, available=1))
    assert (verdict.counts.desired, verdict.counts.total, verdict.counts.available) == (1, 2, 1)
    verdict = judge("StatefulSet", sts(strategy="OnDelete", updated=1))
    assert (verdict.strategy, verdict.observed, verdict.counts.updated) == ("OnDelete", True, 1)
    assert judge("DaemonSet", ds(generation=2)).observed is False


def test_junk_in_status_counts_as_missing() -> None:
    obj = dep()
    obj["status"]["updatedReplicas"] = "many"
    obj["status"]["conditions"] = ["not a condition"]
    assert judge("Deployment", obj).rule is Rule.REPLICAS_NOT_UPDATED


def test_other_kinds_have_no_rules() -> None:
    with pytest.raises(ValueError, match="no status viewer has been implemented for Job"):
        judge("Job", {})
