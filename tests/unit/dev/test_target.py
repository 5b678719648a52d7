"""Which cluster, which extras; the standard stand-ins for the built-in cluster's extras."""

from __future__ import annotations

from typing import Any

import pytest

from kompy.dev import runstate
from kompy.dev.forward import ServiceForward
from kompy.dev.target import ClusterTarget, limit_grace, without_host_ports
from kompy.errors import ClusterError


def test_extras_default_on_for_the_built_in_cluster_only(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.delenv("KOMPY_BUILTIN_EXTRAS", raising=False)
    assert ClusterTarget().extras and ClusterTarget().builtin
    assert not ClusterTarget(context="prod").extras
    assert not ClusterTarget(builtin_extras=False).extras
    monkeypatch.setenv("KOMPY_BUILTIN_EXTRAS", "0")
    assert not ClusterTarget().extras
    assert ClusterTarget(builtin_extras=True).extras   # the flag wins over the variable
    assert not ClusterTarget().pushes and ClusterTarget(default_repo="r").pushes
    assert not ClusterTarget(default_repo="r", push=False).pushes
    assert ClusterTarget(kubeconfig="k", context="c").flags() == " --kubeconfig k --context c"


def test_host_ports_become_published_ports_and_grace_is_limited() -> None:
    service = {"kind": "Service", "metadata": {"annotations": {
        "kompy.dev/host-ports": "8080:80/tcp", "other": "x"}}}
    deployment = {"kind": "Deployment", "spec": {"template": {"spec": {
        "terminationGracePeriodSeconds": 60, "containers": []}}}}
    job = {"kind": "Job", "spec": {"template": {"spec": {"containers": []}}}}
    quick = {"kind": "Pod", "spec": {"terminationGracePeriodSeconds": 1, "containers": []}}
    objects: list[dict[str, Any]] = [service, deployment, job, quick]
    without_host_ports(objects)
    assert service["metadata"]["annotations"] == {"kompy.dev/published-ports": "8080:80/tcp",
                                                  "other": "x"}
    limit_grace(objects, 2)
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 2
    assert job["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 2
    assert quick["spec"]["terminationGracePeriodSeconds"] == 1


class FakeClient:
    def __init__(self, objects: dict[tuple[str, str], dict[str, Any]]) -> None:
        self.objects = objects
        self.lists = 0

    def get(self, resource: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        return self.objects[(resource, name)]

    def list(self, resource: str, namespace: str | None = None) -> dict[str, Any]:
        self.lists += 1
        return {"items": [v for (r, _), v in self.objects.items() if r == resource]}


def test_forwards_pick_ready_pods_round_robin_by_port_name() -> None:
    client = FakeClient({
        ("services", "web"): {"spec": {"ports": [{"name": "http", "port": 80},
                                                 {"name": "admin", "port": 81}]}},
        ("endpoints", "web"): {"subsets": [{
            "addresses": [{"targetRef": {"kind": "Pod", "name": "web-b"}},
                          {"targetRef": {"kind": "Pod", "name": "web-a"}}],
            "notReadyAddresses": [{"targetRef": {"kind": "Pod", "name": "web-c"}}],
            "ports": [{"name": "admin", "port": 9001}, {"name": "http", "port": 8000}]}]},
    })
    forward = ServiceForward(client, "ns", "web", 80, 8080)  # type: ignore[arg-type]
    assert [forward.pick() for _ in range(3)] == [("web-a", 8000), ("web-b", 8000),
                                                  ("web-a", 8000)]
    client.objects[("endpoints", "web")] = {"subsets": []}
    with pytest.raises(ClusterError, match="service web has no ready pod"):
        forward.pick()


def test_run_states_from_the_api() -> None:
    pod = {"status": {"containerStatuses": [{
        "containerID": "containerd://new",
        "state": {"running": {"startedAt": "2026-01-02T03:04:05Z"}},
        "lastState": {"terminated": {"containerID": "containerd://old", "exitCode": 1,
                                     "startedAt": "2026-01-02T03:00:00Z",
                                     "finishedAt": "2026-01-02T03:04:00Z"}}}]}}
    client = FakeClient({("pods", "p"): pod})
    runstate.use_api(client, "ns")  # type: ignore[arg-type]
    try:
        new = runstate.run_state("containerd://new")
        assert new is not None and new.running and new.started is not None
        assert new.started % 1 == pytest.approx(0.999)   # the end of its second
        old = runstate.run_state("containerd://old")
        assert old is not None and not old.running and old.finished is not None
        assert runstate.run_state("containerd://gone") is None
        assert not runstate.still_running("containerd://old")
        assert client.lists == 1   # one listing serves the questions of a moment
    finally:
        runstate.use_engine()


@pytest.mark.parametrize("extras", [True, False])
def test_the_engine_sync_shortcut_only_with_the_extras(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Any, extras: bool) -> None:
    """KOMPY_DEV_SYNC=engine is the built-in cluster's extra: with the extras off the files
    go through the API's exec even when it is set."""
    from kompy.dev import engine_sync, sync
    from kompy.dev.plan import SyncOp

    monkeypatch.setenv("KOMPY_DEV_SYNC", "engine")
    used: list[str] = []
    monkeypatch.setattr(engine_sync, "put", lambda *a: used.append("engine") or True)
    monkeypatch.setattr(sync, "_helpers", lambda *a: {})
    monkeypatch.setattr(sync, "_run", lambda *a: used.append("exec") or b"")
    (tmp_path / "a.txt").write_text("a")
    op = SyncOp(str(tmp_path / "a.txt"), "/srv/a.txt", False)
    sync.sync(object(), sync.Target("ns", "app=web", "web", extras), ["pod"], [op])  # type: ignore[arg-type]
    assert used == (["engine"] if extras else ["exec"])


def test_the_namespace_is_the_projects_unless_given() -> None:
    from kompy.dev.up import namespace_of

    assert namespace_of("My_Shop") == "my-shop"
    assert namespace_of("My_Shop", ClusterTarget()) == "my-shop"
    target = ClusterTarget(context="prod", namespace="team-a")
    assert namespace_of("My_Shop", target) == "team-a"
    assert target.flags() == " --context prod -n team-a"
