"""Deployments, ReplicaSets, Services and namespaces on the real Docker engine."""

from __future__ import annotations

import socket
import subprocess
import urllib.request
from typing import Any

import pytest
from clusterkit import BUSYBOX, container, events, pod, running, sh, wait_for
from enginekit import free_port

pytestmark = pytest.mark.integration

WEB = ("hostname > /www/index.html; exec httpd -f -p 8080 -h /www")


def deployment(name: str, ns: str, replicas: int, *, env: str = "v1",
               readiness: dict[str, Any] | None = None, **strategy: Any) -> dict[str, Any]:
    labels = {"app": name}
    c = container("web", f"mkdir -p /www; echo {env} > /www/version; " + WEB,
                  ports=[{"name": "http", "containerPort": 8080}])
    c["readinessProbe"] = readiness or {"httpGet": {"path": "/index.html", "port": "http"},
                                        "periodSeconds": 1}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     **({"strategy": strategy} if strategy else {}),
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [c],
                                           "terminationGracePeriodSeconds": 1}}}}


def service(name: str, ns: str, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns,
                                                                **extra.pop("meta", {})},
            "spec": {"selector": {"app": name},
                     "ports": [{"name": "http", "port": 80, "targetPort": "http"}], **extra}}


def rollout_done(client: Any, name: str, ns: str, replicas: int) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        d = client.get("deployments", name, ns)
        st = d.get("status") or {}
        done = (st.get("observedGeneration", 0) >= d["metadata"].get("generation", 1)
                and st.get("updatedReplicas") == replicas and st.get("replicas") == replicas
                and st.get("readyReplicas") == replicas
                and st.get("availableReplicas") == replicas)
        pods = [p for p in client.list("pods", ns, label_selector=f"app={name}")["items"]]
        return d if done and len(pods) == replicas else None
    return wait_for(f"deployment {name} rolled out to {replicas}", probe, 90,
                    lambda: str(client.get("deployments", name, ns).get("status")))


def replicasets(client: Any, name: str, ns: str) -> list[dict[str, Any]]:
    return list(client.list("replicasets", ns, label_selector=f"app={name}")["items"])


def test_deployment_scale_rollout_and_rollback(client: Any, namespace: str) -> None:
    client.apply(deployment("web", namespace, 3))
    d = rollout_done(client, "web", namespace, 3)
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    (first,) = replicasets(client, "web", namespace)
    pod_hash = first["metadata"]["labels"]["pod-template-hash"]
    assert first["metadata"]["name"] == f"web-{pod_hash}"
    for p in client.list("pods", namespace, label_selector="app=web")["items"]:
        assert p["metadata"]["ownerReferences"][0]["uid"] == first["metadata"]["uid"]

    client.patch("deployments", "web", namespace, {"spec": {"replicas": 5}})
    rollout_done(client, "web", namespace, 5)
    client.patch("deployments", "web", namespace, {"spec": {"replicas": 1}})
    rollout_done(client, "web", namespace, 1)

    client.patch("deployments", "web", namespace, {"spec": {"replicas": 3}})
    rollout_done(client, "web", namespace, 3)
    client.apply(deployment("web", namespace, 3, env="v2"))
    d = rollout_done(client, "web", namespace, 3)
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    sets = {rs["metadata"]["name"]: rs for rs in replicasets(client, "web", namespace)}
    assert len(sets) == 2 and sets[first["metadata"]["name"]]["spec"]["replicas"] == 0
    for p in client.list("pods", namespace, label_selector="app=web")["items"]:
        if not p["metadata"].get("deletionTimestamp"):
            assert sh(client, p["metadata"]["name"], namespace, "cat /www/version").strip() \
                == "v2"

    # Rollback: the first template again reuses the first ReplicaSet, as revision 3.
    client.apply(deployment("web", namespace, 3))
    d = rollout_done(client, "web", namespace, 3)
    sets = {rs["metadata"]["name"]: rs for rs in replicasets(client, "web", namespace)}
    assert len(sets) == 2
    again = sets[first["metadata"]["name"]]
    assert again["spec"]["replicas"] == 3
    assert again["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"


def test_recreate_strategy(client: Any, namespace: str) -> None:
    client.apply(deployment("rec", namespace, 2, type="Recreate"))
    rollout_done(client, "rec", namespace, 2)
    client.apply(deployment("rec", namespace, 2, env="v2", type="Recreate"))
    rollout_done(client, "rec", namespace, 2)
    assert len(replicasets(client, "rec", namespace)) == 2


def test_deleting_a_deployment_collects_its_replicasets_and_pods(
        client: Any, namespace: str) -> None:
    client.apply(deployment("gone", namespace, 2))
    rollout_done(client, "gone", namespace, 2)
    client.delete("deployments", "gone", namespace)
    wait_for("ReplicaSets and pods collected", lambda: not replicasets(
        client, "gone", namespace) and not client.list(
            "pods", namespace, label_selector="app=gone")["items"], 60)
    left = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=kompy.namespace={namespace}",
                           "--filter", "label=kompy.role=app"],
                          check=True, capture_output=True, text=True).stdout.split()
    assert wait_for("containers removed", lambda: not subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=kompy.namespace={namespace}",
         "--filter", "label=kompy.role=app"], check=True, capture_output=True,
        text=True).stdout.split() or None, 30) is None or not left


def test_service_by_name_balances_over_ready_pods_only(client: Any, namespace: str) -> None:
    # Ready only while /www/ready exists: the test takes one pod out of rotation.
    client.apply(deployment("api", namespace, 3, readiness={
        "exec": {"command": ["test", "!", "-e", "/tmp/unready"]}, "periodSeconds": 1,
        "failureThreshold": 1}))
    client.apply(service("api", namespace))
    rollout_done(client, "api", namespace, 3)
    client.create(pod("client", namespace, container("c", "exec sleep 3600")))
    running(client, "client", namespace)
    names = {p["metadata"]["name"] for p in
             client.list("pods", namespace, label_selector="app=api")["items"]}

    def seen(n: int, host: str = "api") -> set[str]:
        out = sh(client, "client", namespace,
                 f"for i in $(seq {n}); do wget -qO- http://{host}/index.html; done")
        return set(out.split())

    assert wait_for("every replica answering through the Service",
                    lambda: seen(12) == names, 30)
    assert seen(6, f"api.{namespace}.svc.cluster.local") <= names
    victim = sorted(names)[0]
    sh(client, victim, namespace, "touch /tmp/unready")
    wait_for("the victim pod not ready", lambda: not any(
        a.get("targetRef", {}).get("name") == victim
        for s in client.get("endpoints", "api", namespace).get("subsets") or []
        for a in s.get("addresses") or []), 30)
    eps = client.get("endpoints", "api", namespace)
    assert any(a["targetRef"]["name"] == victim for s in eps["subsets"]
               for a in s.get("notReadyAddresses") or [])
    assert wait_for("traffic avoiding the not-ready pod",
                    lambda: seen(12) == names - {victim}, 30)


def test_namespaces_are_isolated(client: Any, namespace: str) -> None:
    other = namespace + "x"
    client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": other}})
    try:
        client.apply(deployment("iso", namespace, 1))
        client.apply(service("iso", namespace))
        rollout_done(client, "iso", namespace, 1)
        (target,) = client.list("pods", namespace, label_selector="app=iso")["items"]
        client.create(pod("same", namespace, container("c", "exec sleep 3600")))
        client.create(pod("stranger", other, container("c", "exec sleep 3600")))
        running(client, "same", namespace)
        running(client, "stranger", other)
        wait_for("service reachable in its namespace", lambda: sh(
            client, "same", namespace, "wget -qO- http://iso/index.html"), 30)
        code, _ = client.exec("stranger", other, ["sh", "-c",
                                                  f"timeout 3 wget -qO- http://iso.{namespace}/"])
        assert code != 0
        ip = target["status"]["podIP"]
        code, _ = client.exec("stranger", other, ["sh", "-c",
                                                  f"timeout 3 wget -qO- http://{ip}:8080/"])
        assert code != 0
    finally:
        client.delete("namespaces", other)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=3) as response:
        return str(response.read().decode().strip())


def test_host_ports_nodeport_and_port_in_use(client: Any, namespace: str) -> None:
    host_port = free_port()
    client.apply(deployment("pub", namespace, 2))
    client.apply(service("pub", namespace, type="NodePort",
                         meta={"annotations": {"kompy.dev/host-ports": f"{host_port}:80/tcp"}}))
    rollout_done(client, "pub", namespace, 2)
    names = {p["metadata"]["name"] for p in
             client.list("pods", namespace, label_selector="app=pub")["items"]}
    url = f"http://127.0.0.1:{host_port}/index.html"
    assert wait_for("both replicas through the host port",
                    lambda: {_get(url) for _ in range(8)} == names, 30)
    node_port = client.get("services", "pub", namespace)["spec"]["ports"][0]["nodePort"]
    assert 30000 <= node_port <= 32767
    assert wait_for("NodePort answering", lambda: _get(
        f"http://127.0.0.1:{node_port}/index.html") in names, 30)

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        client.apply(service("pub2", namespace, meta={
            "annotations": {"kompy.dev/host-ports": f"{taken}:80/tcp"}}))
        found = wait_for("a FailedToListen event", lambda: [
            e for e in events(client, namespace, "pub2") if e["reason"] == "FailedToListen"])
        assert str(taken) in found[0]["message"]
    assert client.get("services", "pub", namespace)  # the daemon still answers


def test_image_from_busybox_is_local(client: Any) -> None:
    """The samples' base image is present (the tests above rely on it)."""
    assert subprocess.run(["docker", "image", "inspect", BUSYBOX],
                          capture_output=True).returncode == 0


UDP_ECHO = ("import socket\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "s.bind(('', 9000))\n"
            "while True:\n"
            "    data, peer = s.recvfrom(999)\n"
            "    s.sendto(b'pong ' + data, peer)\n")


def test_udp_service_port_through_host_port(client: Any, namespace: str) -> None:
    host_port = free_port()
    client.apply({"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "echo", "namespace": namespace},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "echo"}},
                           "template": {"metadata": {"labels": {"app": "echo"}}, "spec": {
                               "terminationGracePeriodSeconds": 1,
                               "containers": [{"name": "echo", "image": "kompy/python:3",
                                               "command": ["python3", "-c", UDP_ECHO]}]}}}})
    client.apply(service("echo", namespace, meta={"annotations": {
        "kompy.dev/host-ports": f"{host_port}:53/udp"}}) | {"spec": {
            "selector": {"app": "echo"},
            "ports": [{"name": "dns", "port": 53, "targetPort": 9000, "protocol": "UDP"}]}})
    rollout_done(client, "echo", namespace, 1)

    def ask() -> bytes | None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(1)
            s.sendto(b"ping", ("127.0.0.1", host_port))
            try:
                return s.recvfrom(100)[0]
            except OSError:
                return None

    assert wait_for("a UDP answer through the host port", ask, 30) == b"pong ping"
