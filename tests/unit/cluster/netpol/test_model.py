"""NetworkPolicy semantics compiled per pod IP (kompy.cluster.netpol.model)."""

from __future__ import annotations

from typing import Any

from kompy.cluster.netpol.model import block_cidrs, compile_policies, policy_types


def pod(name: str, ns: str, ip: str, ports: list[dict[str, Any]] | None = None,
        phase: str = "Running", **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"containers": [{"name": "c", "ports": ports or []}]},
            "status": {"podIP": ip, "phase": phase}}


def ns(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}}


def policy(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec}


PODS = [pod("web", "a", "10.0.0.2", [{"name": "http", "containerPort": 8080}], app="web"),
        pod("db", "a", "10.0.0.3", [{"name": "http", "containerPort": 9090}], app="db"),
        pod("cli", "b", "10.1.0.2", app="cli"),
        pod("done", "a", "10.0.0.9", phase="Succeeded", app="web")]
SPACES = [ns("a"), ns("b", team="blue")]


def model(*policies: dict[str, Any]) -> Any:
    return compile_policies(PODS, SPACES, policies)


def test_no_policy_isolates_nothing_but_namespaces_stay_apart() -> None:
    m = model()
    assert not m.ingress and not m.egress
    assert m.permits("10.0.0.2", "10.0.0.3", "TCP", 80)
    assert not m.permits("10.1.0.2", "10.0.0.2", "TCP", 80)  # kompy's namespace isolation
    assert m.permits("172.17.0.1", "10.0.0.2", "TCP", 80)  # not a pod: the node's business


def test_default_deny_ingress_selects_every_pod_of_its_namespace() -> None:
    m = model(policy("deny", "a", {"podSelector": {}}))
    assert set(m.ingress) == {"10.0.0.2", "10.0.0.3"} and not m.egress  # finished pod left out
    assert not m.permits("10.0.0.2", "10.0.0.3", "TCP", 80)
    assert m.ingress["10.0.0.2"] == ()


def test_pod_selector_admits_the_selected_pods_on_the_named_port_of_the_target() -> None:
    m = model(policy("deny", "a", {"podSelector": {}}),
              policy("web-to-db", "a", {"podSelector": {"matchLabels": {"app": "db"}},
                                        "ingress": [{"from": [{"podSelector": {"matchLabels": {
                                            "app": "web"}}}], "ports": [{"port": "http"}]}]}))
    assert m.permits("10.0.0.2", "10.0.0.3", "TCP", 9090)  # db's own "http"
    assert not m.permits("10.0.0.2", "10.0.0.3", "TCP", 8080)
    assert not m.permits("10.0.0.2", "10.0.0.3", "UDP", 9090)
    assert not m.permits("10.0.0.3", "10.0.0.2", "TCP", 8080)


def test_namespace_selector_alone_and_combined_with_a_pod_selector() -> None:
    alone = model(policy("from-blue", "a", {"podSelector": {}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"team": "blue"}}}]}]}))
    assert alone.permits("10.1.0.2", "10.0.0.2", "TCP", 80)  # opens the namespace boundary
    assert not alone.permits("10.0.0.3", "10.0.0.2", "TCP", 80)  # own namespace not blue
    both = model(policy("p", "a", {"podSelector": {}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "b"}},
         "podSelector": {"matchLabels": {"app": "other"}}}]}]}))
    assert not both.permits("10.1.0.2", "10.0.0.2", "TCP", 80)
    either = model(policy("p", "a", {"podSelector": {}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "b"}}},
        {"podSelector": {"matchLabels": {"app": "other"}}}]}]}))
    assert either.permits("10.1.0.2", "10.0.0.2", "TCP", 80)


def test_egress_policy_types_ip_blocks_and_port_ranges() -> None:
    spec = {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/24", "except": ["10.0.0.3/32"]}}],
                        "ports": [{"port": 8000, "endPort": 8100, "protocol": "TCP"}]}]}
    m = model(policy("out", "a", spec))
    assert "10.0.0.2" in m.egress and "10.0.0.2" not in m.ingress
    assert not m.permits("10.0.0.2", "10.0.0.3", "TCP", 8050)  # the except
    assert m.permits("10.0.0.2", "10.0.0.4", "TCP", 8050)
    assert not m.permits("10.0.0.2", "10.0.0.4", "TCP", 8101)
    assert m.permits("10.0.0.3", "10.0.0.2", "TCP", 1)  # db is not isolated at all


def test_egress_named_ports_resolve_on_each_destination() -> None:
    m = model(policy("out", "a", {"podSelector": {"matchLabels": {"app": "web"}},
                                  "egress": [{"ports": [{"port": "http"}]}]}))
    assert m.permits("10.0.0.2", "10.0.0.3", "TCP", 9090)
    assert not m.permits("10.0.0.2", "10.0.0.3", "TCP", 8080)


def test_policy_types_default_from_the_rules() -> None:
    assert policy_types({}) == {"Ingress"}
    assert policy_types({"egress": []}) == {"Ingress"}
    assert policy_types({"egress": [{}]}) == {"Ingress", "Egress"}
    assert policy_types({"policyTypes": ["Egress"]}) == {"Egress"}


def test_ip_block_less_its_excepts_is_exact() -> None:
    assert block_cidrs("10.0.0.0/30", ["10.0.0.1/32"]) == ["10.0.0.0/32", "10.0.0.2/31"]
    assert block_cidrs("10.0.0.0/24", ["10.0.0.0/16"]) == []
    assert block_cidrs("10.0.0.0/24", ["192.168.0.0/16"]) == ["10.0.0.0/24"]
    assert block_cidrs("bogus", []) == []
