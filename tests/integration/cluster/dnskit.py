"""Helpers for the cluster DNS and NetworkPolicy tests: a local upstream DNS server, a
cluster of the module's own (with its ``kubelet.yaml``), and DNS questions asked from pods."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class StaticDns:
    """An upstream for the cluster DNS on a loopback address of its own, port 53 (resolver
    files name no ports): fixed A records, NXDOMAIN for the rest. The machine has no outside
    network, so this stands for the host's resolvers."""

    def __init__(self, records: dict[str, str]) -> None:
        self.records = records
        self.asked: list[str] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _ in range(20):
            a, b, c = random.randint(64, 250), random.randint(0, 255), random.randint(1, 254)
            self.host = f"127.{a}.{b}.{c}"
            try:
                self.sock.bind((self.host, 53))
                break
            except OSError:
                continue
        else:
            raise RuntimeError("no free loopback address for the test's upstream DNS")
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self) -> None:
        self.sock.close()

    def _serve(self) -> None:
        while True:
            try:
                wire, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            try:
                query = dns.message.from_wire(wire)
            except Exception:  # noqa: BLE001 - a test server ignores garbage
                continue
            name = query.question[0].name.to_text().rstrip(".").lower()
            self.asked.append(name)
            reply = dns.message.make_response(query)
            if name in self.records:
                if query.question[0].rdtype == dns.rdatatype.A:
                    reply.answer.append(dns.rrset.from_text(name + ".", 60, "IN", "A",
                                                            self.records[name]))
            else:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            with contextlib.suppress(OSError):
                self.sock.sendto(reply.to_wire(), peer)


@contextlib.contextmanager
def own_cluster(tmp: Path, kubelet_yaml: str = "") -> Iterator[dict[str, Any]]:
    """A cluster of its own (a unique name, state in ``tmp``), reset at the end."""
    from kompy.cluster.daemon import process as daemon

    name = f"d{uuid.uuid4().hex[:8]}"
    home = tmp / "home"
    (home / name).mkdir(parents=True, mode=0o700)
    if kubelet_yaml:
        (home / name / "kubelet.yaml").write_text(kubelet_yaml)
    old = os.environ.get("KOMPY_HOME")
    os.environ["KOMPY_HOME"] = str(home)
    try:
        client = daemon.ensure_cluster(name)
        yield {"client": client, "name": name, "home": home, "dir": home / name}
    finally:
        log_file = home / name / "daemon.log"
        if log_file.exists():
            shutil.copy(log_file, home / f"daemon-{name}.log")
        try:
            daemon.reset(name)
        finally:
            if old is None:
                os.environ.pop("KOMPY_HOME", None)
            else:
                os.environ["KOMPY_HOME"] = old


def run_in(client: Any, pod: str, ns: str, command: str) -> tuple[int, str]:
    code, out = client.exec(pod, ns, ["sh", "-c", command])
    return int(code), str(out.decode(errors="replace"))


def nslookup(client: Any, pod: str, ns: str, name: str, qtype: str = "") -> str:
    """busybox nslookup's output (its exit status is not reliable: it queries every search
    domain and reports the failures too)."""
    flag = f"-type={qtype} " if qtype else ""
    return run_in(client, pod, ns, f"nslookup {flag}{name} 2>&1")[1]
