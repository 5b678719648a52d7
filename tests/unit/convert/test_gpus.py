"""GPUs (issue #9 class 8): device reservations and `gpus:` as device plugin resources."""

from __future__ import annotations

from typing import Any

import pytest

from kompy.model import Deploy, Resources, ResourceSpec, Service

from .helpers import container, find, messages, run


def _gpu_service(devices: list[dict[str, Any]] | None = None, **kwargs: Any) -> Service:
    deploy = None
    if devices is not None:
        deploy = Deploy(resources=Resources(reservations=ResourceSpec(extra={"devices": devices})))
    return Service(name="a", image="x", deploy=deploy, **kwargs)


@pytest.mark.parametrize(("devices", "limits", "warned"), [
    ([{"capabilities": ["gpu"], "count": 2}], {"nvidia.com/gpu": "2"}, False),
    ([{"capabilities": ["gpu"], "driver": "nvidia", "count": "all"}], {"nvidia.com/gpu": "1"},
     True),
    ([{"capabilities": ["gpu"]}], {"nvidia.com/gpu": "1"}, True),  # no count: all of them
    ([{"capabilities": ["gpu"], "device_ids": ["0", "3"]}], {"nvidia.com/gpu": "2"}, True),
    ([{"capabilities": ["gpu"], "driver": "amd", "count": 1}], {"amd.com/gpu": "1"}, False),
    ([{"capabilities": ["gpu", "utility"], "count": 1},
      {"capabilities": ["gpu"], "count": 1}], {"nvidia.com/gpu": "2"}, False),
])
def test_device_reservations_become_gpu_limits(devices: list[dict[str, Any]],
                                               limits: dict[str, str], warned: bool) -> None:
    conversion = run(_gpu_service(devices))
    assert container(find(conversion, "Deployment", "a"))["resources"] == {"limits": limits}
    assert any("GPU" in m for m in messages(conversion)) is warned


def test_service_level_gpus() -> None:
    conversion = run(_gpu_service(other={"gpus": "all"}))
    resources = container(find(conversion, "Deployment", "a"))["resources"]
    assert resources == {"limits": {"nvidia.com/gpu": "1"}}
    assert not any("no Kubernetes equivalent" in m for m in messages(conversion))
    listed = run(_gpu_service(other={"gpus": [{"driver": "nvidia", "count": 3}]}))
    assert container(find(listed, "Deployment", "a"))["resources"] == {
        "limits": {"nvidia.com/gpu": "3"}}


def test_other_devices_are_dropped_with_a_warning() -> None:
    conversion = run(_gpu_service([{"capabilities": ["tpu"]},
                                   {"capabilities": ["gpu"], "driver": "acme"}]))
    assert "resources" not in container(find(conversion, "Deployment", "a"))
    found = messages(conversion)
    assert any("['tpu']" in m for m in found)
    assert any("driver 'acme'" in m for m in found)
