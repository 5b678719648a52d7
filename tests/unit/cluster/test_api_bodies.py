"""Request bodies and headers under abuse (issue #12, items 3 and 10): the token is checked
before a body is read, bodies are bounded (413), a bad length is a 400, never a hang."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from kompy.cluster.apiserver.httpio import MAX_BODY_BYTES
from kompy.cluster.apiserver.server import ApiServer

TOKEN = "test-token"
AUTH = f"Authorization: Bearer {TOKEN}\r\n"


def exchange(server: ApiServer, head: str, body: bytes = b"", timeout: float = 20.0
             ) -> tuple[int, dict[str, str], bytes, socket.socket]:
    """Send raw bytes; (status, headers, body, socket) of the first answer. An answer that
    waits for a body never sent comes only after the server's body timeout (60 s): within
    this socket's timeout it came at once, however loaded the machine."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    sock.sendall(head.encode() + body)
    return (*read_answer(sock), sock)


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed without an answer (got {data!r})"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the answer"
        rest += chunk
    return status, headers, rest[:length]


def closed(sock: socket.socket) -> bool:
    """Whether the server closed the connection (EOF within the socket's timeout)."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def configmap(name: str, size: int = 0) -> bytes:
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                       "data": {"k": "x" * size}}).encode()


def test_a_body_without_a_token_is_refused_before_it_is_read(server: ApiServer) -> None:
    """400 MB announced, none sent: the 401 comes at once (the old server waited for the
    400 MB, and held them all in memory)."""
    status, _, body, sock = exchange(server, "POST /api/v1/namespaces/default/configmaps "
                                             "HTTP/1.1\r\nHost: x\r\nContent-Length: "
                                             f"{400 * 1024 * 1024}\r\n\r\n")
    assert status == 401 and json.loads(body)["reason"] == "Unauthorized"
    assert closed(sock)               # the unread body cannot be taken for the next request


def test_a_body_over_3_mib_is_413(server: ApiServer) -> None:
    answer = requests.post(f"{server.url}/api/v1/namespaces/default/configmaps",
                           data=configmap("big", MAX_BODY_BYTES),
                           headers={"Authorization": f"Bearer {TOKEN}",
                                    "Content-Type": "application/json"}, timeout=10)
    assert answer.status_code == 413
    assert answer.json() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "Request entity too large: limit is 3145728",
        "reason": "RequestEntityTooLarge", "code": 413}


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", "0x10", "99999999999999999999999"])
def test_a_bad_content_length_is_a_400_at_once(server: ApiServer, length: str) -> None:
    status, _, body, sock = exchange(server, "POST /api/v1/namespaces/default/configmaps "
                                             f"HTTP/1.1\r\nHost: x\r\n{AUTH}"
                                             f"Content-Length: {length}\r\n\r\n")
    assert status == 400 and json.loads(body)["kind"] == "Status"
    assert "Content-Length" in json.loads(body)["message"]
    assert closed(sock)


def test_chunked_bodies_are_read_and_bounded(server: ApiServer) -> None:
    def chunks(data: bytes, size: int = 1000) -> Iterator[bytes]:
        for start in range(0, len(data), size):
            yield data[start:start + size]
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    url = f"{server.url}/api/v1/namespaces/default/configmaps"
    created = requests.post(url, data=chunks(configmap("small", 5000)), headers=headers,
                            timeout=10)
    assert created.status_code == 201 and created.json()["data"]["k"] == "x" * 5000
    big = requests.post(url, data=chunks(configmap("big", MAX_BODY_BYTES), 65536),
                        headers=headers, timeout=10)
    assert big.status_code == 413 and big.json()["reason"] == "RequestEntityTooLarge"


def test_a_malformed_chunked_body_is_a_400(server: ApiServer) -> None:
    status, _, body, sock = exchange(server, "POST /api/v1/namespaces/default/configmaps "
                                             f"HTTP/1.1\r\nHost: x\r\n{AUTH}"
                                             "Transfer-Encoding: chunked\r\n\r\nzz\r\n")
    assert status == 400 and "chunk" in json.loads(body)["message"]
    assert closed(sock)
    status, _, body, _ = exchange(server, "POST /api/v1/namespaces/default/configmaps "
                                          f"HTTP/1.1\r\nHost: x\r\n{AUTH}"
                                          "Transfer-Encoding: gzip\r\n\r\n")
    assert status == 400 and "Transfer-Encoding" in json.loads(body)["message"]


def test_expect_100_continue_only_after_the_token_is_checked(server: ApiServer) -> None:
    path = "/api/v1/namespaces/default/configmaps"
    body = configmap("cont")
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n")
    status, _, _, _ = exchange(server, head + "\r\n")
    assert status == 401                        # no "100 Continue" first
    status, _, _, sock = exchange(server, head + AUTH + "\r\n")
    assert status == 100
    sock.sendall(body)
    assert read_answer(sock)[0] == 201


def test_a_client_that_stops_half_way_frees_its_thread(server: ApiServer) -> None:
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(f"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n{AUTH}"
                 "Content-Length: 1000\r\n\r\n{".encode())
    sock.close()
    deadline = time.monotonic() + 30
    while server.httpd.connections and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not server.httpd.connections


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_bearer_scheme_is_case_insensitive(server: ApiServer, scheme: str) -> None:
    answer = requests.get(f"{server.url}/api/v1/namespaces",
                          headers={"Authorization": f"{scheme} {TOKEN}"}, timeout=5)
    assert answer.status_code == 200


@pytest.mark.parametrize("header", [f"Basic {TOKEN}", TOKEN, "Bearer", "Bearer ",
                                    f"Bearer {TOKEN}x"])
def test_anything_but_the_token_is_refused(server: ApiServer, header: str) -> None:
    answer = requests.get(f"{server.url}/api/v1/namespaces",
                          headers={"Authorization": header}, timeout=5)
    assert answer.status_code == 401 and answer.json()["kind"] == "Status"


def test_an_unknown_media_type_is_415(server: ApiServer) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = f"{server.url}/api/v1/namespaces/default/configmaps"
    answer = requests.post(url, data=configmap("a"),
                           headers={**headers, "Content-Type": "text/plain"}, timeout=5)
    assert answer.status_code == 415 and answer.json()["reason"] == "UnsupportedMediaType"
    assert requests.post(url, data=configmap("a"), headers={
        **headers, "Content-Type": "application/json"}, timeout=5).status_code == 201
    patch = requests.patch(f"{url}/a", data=b"{}", headers={
        **headers, "Content-Type": "application/x-unknown-patch+json"}, timeout=5)
    assert patch.status_code == 415


def test_a_yaml_body_is_read_as_kube_apiserver_does(server: ApiServer) -> None:
    answer = requests.post(f"{server.url}/api/v1/namespaces/default/configmaps",
                           data=b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\n"
                                b"data:\n  k: v\n",
                           headers={"Authorization": f"Bearer {TOKEN}",
                                    "Content-Type": "application/yaml"}, timeout=5)
    assert answer.status_code == 201 and answer.json()["data"] == {"k": "v"}
