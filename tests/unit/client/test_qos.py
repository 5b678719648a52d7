"""The QoS class of a pod, against the cases of upstream's qos_test.go (TestComputePodQOS)."""

from __future__ import annotations

from typing import Any

import pytest

from kompy.client.qos import qos_class


def box(requests: dict[str, str] | None = None, limits: dict[str, str] | None = None
        ) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return {"name": "c", "resources": resources}


BOTH = {"cpu": "100m", "memory": "100Mi"}


@pytest.mark.parametrize(("containers", "init", "wanted"), [
    ([box()], [], "BestEffort"),
    ([box(), box()], [], "BestEffort"),
    # A zero quantity counts as absent.
    ([box({"cpu": "0"}, {"memory": "0"})], [], "BestEffort"),
    # Extended resources do not count.
    ([box({"nvidia.com/gpu": "1"}, {"nvidia.com/gpu": "1"})], [], "BestEffort"),
    ([box(BOTH, BOTH)], [], "Guaranteed"),
    # The same amount written another way.
    ([box({"cpu": "1", "memory": "1Gi"}, {"cpu": "1000m", "memory": "1073741824"})], [],
     "Guaranteed"),
    ([box(BOTH, BOTH), box(BOTH, BOTH)], [], "Guaranteed"),
    # Requests and limits are compared summed over the pod, not container by container.
    ([box({"cpu": "100m", "memory": "100Mi"}, {"cpu": "200m", "memory": "100Mi"}),
      box({"cpu": "200m", "memory": "100Mi"}, {"cpu": "100m", "memory": "100Mi"})], [],
     "Guaranteed"),
    ([box(BOTH, BOTH), box()], [], "Burstable"),
    ([box({"cpu": "100m"}, {"cpu": "100m"})], [], "Burstable"),
    ([box(BOTH, {"cpu": "200m", "memory": "100Mi"})], [], "Burstable"),
    ([box({"memory": "100Mi"})], [], "Burstable"),
    # Init containers count too.
    ([box(BOTH, BOTH)], [box()], "Burstable"),
    ([box()], [box({"cpu": "100m"})], "Burstable"),
])
def test_qos_class(containers: list[dict[str, Any]], init: list[dict[str, Any]],
                   wanted: str) -> None:
    assert qos_class({"containers": containers, "initContainers": init}) == wanted
