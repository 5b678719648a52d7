"""NetworkPolicies enforced on the real Docker engine (issue #13).

Each check is a real connection from inside a pod (busybox ``wget`` under ``timeout``): to a
pod's IP (forwarded by the host, filtered by the cluster's iptables chains) and to a Service
(relayed by the Service proxy, which asks the same compiled policies). A policy takes effect
asynchronously, so every expectation is waited for; every "blocked" is preceded by the same
connection working, so a check cannot pass because of a broken setup.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from clusterkit import BUSYBOX, events, running, wait_for

from kompy.client import NotFound

HTTPD = "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"
TIMEOUT = 90.0


def server(name: str, ns: str, **labels: str) -> dict[str, Any]:
    """A pod answering its own name on :8080 (port name ``http``)."""
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": name, **labels}},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                "name": "c", "image": BUSYBOX, "command": ["sh", "-c", HTTPD],
                "ports": [{"name": "http", "containerPort": 8080}]}]}}


def service(name: str, ns: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": "http"}]}}


def policy(name: str, ns: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def answer(client: Any, pod: str, ns: str, url: str) -> str:
    """The body ``pod`` gets from ``url``, "" when the connection fails (3 s at most)."""
    code, out = client.exec(pod, ns, ["sh", "-c", f"timeout 3 wget -qO- {url}"])
    return out.decode(errors="replace").strip() if code == 0 else ""


def reaches(client: Any, pod: str, ns: str, url: str, expected: str) -> None:
    wait_for(f"{ns}/{pod} reaching {url}", lambda: answer(client, pod, ns, url) == expected,
             TIMEOUT)


def blocked(client: Any, pod: str, ns: str, url: str) -> None:
    wait_for(f"{ns}/{pod} blocked from {url}", lambda: answer(client, pod, ns, url) == "",
             TIMEOUT)


def start(client: Any, *objects: dict[str, Any]) -> dict[str, str]:
    """Create the pods (and Services), wait for them; pod name -> pod IP."""
    for obj in objects:
        client.create(obj)
    ips = {}
    for obj in objects:
        if obj["kind"] == "Pod":
            ready = running(client, obj["metadata"]["name"], obj["metadata"]["namespace"])
            ips[obj["metadata"]["name"]] = ready["status"]["podIP"]
    return ips


def test_default_deny_ingress_then_pod_and_namespace_selectors_admit(client: Any,
                                                                     namespace: str) -> None:
    ns, other = namespace, namespace + "b"
    client.create({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": other, "labels": {"team": "blue"}}})
    try:
        ips = start(client, server("srv", ns), server("cli", ns), server("nope", ns),
                    server("stranger", other), service("srv", ns))
        pod_url, svc_url = f"http://{ips['srv']}:8080/", "http://srv/"
        for who in ("cli", "nope"):
            reaches(client, who, ns, pod_url, "srv")
            reaches(client, who, ns, svc_url, "srv")
        blocked(client, "stranger", other, pod_url)  # namespaces stay apart without policies

        client.create(policy("deny", ns, {"podSelector": {}}))
        blocked(client, "cli", ns, pod_url)
        blocked(client, "cli", ns, svc_url)
        blocked(client, "srv", ns, f"http://{ips['cli']}:8080/")  # the other way round too

        client.create(policy("cli-to-srv", ns, {
            "podSelector": {"matchLabels": {"app": "srv"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "cli"}}}],
                         "ports": [{"port": "http", "protocol": "TCP"}]}]}))
        reaches(client, "cli", ns, pod_url, "srv")
        reaches(client, "cli", ns, svc_url, "srv")
        blocked(client, "nope", ns, pod_url)
        blocked(client, "nope", ns, svc_url)
        blocked(client, "srv", ns, f"http://{ips['cli']}:8080/")  # cli is still isolated

        client.create(policy("blue-strangers", ns, {
            "podSelector": {"matchLabels": {"app": "srv"}},
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "blue"}},
                                   "podSelector": {"matchLabels": {"app": "stranger"}}}]}]}))
        reaches(client, "stranger", other, pod_url, "srv")
        reaches(client, "stranger", other, f"http://srv.{ns}/", "srv")
        blocked(client, "nope", ns, pod_url)  # not in a blue namespace

        for name in ("deny", "cli-to-srv", "blue-strangers"):
            client.delete("networkpolicies", name, ns)
        reaches(client, "nope", ns, pod_url, "srv")
        reaches(client, "srv", ns, f"http://{ips['cli']}:8080/", "cli")
        blocked(client, "stranger", other, pod_url)  # back to namespace isolation
    finally:
        client.delete("namespaces", other)


def test_egress_deny_blocks_outbound_only_then_rules_reopen_it(client: Any,
                                                              namespace: str) -> None:
    ns = namespace
    ips = start(client, server("a", ns), server("b", ns), server("c", ns), service("b", ns))
    to_b, to_a = f"http://{ips['b']}:8080/", f"http://{ips['a']}:8080/"
    reaches(client, "a", ns, to_b, "b")
    reaches(client, "a", ns, "http://b/", "b")

    client.create(policy("a-out", ns, {"podSelector": {"matchLabels": {"app": "a"}},
                                       "policyTypes": ["Egress"]}))
    blocked(client, "a", ns, to_b)
    blocked(client, "a", ns, "http://b/")
    reaches(client, "b", ns, to_a, "a")  # inbound to a, and a's replies, still pass

    client.delete("networkpolicies", "a-out", ns)
    client.create(policy("a-block", ns, {
        "podSelector": {"matchLabels": {"app": "a"}}, "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": f"{ips['b']}/24",
                                        "except": [f"{ips['b']}/32"]}}]}]}))
    reaches(client, "a", ns, f"http://{ips['c']}:8080/", "c")  # in the block
    blocked(client, "a", ns, to_b)  # b's address is the block's exception

    client.delete("networkpolicies", "a-block", ns)
    client.create(policy("a-to-b", ns, {
        "podSelector": {"matchLabels": {"app": "a"}}, "policyTypes": ["Egress"],
        "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "b"}}}],
                    "ports": [{"port": 8000, "endPort": 8090}]}]}))
    reaches(client, "a", ns, to_b, "b")
    reaches(client, "a", ns, "http://b/", "b")  # the Service's target port 8080 is admitted
    assert not [e for e in events(client, ns, "a-to-b") if e["reason"] ==
                "NetworkPolicyNotEnforced"]


def test_rules_are_the_clusters_own_and_go_with_the_policies(client: Any,
                                                             cluster: dict[str, Any],
                                                             namespace: str) -> None:
    from kompy.cluster.netpol.iptables import chain_prefix

    prefix = chain_prefix(cluster["name"], str(cluster["dir"]))
    start(client, server("p", namespace))
    client.create(policy("deny", namespace, {"podSelector": {}}))

    def rules() -> str:
        saved = subprocess.run(["iptables-save", "-t", "filter"], capture_output=True,
                               text=True, check=True).stdout
        return "\n".join(line for line in saved.splitlines() if prefix in line)
    found = wait_for("the cluster's chains", lambda: f"-A DOCKER-USER -j {prefix}" in rules()
                     and rules())
    assert found.count(f"-A DOCKER-USER -j {prefix}") == 1
    client.delete("networkpolicies", "deny", namespace)
    # Other tests of this session may hold policies: this one's pod leaves the chains.
    ip = client.get("pods", "p", namespace)["status"]["podIP"]
    wait_for("the pod's rules gone", lambda: f"{ip}/32" not in rules())


# Who talks to whom over two Compose networks: web-api (front), api-db (back), web-db never.
NETWORKS = {"web": ["front"], "api": ["front", "back"], "db": ["back"]}
PAIRS = [("web", "api", True), ("api", "db", True), ("api", "web", True),
         ("web", "db", False), ("db", "web", False)]


def _compose_file(folder: Path) -> Path:
    """Three busybox web servers, each answering its service name (JSON is YAML)."""
    services = {name: {"image": BUSYBOX, "environment": {"SELF": name}, "expose": ["8080"],
                       "networks": nets, "command": [
                           "sh", "-c", "mkdir -p /www && echo $$SELF > /www/index.html && "
                           "exec httpd -f -p 8080 -h /www"]}
                for name, nets in NETWORKS.items()}
    path = folder / "compose.yaml"
    path.write_text(json.dumps({"services": services, "networks": {"front": {}, "back": {}}}))
    return path


def _under_compose(file: Path, project: str) -> dict[tuple[str, str], bool]:
    compose = ["docker-compose", "-p", project, "-f", str(file)]
    subprocess.run([*compose, "up", "-d"], check=True, capture_output=True, timeout=180)
    try:
        def talk(src: str, dst: str) -> bool:
            done = subprocess.run([*compose, "exec", "-T", src, "sh", "-c",
                                   f"timeout 3 wget -qO- http://{dst}:8080/"],
                                  capture_output=True, text=True, timeout=60)
            return done.returncode == 0 and done.stdout.strip() == dst
        wait_for("web answering api under Compose", lambda: talk("web", "api"), TIMEOUT)
        return {(s, d): talk(s, d) for s, d, _ in PAIRS}
    finally:
        subprocess.run([*compose, "down", "-v", "-t", "1"], capture_output=True, timeout=180)


def test_converted_network_policies_keep_compose_networks_apart(
        client: Any, cluster: dict[str, Any], tmp_path: Path) -> None:
    if shutil.which("docker-compose") is None:
        pytest.fail("docker-compose is missing: `apt-get install docker-compose`")
    file = _compose_file(tmp_path)
    project = f"np{uuid.uuid4().hex[:8]}"
    compose = _under_compose(file, project)
    assert compose == {(s, d): ok for s, d, ok in PAIRS}, compose

    ns, out = f"n{uuid.uuid4().hex[:8]}", tmp_path / "out"
    subprocess.run([sys.executable, "-m", "kompy", "convert", "--network-policies", "-f",
                    str(file), "-p", project, "-n", ns, "-o", str(out)], check=True,
                   capture_output=True, timeout=120)
    subprocess.run([sys.executable, "-m", "kompy", "apply", "-f", str(out), "--cluster",
                    cluster["name"]], check=True, capture_output=True, timeout=60)
    try:
        pods = {}
        for name in ("web", "api", "db"):
            found = wait_for(f"the {name} pod", lambda name=name: client.list(
                "pods", ns, label_selector=f"app.kubernetes.io/name={name}")["items"])
            pods[name] = running(client, found[0]["metadata"]["name"], ns)["metadata"]["name"]
        for src, dst, ok in PAIRS:  # the allowed pairs first: each block follows a success
            if ok:
                reaches(client, pods[src], ns, f"http://{dst}:8080/", dst)
        for src, dst, ok in PAIRS:
            if not ok:
                blocked(client, pods[src], ns, f"http://{dst}:8080/")
    finally:
        with contextlib.suppress(NotFound):
            client.delete("namespaces", ns)


def _http(host: str, port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/", timeout=3) as response:
            return str(response.read().decode().strip())
    except OSError:
        return ""


def test_node_port_and_load_balancer_answer_from_the_node_under_default_deny(
        client: Any, namespace: str) -> None:
    """A NodePort answers on every node's InternalIP and a LoadBalancer at its
    ``status.loadBalancer.ingress`` address, and a default-deny policy does not stop them:
    that traffic comes from the node, which the policies always admit (Kubernetes docs,
    "the only allowed connections into the pod are those from the pod's node and those
    allowed by the ingress list")."""
    ns = namespace
    start(client, server("web", ns))
    with socket.socket() as probe:  # a free port for the LoadBalancer's own port
        probe.bind(("127.0.0.1", 0))
        lb_port = probe.getsockname()[1]
    client.create({**service("web", ns), "spec": {
        "type": "LoadBalancer", "selector": {"app": "web"},
        "ports": [{"port": lb_port, "targetPort": "http"}]}})
    client.create(policy("deny", ns, {"podSelector": {}}))
    svc = wait_for("the load balancer's address", lambda: (lambda s: s if (
        s.get("status") or {}).get("loadBalancer", {}).get("ingress") else None)(
        client.get("services", "web", ns)))
    (entry,) = svc["status"]["loadBalancer"]["ingress"]
    assert entry == {"ip": "127.0.0.1"}
    wait_for("the LoadBalancer answering", lambda: _http(entry["ip"], lb_port) == "web")
    node_port = svc["spec"]["ports"][0]["nodePort"]
    addresses = [a["address"] for node in client.list("nodes")["items"]
                 for a in node["status"]["addresses"] if a["type"] == "InternalIP"]
    assert addresses
    for address in addresses:
        wait_for(f"the NodePort answering on {address}",
                 lambda address=address: _http(address, node_port) == "web")
