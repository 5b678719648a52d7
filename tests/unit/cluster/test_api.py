"""The API server over real HTTP on a random port, through KubeClient and raw requests."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from kompy.client import KubeClient
from kompy.client.errors import ApiError, Conflict, Gone, Invalid, NotFound, Unauthorized
from kompy.cluster.apiserver.server import ApiServer
from kompy.cluster.kubelet.fake_process import FakeProcess
from kompy.cluster.store.sqlite import Store
from kompy.errors import ClusterError

TOKEN = "test-token"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ApiServer]:
    """A short watch history (conftest's has the default): resourceVersions expire soon."""
    srv = ApiServer(Store(tmp_path / "store.db", history=50), TOKEN).start()
    yield srv
    srv.stop()


@pytest.fixture
def client(server: ApiServer) -> KubeClient:
    return KubeClient.for_server(server.url, TOKEN)


def deployment(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}},
                     **spec}}


def pod(name: str, namespace: str = "default", **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}}


def test_requests_without_the_token_are_refused(server: ApiServer) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        answer = requests.get(f"{server.url}/api/v1/pods", headers=headers, timeout=5)
        assert answer.status_code == 401
        assert answer.json()["kind"] == "Status"
    assert requests.get(f"{server.url}/healthz", timeout=5).text == "ok"
    with pytest.raises(Unauthorized):
        KubeClient.for_server(server.url, "nope").list("pods")


def test_server_listens_on_loopback_only(server: ApiServer) -> None:
    assert server.httpd.server_address[0] == "127.0.0.1"


def test_discovery(client: KubeClient) -> None:
    core = client.request("GET", "/api/v1").json()
    names = {r["name"] for r in core["resources"]}
    assert {"pods", "pods/log", "pods/exec", "services", "namespaces"} <= names
    apps = client.request("GET", "/apis/apps/v1").json()
    assert {"deployments", "deployments/status"} <= {r["name"] for r in apps["resources"]}
    groups = client.request("GET", "/apis").json()["groups"]
    assert "networking.k8s.io" in {g["name"] for g in groups}
    assert client.request("GET", "/api").json()["versions"] == ["v1"]
    assert client.request("GET", "/version").json()["major"] == "1"


def test_system_namespaces_exist(client: KubeClient) -> None:
    names = [n["metadata"]["name"] for n in client.list("namespaces")["items"]]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]


def test_crud_with_defaults(client: KubeClient) -> None:
    created = client.create(deployment())
    spec = created["spec"]
    assert spec["replicas"] == 1 and spec["revisionHistoryLimit"] == 10
    assert spec["strategy"] == {"type": "RollingUpdate",
                                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    pod_spec = spec["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Always" and pod_spec["terminationGracePeriodSeconds"] == 30
    assert pod_spec["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    got = client.get("deploy", "web")
    assert got == created
    got["spec"]["replicas"] = 3
    replaced = client.replace(got)
    assert replaced["metadata"]["generation"] == 2
    patched = client.patch("deployments", "web", "default", {"spec": {"replicas": 5}})
    assert patched["spec"]["replicas"] == 5
    assert client.delete("deployments", "web") is None
    with pytest.raises(NotFound):
        client.get("deployments", "web")


def test_service_defaults_and_allocation(client: KubeClient) -> None:
    svc = client.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                         "spec": {"type": "NodePort", "selector": {"app": "web"},
                                  "ports": [{"port": 80}]}})
    port = svc["spec"]["ports"][0]
    assert port["targetPort"] == 80 and port["protocol"] == "TCP" and port["nodePort"] >= 30000
    assert svc["spec"]["clusterIP"].startswith("10.")
    other = client.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
                           "spec": {"ports": [{"port": 5432}]}})
    assert other["spec"]["clusterIP"] != svc["spec"]["clusterIP"]
    assert other["spec"]["type"] == "ClusterIP"
    # An update without clusterIP (as a re-applied manifest) keeps the allocated one.
    svc["spec"].pop("clusterIP")
    svc["spec"].pop("clusterIPs")
    assert client.replace(svc)["spec"]["clusterIP"] == other["spec"]["clusterIP"][:-2] + "10"


def test_stale_update_conflicts(client: KubeClient) -> None:
    first = client.create(deployment())
    client.patch("deployments", "web", None, {"spec": {"replicas": 2}})
    first["spec"]["replicas"] = 4
    with pytest.raises(Conflict):
        client.replace(first)
    with pytest.raises(Conflict):
        client.create(deployment())


def test_status_subresource(client: KubeClient) -> None:
    created = client.create(deployment())
    created["status"] = {"replicas": 1, "readyReplicas": 1}
    client.replace_status(created)
    got = client.get("deployments", "web")
    assert got["status"]["readyReplicas"] == 1
    got["status"] = {"replicas": 9}
    assert client.replace(got)["status"]["replicas"] == 1
    patched = client.patch("deployments", "web", None, {"status": {"replicas": 7}},
                           subresource="status")
    assert patched["status"] == {"replicas": 7, "readyReplicas": 1}


def test_invalid_objects_are_422_with_the_field(client: KubeClient) -> None:
    broken = deployment()
    del broken["spec"]["selector"]
    with pytest.raises(Invalid, match="spec.selector: Required value"):
        client.create(broken)
    mismatched = deployment()
    mismatched["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    with pytest.raises(Invalid, match="does not match template"):
        client.create(mismatched)
    no_containers = pod("p")
    no_containers["spec"]["containers"] = []
    with pytest.raises(Invalid, match="spec.containers"):
        client.create(no_containers)
    with pytest.raises(Invalid, match="metadata.name"):
        client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})
    with pytest.raises(Invalid, match="RFC 1123"):
        client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}})


def test_unknown_kind_and_missing_namespace_are_404(client: KubeClient, server: ApiServer
                                                    ) -> None:
    answer = requests.get(f"{server.url}/apis/apps/v1/namespaces/default/widgets",
                          headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert answer.status_code == 404 and answer.json()["reason"] == "NotFound"
    with pytest.raises(NotFound, match="no matches for kind"):
        client.create({"apiVersion": "example.com/v1", "kind": "Widget",
                       "metadata": {"name": "w"}})
    with pytest.raises(NotFound, match='namespaces "nowhere" not found'):
        client.create(pod("p", namespace="nowhere"))


def test_malformed_body_is_400(server: ApiServer) -> None:
    answer = requests.post(f"{server.url}/api/v1/namespaces/default/pods", data=b"{nope",
                           headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert answer.status_code == 400


def test_label_and_field_selectors(client: KubeClient) -> None:
    client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
    client.create(pod("a", app="web", tier="front"))
    client.create(pod("b", app="db"))
    client.create(pod("c", "other", app="web"))

    def names(**kw: Any) -> list[str]:
        return [p["metadata"]["name"] for p in client.list("pods", **kw)["items"]]

    assert names() == ["a", "b", "c"]
    assert names(namespace="other") == ["c"]
    assert names(label_selector="app=web") == ["a", "c"]
    assert names(label_selector="app in (web, db),tier!=front") == ["b", "c"]
    assert names(label_selector="!tier") == ["b", "c"]
    assert names(label_selector="tier") == ["a"]
    assert names(label_selector="app notin (web)") == ["b"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="metadata.namespace!=default") == ["c"]
    assert names(field_selector="status.phase=Pending") == ["a", "b", "c"]
    with pytest.raises(ApiError) as info:
        client.list("pods", label_selector="app in web")
    assert info.value.status == 400


def test_watch_lists_then_streams_and_resumes(client: KubeClient) -> None:
    client.create(pod("a"))
    events = client.watch("pods", namespace="default", timeout_seconds=1)
    assert [(t, o["metadata"]["name"]) for t, o in events] == [("ADDED", "a")]
    start_rv = client.list("pods")["metadata"]["resourceVersion"]

    def later() -> None:
        client.create(pod("b"))
        client.patch("pods", "b", "default", {"metadata": {"labels": {"x": "y"}}})
        client.delete("pods", "b")
    threading.Timer(0.1, later).start()
    stream = client.watch("pods", resource_version=start_rv, timeout_seconds=5)
    seen = [(t, o["metadata"]["name"]) for t, o in itertools.islice(stream, 3)]
    assert seen == [("ADDED", "b"), ("MODIFIED", "b"), ("DELETED", "b")]
    # Resuming from the first event's version replays what came after it.
    replay = client.watch("pods", resource_version=str(int(start_rv) + 1), timeout_seconds=1)
    assert [t for t, _ in replay] == ["MODIFIED", "DELETED"]


def test_watch_with_selector(client: KubeClient) -> None:
    client.create(pod("a", app="web"))
    client.create(pod("b", app="db"))
    events = client.watch("pods", label_selector="app=db", timeout_seconds=1)
    assert [o["metadata"]["name"] for _, o in events] == ["b"]
    rv = client.list("pods")["metadata"]["resourceVersion"]
    # Objects entering and leaving the selection are ADDED and DELETED for the watcher.
    client.patch("pods", "a", None, {"metadata": {"labels": {"app": "db"}}})
    client.patch("pods", "a", None, {"metadata": {"labels": {"tier": "x"}}})
    client.patch("pods", "b", None, {"metadata": {"labels": {"app": "web"}}})
    client.patch("pods", "b", None, {"metadata": {"labels": {"tier": "y"}}})
    events = client.watch("pods", resource_version=rv, label_selector="app=db",
                          timeout_seconds=1)
    assert [(t, o["metadata"]["name"]) for t, o in events] == [
        ("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "b")]


def test_too_old_resource_version_is_410_gone(client: KubeClient) -> None:
    # The fixture's store keeps 50 events and compacts every 500 writes.
    for i in range(510):
        client.create({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": f"c{i}"}})
    with pytest.raises(Gone):
        list(client.watch("configmaps", resource_version="3", timeout_seconds=1))


def test_graceful_pod_deletion(client: KubeClient) -> None:
    created = client.create(pod("a"))
    created["spec"]["nodeName"] = "node-1"
    client.replace(created)
    left = client.delete("pods", "a")
    assert left is not None and left["metadata"]["deletionTimestamp"]
    assert client.get("pods", "a")["metadata"]["deletionGracePeriodSeconds"] == 30
    assert client.delete("pods", "a", grace_period_seconds=0) is None
    with pytest.raises(NotFound):
        client.get("pods", "a")


def test_namespace_deletion_removes_its_objects(client: KubeClient) -> None:
    client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tmp"}})
    client.create(pod("a", "tmp"))
    client.create({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "c", "namespace": "tmp"}})
    client.delete("namespaces", "tmp")
    assert client.list("pods", namespace="tmp")["items"] == []
    with pytest.raises(NotFound):
        client.get("namespaces", "tmp")
    # A namespace whose pods are still stopping stays Terminating, refusing new objects.
    client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "busy"}})
    running = pod("a", "busy")
    running["spec"]["nodeName"] = "node-1"
    client.create(running)
    client.delete("namespaces", "busy")
    assert client.get("namespaces", "busy")["status"]["phase"] == "Terminating"
    with pytest.raises(ApiError) as refused:
        client.create(pod("b", "busy"))
    assert refused.value.status == 403
    assert ('pods "b" is forbidden: unable to create new content in namespace busy because it '
            "is being terminated") in str(refused.value)
    client.delete("pods", "a", "busy", grace_period_seconds=0)
    client.delete("namespaces", "busy")
    with pytest.raises(NotFound):
        client.get("namespaces", "busy")
    with pytest.raises(ApiError) as info:
        client.delete("namespaces", "default")
    assert info.value.status == 403


def test_a_terminating_namespace_takes_updates_of_its_objects(client: KubeClient) -> None:
    """NamespaceLifecycle refuses creations only: a controller taking its finalizer off an
    object (the pvc-protection controller, say) must be able to, or the namespace stays
    Terminating for ever."""
    client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "held"}})
    client.create({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "c", "namespace": "held",
                                "finalizers": ["example.com/hold"]}})
    client.delete("namespaces", "held")
    assert client.get("namespaces", "held")["status"]["phase"] == "Terminating"
    held = client.get("configmaps", "c", "held")
    assert held["metadata"]["deletionTimestamp"]
    client.patch("configmaps", "c", "held", {"metadata": {"labels": {"seen": "yes"}}})
    client.patch("configmaps", "c", "held", {"metadata": {"finalizers": None}})
    with pytest.raises(NotFound):
        client.get("configmaps", "c", "held")
    client.delete("namespaces", "held")
    with pytest.raises(NotFound):
        client.get("namespaces", "held")


def test_json_patch(client: KubeClient) -> None:
    client.create(deployment())
    body = b'[{"op": "replace", "path": "/spec/replicas", "value": 4}]'
    client.request("PATCH", "/apis/apps/v1/namespaces/default/deployments/web", data=body,
                   content_type="application/json-patch+json")
    assert client.get("deployments", "web")["spec"]["replicas"] == 4


class FakePodIO:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def logs(self, namespace: str, pod: str, container: str, *, follow: bool, previous: bool,
             tail_lines: int | None, since: float | None = None,
             timestamps: bool = False) -> Iterator[bytes]:
        self.calls.append(("logs", namespace, pod, container, follow, previous, tail_lines))
        self.since, self.timestamps = since, timestamps
        yield b"line 1\n"
        yield b"line 2\n"

    def exec_streams(self, namespace: str, pod: str, container: str, command: list[str], *,
                     stdin: bool, tty: bool) -> FakeProcess:
        self.calls.append(("exec", namespace, pod, container, command, stdin))

        def answer(info: Any, command: list[str], process: FakeProcess) -> int:
            self.stdin = b"".join(process.stdin_chunks())
            process.emit(1, b"out\x00put")
            return 3
        return FakeProcess(command, stdin, tty).start(answer)


def test_logs_and_exec_go_to_the_runtime(client: KubeClient, server: ApiServer) -> None:
    client.create(pod("a"))
    with pytest.raises(ApiError) as info:
        list(client.logs("a"))
    assert info.value.status == 503
    io = FakePodIO()
    server.set_pod_io(io)
    assert b"".join(client.logs("a", follow=True, tail_lines=5)) == b"line 1\nline 2\n"
    assert client.exec("a", None, ["sh", "-c", "exit 3"], stdin=b"in") == (3, b"out\x00put")
    assert io.calls == [("logs", "default", "a", "c", True, False, 5),
                        ("exec", "default", "a", "c", ["sh", "-c", "exit 3"], True)]
    assert io.stdin == b"in"
    with pytest.raises(ApiError, match="not valid for pod"):
        client.exec("a", None, ["true"], container="nope")


def test_log_since_and_timestamps_reach_the_runtime(client: KubeClient,
                                                   server: ApiServer) -> None:
    client.create(pod("a"))
    io = FakePodIO()
    server.set_pod_io(io)
    list(client.logs("a", since_time=1700000000.25, timestamps=True))
    assert io.since == 1700000000.25 and io.timestamps is True
    before = time.time()
    list(client.logs("a", since_seconds=60))
    assert before - 61 <= io.since <= time.time() - 59 and io.timestamps is False
    for params, message in (({"sinceSeconds": "5", "sinceTime": "2024-01-01T00:00:00Z"},
                             "at most one"), ({"sinceSeconds": "0"}, "greater than 0"),
                            ({"sinceTime": "yesterday"}, "RFC 3339")):
        with pytest.raises(ApiError, match=message) as info:
            client.request("GET", "/api/v1/namespaces/default/pods/a/log", params=params)
        assert info.value.status == 400


def test_a_failing_runtime_does_not_crash_the_server(client: KubeClient,
                                                     server: ApiServer) -> None:
    class Broken(FakePodIO):
        def exec_streams(self, *args: Any, **kwargs: Any) -> FakeProcess:
            raise RuntimeError("boom")
    server.set_pod_io(Broken())
    client.create(pod("a"))
    with pytest.raises(ApiError) as info:
        client.exec("a", None, ["true"])
    assert info.value.status == 500
    assert client.get("pods", "a")["metadata"]["name"] == "a"


def test_log_errors_before_the_first_chunk_are_a_status(client: KubeClient,
                                                        server: ApiServer) -> None:
    class NotYet(FakePodIO):
        def logs(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
            raise ApiError(400, "BadRequest", 'container "c" is waiting to start')
            yield b""  # a generator, like the runtime's
    server.set_pod_io(NotYet())
    client.create(pod("a"))
    with pytest.raises(ApiError, match="waiting to start"):
        list(client.logs("a"))


def test_concurrent_services_get_distinct_ips(client: KubeClient, server: ApiServer) -> None:
    def make(i: int) -> None:
        KubeClient.for_server(server.url, TOKEN).create(
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"s{i}"},
             "spec": {"ports": [{"port": 80}]}})
    threads = [threading.Thread(target=make, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ips = [s["spec"]["clusterIP"] for s in client.list("services")["items"]]
    assert len(ips) == 8 and len(set(ips)) == 8


def test_old_events_expire(client: KubeClient, server: ApiServer) -> None:
    def event(name: str, last: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name},
                "involvedObject": {"kind": "Pod", "name": "a", "namespace": "default"},
                "reason": "Test", "message": "m", "type": "Normal", "lastTimestamp": last}
    client.create(event("old", "2020-01-01T00:00:00Z"))
    server.api._events_expired = 0.0          # as if the last sweep was long ago
    client.create(event("new", "2999-01-01T00:00:00Z"))
    assert [e["metadata"]["name"] for e in client.list("events")["items"]] == ["new"]
    described = client.list("events", field_selector="involvedObject.name=a")["items"]
    assert len(described) == 1


def test_scale_subresource(client: KubeClient) -> None:
    client.create(deployment())
    path = "/apis/apps/v1/namespaces/default/deployments/web/scale"
    scale = client.request("GET", path).json()
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 1
    assert scale["status"]["selector"] == "app=web"
    client.request("PATCH", path, body={"spec": {"replicas": 4}},
                   content_type="application/merge-patch+json")
    assert client.get("deployments", "web")["spec"]["replicas"] == 4
    with pytest.raises(Invalid):
        client.request("PUT", path, body={"spec": {"replicas": -1}})


def test_server_side_tables_for_kubectl(client: KubeClient, server: ApiServer) -> None:
    client.create(deployment())
    table = requests.get(f"{server.url}/apis/apps/v1/namespaces/default/deployments",
                         headers={"Authorization": f"Bearer {TOKEN}",
                                  "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
                         timeout=5).json()
    assert table["kind"] == "Table"
    names = [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0]
    assert names == ["Name", "Ready", "Up-To-Date", "Available", "Age"]
    assert table["rows"][0]["cells"][:2] == ["web", "0/1"]
    assert table["rows"][0]["object"]["metadata"]["name"] == "web"


def test_tls_with_the_clusters_own_ca(tmp_path: Path) -> None:
    from kompy.cluster.apiserver.tls import ensure_certificate
    tls = ensure_certificate(tmp_path)
    assert tls is not None
    assert oct(tls[1].stat().st_mode & 0o777) == "0o600"
    srv = ApiServer(Store(tmp_path / "s.db"), TOKEN, tls=tls).start()
    try:
        assert srv.url.startswith("https://127.0.0.1:")
        client = KubeClient.for_server(srv.url, TOKEN, ca=srv.ca)
        assert len(client.list("namespaces")["items"]) == 4
        with pytest.raises(ClusterError):       # not trusted without the cluster's CA
            KubeClient.for_server(srv.url, TOKEN).list("namespaces")
    finally:
        srv.stop()
    assert ensure_certificate(tmp_path) == tls          # made once, then reused


def test_pod_spec_and_workload_selector_are_immutable(client: KubeClient) -> None:
    created = client.create(pod("a"))
    bound = client.patch("pods", "a", None, {"spec": {"nodeName": "node-1"}})
    assert bound["spec"]["nodeName"] == "node-1"          # binding an unscheduled pod
    image = client.patch("pods", "a", None, {"spec": {"containers": [
        {**bound["spec"]["containers"][0], "image": "busybox:2"}]}})
    assert image["spec"]["containers"][0]["image"] == "busybox:2"
    # A re-applied manifest (no nodeName) keeps the binding.
    created["spec"]["containers"][0]["image"] = "busybox:3"
    del created["metadata"]["resourceVersion"]
    assert client.replace(created)["spec"]["nodeName"] == "node-1"
    with pytest.raises(Invalid, match="pod updates may not change"):
        client.patch("pods", "a", None, {"spec": {"restartPolicy": "Never"}})
    client.create(deployment())
    with pytest.raises(Invalid, match="field is immutable"):
        client.patch("deployments", "web", None, {"spec": {
            "selector": {"matchLabels": {"app": "web", "x": "y"}},
            "template": {"metadata": {"labels": {"app": "web", "x": "y"}}}}})


def test_followed_logs_wait_longer_than_the_request_timeout(client: KubeClient,
                                                            server: ApiServer) -> None:
    class Slow(FakePodIO):
        def logs(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
            yield b"first\n"
            threading.Event().wait(1.0)        # a quiet log: no output for a while
            yield b"later\n"
    server.set_pod_io(Slow())
    client.create(pod("a"))
    client.timeout = 0.3
    assert b"".join(client.logs("a", follow=True)) == b"first\nlater\n"


def test_watch_answers_at_once_and_checks_its_parameters(client: KubeClient,
                                                         server: ApiServer) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with requests.get(f"{server.url}/api/v1/configmaps?watch=true&resourceVersion=1",
                      headers=headers, stream=True, timeout=2) as answer:
        assert answer.status_code == 200          # headers before any event
    bad = requests.get(f"{server.url}/api/v1/pods?watch=true&resourceVersion=x",
                       headers=headers, timeout=5)
    assert bad.status_code == 400


def test_a_cronjob_the_controller_cannot_run_is_refused(client: KubeClient) -> None:
    def cronjob(schedule: str, zone: str | None = None) -> dict[str, Any]:
        spec: dict[str, Any] = {"schedule": schedule, "jobTemplate": {"spec": {"template": {
            "spec": {"restartPolicy": "Never",
                     "containers": [{"name": "c", "image": "busybox:1"}]}}}}}
        if zone:
            spec["timeZone"] = zone
        return {"apiVersion": "batch/v1", "kind": "CronJob",
                "metadata": {"name": "nightly", "namespace": "default"}, "spec": spec}

    with pytest.raises(Invalid, match=r"spec\.schedule: Invalid value: unparseable"):
        client.create(cronjob("61 * * * *"))
    with pytest.raises(Invalid, match=r"spec\.timeZone: Invalid value: .*Mars/Olympus"):
        client.create(cronjob("0 3 * * *", "Mars/Olympus"))
    assert client.create(cronjob("0 3 * * *", "Europe/Paris"))["spec"]["timeZone"] == \
        "Europe/Paris"
