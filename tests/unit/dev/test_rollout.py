"""kompy dev's short form of kubectl's rollout verdict (kompy.dev.rollout), rule by rule, and
what the wait does with an OnDelete StatefulSet or DaemonSet, which kubectl refuses."""

from __future__ import annotations

from typing import Any

import pytest

from kompy.client.rollout import Counts, Rule, Verdict
from kompy.dev.rollout import from_verdict, workload_status

COUNTS = Counts(desired=3, total=4, updated=2, ready=1, available=1, current=2, target=2)


def verdict(rule: Rule, kind: str = "Deployment", counts: Counts = COUNTS,
            observed: bool = True, strategy: str = "RollingUpdate") -> Verdict:
    return Verdict(kind, "web", rule, counts, observed, strategy, "web-7f", "web-6c")


@pytest.mark.parametrize(("rule", "waiting"), [
    (Rule.SPEC_NOT_OBSERVED, "waiting for the spec update to be observed"),
    (Rule.REPLICAS_NOT_UPDATED, "2 out of 3 new replicas have been updated"),
    (Rule.OLD_REPLICAS_PENDING, "2 old replicas are pending termination"),
    (Rule.UPDATED_NOT_AVAILABLE, "1 of 2 updated replicas are available"),
    (Rule.PODS_NOT_UPDATED, "2 out of 3 new pods have been updated"),
    (Rule.PODS_NOT_AVAILABLE, "1 of 3 updated pods are available"),
    (Rule.PODS_NOT_READY, "waiting for 2 pods to be ready"),
    (Rule.PARTITION_NOT_UPDATED, "2 out of 2 new pods have been updated"),
    (Rule.REVISION_NOT_UPDATED, "rolling update to revision web-7f: 2 pods updated"),
])
def test_each_waiting_rule_says_what_it_waits_for(rule: Rule, waiting: str) -> None:
    status = from_verdict(verdict(rule))
    assert (status.done, status.failed, status.waiting) == (False, None, waiting)
    assert status.text() == f"web 1/3 ({waiting})"


@pytest.mark.parametrize("rule", [Rule.ROLLED_OUT, Rule.PARTITION_ROLLED_OUT,
                                  Rule.REVISION_ROLLED_OUT])
def test_done_rules_are_done(rule: Rule) -> None:
    status = from_verdict(verdict(rule))
    assert (status.done, status.failed, status.text()) == (True, None, "web 1/3")


def test_the_progress_deadline_fails_the_wait() -> None:
    status = from_verdict(verdict(Rule.PROGRESS_DEADLINE_EXCEEDED))
    assert (status.done, status.failed) == (False, "deployment 'web' exceeded its progress "
                                                   "deadline")


ON_DELETE = Counts(desired=2, updated=1, ready=2, available=2, target=2)


@pytest.mark.parametrize(("kind", "counts", "observed", "done", "text"), [
    # the pods there are ready, one of them old: up, and the line says so
    ("StatefulSet", ON_DELETE, True, True,
     "web 2/2 (OnDelete: 1 of 2 pods run the new spec, the others keep the old one until "
     "they are deleted)"),
    ("DaemonSet", ON_DELETE, True, True,
     "web 2/2 (OnDelete: 1 of 2 pods run the new spec, the others keep the old one until "
     "they are deleted)"),
    # every pod new: nothing to say
    ("StatefulSet", Counts(desired=2, updated=2, ready=2), True, True, "web 2/2"),
    # a pod not ready yet (a first start): the wait waits for it, as for any workload
    ("StatefulSet", Counts(desired=2, updated=2, ready=1), True, False,
     "web 1/2 (waiting for 1 pods to be ready)"),
    # the controller has not seen the spec yet: its counts are not this spec's
    ("DaemonSet", Counts(desired=2, updated=2, ready=2), False, False,
     "web 2/2 (waiting for the spec update to be observed)"),
])
def test_on_delete_waits_for_ready_pods_and_says_old_ones_stay(
        kind: str, counts: Counts, observed: bool, done: bool, text: str) -> None:
    status = from_verdict(verdict(Rule.NOT_ROLLING_UPDATE, kind, counts, observed, "OnDelete"))
    assert (status.done, status.failed, status.text()) == (done, None, text)


def test_an_on_delete_statefulset_end_to_end_of_the_rules() -> None:
    obj: dict[str, Any] = {
        "kind": "StatefulSet", "metadata": {"name": "db", "generation": 2},
        "spec": {"replicas": 1, "updateStrategy": {"type": "OnDelete"}},
        "status": {"observedGeneration": 2, "readyReplicas": 1, "updatedReplicas": 0,
                   "updateRevision": "db-2", "currentRevision": "db-1"}}
    status = workload_status(obj)
    assert status.done
    assert "0 of 1 pods run the new spec" in status.text()
