"""Pure parts of the runtime: quantities, env expansion, status, back-off, hosts, proxy maths."""

from __future__ import annotations

import base64
import threading
import time
from typing import Any

import pytest

from kompy.client.objects import pod_requests, selector_matches
from kompy.client.workqueue import WorkQueue
from kompy.cluster.controllers.endpoints import subsets
from kompy.cluster.controllers.replicaset import deletion_rank
from kompy.cluster.kubelet.backend import LABEL_ATTEMPT, LABEL_CONTAINER, ContainerInfo
from kompy.cluster.kubelet.hosts import HostsTable, write_in_place
from kompy.cluster.kubelet.podspec import expand, resolve_env, security
from kompy.cluster.kubelet.podstatus import Observed, phase
from kompy.cluster.kubelet.podworker import restart_delay, should_restart
from kompy.cluster.kubelet.volumes import PodConfigError
from kompy.cluster.proxy.proxier import backends_for, free_subnet, parse_host_ports
from kompy.cluster.scheduler.scheduler import fits


def test_pod_requests_counts_largest_init_container() -> None:
    pod = {"spec": {
        "containers": [{"resources": {"requests": {"cpu": "100m", "memory": "1Mi"}}},
                       {"resources": {"limits": {"cpu": "200m"}}}],
        "initContainers": [{"resources": {"requests": {"cpu": "1"}}}]}}
    assert pod_requests(pod) == (1000, 2**20)
    assert fits((1000, 0), (1500, 0), (2000, 10)) == ["Insufficient cpu"]
    assert fits((0, 0), (5000, 50), (2000, 10)) == []


def test_selector_matching() -> None:
    assert selector_matches({"matchLabels": {"app": "a"}}, {"app": "a", "x": "y"})
    assert not selector_matches({}, {"app": "a"})  # empty selects nothing for controllers
    assert selector_matches({"matchExpressions": [{"key": "t", "operator": "In",
                                                   "values": ["1", "2"]}]}, {"t": "2"})


def test_dollar_expansion() -> None:
    env = {"A": "1", "B": "two"}
    assert expand("$(A)-$(B)-$(C)", env) == "1-two-$(C)"
    assert expand("$$(A)", env) == "$(A)"


def test_resolve_env_order_and_refs() -> None:
    cms = {("ns", "cm"): {"data": {"K": "v", "bad-key!": "x"}}}
    secrets = {("ns", "s"): {"data": {"P": base64.b64encode(b"pw").decode()}}}
    pod = {"metadata": {"name": "p", "namespace": "ns", "labels": {"app": "web"}},
           "status": {"podIP": "10.0.0.5"}}
    container = {"envFrom": [{"configMapRef": {"name": "cm"}}],
                 "env": [{"name": "K", "value": "override-$(K)"},
                         {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "P"}}},
                         {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                         {"name": "APP", "valueFrom": {"fieldRef": {
                             "fieldPath": "metadata.labels['app']"}}},
                         {"name": "OPT", "valueFrom": {"configMapKeyRef": {
                             "name": "cm", "key": "nope", "optional": True}}}]}
    env = resolve_env(pod, container, lambda ns, n: cms.get((ns, n)),
                      lambda ns, n: secrets.get((ns, n)))
    assert env == {"K": "override-v", "S": "pw", "IP": "10.0.0.5", "APP": "web"}
    with pytest.raises(PodConfigError, match="not found"):
        resolve_env(pod, {"env": [{"name": "X", "valueFrom": {"secretKeyRef": {
            "name": "absent", "key": "k"}}}]}, lambda ns, n: None, lambda ns, n: None)


def test_security_context_container_wins_over_pod() -> None:
    pod = {"spec": {"securityContext": {"runAsUser": 1, "runAsGroup": 2, "fsGroup": 3}}}
    sec = security(pod, {"securityContext": {"runAsUser": 5, "allowPrivilegeEscalation": False,
                                             "capabilities": {"add": ["NET_ADMIN"]}}})
    assert sec["user"] == "5:2" and sec["group_add"] == ["3"]
    assert sec["no_new_privileges"] and sec["cap_add"] == ["CAP_NET_ADMIN"]


def _info(status: str, code: int = 0, attempt: int = 0, error: str = "") -> ContainerInfo:
    return ContainerInfo(id="x", name="x", labels={LABEL_CONTAINER: "c",
                                                   LABEL_ATTEMPT: str(attempt)},
                         status=status, exit_code=code, started_at="", finished_at="",
                         oom_killed=False, image="i", image_id="", ip="", error=error)


def _obs(info: ContainerInfo | None, will_restart: bool = False) -> Observed:
    return Observed("c", "i", info, None, None, False, False, will_restart)


def test_phase() -> None:
    assert phase([], [_obs(None)], False) == "Pending"
    assert phase([], [_obs(_info("running"))], False) == "Running"
    assert phase([], [_obs(_info("exited", 0))], False) == "Succeeded"
    assert phase([], [_obs(_info("exited", 1))], False) == "Failed"
    assert phase([], [_obs(_info("exited", 1, attempt=2), will_restart=True)], False) == "Running"
    assert phase([_obs(_info("running"))], [_obs(None)], False) == "Pending"
    assert phase([], [_obs(_info("created", error="no such file"))], False) == "Failed"


def test_restart_back_off() -> None:
    assert restart_delay(0, 1, 10) == 0  # the first restart is immediate
    assert [restart_delay(n, 1, 10) for n in (1, 2, 3)] == [10, 20, 40]
    assert restart_delay(20, 1, 10) == 300
    assert restart_delay(5, 3600, 10) == 0  # a long run resets the back-off
    assert should_restart("Always", 0) and should_restart("OnFailure", 2)
    assert not should_restart("OnFailure", 0) and not should_restart("Never", 1)


def test_hosts_fallback_render_and_in_place_write(tmp_path: Any) -> None:
    """Without a cluster DNS server, Service names go into each pod's hosts file."""
    table = HostsTable()
    assert table.services_in_hosts
    calls: list[int] = []
    table.on_change(lambda: calls.append(1))
    table.set_service("a", "web", ["10.213.0.1"])
    table.set_service("a", "web", ["10.213.0.1"])  # unchanged: no notification
    table.set_service("b", "db", ["10.213.0.9"])
    assert len(calls) == 2
    pod = {"metadata": {"name": "pod-1", "namespace": "a"}, "spec": {}}
    text = table.render(pod, "172.20.0.2")
    assert "172.20.0.2\tpod-1\n" in text
    assert "10.213.0.1\tweb web.a web.a.svc web.a.svc.cluster.local\n" in text
    assert "10.213.0.9\tdb.b db.b.svc db.b.svc.cluster.local\n" in text  # no short name
    table.set_service("a", "sts", ["172.20.0.7"], [("172.20.0.7", "sts-0")])
    assert "172.20.0.7\tsts-0.sts sts-0.sts.a sts-0.sts.a.svc" in table.render(pod, "")
    path = tmp_path / "hosts"
    write_in_place(str(path), "long content\n" * 3)
    inode = path.stat().st_ino
    write_in_place(str(path), "short\n")
    assert path.read_text() == "short\n" and path.stat().st_ino == inode


def test_host_ports_annotation_and_subnets() -> None:
    assert parse_host_ports("8080:80/tcp, 53:53/udp,bad,9000") == [
        (8080, 80, "TCP"), (53, 53, "UDP"), (9000, 9000, "TCP")]
    assert free_subnet([]) == "10.213.0.0/29"
    assert free_subnet(["10.213.0.0/29", "10.213.0.8/29"]) == "10.213.0.16/29"
    assert free_subnet(["10.0.0.0/8"]) is None


def test_endpoints_split_ready_and_not_ready() -> None:
    svc = {"spec": {"ports": [{"name": "http", "port": 80, "targetPort": "web"}]}}

    def pod(name: str, ip: str, ready: bool) -> dict[str, Any]:
        return {"metadata": {"name": name, "namespace": "n", "uid": name},
                "spec": {"nodeName": "kompy", "containers": [
                    {"ports": [{"name": "web", "containerPort": 8080}]}]},
                "status": {"podIP": ip, "phase": "Running", "conditions": [
                    {"type": "Ready", "status": "True" if ready else "False"}]}}

    result = subsets(svc, [pod("a", "1.1.1.1", True), pod("b", "1.1.1.2", False),
                           pod("c", "", True)])
    assert len(result) == 1
    assert [a["ip"] for a in result[0]["addresses"]] == ["1.1.1.1"]
    assert [a["ip"] for a in result[0]["notReadyAddresses"]] == ["1.1.1.2"]
    assert result[0]["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert backends_for({"subsets": result}, {"name": "http", "port": 80}) == [("1.1.1.1", 8080)]


def test_deletion_rank_prefers_not_ready_and_young() -> None:
    def pod(name: str, ready: bool, created: str) -> dict[str, Any]:
        return {"metadata": {"name": name, "creationTimestamp": created},
                "spec": {"nodeName": "kompy"},
                "status": {"phase": "Running", "conditions": [
                    {"type": "Ready", "status": "True" if ready else "False"}]}}

    pods = [pod("old-ready", True, "2026-01-01T00:00:00Z"),
            pod("young-ready", True, "2026-01-02T00:00:00Z"),
            pod("not-ready", False, "2026-01-01T00:00:00Z")]
    assert [p["metadata"]["name"] for p in sorted(pods, key=deletion_rank)] == [
        "not-ready", "young-ready", "old-ready"]


def test_workqueue_dedupes_and_delays() -> None:
    q = WorkQueue()
    q.add("a")
    q.add("a")
    q.add_after("b", 0.05)
    assert q.get() == "a"
    q.add("a")  # while processing: queued again after done()
    t0 = time.monotonic()
    assert q.get() == "b"
    assert time.monotonic() - t0 >= 0.04
    q.done("b")
    q.done("a")
    assert q.get() == "a"
    q.done("a")
    got: list[object] = []
    thread = threading.Thread(target=lambda: got.append(q.get()))
    thread.start()
    q.shutdown()
    thread.join(2)
    assert got == [None]


def test_an_in_place_restart_acts_once_per_request() -> None:
    from kompy.client.objects import parse_time
    from kompy.cluster.kubelet.backend import ContainerInfo
    from kompy.cluster.kubelet.podworker import restart_requested

    def box(started: str, status: str = "running", role: str = "app") -> ContainerInfo:
        return ContainerInfo(id="c", name="c", labels={"kompy.role": role}, status=status,
                             exit_code=0, started_at=started, finished_at="", oom_killed=False,
                             image="i", image_id="sha256:i", ip="")

    asked = parse_time("2026-11-26T01:00:00.500000Z")
    assert asked is not None
    # Docker's nanosecond times are compared below the second: 0.2 s before the request.
    assert restart_requested(box("2026-11-26T01:00:00.300000123Z"), asked)
    assert not restart_requested(box("2026-11-26T01:00:00.700000123Z"), asked)  # done
    assert not restart_requested(box("2026-11-26T00:59:00Z", status="exited"), asked)
    assert not restart_requested(box("2026-11-26T00:59:00Z", role="sandbox"), asked)
    assert parse_time("2026-11-26T01:00:00Z") == parse_time("2026-11-26T01:00:00.000Z")
