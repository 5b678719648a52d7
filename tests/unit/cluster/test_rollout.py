"""Deployment rollout arithmetic and the pod-template hash."""

from __future__ import annotations

import pytest

from kompy.client.wellknown import HASH_LABEL
from kompy.cluster.controllers.rollout import (
    fenceposts,
    new_rs_replicas,
    old_rs_replicas,
    scaled_value,
    template_hash,
)


@pytest.mark.parametrize(("value", "total", "up", "expected"), [
    ("25%", 10, True, 3), ("25%", 10, False, 2), (2, 10, True, 2), ("0%", 5, True, 0),
    (None, 4, True, 1), (None, 4, False, 1), ("50%", 3, False, 1), ("3", 9, True, 3),
])
def test_scaled_value(value: object, total: int, up: bool, expected: int) -> None:
    assert scaled_value(value, total, up) == expected


def test_fenceposts_never_both_zero() -> None:
    strategy = {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "10%"}}
    assert fenceposts(strategy, 3) == (0, 1)
    assert fenceposts({}, 10) == (3, 2)


def test_new_replicaset_grows_within_surge() -> None:
    assert new_rs_replicas(replicas=3, surge=1, total_spec=3, new_spec=0) == 1
    assert new_rs_replicas(replicas=3, surge=1, total_spec=4, new_spec=1) == 1  # at the cap
    assert new_rs_replicas(replicas=3, surge=5, total_spec=3, new_spec=0) == 3  # never over
    assert new_rs_replicas(replicas=1, surge=1, total_spec=5, new_spec=5) == 1  # scale down


def test_old_replicasets_shrink_keeping_min_available() -> None:
    # 3 replicas, maxUnavailable 0: an old pod goes only once a new one is available.
    assert old_rs_replicas(3, 0, new_spec=1, new_available=0, olds=[(3, 3)]) == [3]
    assert old_rs_replicas(3, 0, new_spec=1, new_available=1, olds=[(3, 3)]) == [2]
    # Unhealthy old pods go first, within the budget (4 pods - 2 min available - 1 new
    # unavailable = 1), as Kubernetes' cleanupUnhealthyReplicas.
    assert old_rs_replicas(3, 1, new_spec=1, new_available=0, olds=[(3, 1)]) == [2]
    assert old_rs_replicas(3, 1, new_spec=1, new_available=1, olds=[(3, 1)]) == [1]
    # Several old sets: the oldest shrinks first.
    assert old_rs_replicas(4, 1, new_spec=2, new_available=2, olds=[(1, 1), (2, 2)]) == [0, 1]
    assert old_rs_replicas(3, 1, new_spec=3, new_available=3, olds=[(0, 0)]) == [0]


def test_rollout_converges() -> None:
    """Simulate a rolling update where every pod becomes available at once."""
    replicas, surge, unavailable = 5, 1, 1
    new, old = 0, 5
    for _ in range(20):
        new = new_rs_replicas(replicas, surge, new + old, new)
        (old,) = old_rs_replicas(replicas, unavailable, new, new, [(old, old)])
        assert new + old <= replicas + surge
        assert new + old >= replicas - unavailable
        if (new, old) == (5, 0):
            break
    assert (new, old) == (5, 0)


def test_template_hash_is_stable_and_ignores_its_own_label() -> None:
    template = {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "x"}]}}
    labelled = {"metadata": {"labels": {"app": "web", HASH_LABEL: "whatever"}},
                "spec": {"containers": [{"name": "c", "image": "x"}]}}
    h = template_hash(template)
    assert h == template_hash(labelled)
    assert len(h) == 10 and h.isalnum()
    assert h != template_hash(template, collision_count=1)
    other = {**template, "spec": {"containers": [{"name": "c", "image": "y"}]}}
    assert h != template_hash(other)
