"""The Ingress end to end in this process: the real API server, controllers and Ingress
listeners (the in-memory container backend), with backends that are echo servers on
127.0.0.1 behind Services without selectors (their Endpoints written by the test).

Covers what needs no Docker: routing, headers, keep-alive, bodies, WebSocket upgrades, TLS
edge with SNI, passthrough and re-encryption, retries when an endpoint fails, status, events
and LoadBalancer Services. tests/integration/cluster/test_ingress.py does it on the engine.
"""

from __future__ import annotations

import base64
import os
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from ingresskit import EchoServer, connection, echo_json, get, request  # noqa: E402

from kompy.client import Conflict  # noqa: E402
from kompy.cluster.ingress import classes, ports  # noqa: E402
from kompy.cluster.ingress.certcmd import issue_secret  # noqa: E402
from kompy.cluster.ingress.controller import IngressController  # noqa: E402

NS = "default"


class Env:
    def __init__(self, cluster: Any, state: Path, tmp: Path) -> None:
        self.cluster = cluster
        self.client = cluster.client
        self.state = state
        self.tmp = tmp
        self.servers: list[EchoServer] = []
        found = cluster.wait("the Ingress listeners", lambda: _listening(state))
        self.http, self.https = found
        # The cluster as `kompy cluster start` hands it over: the daemon makes the default
        # IngressClass before it answers (process._seed); here the controller makes it as
        # it starts, so an Ingress created before that would get no class at admission.
        cluster.wait("the default IngressClass", lambda: _default_class(self.client))

    def echo(self, tls: bool = False, idle: float = 1.0) -> EchoServer:
        cert = key = None
        if tls:
            cert, key = self.tmp / "backend.crt", self.tmp / "backend.key"
            if not cert.exists():
                issued = self.secret("backend-tls", "backend.local", "secure.shop.local")
                cert.write_bytes(base64.b64decode(issued["data"]["tls.crt"]))
                key.write_bytes(base64.b64decode(issued["data"]["tls.key"]))
        server = EchoServer(cert, key, idle_timeout=idle)
        self.servers.append(server)
        return server

    def secret(self, name: str, *hosts: str) -> dict[str, Any]:
        issue_secret(self.client, self.state, list(hosts), NS, name)
        found: dict[str, Any] = self.client.get("secrets", name, NS)
        return found

    def service(self, name: str, *ports_: int, port_name: str = "http") -> None:
        """A Service without selector whose Endpoints are echo servers on 127.0.0.1."""
        self.client.create({"apiVersion": "v1", "kind": "Service",
                            "metadata": {"name": name, "namespace": NS},
                            "spec": {"ports": [{"name": port_name, "port": 80}]}})
        self.endpoints(name, *ports_, port_name=port_name)

    def endpoints(self, name: str, *ports_: int, port_name: str = "http") -> None:
        subsets = [{"addresses": [{"ip": "127.0.0.1"}],
                    "ports": [{"name": port_name, "port": p}]} for p in ports_]
        obj = {"apiVersion": "v1", "kind": "Endpoints",
               "metadata": {"name": name, "namespace": NS}, "subsets": subsets}
        try:
            current = self.client.get("endpoints", name, NS)
        except Exception:  # noqa: BLE001 - not there yet
            self.client.create(obj)
        else:
            obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            self.client.replace(obj)

    def ingress(self, name: str, rules: list[dict[str, Any]], **spec: Any) -> None:
        annotations = spec.pop("annotations", {})
        self.client.create({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                            "metadata": {"name": name, "namespace": NS,
                                         "annotations": annotations},
                            "spec": {"rules": rules, **spec}})

    def wait_route(self, host: str, path: str = "/", https: bool = False,
                   ca: Path | None = None) -> dict[str, Any]:
        """Wait until the host and path reach a backend (the table is rebuilt as the
        Ingress, Service and Endpoints arrive); the echo's answer."""
        def probe() -> dict[str, Any] | None:
            if ca is not None and not ca.exists():
                return None  # the local CA is made when the first certificate is needed
            try:
                status, _, body = get(self.https if https else self.http, host, path, https,
                                      ca)
            except ssl.SSLError:
                return None  # the Secret has not reached the controller yet: the default one
            return echo_json(body) if status == 200 else None
        return self.cluster.wait(f"{host}{path} answering", probe)

    def update(self, resource: str, name: str, change: Callable[[dict[str, Any]], None]
               ) -> None:
        """Read, change and write back, again when a controller wrote in between."""
        for _ in range(20):
            obj = self.client.get(resource, name, NS)
            change(obj)
            try:
                self.client.replace(obj)
                return
            except Conflict:
                continue
        raise AssertionError(f"{resource}/{name} kept changing")

    def close(self) -> None:
        for server in self.servers:
            server.close()


def _default_class(client: Any) -> bool:
    return any(classes.is_default(c) for c in client.list("ingressclasses")["items"])


def _listening(state: Path) -> tuple[int, int] | None:
    found = ports.read_state(state)
    if found.get("pid") == os.getpid() and found.get("http") and found.get("https"):
        return int(found["http"]), int(found["https"])
    return None


def rule(host: str | None, svc: str, path: str = "/", kind: str = "Prefix") -> dict[str, Any]:
    out: dict[str, Any] = {"http": {"paths": [{"path": path, "pathType": kind, "backend": {
        "service": {"name": svc, "port": {"name": "http"}}}}]}}
    if host:
        out["host"] = host
    return out


@pytest.fixture
def env(fake_cluster: Any, tmp_path: Path) -> Iterator[Env]:
    found = Env(fake_cluster, tmp_path / "state", tmp_path)
    try:
        yield found
    finally:
        found.close()


def test_host_and_path_routing_with_forwarded_headers(env: Env) -> None:
    web, api = env.echo(), env.echo()
    env.service("web", web.port)
    env.service("api", api.port)
    env.ingress("shop", [rule("shop.local", "web"), rule("shop.local", "api", "/api")])
    assert env.wait_route("shop.local", "/api/users")["port"] == api.port
    answer = env.wait_route("shop.local", "/cart?x=1")
    assert answer["port"] == web.port and answer["path"] == "/cart?x=1"
    headers = answer["headers"]
    assert headers["host"] == f"shop.local:{env.http}"
    assert headers["x-forwarded-for"] == headers["x-real-ip"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == f"shop.local:{env.http}"
    assert headers["x-forwarded-port"] == str(env.http)
    assert len(headers["x-request-id"]) == 32
    status, _, body = get(env.http, "other.local", "/")
    assert status == 404 and b"no Ingress rule matches host other.local path /" in body


def test_status_class_and_events(env: Env) -> None:
    env.ingress("broken", [rule("b.local", "missing")])
    ingress = env.cluster.wait("the status", lambda: (env.client.get(
        "ingresses", "broken", NS).get("status") or {}).get("loadBalancer", {}).get("ingress"))
    assert ingress == [{"ip": "127.0.0.1"}]
    assert env.client.get("ingresses", "broken", NS)["spec"]["ingressClassName"] == "kompy"
    assert env.client.get("ingressclasses", "kompy")["metadata"]["annotations"] == {
        "ingressclass.kubernetes.io/is-default-class": "true"}

    def reasons() -> set[str] | None:
        found = {e["reason"] for e in env.client.list("events", NS)["items"]
                 if e["involvedObject"]["name"] == "broken"}
        return found if {"Sync", "ServiceNotFound"} <= found else None
    env.cluster.wait("the events", reasons)
    status, _, body = get(env.http, "b.local")
    assert status == 503 and b'service "default/missing" not found' in body


def test_an_ingress_made_before_the_default_class_is_served_once_it_exists(env: Env) -> None:
    """An Ingress without a class, created while no default IngressClass exists, keeps no
    class (admission defaults it only at creation, as kube-apiserver's DefaultIngressClass
    plugin does); it belongs to whatever class is the default later, and is served as soon
    as that class appears."""
    env.client.delete("ingressclasses", classes.CLASS_NAME)
    # As the controller sees it, not as the API does: its watch of IngressClasses may lag
    # the Ingress's, and then it rightly serves the Ingress until the deletion arrives.
    controller = next(c for c in env.cluster.runtime.controllers
                      if isinstance(c, IngressController))
    env.cluster.wait("no default class", lambda: not _default_class(env.client) and not
                     classes.default_class(controller.classes.list()))
    env.ingress("early", [rule("e.local", "missing")])
    assert "ingressClassName" not in env.client.get("ingresses", "early", NS)["spec"]
    assert get(env.http, "e.local")[0] == 404
    env.client.create(classes.default_class_object())
    ingress = env.cluster.wait("the status", lambda: (env.client.get(
        "ingresses", "early", NS).get("status") or {}).get("loadBalancer", {}).get("ingress"))
    assert ingress == [{"ip": "127.0.0.1"}]
    env.cluster.wait("the Sync event", lambda: [
        e for e in env.client.list("events", NS)["items"]
        if e["involvedObject"]["name"] == "early" and e["reason"] == "Sync"])
    status, _, body = env.cluster.wait("the route", lambda: (
        answer := get(env.http, "e.local")) and answer[0] != 404 and answer)
    assert status == 503 and b'service "default/missing" not found' in body


def test_ingresses_of_other_classes_are_left_alone(env: Env) -> None:
    web = env.echo()
    env.service("web", web.port)
    env.ingress("theirs", [rule("t.local", "web")], ingressClassName="nginx")
    env.ingress("mine", [rule("m.local", "web")])
    env.wait_route("m.local")
    assert get(env.http, "t.local")[0] == 404
    found = env.client.get("ingresses", "theirs", NS)
    assert not (found.get("status") or {}).get("loadBalancer", {}).get("ingress")
    warned = env.cluster.wait("the IngressClassNotFound warning", lambda: [
        e for e in env.client.list("events", NS)["items"]
        if e["reason"] == "IngressClassNotFound"])
    # Rebuilds do not warn again. (Events go out in order from one queue: once the second
    # rebuild's Sync event is there, a warning of the first would be too.)
    env.ingress("another", [rule("a.local", "web")])
    env.wait_route("a.local")
    env.ingress("third", [rule("b.local", "web")])
    env.cluster.wait("the third Ingress's Sync event", lambda: any(
        e["reason"] == "Sync" and e["involvedObject"]["name"] == "third"
        for e in env.client.list("events", NS)["items"]))
    again = [e for e in env.client.list("events", NS)["items"]
             if e["reason"] == "IngressClassNotFound"]
    assert [e.get("count", 1) for e in again] == [e.get("count", 1) for e in warned] == [1]
    # Given to kompy's controller, class nginx is served.
    env.client.create({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                       "metadata": {"name": "nginx"},
                       "spec": {"controller": "kompy.dev/ingress"}})
    env.wait_route("t.local")


def test_keep_alive_and_bodies(env: Env) -> None:
    web = env.echo()
    env.service("web", web.port)
    env.ingress("web", [rule("w.local", "web")],
                annotations={"nginx.ingress.kubernetes.io/proxy-body-size": "4m"})
    env.wait_route("w.local")
    conn = connection(env.http, "w.local")
    try:
        first = echo_json(request(conn, "/1")[2])
        blob = os.urandom(3 * 2**20)  # beyond what is read before the backend is contacted
        status, _, body = request(conn, "/upload", "POST", blob)
        assert status == 200 and echo_json(body)["body_bytes"] == len(blob)
        chunks = (b"x" * 1000 for _ in range(10))  # sent with chunked transfer coding
        status, _, body = request(conn, "/chunked", "POST", chunks)  # type: ignore[arg-type]
        assert status == 200 and echo_json(body)["body_bytes"] == 10000
        status, headers, body = request(conn, "/head", "HEAD")
        assert status == 200 and body == b"" and int(headers["content-length"]) > 0
        assert echo_json(request(conn, "/2")[2])["pod"] == first["pod"]
    finally:
        conn.close()
    too_big = os.urandom(5 * 2**20)
    assert get(env.http, "w.local", "/", method="POST", body=too_big)[0] == 413


def test_responses_stream_through(env: Env) -> None:
    """A long chunked response reaches the client as the backend writes it: its first part
    arrives while the backend still waits to write the rest."""
    server = _Streamer()
    env.service("stream", server.port)
    env.ingress("stream", [rule("s.local", "stream")])
    env.cluster.wait("s.local answering", lambda: get(env.http, "s.local", "/ping")[0] == 200)
    sock = socket.create_connection(("127.0.0.1", env.http), timeout=10)
    try:
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: s.local\r\n\r\n")
        received = b""
        while _Streamer.FIRST not in received:
            received += sock.recv(65536)
        assert not server.released.is_set()  # the rest is not written yet
        server.released.set()
        while not received.endswith(b"0\r\n\r\n"):
            received += sock.recv(65536)
        assert b"transfer-encoding: chunked" in received.lower()
        # Every byte arrived (re-chunked on the way; "p" is in the body only, and once in
        # the first part).
        assert received.count(b"p") == _Streamer.PARTS * len(_Streamer.PART) + 1
    finally:
        sock.close()
        server.close()


class _Streamer:
    """Answers /stream with a first part, then (once released) 64 more parts of 64 KiB."""

    FIRST = b"first part;"
    PART = b"p" * 65536
    PARTS = 64

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        streamer = self
        self.released = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self.send_response(200)
                if self.path != "/stream":
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.chunk(streamer.FIRST)
                streamer.released.wait(10)
                for _ in range(streamer.PARTS):
                    self.chunk(streamer.PART)
                self.wfile.write(b"0\r\n\r\n")

            def chunk(self, data: bytes) -> None:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_websocket_upgrade_is_relayed(env: Env) -> None:
    web = env.echo()
    env.service("web", web.port)
    env.ingress("ws", [rule("ws.local", "web")])
    env.wait_route("ws.local")
    sock = socket.create_connection(("127.0.0.1", env.http), timeout=5)
    try:
        sock.sendall(b"GET /chat HTTP/1.1\r\nHost: ws.local\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     b"Sec-WebSocket-Version: 13\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 101 ")
        assert b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head  # RFC 6455's example accept key
        sock.sendall(b"\x81\x05hello")
        echoed = head.split(b"\r\n\r\n", 1)[1]
        while len(echoed) < 7:
            echoed += sock.recv(4096)
        assert echoed == b"\x81\x05hello"
    finally:
        sock.close()


def test_https_edge_passthrough_and_re_encryption(env: Env) -> None:
    ca = env.state / "ingress-ca.crt"
    web, secure = env.echo(), env.echo(tls=True)
    env.service("web", web.port)
    env.service("secure", secure.port)
    env.secret("shop-tls", "shop.local", "*.shop.local")
    env.ingress("edge", [rule("shop.local", "web")],
                tls=[{"hosts": ["shop.local"], "secretName": "shop-tls"}])
    env.ingress("through", [rule("secure.shop.local", "secure")],
                annotations={"nginx.ingress.kubernetes.io/ssl-passthrough": "true"})
    env.ingress("again", [rule("api.shop.local", "secure")],
                tls=[{"hosts": ["api.shop.local"], "secretName": "shop-tls"}],
                annotations={"nginx.ingress.kubernetes.io/backend-protocol": "HTTPS",
                             "nginx.ingress.kubernetes.io/proxy-ssl-secret": "default/shop-tls",
                             "nginx.ingress.kubernetes.io/proxy-ssl-verify": "on",
                             "nginx.ingress.kubernetes.io/proxy-ssl-name": "backend.local"})
    edge = env.wait_route("shop.local", https=True, ca=ca)
    assert edge["port"] == web.port and edge["tls"] is False
    assert edge["headers"]["x-forwarded-proto"] == "https"
    through = env.wait_route("secure.shop.local", https=True, ca=ca)
    assert through["tls"] is True and through["sni"] == "secure.shop.local"
    assert "x-forwarded-for" not in through["headers"]  # nothing in between read it
    again = env.wait_route("api.shop.local", https=True, ca=ca)
    assert again["tls"] is True and again["sni"] == "backend.local"
    assert again["headers"]["x-forwarded-proto"] == "https"
    # Plain HTTP to a TLS host: 308 to HTTPS, on the port the Ingress has.
    status, headers, _ = get(env.http, "shop.local", "/a?b=1")
    assert status == 308
    assert headers["location"] == f"https://shop.local:{env.https}/a?b=1"
    # An unknown host gets the default certificate, which no CA signed.
    with pytest.raises(ssl.SSLCertVerificationError):
        get(env.https, "unknown.local", https=True, ca=ca)
    assert get(env.https, "unknown.local", https=True)[0] == 404
    # Plain HTTP on the HTTPS port is refused as nginx refuses it.
    status, _, body = get(env.https, "shop.local")
    assert status == 400 and b"plain HTTP request was sent to the HTTPS port" in body


def test_auto_tls_issues_certificates_from_the_local_ca(env: Env) -> None:
    web = env.echo()
    env.service("web", web.port)
    env.ingress("auto", [rule("auto.local", "web"), rule("named.local", "web")],
                tls=[{"hosts": ["auto.local"]},
                     {"hosts": ["named.local"], "secretName": "not-made-yet"}],
                annotations={"kompy.dev/auto-tls": "true"})
    ca = env.state / "ingress-ca.crt"
    for host in ("auto.local", "named.local"):
        answer = env.wait_route(host, https=True, ca=ca)  # verified against the CA
        assert answer["headers"]["x-forwarded-proto"] == "https"
    assert not [e for e in env.client.list("events", NS)["items"]
                if e["involvedObject"]["name"] == "auto" and e["type"] == "Warning"]


def test_a_backend_certificate_that_does_not_verify_is_a_502(env: Env) -> None:
    secure = env.echo(tls=True)
    env.service("secure", secure.port)
    env.secret("other-ca", "x.local")  # same CA, but the backend's name is not checked...
    env.ingress("strict", [rule("strict.local", "secure")],
                annotations={"nginx.ingress.kubernetes.io/backend-protocol": "HTTPS",
                             "nginx.ingress.kubernetes.io/proxy-ssl-secret": "default/other-ca",
                             "nginx.ingress.kubernetes.io/proxy-ssl-verify": "on",
                             "nginx.ingress.kubernetes.io/proxy-ssl-name": "wrong.local"})

    def refused() -> bytes | None:
        # (Until the Secret reaches the controller, the CA is missing: another 502.)
        status, _, body = get(env.http, "strict.local")
        return body if status == 502 and b"Hostname mismatch" in body else None
    body = env.cluster.wait("a 502 for the name", refused)
    assert b"the backend's certificate does not verify: Hostname mismatch, certificate is " \
           b"not valid for 'wrong.local'" in body


def test_requests_go_to_the_next_endpoint_when_one_refuses(env: Env) -> None:
    web = env.echo()
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    env.service("web", dead.getsockname()[1], web.port)
    env.ingress("web", [rule("r.local", "web")])
    env.wait_route("r.local")
    for _ in range(6):
        status, _, body = get(env.http, "r.local")
        assert status == 200 and echo_json(body)["port"] == web.port
    dead.close()


def test_a_kept_alive_connection_the_backend_drops_is_retried(env: Env) -> None:
    """The race of keep-alive: the backend closes an idle connection just as a request goes
    out on it. The request is sent again on a new connection instead of failing."""
    server = _DropSecond()
    env.service("flaky", server.port)
    env.ingress("flaky", [rule("f.local", "flaky")])
    env.cluster.wait("f.local answering", lambda: get(env.http, "f.local")[0] == 200)
    for _ in range(4):
        assert get(env.http, "f.local")[0] == 200
    assert server.dropped >= 1
    server.close()


class _DropSecond:
    """A keep-alive server that answers the first request of a connection and closes the
    connection, without answering, when a second one arrives."""

    RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.dropped = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                more = conn.recv(4096)
                if not more:
                    return
                data += more
            conn.sendall(self.RESPONSE)
            if conn.recv(4096):
                self.dropped += 1

    def close(self) -> None:
        self.sock.close()


def test_load_balancer_services_get_an_address_and_node_ports_listen_on_node_ips(
        env: Env) -> None:
    web = env.echo()
    env.service("lb", web.port)
    port = _free_port()
    env.update("services", "lb", lambda svc: svc["spec"].update(
        type="LoadBalancer", ports=[{"name": "http", "port": port}]))
    found = env.cluster.wait("the load balancer's address", lambda: (env.client.get(
        "services", "lb", NS).get("status") or {}).get("loadBalancer", {}).get("ingress"))
    assert found == [{"ip": "127.0.0.1"}]
    node = env.client.get("nodes", "kompy")
    node["status"]["addresses"].append({"type": "InternalIP", "address": "127.0.0.2"})
    env.client.replace_status(node)
    node_port = env.client.get("services", "lb", NS)["spec"]["ports"][0]["nodePort"]
    env.cluster.wait("the NodePort on the node's second address",
                     lambda: _answers("127.0.0.2", node_port))
    def cluster_ip(svc: dict[str, Any]) -> None:
        svc["spec"]["type"] = "ClusterIP"
        for p in svc["spec"]["ports"]:
            p.pop("nodePort", None)
    env.update("services", "lb", cluster_ip)
    env.cluster.wait("the address taken away", lambda: not (env.client.get(
        "services", "lb", NS).get("status") or {}).get("loadBalancer", {}).get("ingress"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return sock.recv(16).startswith(b"HTTP/1.")
    except OSError:
        return False


def test_the_controller_is_wired_into_the_runtime(fake_node: Any) -> None:
    cluster = fake_node.start()
    assert cluster is not None
    assert fake_node.runtime is not None
    found = [c for c in fake_node.runtime.controllers if isinstance(c, IngressController)]
    assert len(found) == 1 and found[0].listeners
    cluster.wait("the Ingress listeners", lambda: _listening(fake_node.tmp_path / "state"))
    cluster.wait("the default IngressClass the controller makes",
                 lambda: _default_class(fake_node.client))
