"""``kompy up`` and ``kompy dev`` print where a project's Ingresses answer, on a real Docker
engine.

A cluster of this module's own (temp KOMPY_HOME, unique name, the Ingress on free ports),
reset at the end. The printed ``curl --resolve`` command is followed as curl would: a
connection to 127.0.0.1 at the printed port with the printed Host name.
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from enginekit import Session, kompy, own_cluster, wait_said

pytestmark = pytest.mark.integration

COMPOSE = """\
x-serve: &serve
  - sh
  - -c
  - mkdir -p /www && echo "hello from $$HOSTNAME" > /www/index.html && httpd -f -p 8000 -h /www &
    trap 'kill $$!; exit 0' TERM; wait
services:
  shop:
    image: kompy/busybox:1
    command: *serve
    expose: ["8000"]
    x-kompy:
      ingress: {hosts: [shop.test, shop.test/api]}
  legacy:
    image: kompy/busybox:1
    command: *serve
    expose: ["8000"]
    labels:
      kompose.service.expose: "legacy.test"
      kompose.service.expose.ingress-class-name: nginx
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with own_cluster(tmp_path_factory.mktemp("kompy-home"), "upi",
                     KOMPY_INGRESS_PORTS="0,0") as env:   # the Ingress on free ports
        yield env


def _get(port: int, host: str, path: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def test_up_prints_each_ingress_route_and_how_to_reach_it(env: dict[str, str],
                                                           tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    up = kompy(env, "up", "-p", "ingressup", cwd=tmp_path)
    assert up.returncode == 0, up.stdout + up.stderr
    lines = re.findall(r"^shop: http://shop\.test:(\d+)(/\S*)  \(Ingress shop: curl --resolve "
                       r"shop\.test:(\d+):127\.0\.0\.1 http://shop\.test:\d+(\S*)\)$",
                       up.stdout, re.MULTILINE)
    assert [(path, curl_path) for _, path, _, curl_path in lines] == [("/", "/"),
                                                                     ("/api", "/api")], up.stdout
    port = int(lines[0][0])
    assert {int(p) for p, _, q, _ in lines} == {port} == {int(q) for _, _, q, _ in lines}
    assert "add this line to /etc/hosts: 127.0.0.1 shop.test" in up.stdout
    # What the printed command does: 127.0.0.1 at that port, Host shop.test.
    status, body = _get(port, "shop.test", "/")
    assert (status, body.startswith("hello from shop-")) == (200, True), body
    # The Ingress of a class no controller serves gets no URL, but the reason.
    assert "legacy: http" not in up.stdout
    assert re.search(r'ingress/legacy has no address yet: ingress class "nginx" does not exist',
                     up.stderr), up.stderr
    down = kompy(env, "down", "-p", "ingressup", cwd=tmp_path)
    assert down.returncode == 0, down.stdout + down.stderr


def _ingress_lines(output: list[str], host: str) -> list[str]:
    return [line for line in output if line.startswith(f"[kompy] shop: http://{host}:")]


def test_dev_prints_the_urls_and_again_when_the_rules_change(env: dict[str, str],
                                                               tmp_path: Path) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text(COMPOSE)
    session = Session(tmp_path, {**env, "PYTHONUNBUFFERED": "1"}, "-p", "ingressdev",
                      "--no-logs")
    output = session.output
    try:
        wait_said("URLs after the first deploy",
                  lambda: len(_ingress_lines(output, "shop.test")) == 2, 240, output)
        first = _ingress_lines(output, "shop.test")
        assert [re.sub(r"(?<=test):\d+", ":PORT", line) for line in first] == [
            f"[kompy] shop: http://shop.test:PORT{path}  (Ingress shop: curl --resolve "
            f"shop.test:PORT:127.0.0.1 http://shop.test:PORT{path})\n" for path in ("/", "/api")]
        wait_said("the /etc/hosts line", lambda: any(
            "add this line to /etc/hosts: 127.0.0.1 shop.test\n" in line for line in output),
            10, output)
        wait_said("the unserved Ingress's warning", lambda: any(
            'ingress/legacy has no address yet: ingress class "nginx" does not exist' in line
            for line in output), 30, output)
        # A new host for the service: the Ingress's rules change, its URLs are said again.
        compose.write_text(COMPOSE.replace("[shop.test, shop.test/api]",
                                           "[shop.test, shop.test/api, admin.test]"))
        wait_said("URLs after the change", lambda: _ingress_lines(output, "admin.test"),
                  180, output)
        assert len(_ingress_lines(output, "shop.test")) == 4, "".join(output)
        assert any("/etc/hosts: 127.0.0.1 shop.test admin.test" in line for line in output)
        # The unchanged Ingress of the class no controller serves is not warned of again.
        assert sum("ingress/legacy has no address yet" in line for line in output) == 1
    finally:
        code, _ = session.interrupt()
    assert code == 0, "".join(output)
