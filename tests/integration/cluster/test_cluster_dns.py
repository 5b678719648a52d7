"""Cluster DNS on the real Docker engine: every name form asked from inside pods.

busybox's ``nslookup`` applies the search list only to names without a dot (as on any
cluster), so the short and full names are asked with it, and the dotted partial names
(``web.ns``, ``web.ns.svc``) through the C library's resolver, which applies ``ndots:5``
and the search list as every program in a pod does (busybox ``wget``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clusterkit import container, docker_ok, pod, running, sh, wait_for
from dnskit import StaticDns, nslookup, own_cluster, run_in

pytestmark = pytest.mark.integration

WEB = "mkdir -p /www; echo hello > /www/index.html; exec httpd -f -p 8080 -h /www"


@pytest.fixture(scope="module")
def upstream() -> Iterator[StaticDns]:
    if os.geteuid() != 0:
        pytest.skip("cluster DNS serves on port 53: the daemon must run as root")
    server = StaticDns({"db.example.test": "192.0.2.10", "www.example.test": "192.0.2.80"})
    yield server
    server.close()


@pytest.fixture(scope="module")
def dns_cluster(upstream: StaticDns, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[dict[str, Any]]:
    if not docker_ok():
        pytest.skip("no Docker engine")
    tmp = tmp_path_factory.mktemp("dns")
    resolv = tmp / "resolv.conf"
    resolv.write_text(f"nameserver {upstream.host}\nsearch corp.test\n")
    with own_cluster(tmp, f"resolvConf: {resolv}\n") as cluster:
        yield cluster


@pytest.fixture(scope="module")
def app(dns_cluster: dict[str, Any]) -> dict[str, Any]:
    """One namespace: Service web (ClusterIP, port http), headless Service db with a
    StatefulSet-style pod db-0 and another pod, ExternalName Services, a client pod."""
    client = dns_cluster["client"]
    ns = "shop"
    client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    web = container("web", WEB, ports=[{"name": "http", "containerPort": 8080}])
    client.create(pod("web", ns, web, **{}) | {"metadata": {
        "name": "web", "namespace": ns, "labels": {"app": "web"}}})
    for name, extra in (("db-0", {"hostname": "db-0", "subdomain": "db"}), ("db-x", {})):
        client.create({**pod(name, ns, container("db", "exec sleep 3600"), **extra),
                       "metadata": {"name": name, "namespace": ns, "labels": {"app": "db"}}})
    client.create(pod("client", ns, container("c", "exec sleep 3600")))
    client.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web",
                                                                       "namespace": ns},
                   "spec": {"selector": {"app": "web"}, "ports": [
                       {"name": "http", "port": 80, "targetPort": "http"}]}})
    client.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db",
                                                                       "namespace": ns},
                   "spec": {"clusterIP": "None", "selector": {"app": "db"},
                            "ports": [{"name": "pg", "port": 5432}]}})
    for name, target in (("alias", f"web.{ns}.svc.cluster.local"),
                         ("external", "db.example.test")):
        client.create({"apiVersion": "v1", "kind": "Service",
                       "metadata": {"name": name, "namespace": ns},
                       "spec": {"type": "ExternalName", "externalName": target}})
    pods = {name: running(client, name, ns)["status"]["podIP"]
            for name in ("web", "db-0", "db-x", "client")}
    cluster_ip = wait_for("web's cluster IP", lambda: (
        client.get("services", "web", ns)["spec"]["clusterIP"]
        if client.get("services", "web", ns)["spec"]["clusterIP"].startswith("10.213.")
        else None))
    return {"client": client, "ns": ns, "pods": pods, "web_ip": cluster_ip}


def addresses(output: str) -> set[str]:
    """The answer addresses in busybox nslookup's output (not the server's own line)."""
    return set(re.findall(r"^Address(?: \d+)?:\s+([0-9.]+)$", output, re.M))


def test_the_kube_dns_service_and_pod_files(app: dict[str, Any]) -> None:
    client, ns = app["client"], app["ns"]
    kube_dns = client.get("services", "kube-dns", "kube-system")
    dns_ip = kube_dns["spec"]["clusterIP"]
    assert kube_dns["metadata"]["labels"]["k8s-app"] == "kube-dns"
    assert sh(client, "client", ns, "cat /etc/resolv.conf") == (
        f"search {ns}.svc.cluster.local svc.cluster.local cluster.local corp.test\n"
        f"nameserver {dns_ip}\noptions ndots:5\n")
    hosts = sh(client, "client", ns, "cat /etc/hosts")
    assert hosts.startswith("# Kubernetes-managed hosts file.\n")
    assert f"{app['pods']['client']}\tclient\n" in hosts and "web" not in hosts
    assert f"{app['pods']['db-0']}\tdb-0.db.{ns}.svc.cluster.local\tdb-0\n" in sh(
        client, "db-0", ns, "cat /etc/hosts")
    assert addresses(nslookup(client, "client", ns, "kube-dns.kube-system.svc.cluster.local")
                     ) == {dns_ip}


def test_service_name_forms(app: dict[str, Any]) -> None:
    client, ns, ip = app["client"], app["ns"], app["web_ip"]
    for name in ("web", f"web.{ns}.svc.cluster.local"):
        assert addresses(nslookup(client, "client", ns, name)) == {ip}, name
    for name in ("web", f"web.{ns}", f"web.{ns}.svc", f"web.{ns}.svc.cluster.local"):
        assert sh(client, "client", ns, f"wget -qO- http://{name}/index.html") == "hello\n"
    assert f"name = web.{ns}.svc.cluster.local" in nslookup(client, "client", ns, ip)


def test_headless_and_per_pod_names(app: dict[str, Any]) -> None:
    client, ns, pods = app["client"], app["ns"], app["pods"]
    assert addresses(nslookup(client, "client", ns, f"db.{ns}.svc.cluster.local")) == {
        pods["db-0"], pods["db-x"]}
    assert addresses(nslookup(client, "client", ns, f"db-0.db.{ns}.svc.cluster.local")) == {
        pods["db-0"]}
    dashed = pods["db-x"].replace(".", "-")
    assert addresses(nslookup(client, "client", ns, f"{dashed}.db.{ns}.svc.cluster.local")
                     ) == {pods["db-x"]}
    assert addresses(nslookup(client, "client", ns, f"{dashed}.{ns}.pod.cluster.local")) == {
        pods["db-x"]}
    code, _ = run_in(client, "client", ns, "ping -c1 -W2 db-0.db")  # the search list
    assert code == 0


def test_srv_records_for_named_ports(app: dict[str, Any]) -> None:
    client, ns = app["client"], app["ns"]
    out = nslookup(client, "client", ns, f"_http._tcp.web.{ns}.svc.cluster.local", "srv")
    assert f"0 100 80 web.{ns}.svc.cluster.local" in out
    out = nslookup(client, "client", ns, f"_pg._tcp.db.{ns}.svc.cluster.local", "srv")
    assert f"0 100 5432 db-0.db.{ns}.svc.cluster.local" in out


def test_external_names_are_cnames(app: dict[str, Any], upstream: StaticDns) -> None:
    client, ns = app["client"], app["ns"]
    inside = nslookup(client, "client", ns, f"alias.{ns}.svc.cluster.local")
    assert f"canonical name = web.{ns}.svc.cluster.local" in inside
    assert app["web_ip"] in addresses(inside)
    assert sh(client, "client", ns, "wget -qO- http://alias/index.html") == "hello\n"
    outside = nslookup(client, "client", ns, f"external.{ns}.svc.cluster.local")
    assert "canonical name = db.example.test" in outside
    assert "192.0.2.10" in addresses(outside)
    code, out = run_in(client, "client", ns, "ping -c1 -W1 external 2>&1 | head -1")
    assert "(192.0.2.10)" in out  # the short name, through the search list and the CNAME


def test_other_names_go_upstream(app: dict[str, Any], upstream: StaticDns) -> None:
    client, ns = app["client"], app["ns"]
    assert addresses(nslookup(client, "client", ns, "www.example.test")) == {"192.0.2.80"}
    assert "www.example.test" in upstream.asked
    assert "NXDOMAIN" in nslookup(client, "client", ns, "nothing.example.test")
    assert not any(name.endswith("cluster.local") for name in upstream.asked)


def test_dns_policies(app: dict[str, Any]) -> None:
    client, ns = app["client"], app["ns"]
    client.create(pod("none", ns, container("c", "exec sleep 3600"), dnsPolicy="None",
                      dnsConfig={"nameservers": ["192.0.2.53"], "searches": ["a.test"],
                                 "options": [{"name": "ndots", "value": "2"}]}))
    client.create(pod("default", ns, container("c", "exec sleep 3600"), dnsPolicy="Default"))
    running(client, "none", ns)
    running(client, "default", ns)
    assert sh(client, "none", ns, "cat /etc/resolv.conf") == (
        "search a.test\nnameserver 192.0.2.53\noptions ndots:2\n")
    # Default: the node's resolvers (this cluster's resolvConf), no cluster search domains.
    text = sh(client, "default", ns, "cat /etc/resolv.conf")
    assert "cluster.local" not in text and "corp.test" in text


def test_not_ready_pods_are_published_on_request(app: dict[str, Any]) -> None:
    client, ns = app["client"], app["ns"]
    never = container("c", "exec sleep 3600",
                      readinessProbe={"exec": {"command": ["false"]}, "periodSeconds": 1})
    client.create({**pod("peer-0", ns, never, hostname="peer-0", subdomain="peers"),
                   "metadata": {"name": "peer-0", "namespace": ns, "labels": {"app": "peer"}}})
    for name, publish in (("peers", True), ("quiet", False)):
        client.create({"apiVersion": "v1", "kind": "Service",
                       "metadata": {"name": name, "namespace": ns},
                       "spec": {"clusterIP": "None", "selector": {"app": "peer"},
                                "publishNotReadyAddresses": publish,
                                "ports": [{"name": "p", "port": 7000}]}})
    ip = wait_for("peer-0's address", lambda: client.get("pods", "peer-0", ns).get(
        "status", {}).get("podIP"))
    wait_for("peer-0.peers to resolve while not ready", lambda: addresses(nslookup(
        client, "client", ns, f"peer-0.peers.{ns}.svc.cluster.local")) == {ip}, 30)
    assert not addresses(nslookup(client, "client", ns, f"quiet.{ns}.svc.cluster.local"))


def test_pods_in_another_namespace_use_their_own_search_list(
        dns_cluster: dict[str, Any], app: dict[str, Any], tmp_path: Path) -> None:
    client, ns = app["client"], app["ns"]
    client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
    client.create(pod("visitor", "other", container("c", "exec sleep 3600")))
    running(client, "visitor", "other")
    assert addresses(nslookup(client, "visitor", "other", f"web.{ns}.svc.cluster.local")) == {
        app["web_ip"]}
    assert "NXDOMAIN" in nslookup(client, "visitor", "other", "web")  # not its namespace
