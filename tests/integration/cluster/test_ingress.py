"""The Ingress on the real Docker engine: the shop sample's three HTTPS modes (edge,
passthrough, re-encryption) with ``curl --resolve`` and a CA from ``kompy cluster cert``;
host and path routing, default backends and two Ingresses on one host over plain HTTP; the
class rules; zero failed requests while the backend rolls out; status fields (Ingress and
LoadBalancer Service) and where ``kompy cluster status`` says the Ingress listens.

The session's cluster listens on free ports (``KOMPY_INGRESS_PORTS=0,0``), never 80/443.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from clusterkit import events, wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from ingresskit import ROOT, connection, echo_json, get, request  # noqa: E402

from kompy.cli import main  # noqa: E402
from kompy.cluster.ingress.ports import read_state  # noqa: E402

pytestmark = pytest.mark.integration

SAMPLE = ROOT / "samples" / "ingress"
ECHO_IMAGE = "ingress-echo:1"


def kompy(cluster: dict[str, Any], *args: str) -> str:
    result = CliRunner().invoke(main, [*args, "--cluster", cluster["name"]])
    assert result.exit_code == 0, f"kompy {' '.join(args)}: {result.output}"
    return result.output


def listening(cluster: dict[str, Any]) -> tuple[int, int]:
    found = wait_for("the Ingress listeners", lambda: read_state(cluster["dir"]).get("https")
                     and read_state(cluster["dir"]))
    return int(found["http"]), int(found["https"])


def curl(port: int, host: str, path: str = "/", ca: Path | None = None) -> tuple[int, str]:
    """``curl --resolve HOST:PORT:127.0.0.1``: (status, body)."""
    scheme = "https" if ca else "http"
    command = ["curl", "-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}",
               "--resolve", f"{host}:{port}:127.0.0.1", f"{scheme}://{host}:{port}{path}"]
    if ca:
        command[1:1] = ["--cacert", str(ca)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, f"{' '.join(command)}: {done.stderr}"
    body, _, status = done.stdout.rpartition("\n")
    return int(status), body


@pytest.fixture(scope="module")
def echo_image() -> str:
    import docker

    docker.from_env().images.build(path=str(SAMPLE / "echo"), tag=ECHO_IMAGE, rm=True)
    return ECHO_IMAGE


@pytest.fixture
def shop(cluster: dict[str, Any], client: Any, echo_image: str) -> Iterator[str]:
    """The sample as a user runs it: its manifests, then ``kompy cluster cert``."""
    kompy(cluster, "apply", "-f", str(SAMPLE / "shop.yaml"))
    out = kompy(cluster, "cluster", "cert", "-n", "shop", "shop.local", "*.shop.local",
                "secure.shop.svc")
    assert "secret/shop-local-tls created in namespace shop" in out
    assert f"curl --cacert {cluster['dir'] / 'ingress-ca.crt'}" in out
    for deployment in ("web", "secure"):
        kompy(cluster, "rollout", "status", f"deploy/{deployment}", "-n", "shop",
              "--timeout", "2m")
    yield "shop"
    # The pods first, then the namespace: Docker 20.10 can keep a phantom endpoint on a
    # network removed while containers on it are still stopping (the namespace's network
    # goes with the namespace), which then blocks removing it for good.
    with contextlib.suppress(Exception):
        for deployment in ("web", "secure"):
            client.delete("deployments", deployment, "shop")
        wait_for("the shop's pods gone", lambda: not client.list("pods", "shop")["items"], 90)
        client.delete("namespaces", "shop")


@pytest.fixture
def ns(client: Any, namespace: str) -> Iterator[str]:
    """A fresh namespace whose pods are gone before the namespace is deleted (see shop)."""
    yield namespace
    with contextlib.suppress(Exception):
        for deployment in client.list("deployments", namespace)["items"]:
            client.delete("deployments", deployment["metadata"]["name"], namespace)
        wait_for("the pods gone", lambda: not client.list("pods", namespace)["items"], 90)


def test_https_edge_passthrough_and_re_encryption(cluster: dict[str, Any], client: Any,
                                                  shop: str) -> None:
    http, https = listening(cluster)
    ca = cluster["dir"] / "ingress-ca.crt"
    assert (cluster["dir"] / "ingress-ca.key").stat().st_mode & 0o777 == 0o600

    def answer(host: str) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            status, body = curl(https, host, "/hello", ca)
            return json.loads(body) if status == 200 else None
        return wait_for(f"https://{host}/ through the Ingress", probe)

    edge = answer("shop.local")               # terminated by the Ingress, HTTP to the pod
    assert edge["pod"].startswith("web-") and edge["tls"] is False
    assert edge["headers"]["x-forwarded-proto"] == "https"
    assert edge["headers"]["x-forwarded-host"] == f"shop.local:{https}"
    through = answer("secure.shop.local")     # the pod terminates the client's own TLS
    assert through["pod"].startswith("secure-") and through["tls"] is True
    assert through["sni"] == "secure.shop.local" and "x-forwarded-for" not in through["headers"]
    again = answer("api.shop.local")          # terminated, then TLS again, verified
    assert again["pod"].startswith("secure-") and again["tls"] is True
    assert again["sni"] == "secure.shop.svc"
    assert again["headers"]["x-forwarded-proto"] == "https"
    status, headers, _ = get(http, "shop.local", "/cart?item=1")
    assert status == 308 and headers["location"] == f"https://shop.local:{https}/cart?item=1"
    ingress = client.get("ingresses", "shop", "shop")
    assert ingress["status"]["loadBalancer"]["ingress"] == [{"ip": "127.0.0.1"}]
    assert ingress["spec"]["ingressClassName"] == "kompy"
    out = kompy(cluster, "get", "ingress", "-n", "shop")
    assert "shop.local" in out and "127.0.0.1" in out and "80, 443" in out


def echo(name: str, ns: str, replicas: int = 1, grace: int = 1) -> list[dict[str, Any]]:
    """A Deployment of the echo sample (answering every path with its pod's name), and its
    Service."""
    labels = {"app": name}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": name, "namespace": ns},
         "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels}, "spec": {
                      "terminationGracePeriodSeconds": grace,
                      "containers": [{"name": "echo", "image": ECHO_IMAGE,
                                      "ports": [{"name": "http", "containerPort": 8080}],
                                      "readinessProbe": {
                                          "httpGet": {"path": "/ready", "port": "http"},
                                          "periodSeconds": 1}}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
         "spec": {"selector": labels, "ports": [{"name": "http", "port": 80,
                                                 "targetPort": "http"}]}}]


def ingress(name: str, ns: str, host: str, paths: list[tuple[str, str, str]],
            **spec: Any) -> dict[str, Any]:
    annotations = spec.pop("annotations", {})
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": ns, "annotations": annotations},
            "spec": {"rules": [{"host": host, "http": {"paths": [
                {"path": path, "pathType": kind,
                 "backend": {"service": {"name": svc, "port": {"name": "http"}}}}
                for path, kind, svc in paths]}}], **spec}}


def served_by(port: int, host: str, path: str) -> str | None:
    """Which Deployment answered (its pods are named after it); None for no answer."""
    status, body = curl(port, host, path)
    return json.loads(body)["pod"].rsplit("-", 2)[0] if status == 200 else None


def test_host_and_path_routing_default_backend_and_two_ingresses_on_one_host(
        cluster: dict[str, Any], client: Any, ns: str, echo_image: str) -> None:
    host = f"{ns}.local"
    http, _ = listening(cluster)
    for name in ("alpha", "beta", "fallback"):
        for obj in echo(name, ns):
            client.apply(obj)
    client.apply(ingress("first", ns, host, [("/alpha", "Prefix", "alpha")],
                         defaultBackend={"service": {"name": "fallback",
                                                     "port": {"name": "http"}}}))
    wait_for("the first Ingress", lambda: served_by(http, host, "/alpha/x") == "alpha")
    time.sleep(1.1)  # creationTimestamp has whole seconds: make "second" the newer one
    client.apply(ingress("second", ns, host, [("/alpha", "Prefix", "beta"),
                                              ("/beta", "Exact", "beta")]))
    wait_for("the second Ingress merged", lambda: served_by(http, host, "/beta") == "beta")
    assert served_by(http, host, "/alpha") == "alpha"        # the older Ingress keeps /alpha
    assert served_by(http, host, "/alphabet") == "fallback"  # Prefix is element-wise
    assert curl(http, host, "/beta/x")[0] == 200           # Exact: /beta only...
    assert served_by(http, host, "/beta/x") == "fallback"    # ...the rest: the default backend
    assert served_by(http, host, "/") == "fallback"
    assert curl(http, f"other-{host}", "/alpha")[0] == 404  # another host: no rule
    wait_for("the PathConflict warning", lambda: any(
        e["reason"] == "PathConflict" for e in events(client, ns, "second")))
    for name in ("first", "second"):
        wait_for(f"{name}'s status", lambda n=name: (client.get("ingresses", n, ns).get(
            "status") or {}).get("loadBalancer", {}).get("ingress") == [{"ip": "127.0.0.1"}])


def test_ingress_classes(cluster: dict[str, Any], client: Any, ns: str,
                         echo_image: str) -> None:
    http, _ = listening(cluster)
    for obj in echo("web", ns):
        client.apply(obj)
    client.apply(ingress("legacy", ns, f"legacy.{ns}.local", [("/", "Prefix", "web")],
                         annotations={"kubernetes.io/ingress.class": "kompy"}))
    client.apply(ingress("theirs", ns, f"theirs.{ns}.local", [("/", "Prefix", "web")],
                         ingressClassName="traefik"))
    wait_for("the legacy-annotated Ingress", lambda: served_by(
        http, f"legacy.{ns}.local", "/") == "web")
    assert curl(http, f"theirs.{ns}.local", "/")[0] == 404
    wait_for("IngressClassNotFound", lambda: any(
        e["reason"] == "IngressClassNotFound" for e in events(client, ns, "theirs")))
    assert not (client.get("ingresses", "theirs", ns).get("status") or {}).get(
        "loadBalancer", {}).get("ingress")


def test_zero_failed_requests_while_the_backend_rolls_out(
        cluster: dict[str, Any], client: Any, ns: str, echo_image: str) -> None:
    host = f"roll.{ns}.local"
    http, _ = listening(cluster)
    for obj in echo("echo", ns, replicas=2, grace=10):
        client.apply(obj)
    client.apply(ingress("echo", ns, host, [("/", "Prefix", "echo")]))
    kompy(cluster, "rollout", "status", "deploy/echo", "-n", ns, "--timeout", "2m")
    wait_for("the echo through the Ingress", lambda: get(http, host)[0] == 200)
    before = {p["metadata"]["name"] for p in client.list("pods", ns)["items"]}

    failures: list[str] = []
    served: list[str] = []
    stop = threading.Event()

    def load(keep_alive: bool) -> None:
        conn = connection(http, host)
        try:
            while not stop.is_set() and len(served) < 20000:
                try:
                    if not keep_alive:
                        conn.close()
                    status, _, body = request(conn, "/")
                    if status != 200:
                        failures.append(f"{status}: {body[:200]!r}")
                    else:
                        served.append(echo_json(body)["pod"])
                except OSError as error:
                    failures.append(repr(error))
                    conn.close()
        finally:
            conn.close()

    clients = [threading.Thread(target=load, args=(k,)) for k in (True, True, False)]
    for thread in clients:
        thread.start()
    try:
        kompy(cluster, "rollout", "restart", "deploy/echo", "-n", ns)
        kompy(cluster, "rollout", "status", "deploy/echo", "-n", ns, "--timeout", "2m")
        wait_for("the old pods gone", lambda: not before & {
            p["metadata"]["name"] for p in client.list("pods", ns)["items"]})
        time.sleep(0.5)  # requests go on a little after the last old pod is gone
    finally:
        stop.set()
        for thread in clients:
            thread.join(30)
    after = {p["metadata"]["name"] for p in client.list("pods", ns)["items"]}
    assert not failures, f"{len(failures)} of {len(failures) + len(served)} failed: " \
                         f"{failures[:5]}"
    assert set(served) & before and set(served) & after, "requests reached old and new pods"
    assert len(served) > 50


def test_load_balancer_service_and_cluster_status(cluster: dict[str, Any], client: Any,
                                                  ns: str, echo_image: str) -> None:
    for obj in echo("lb", ns):
        client.apply(obj)
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    svc = client.get("services", "lb", ns)
    svc["spec"].update(type="LoadBalancer", ports=[{"name": "http", "port": port,
                                                    "targetPort": "http"}])
    client.replace(svc)
    wait_for("the load balancer's address", lambda: (client.get("services", "lb", ns).get(
        "status") or {}).get("loadBalancer", {}).get("ingress") == [{"ip": "127.0.0.1"}])
    line = next(row for row in kompy(cluster, "get", "svc", "lb", "-n", ns).splitlines()
                if row.startswith("lb "))
    assert line.split()[1:3] == ["LoadBalancer", client.get("services", "lb", ns)["spec"][
        "clusterIP"]] and line.split()[3] == "127.0.0.1"
    wait_for("the pod through the load balancer", lambda: served_by(port, "127.0.0.1", "/")
             == "lb", describe=lambda: str(client.get("services", "lb", ns)))
    http, https = listening(cluster)
    status = kompy(cluster, "cluster", "status")
    assert f"ingress: http://127.0.0.1:{http}, https://127.0.0.1:{https}" in status
