"""apps/v1 StatefulSet and DaemonSet defaults, as SetDefaults_StatefulSet and
SetDefaults_DaemonSet in pkg/apis/apps/v1/defaults.go fill them (1.27-1.33 feature gates)."""

from __future__ import annotations

from typing import Any

import pytest

from kompy.cluster.apiserver.defaults import apply_defaults


def defaulted(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    obj: dict[str, Any] = {"spec": {"template": {"spec": {"containers": []}}, **spec}}
    apply_defaults(kind, obj)
    out = dict(obj["spec"])
    out.pop("template")
    return out


RETAIN = {"whenDeleted": "Retain", "whenScaled": "Retain"}


@pytest.mark.parametrize(("given", "strategy"), [
    ({}, {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
    # An empty strategy gets its type, and a rollingUpdate with it.
    ({"updateStrategy": {}}, {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
    ({"updateStrategy": None}, {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
    # A type given alone keeps rollingUpdate nil (kubectl then waits on currentRevision).
    ({"updateStrategy": {"type": "RollingUpdate"}}, {"type": "RollingUpdate"}),
    ({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {}}},
     {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
    ({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}},
     {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}),
    ({"updateStrategy": {"type": "OnDelete"}}, {"type": "OnDelete"}),
])
def test_statefulset_update_strategy(given: dict[str, Any], strategy: dict[str, Any]) -> None:
    assert defaulted("StatefulSet", given) == {
        "replicas": 1, "podManagementPolicy": "OrderedReady", "revisionHistoryLimit": 10,
        "persistentVolumeClaimRetentionPolicy": RETAIN, "updateStrategy": strategy}


def test_statefulset_keeps_what_is_given() -> None:
    given = {"replicas": 0, "podManagementPolicy": "Parallel", "revisionHistoryLimit": 0,
             "minReadySeconds": 5,
             "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete"}}
    out = defaulted("StatefulSet", given)
    assert {k: out[k] for k in ("replicas", "podManagementPolicy", "revisionHistoryLimit",
                                "minReadySeconds")} == {
        "replicas": 0, "podManagementPolicy": "Parallel", "revisionHistoryLimit": 0,
        "minReadySeconds": 5}
    assert out["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Delete",
                                                           "whenScaled": "Retain"}


@pytest.mark.parametrize(("given", "strategy"), [
    ({}, {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
    ({"updateStrategy": {}},
     {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
    ({"updateStrategy": {"type": "RollingUpdate"}},
     {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
    # A partly written rollingUpdate gets the missing field only.
    ({"updateStrategy": {"rollingUpdate": {"maxSurge": "25%"}}},
     {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}}),
    ({"updateStrategy": {"rollingUpdate": {"maxUnavailable": "10%"}}},
     {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%", "maxSurge": 0}}),
    ({"updateStrategy": {"type": "OnDelete"}}, {"type": "OnDelete"}),
])
def test_daemonset_update_strategy(given: dict[str, Any], strategy: dict[str, Any]) -> None:
    assert defaulted("DaemonSet", given) == {"revisionHistoryLimit": 10,
                                             "updateStrategy": strategy}
