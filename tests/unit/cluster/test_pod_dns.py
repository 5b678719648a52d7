"""A pod's resolv.conf and hosts file, as the kubelet writes them (dnsPolicy, dnsConfig,
hostAliases, subdomain)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kompy.cluster.kubelet.config import load_config
from kompy.cluster.kubelet.hosts import HostsTable
from kompy.cluster.kubelet.resolvconf import DnsSettings, parse_resolv_conf, pod_dns


def pod(ns: str = "shop", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web-1", "namespace": ns}, "spec": spec}


def settings(tmp_path: Path, host: str = "nameserver 10.0.0.2\nsearch corp.example\n"
             "options timeout:2\n", dns: tuple[str, ...] = ("10.213.0.1",)) -> DnsSettings:
    path = tmp_path / "resolv.conf"
    path.write_text(host)
    return DnsSettings(dns, "cluster.local", str(path))


def test_cluster_first_is_the_kubelets_file(tmp_path: Path) -> None:
    out = pod_dns(pod(), settings(tmp_path))
    assert out.managed and not out.warnings
    assert out.render() == ("search shop.svc.cluster.local svc.cluster.local cluster.local "
                            "corp.example\nnameserver 10.213.0.1\noptions ndots:5\n")


def test_cluster_first_on_the_host_network_is_default(tmp_path: Path) -> None:
    out = pod_dns(pod(hostNetwork=True), settings(tmp_path))
    assert out.nameservers == ["10.0.0.2"] and out.options == ["timeout:2"]
    with_net = pod_dns(pod(hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet"),
                       settings(tmp_path))
    assert with_net.nameservers == ["10.213.0.1"]


def test_default_on_the_machines_own_file_is_left_to_docker(tmp_path: Path) -> None:
    own = DnsSettings(("10.213.0.1",), "cluster.local", "/etc/resolv.conf")
    assert not pod_dns(pod(dnsPolicy="Default"), own).managed
    assert pod_dns(pod(dnsPolicy="Default"), settings(tmp_path)).render() == (
        "search corp.example\nnameserver 10.0.0.2\noptions timeout:2\n")


def test_none_takes_dns_config_only_and_config_merges(tmp_path: Path) -> None:
    config = {"nameservers": ["1.1.1.1"], "searches": ["a.example", "a.example"],
              "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}
    assert pod_dns(pod(dnsPolicy="None", dnsConfig=config), settings(tmp_path)).render() == (
        "search a.example\nnameserver 1.1.1.1\noptions ndots:2 edns0\n")
    merged = pod_dns(pod(dnsConfig=config), settings(tmp_path))
    assert merged.nameservers == ["10.213.0.1", "1.1.1.1"]
    assert merged.searches[-2:] == ["corp.example", "a.example"]
    assert merged.options == ["ndots:2", "edns0"]  # the pod's value replaces ndots:5


def test_limits_are_the_resolvers(tmp_path: Path) -> None:
    config = {"nameservers": ["1.1.1.1", "2.2.2.2", "3.3.3.3"],
              "searches": [f"d{i}.example" for i in range(40)]}
    out = pod_dns(pod(dnsConfig=config), settings(tmp_path))
    assert out.nameservers == ["10.213.0.1", "1.1.1.1", "2.2.2.2"]
    assert len(out.searches) == 32
    assert [reason for reason, _ in out.warnings] == ["DNSConfigForming", "DNSConfigForming"]


def test_no_cluster_dns_falls_back_with_the_kubelets_warning(tmp_path: Path) -> None:
    out = pod_dns(pod(), settings(tmp_path, dns=()))
    assert out.nameservers == ["10.0.0.2"]
    assert out.warnings[0][0] == "MissingClusterDNS"
    assert 'Falling back to "Default" policy' in out.warnings[0][1]


def test_parse_resolv_conf() -> None:
    conf = parse_resolv_conf("# c\nnameserver 127.0.0.53\ndomain x\nsearch a. b ; c\n"
                             "options ndots:1 rotate\nnameserver ::1\n")
    assert conf.nameservers == ("127.0.0.53", "::1")
    assert conf.searches == ("a", "b")
    assert conf.options == ("ndots:1", "rotate")


def test_hosts_file_is_upstreams_own_names_and_aliases() -> None:
    table = HostsTable(DnsSettings(("10.213.0.1",)))
    table.set_service("shop", "db", ["10.213.0.9"])  # the DNS server answers Services
    text = table.render(pod(hostname="db-0", subdomain="db", hostAliases=[
        {"ip": "10.1.1.1", "hostnames": ["foo.local", "bar.local"]}]), "10.224.0.5")
    assert text == ("# Kubernetes-managed hosts file.\n"
                    "127.0.0.1\tlocalhost\n"
                    "::1\tlocalhost ip6-localhost ip6-loopback\n"
                    "fe00::0\tip6-localnet\n"
                    "fe00::0\tip6-mcastprefix\n"
                    "fe00::1\tip6-allnodes\n"
                    "fe00::2\tip6-allrouters\n"
                    "10.224.0.5\tdb-0.db.shop.svc.cluster.local\tdb-0\n"
                    "\n# Entries added by HostAliases.\n"
                    "10.1.1.1\tfoo.local\tbar.local\n")


def test_kubelet_yaml_dns_fields(tmp_path: Path) -> None:
    path = tmp_path / "kubelet.yaml"
    path.write_text("clusterDomain: kompy.internal.\nresolvConf: /tmp/r.conf\n")
    config = load_config(path)
    assert (config.cluster_domain, config.resolv_conf) == ("kompy.internal", "/tmp/r.conf")
    path.write_text("clusterDomain: Not_A_Domain\n")
    try:
        load_config(path)
    except Exception as error:  # noqa: BLE001 - the message is what is checked
        assert "must be a DNS domain" in str(error)
    else:
        raise AssertionError("a bad clusterDomain was accepted")
