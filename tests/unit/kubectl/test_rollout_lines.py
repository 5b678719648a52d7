"""kompy rollout status's wording: kubectl's line (pkg/polymorphichelpers/rollout_status.go)
for every rule of kompy.client.rollout, word for word, and its two refusals."""

from __future__ import annotations

import pytest

from kompy.client.rollout import Counts, Rule, Verdict
from kompy.errors import UserError
from kompy.kubectl.rollout_status import RolloutFailed, message

COUNTS = Counts(desired=3, total=4, updated=2, ready=1, available=1, current=2, target=2)


def verdict(kind: str, rule: Rule, strategy: str = "RollingUpdate") -> Verdict:
    name = {"Deployment": "web", "StatefulSet": "db", "DaemonSet": "agent"}[kind]
    return Verdict(kind, name, rule, COUNTS, True, strategy, "db-7f", "db-6c")


@pytest.mark.parametrize(("kind", "rule", "line"), [
    ("Deployment", Rule.SPEC_NOT_OBSERVED, "Waiting for deployment spec update to be observed..."),
    ("StatefulSet", Rule.SPEC_NOT_OBSERVED,
     "Waiting for statefulset spec update to be observed..."),
    ("DaemonSet", Rule.SPEC_NOT_OBSERVED, "Waiting for daemon set spec update to be observed..."),
    ("Deployment", Rule.REPLICAS_NOT_UPDATED, 'Waiting for deployment "web" rollout to finish: '
     "2 out of 3 new replicas have been updated..."),
    ("Deployment", Rule.OLD_REPLICAS_PENDING, 'Waiting for deployment "web" rollout to finish: '
     "2 old replicas are pending termination..."),
    ("Deployment", Rule.UPDATED_NOT_AVAILABLE, 'Waiting for deployment "web" rollout to '
     "finish: 1 of 2 updated replicas are available..."),
    ("Deployment", Rule.ROLLED_OUT, 'deployment "web" successfully rolled out'),
    ("DaemonSet", Rule.PODS_NOT_UPDATED, 'Waiting for daemon set "agent" rollout to finish: '
     "2 out of 3 new pods have been updated..."),
    ("DaemonSet", Rule.PODS_NOT_AVAILABLE, 'Waiting for daemon set "agent" rollout to finish: '
     "1 of 3 updated pods are available..."),
    ("DaemonSet", Rule.ROLLED_OUT, 'daemon set "agent" successfully rolled out'),
    ("StatefulSet", Rule.PODS_NOT_READY, "Waiting for 2 pods to be ready..."),
    ("StatefulSet", Rule.PARTITION_NOT_UPDATED, "Waiting for partitioned roll out to finish: "
     "2 out of 2 new pods have been updated..."),
    ("StatefulSet", Rule.PARTITION_ROLLED_OUT,
     "partitioned roll out complete: 2 new pods have been updated..."),
    ("StatefulSet", Rule.REVISION_NOT_UPDATED,
     "waiting for statefulset rolling update to complete 2 pods at revision db-7f..."),
    ("StatefulSet", Rule.REVISION_ROLLED_OUT,
     "statefulset rolling update complete 2 pods at revision db-6c..."),
])
def test_kubectls_line_for_each_rule(kind: str, rule: Rule, line: str) -> None:
    assert message(verdict(kind, rule)) == (line + "\n", rule.state.value == "done")


def test_every_rule_is_worded_or_refused() -> None:
    refused = {Rule.NOT_ROLLING_UPDATE, Rule.PROGRESS_DEADLINE_EXCEEDED}
    for rule in set(Rule) - refused:
        assert message(verdict("StatefulSet", rule))[0].strip()   # no KeyError, no blank


@pytest.mark.parametrize("kind", ["StatefulSet", "DaemonSet"])
def test_on_delete_is_refused_in_kubectls_words(kind: str) -> None:
    with pytest.raises(UserError) as refused:
        message(verdict(kind, Rule.NOT_ROLLING_UPDATE, "OnDelete"))
    assert refused.value.message == \
        "rollout status is only available for RollingUpdate strategy type"
    assert "only when they are deleted" in (refused.value.hint or "")


def test_the_progress_deadline_fails_with_exit_1() -> None:
    with pytest.raises(RolloutFailed, match='^deployment "web" exceeded its progress deadline$'
                       ) as failed:
        message(verdict("Deployment", Rule.PROGRESS_DEADLINE_EXCEEDED))
    assert failed.value.exit_code == 1
