"""A PolicyModel rendered as iptables chains (kompy.cluster.netpol.rules)."""

from __future__ import annotations

from kompy.cluster.netpol.iptables import chain_prefix
from kompy.cluster.netpol.model import Allow, PolicyModel
from kompy.cluster.netpol.rules import render

P = "KOMPY-NP-ABCD1234"


def test_no_isolated_pod_needs_no_chain() -> None:
    assert render(PolicyModel(), P, ["10.0.0.0/24"]) == {}


def test_chains_per_isolated_pod_and_direction() -> None:
    model = PolicyModel(
        ingress={"10.0.0.3": (Allow("10.0.0.2/32", "TCP", 80),
                              Allow("192.168.0.0/16", "UDP", 5000, 5010),
                              Allow("fd00::/8"))},
        egress={"10.0.0.2": (Allow(None, "SCTP"),)})
    chains = render(model, P, ["10.0.0.0/24", "10.1.0.0/24"])
    assert chains[P] == [
        "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        f"-s 10.0.0.2/32 -j {P}-E0",
        f"-d 10.0.0.3/32 -j {P}-I0",
        "-s 10.0.0.2/32 -d 10.0.0.0/24 -j ACCEPT",
        "-s 10.0.0.2/32 -d 10.1.0.0/24 -j ACCEPT",
        "-s 10.0.0.0/24 -d 10.0.0.3/32 -j ACCEPT",
        "-s 10.1.0.0/24 -d 10.0.0.3/32 -j ACCEPT"]
    assert chains[f"{P}-E0"] == ["-p sctp -j RETURN", "-j DROP"]
    assert chains[f"{P}-I0"] == [  # the IPv6 block is left to no one: iptables is IPv4
        "-s 10.0.0.2/32 -p tcp -m tcp --dport 80 -j RETURN",
        "-s 192.168.0.0/16 -p udp -m udp --dport 5000:5010 -j RETURN",
        "-j DROP"]


def test_chain_names_fit_iptables_and_differ_per_cluster_and_home() -> None:
    a, b, c = chain_prefix("dev", "/h1"), chain_prefix("dev", "/h2"), chain_prefix("x", "/h1")
    assert len({a, b, c}) == 3
    assert len(f"{a}-I9999") <= 28


def test_pods_that_admit_the_same_share_one_chain() -> None:
    same = (Allow("10.0.0.9/32", "TCP", 80),)
    model = PolicyModel(ingress={"10.0.0.2": same, "10.0.0.3": same, "10.0.0.4": ()})
    chains = render(model, P, [])
    assert chains[P][1:] == [f"-d 10.0.0.2/32 -j {P}-I0", f"-d 10.0.0.3/32 -j {P}-I0",
                             f"-d 10.0.0.4/32 -j {P}-I1"]
    assert chains[f"{P}-I1"] == ["-j DROP"] and len(chains) == 3
