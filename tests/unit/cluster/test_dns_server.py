"""The cluster DNS: the zone's records (the Kubernetes DNS specification), the server over
UDP and TCP on loopback, forwarding to a local upstream, and the zone kept from the API."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from kompy.cluster.dns.clusterdns import entry_for
from kompy.cluster.dns.server import DnsServer
from kompy.cluster.dns.upstream import Upstream
from kompy.cluster.dns.zone import Endpoint, Port, ServiceEntry, Zone


def sample_zone() -> Zone:
    zone = Zone("cluster.local", dns_ip="10.213.0.1")
    http = (Port("http", 80, "TCP"), Port("", 9000, "UDP"))
    zone.set(ServiceEntry("shop", "web", "ClusterIP", cluster_ip="10.213.0.9", ports=http))
    zone.set(ServiceEntry("shop", "db", "Headless", ports=(Port("pg", 5432, "TCP"),),
                          endpoints=(Endpoint("10.224.0.7", "db-0", (Port("pg", 5432, "TCP"),)),
                                     Endpoint("10.224.0.8", "", (Port("pg", 5432, "TCP"),)))))
    zone.set(ServiceEntry("shop", "empty", "Headless"))
    zone.set(ServiceEntry("shop", "alias", "ExternalName",
                          external_name="web.shop.svc.cluster.local"))
    zone.set(ServiceEntry("shop", "outside", "ExternalName", external_name="db.example.test"))
    return zone


def data(answer: Any) -> list[tuple[str, str]]:
    return [(r.type, r.data) for r in answer.records]


def test_service_names() -> None:
    zone = sample_zone()
    assert data(zone.lookup("web.shop.svc.cluster.local.", "A")) == [("A", "10.213.0.9")]
    assert data(zone.lookup("WEB.Shop.svc.cluster.local", "A")) == [("A", "10.213.0.9")]
    nodata = zone.lookup("web.shop.svc.cluster.local", "AAAA")
    assert nodata.rcode == "NOERROR" and not nodata.records  # the name exists
    assert zone.lookup("nope.shop.svc.cluster.local", "A").rcode == "NXDOMAIN"
    assert zone.lookup("web.other.svc.cluster.local", "A").rcode == "NXDOMAIN"
    assert zone.lookup("shop.svc.cluster.local", "A").rcode == "NOERROR"
    assert zone.lookup("other.svc.cluster.local", "A").rcode == "NXDOMAIN"
    assert zone.lookup("example.com", "A").forward


def test_headless_endpoints_and_their_names() -> None:
    zone = sample_zone()
    assert data(zone.lookup("db.shop.svc.cluster.local", "A")) == [
        ("A", "10.224.0.7"), ("A", "10.224.0.8")]
    assert data(zone.lookup("db-0.db.shop.svc.cluster.local", "A")) == [("A", "10.224.0.7")]
    assert data(zone.lookup("10-224-0-8.db.shop.svc.cluster.local", "A")) == [
        ("A", "10.224.0.8")]
    # No ready endpoint: NXDOMAIN, as CoreDNS answers.
    assert zone.lookup("empty.shop.svc.cluster.local", "A").rcode == "NXDOMAIN"


def test_srv_records() -> None:
    zone = sample_zone()
    srv = zone.lookup("_http._tcp.web.shop.svc.cluster.local", "SRV")
    assert data(srv) == [("SRV", "0 100 80 web.shop.svc.cluster.local.")]
    assert [(r.name, r.data) for r in srv.additional] == [
        ("web.shop.svc.cluster.local", "10.213.0.9")]
    headless = zone.lookup("_pg._tcp.db.shop.svc.cluster.local", "SRV")
    assert data(headless) == [("SRV", "0 100 5432 db-0.db.shop.svc.cluster.local."),
                              ("SRV", "0 100 5432 10-224-0-8.db.shop.svc.cluster.local.")]
    assert zone.lookup("_http._udp.web.shop.svc.cluster.local", "SRV").rcode == "NXDOMAIN"
    assert zone.lookup("_http._tcp.web.shop.svc.cluster.local", "A").rcode == "NOERROR"
    assert data(zone.lookup("web.shop.svc.cluster.local", "SRV")) == [
        ("SRV", "0 100 80 web.shop.svc.cluster.local.")]  # the named ports only


def test_external_names_are_cnames_followed_in_the_zone() -> None:
    zone = sample_zone()
    inside = zone.lookup("alias.shop.svc.cluster.local", "A")
    assert data(inside) == [("CNAME", "web.shop.svc.cluster.local."), ("A", "10.213.0.9")]
    outside = zone.lookup("outside.shop.svc.cluster.local", "A")
    assert data(outside) == [("CNAME", "db.example.test.")] and outside.chase == "db.example.test"
    assert data(zone.lookup("outside.shop.svc.cluster.local", "CNAME")) == [
        ("CNAME", "db.example.test.")]


def test_pods_reverse_and_version() -> None:
    zone = sample_zone()
    assert data(zone.lookup("10-224-0-9.shop.pod.cluster.local", "A")) == [("A", "10.224.0.9")]
    assert zone.lookup("10-224-0.shop.pod.cluster.local", "A").rcode == "NXDOMAIN"
    assert data(zone.lookup("9.0.213.10.in-addr.arpa", "PTR")) == [
        ("PTR", "web.shop.svc.cluster.local.")]
    assert data(zone.lookup("7.0.224.10.in-addr.arpa", "PTR")) == [
        ("PTR", "db-0.db.shop.svc.cluster.local.")]
    assert zone.lookup("1.1.1.1.in-addr.arpa", "PTR").forward
    assert data(zone.lookup("dns-version.cluster.local", "TXT")) == [("TXT", '"1.1.0"')]
    assert data(zone.lookup("ns.dns.cluster.local", "A")) == [("A", "10.213.0.1")]


def test_entries_from_api_objects() -> None:
    svc = {"metadata": {"name": "web", "namespace": "shop"},
           "spec": {"clusterIP": "10.96.0.12", "ports": [{"name": "http", "port": 80}]}}
    assert entry_for(svc, None) is None  # the API's address, before the proxy's: none yet
    svc["spec"]["clusterIP"] = "10.213.0.17"
    assert entry_for(svc, None) == ServiceEntry(
        "shop", "web", "ClusterIP", cluster_ip="10.213.0.17", ports=(Port("http", 80, "TCP"),))
    headless = {"metadata": {"name": "db", "namespace": "shop"}, "spec": {"clusterIP": "None"}}
    endpoints = {"subsets": [{"ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
                              "addresses": [{"ip": "10.224.0.7", "hostname": "db-0"}],
                              "notReadyAddresses": [{"ip": "10.224.0.8"}]}]}
    entry = entry_for(headless, endpoints)
    assert entry is not None and entry.endpoints == (
        Endpoint("10.224.0.7", "db-0", (Port("pg", 5432, "TCP"),)),)
    external = {"metadata": {"name": "db", "namespace": "shop"},
                "spec": {"type": "ExternalName", "externalName": "db.example.test"}}
    entry = entry_for(external, None)
    assert entry is not None and entry.external_name == "db.example.test"


# -- the server ---------------------------------------------------------------------------------

class StaticDns:
    """A local upstream: fixed A records over UDP on 127.0.0.1 (no outside network here)."""

    def __init__(self, records: dict[str, str]) -> None:
        self.records = records
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.asked: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                wire, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            query = dns.message.from_wire(wire)
            name = query.question[0].name.to_text().rstrip(".")
            self.asked.append(name)
            reply = dns.message.make_response(query)
            if name in self.records and query.question[0].rdtype == dns.rdatatype.A:
                reply.answer.append(dns.rrset.from_text(name + ".", 60, "IN", "A",
                                                        self.records[name]))
            elif name not in self.records:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(reply.to_wire(), peer)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[DnsServer, StaticDns]]:
    upstream = StaticDns({"db.example.test": "192.0.2.10", "www.example.test": "192.0.2.80"})
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.1\n")
    server = DnsServer("127.0.0.1", sample_zone(), Upstream(str(conf), port=upstream.port,
                                                             timeout=1.0), port=0)
    try:
        yield server, upstream
    finally:
        server.close()
        upstream.sock.close()


def ask(server: DnsServer, name: str, qtype: str = "A", tcp: bool = False,
        **kw: Any) -> Any:
    query = dns.message.make_query(name, qtype, **kw)
    if tcp:
        return dns.query.tcp(query, "127.0.0.1", timeout=3, port=server.port)
    return dns.query.udp(query, "127.0.0.1", timeout=3, port=server.port)


def answers(reply: Any) -> list[str]:
    return sorted(f"{rr.name} {dns.rdatatype.to_text(rr.rdtype)} {item}"
                  for rr in reply.answer for item in rr)


def test_udp_and_tcp_answers(served: tuple[DnsServer, StaticDns]) -> None:
    server, _ = served
    reply = ask(server, "web.shop.svc.cluster.local")
    assert answers(reply) == ["web.shop.svc.cluster.local. A 10.213.0.9"]
    assert reply.flags & dns.flags.AA and reply.answer[0].ttl == 5
    assert answers(ask(server, "db.shop.svc.cluster.local", tcp=True)) == [
        "db.shop.svc.cluster.local. A 10.224.0.7", "db.shop.svc.cluster.local. A 10.224.0.8"]
    missing = ask(server, "nope.shop.svc.cluster.local")
    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert missing.authority[0].rdtype == dns.rdatatype.SOA  # for negative caching
    srv = ask(server, "_pg._tcp.db.shop.svc.cluster.local", "SRV")
    assert len(srv.answer[0]) == 2 and len(srv.additional) == 2


def test_forwarding_and_external_names(served: tuple[DnsServer, StaticDns]) -> None:
    server, upstream = served
    assert answers(ask(server, "www.example.test")) == ["www.example.test. A 192.0.2.80"]
    assert ask(server, "nothing.example.test").rcode() == dns.rcode.NXDOMAIN
    assert answers(ask(server, "outside.shop.svc.cluster.local")) == [
        "db.example.test. A 192.0.2.10", "outside.shop.svc.cluster.local. CNAME db.example.test."]
    assert "web.shop.svc.cluster.local" not in upstream.asked  # the zone's own names stay home


def test_truncation_and_retry_over_tcp(tmp_path: Path) -> None:
    zone = Zone()
    many = tuple(Endpoint(f"10.224.1.{i}", f"pod-{i:03d}-with-a-long-hostname") for i in range(60))
    zone.set(ServiceEntry("big", "set", "Headless", endpoints=many))
    conf = tmp_path / "resolv.conf"
    conf.write_text("")
    server = DnsServer("127.0.0.1", zone, Upstream(str(conf)), port=0)
    try:
        query = dns.message.make_query("set.big.svc.cluster.local", "A", use_edns=False)
        udp = dns.query.udp(query, "127.0.0.1", timeout=3, port=server.port,
                            raise_on_truncation=False)
        assert udp.flags & dns.flags.TC
        full = dns.query.tcp(query, "127.0.0.1", timeout=3, port=server.port)
        assert len(full.answer[0]) == 60
    finally:
        server.close()


def test_policy_drops_questions(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("")
    asked: list[tuple[str, str]] = []

    def allow(ip: str, protocol: str) -> bool:
        asked.append((ip, protocol))
        return False

    server = DnsServer("127.0.0.1", sample_zone(), Upstream(str(conf)), port=0, allow=allow)
    try:
        with pytest.raises(dns.exception.Timeout):
            dns.query.udp(dns.message.make_query("web.shop.svc.cluster.local", "A"),
                          "127.0.0.1", timeout=0.5, port=server.port)
        with contextlib.suppress(OSError, EOFError, dns.exception.DNSException):
            dns.query.tcp(dns.message.make_query("web.shop.svc.cluster.local", "A"),
                          "127.0.0.1", timeout=0.5, port=server.port)
        assert asked == [("127.0.0.1", "UDP"), ("127.0.0.1", "TCP")]
    finally:
        server.close()


# -- the whole cluster, on the in-memory engine -------------------------------------------------

def test_the_zone_follows_services_endpoints_and_pods(fake_node: Any) -> None:
    cluster = fake_node.start()
    client = fake_node.client
    port = fake_node.runtime.dns.server.port
    client.create({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": "db", "namespace": "default"},
                   "spec": {"clusterIP": "None", "selector": {"app": "db"},
                            "publishNotReadyAddresses": True,
                            "ports": [{"name": "pg", "port": 5432}]}})
    client.create({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": "web", "namespace": "default"},
                   "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]}})
    client.create({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "db-0", "namespace": "default", "labels": {"app": "db"}},
                   "spec": {"hostname": "db-0", "subdomain": "db",
                            "hostAliases": [{"ip": "10.9.9.9", "hostnames": ["legacy.local"]}],
                            "containers": [{"name": "app", "image": "kompy/busybox:1"}]}})

    def lookup(name: str, qtype: str = "A") -> list[str]:
        query = dns.message.make_query(name, qtype)
        return answers(dns.query.udp(query, "127.0.0.1", timeout=3, port=port))

    pod = cluster.wait("db-0's IP", lambda: (cluster.pod("db-0") or {}).get(
        "status", {}).get("podIP"))
    cluster.wait("db-0.db to resolve", lambda: lookup("db-0.db.default.svc.cluster.local") == [
        f"db-0.db.default.svc.cluster.local. A {pod}"])
    srv = lookup("_pg._tcp.db.default.svc.cluster.local", "SRV")
    assert srv == ["_pg._tcp.db.default.svc.cluster.local. SRV 0 100 5432 "
                   "db-0.db.default.svc.cluster.local."]
    cluster_ip = cluster.wait("web's cluster IP from the proxy", lambda: (
        client.get("services", "web", "default")["spec"]["clusterIP"]).startswith("10.213.")
        and client.get("services", "web", "default")["spec"]["clusterIP"])
    cluster.wait("web to resolve", lambda: lookup("web.default.svc.cluster.local") == [
        f"web.default.svc.cluster.local. A {cluster_ip}"])
    folder = next((fake_node.tmp_path / "state" / "pods").iterdir())
    assert (folder / "resolv.conf").read_text().startswith(
        "search default.svc.cluster.local svc.cluster.local cluster.local")
    assert "nameserver 127.0.0.1\noptions ndots:5\n" in (folder / "resolv.conf").read_text()
    hosts = (folder / "hosts").read_text()
    assert f"{pod}\tdb-0.db.default.svc.cluster.local\tdb-0\n" in hosts
    assert "10.9.9.9\tlegacy.local\n" in hosts and "web" not in hosts
    client.delete("services", "web", "default")
    cluster.wait("web to be gone", lambda: not lookup("web.default.svc.cluster.local"))
