"""``kompy up`` prints where a project's Ingresses answer, on a real Docker engine.

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
from enginekit import kompy, own_cluster

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

