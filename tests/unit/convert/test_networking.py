"""Services, Ingresses and NetworkPolicies (kompy/convert/networking.py)."""

from __future__ import annotations

from typing import Any

import pytest

from kompy.convert.context import ConvertContext
from kompy.convert.groups import plan_units, service_groups
from kompy.convert.ingress import build_ingresses
from kompy.convert.netpolicy import build_network_policies, network_pod_labels
from kompy.convert.options import ConvertOptions
from kompy.convert.services import build_services
from kompy.convert.validate import resolve_version, validate_object
from kompy.errors import ConvertError
from kompy.model import PortMapping, Project, Service, ServiceNetwork, ServiceVolume


def _ctx(*services: Service, **options: Any) -> ConvertContext:
    options.setdefault("with_kompose_annotation", False)
    project = Project(name="shop", working_dir="/p",
                      services={service.name: service for service in services})
    return ConvertContext(project, ConvertOptions(**options))


def _valid(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for obj in objects:
        validate_object(obj, resolve_version(None))
    return objects


def _one(ctx: ConvertContext, name: str) -> dict[str, Any]:
    objects = _valid(build_services(ctx, ctx.project.services[name]))
    assert len(objects) == 1
    return objects[0]


def _ports(svc: dict[str, Any]) -> list[tuple[str, int, int, str]]:
    return [(p["name"], p["port"], p["targetPort"], p["protocol"]) for p in svc["spec"]["ports"]]


def test_published_port_clusterip_keeps_container_port_and_annotates_host_port() -> None:
    web = Service("web", image="nginx", ports=(PortMapping(80, published="8080"),))
    svc = _one(_ctx(web), "web")
    assert svc["spec"]["type"] == "ClusterIP"
    assert _ports(svc) == [("80", 80, 80, "TCP")]
    assert svc["metadata"]["annotations"] == {"kompy.dev/host-ports": "8080:80/tcp"}
    assert svc["spec"]["selector"] == {"app.kubernetes.io/name": "web",
                                       "app.kubernetes.io/part-of": "shop"}
    assert svc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kompy"


def test_one_entry_per_port_and_protocol_with_unique_names() -> None:
    dns = Service("dns", image="coredns", ports=(
        PortMapping(53, published="53", protocol="tcp"),
        PortMapping(53, published="53", protocol="udp"),
        PortMapping(53, published="5353", protocol="udp"),  # same container port twice
    ), expose=("9153", "53/udp"))
    svc = _one(_ctx(dns), "dns")
    assert _ports(svc) == [("53", 53, 53, "TCP"), ("53-udp", 53, 53, "UDP"),
                           ("9153", 9153, 9153, "TCP")]
    assert svc["metadata"]["annotations"]["kompy.dev/host-ports"] == (
        "53:53/tcp,53:53/udp,5353:53/udp")


def test_compose_port_name_and_app_protocol_are_kept() -> None:
    api = Service("api", image="x", ports=(
        PortMapping(8080, name="HTTP_api", app_protocol="http"),
        PortMapping(9090, name="http-api")))
    svc = _one(_ctx(api), "api")
    assert [p["name"] for p in svc["spec"]["ports"]] == ["http-api", "http-api-tcp"]
    assert svc["spec"]["ports"][0]["appProtocol"] == "http"


def test_expose_only_is_clusterip_even_with_service_type_flag() -> None:
    db = Service("db", image="postgres", expose=("5432", "8000-8002"))
    svc = _one(_ctx(db, service_type="nodeport"), "db")
    assert svc["spec"]["type"] == "ClusterIP"
    assert [p["port"] for p in svc["spec"]["ports"]] == [5432, 8000, 8001, 8002]
    assert "annotations" not in svc["metadata"]


def test_no_ports_gives_a_headless_service_with_kompose_placeholder() -> None:
    # Compose resolves every service's name (issue #9 class 2): `db: {image: mariadb}` is
    # reachable as db:3306. A headless Service resolves to the pods, every port included.
    ctx = _ctx(Service("worker", image="w"))
    (svc,) = build_services(ctx, ctx.project.services["worker"])
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["ports"] == [{"name": "headless", "port": 55555, "targetPort": 55555,
                                     "protocol": "TCP"}]
    assert [r.status for r in ctx.report if r.key == "services.worker"] == ["approximated"]


@pytest.mark.parametrize("mode", ["host", "none", "service:web", "container:abc"])
def test_no_service_for_a_service_outside_the_project_network(mode: str) -> None:
    ctx = _ctx(Service("web", image="w"), Service("side", image="s", network_mode=mode))
    assert build_services(ctx, ctx.project.services["side"]) == []


def test_image_expose_ports_give_a_clusterip_service() -> None:
    from kompy.engine.imageinfo import ImageInfo

    images = {"mariadb:11": ImageInfo("mariadb:11", ((3306, "TCP"),), "mysql")}
    ctx = _ctx(Service("db", image="mariadb:11"), images=images)
    svc = _one(ctx, "db")
    assert svc["spec"]["type"] == "ClusterIP" and "clusterIP" not in svc["spec"]
    assert _ports(svc) == [("3306", 3306, 3306, "TCP")]
    # Without the image's metadata (no engine, image not local): the headless Service.
    assert _one(_ctx(Service("db", image="mariadb:11")), "db")["spec"]["clusterIP"] == "None"


@pytest.mark.parametrize("host_ip", ["127.0.0.1", "::1", "localhost"])
def test_loopback_published_ports_are_never_public(host_ip: str) -> None:
    db = Service("db", image="postgres", ports=(
        PortMapping(5432, published="5432", host_ip=host_ip),))
    ctx = _ctx(db, service_type="loadbalancer")
    svc = _one(ctx, "db")
    assert svc["spec"]["type"] == "ClusterIP"
    assert _ports(svc) == [("5432", 5432, 5432, "TCP")]
    # kompy's own cluster still answers on the host's loopback, as Compose does.
    assert svc["metadata"]["annotations"]["kompy.dev/host-ports"] == "5432:5432/tcp"
    assert any("loopback" in d.message and "ClusterIP" in d.message for d in ctx.diagnostics)


def test_one_loopback_port_keeps_the_whole_service_internal() -> None:
    web = Service("web", image="nginx", labels={"kompose.service.type": "nodeport"}, ports=(
        PortMapping(80, published="8080"),
        PortMapping(9000, published="9000", host_ip="127.0.0.1")))
    ctx = _ctx(web)
    assert _one(ctx, "web")["spec"]["type"] == "ClusterIP"
    assert any("other published ports are not exposed" in d.message for d in ctx.diagnostics)


@pytest.mark.parametrize("kind", ["NodePort", "LoadBalancer"])
def test_nodeport_and_loadbalancer_use_published_port_plus_target(kind: str) -> None:
    web = Service("web", image="nginx", labels={"kompose.service.type": kind.lower()},
                  ports=(PortMapping(80, published="8080"), PortMapping(443, published="443"),
                         PortMapping(9000)))
    svc = _one(_ctx(web), "web")
    assert svc["spec"]["type"] == kind
    assert _ports(svc) == [("8080", 8080, 80, "TCP"), ("80", 80, 80, "TCP"),
                           ("443", 443, 443, "TCP"), ("9000", 9000, 9000, "TCP")]
    assert svc["metadata"]["annotations"]["kompy.dev/host-ports"] == "8080:8080/tcp,443:443/tcp"


def test_service_type_flag_applies_to_services_with_ports() -> None:
    web = Service("web", image="nginx", ports=(PortMapping(80, published="80"),))
    assert _one(_ctx(web, service_type="loadbalancer"), "web")["spec"]["type"] == "LoadBalancer"


def test_label_wins_over_flag() -> None:
    web = Service("web", image="nginx", labels={"kompose.service.type": "clusterip"},
                  ports=(PortMapping(80, published="80"),))
    assert _one(_ctx(web, service_type="nodeport"), "web")["spec"]["type"] == "ClusterIP"


def test_headless_sets_cluster_ip_none_even_without_ports() -> None:
    db = Service("db", image="x", labels={"kompose.service.type": "headless"})
    svc = _one(_ctx(db), "db")
    assert svc["spec"]["clusterIP"] == "None" and svc["spec"]["type"] == "ClusterIP"
    assert [p["port"] for p in svc["spec"]["ports"]] == [55555]


def test_nodeport_label_and_traffic_policy() -> None:
    web = Service("web", image="nginx", labels={
        "kompose.service.type": "NodePort", "kompose.service.nodeport.port": "30080",
        "kompose.service.external-traffic-policy": "local"}, ports=(PortMapping(80),))
    ctx = _ctx(web)
    svc = _one(ctx, "web")
    assert svc["spec"]["ports"][0]["nodePort"] == 30080
    assert svc["spec"]["externalTrafficPolicy"] == "Local"
    assert ctx.diagnostics == []


def test_x_kompy_service_block() -> None:
    web = Service("web", image="nginx", ports=(PortMapping(80, published="8080"),),
                  extensions={"x-kompy": {"service": {
                      "type": "nodeport", "node_port": 31000,
                      "external_traffic_policy": "cluster"}}})
    svc = _one(_ctx(web), "web")
    assert svc["spec"]["ports"][0] == {"name": "8080", "port": 8080, "targetPort": 80,
                                       "protocol": "TCP", "nodePort": 31000}
    assert svc["spec"]["externalTrafficPolicy"] == "Cluster"


def test_nodeport_ignored_on_clusterip_with_warning() -> None:
    web = Service("web", image="nginx", ports=(PortMapping(80),), labels={
        "kompose.service.nodeport.port": "30080",
        "kompose.service.external-traffic-policy": "local"})
    ctx = _ctx(web)
    svc = _one(ctx, "web")
    assert "nodePort" not in svc["spec"]["ports"][0]
    assert "externalTrafficPolicy" not in svc["spec"]
    messages = [d.message for d in ctx.diagnostics]
    assert any("node port is only used by NodePort" in m for m in messages)
    assert any("external traffic policy" in m for m in messages)
    assert ctx.diagnostics[0].key_path == (
        "services", "web", "labels", "kompose.service.nodeport.port")


def test_report_records_ports_and_approximations() -> None:
    web = Service("web", image="nginx", ports=(
        PortMapping(80, published="8080", host_ip="127.0.0.1"), PortMapping(81, published="81")),
        expose=("90",))
    ctx = _ctx(web)
    build_services(ctx, web)
    status = {r.key: r.status for r in ctx.report}
    # A loopback-only port of a ClusterIP Service is exactly that: internal.
    assert status == {"services.web.ports[0]": "mapped", "services.web.ports[1]": "mapped",
                      "services.web.expose[0]": "mapped"}


def test_annotations_with_kompose_annotation() -> None:
    web = Service("web", image="nginx", ports=(PortMapping(80),))
    project = Project(name="shop", working_dir="/p", services={"web": web},
                      compose_files=("/p/compose.yaml", "/p/compose.override.yaml"))
    ctx = ConvertContext(project, ConvertOptions())
    svc = _one(ctx, "web")
    assert svc["metadata"]["annotations"] == {
        "kompy.dev/cmd": "kompy convert -f compose.yaml -f compose.override.yaml",
        "kompy.dev/version": __import__("kompy").__version__}


# -- Ingress -------------------------------------------------------------------------------------


def test_ingress_from_kompose_labels() -> None:
    web = Service("web", image="nginx", ports=(PortMapping(80, published="8080"),), labels={
        "kompose.service.expose": "example.com, example.com/api,other.org/v1",
        "kompose.service.expose.tls-secret": "web-tls",
        "kompose.service.expose.ingress-class-name": "nginx"})
    ctx = _ctx(web)
    (ing,) = _valid(build_ingresses(ctx, web))
    spec = ing["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert [r["host"] for r in spec["rules"]] == ["example.com", "other.org"]
    assert [p["path"] for p in spec["rules"][0]["http"]["paths"]] == ["/", "/api"]
    backend = spec["rules"][1]["http"]["paths"][0]["backend"]
    assert backend == {"service": {"name": "web", "port": {"number": 80}}}
    assert spec["tls"] == [{"secretName": "web-tls", "hosts": ["example.com", "other.org"]}]


def test_ingress_true_has_no_host_and_routes_to_published_port_on_nodeport() -> None:
    web = Service("web", image="nginx", ports=(PortMapping(80, published="8080"),), labels={
        "kompose.service.expose": "true", "kompose.service.type": "nodeport"})
    (ing,) = _valid(build_ingresses(_ctx(web), web))
    (rule,) = ing["spec"]["rules"]
    assert "host" not in rule
    assert rule["http"]["paths"][0]["backend"]["service"]["port"]["number"] == 8080
    assert "tls" not in ing["spec"]


def test_ingress_from_x_kompy_with_port() -> None:
    web = Service("web", image="nginx", ports=(PortMapping(80), PortMapping(8080)),
                  extensions={"x-kompy": {"ingress": {
                      "hosts": ["shop.example/"], "port": 8080, "class": "traefik"}}})
    (ing,) = _valid(build_ingresses(_ctx(web), web))
    assert ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] == {
        "number": 8080}


def test_ingress_port_must_exist() -> None:
    web = Service("web", image="nginx", ports=(PortMapping(80),),
                  extensions={"x-kompy": {"ingress": {"hosts": ["a.b"], "port": 81}}})
    with pytest.raises(ConvertError, match="81"):
        build_ingresses(_ctx(web), web)


def test_ingress_without_ports_is_dropped_with_warning() -> None:
    web = Service("web", image="nginx", labels={"kompose.service.expose": "a.example"})
    ctx = _ctx(web)
    assert build_ingresses(ctx, web) == []
    assert "no ports" in ctx.diagnostics[0].message
    assert [r.status for r in ctx.report if "expose" in r.key] == ["dropped"]


def test_expose_false_gives_no_ingress() -> None:
    web = Service("web", image="nginx", ports=(PortMapping(80),),
                  labels={"kompose.service.expose": "false"})
    assert build_ingresses(_ctx(web), web) == []


# -- NetworkPolicy -------------------------------------------------------------------------------


def _net_project(**options: Any) -> ConvertContext:
    return _ctx(
        Service("web", image="nginx", ports=(PortMapping(80, published="8080"),),
                networks={"front": ServiceNetwork(), "back": ServiceNetwork()}),
        Service("db", image="postgres", expose=("5432",), networks={"back": ServiceNetwork()}),
        Service("tool", image="busybox"),
        Service("sealed", image="busybox", network_mode="none"),
        **options,
    )


def test_no_policies_without_flag() -> None:
    ctx = _net_project()
    assert build_network_policies(ctx) == []
    assert network_pod_labels(ctx, ctx.project.services["web"]) == {}


def test_network_policies_admit_only_pods_of_the_same_network() -> None:
    ctx = _net_project(network_policies=True)
    policies = {p["metadata"]["name"]: p for p in _valid(build_network_policies(ctx))}
    assert sorted(policies) == ["shop-back", "shop-default", "shop-default-deny", "shop-front",
                                "web-published"]
    back = policies["shop-back"]["spec"]
    assert back["podSelector"] == {"matchLabels": {"io.kompose.network/shop-back": "true"}}
    assert back["ingress"] == [{"from": [{"podSelector": {"matchLabels": {
        "io.kompose.network/shop-back": "true"}}}]}]
    deny = policies["shop-default-deny"]["spec"]
    assert deny["ingress"] == [] and deny["policyTypes"] == ["Ingress"]
    published = policies["web-published"]["spec"]
    assert published["ingress"] == [{"ports": [{"port": 80, "protocol": "TCP"}]}]
    services = ctx.project.services
    assert network_pod_labels(ctx, services["web"]) == {
        "io.kompose.network/shop-front": "true", "io.kompose.network/shop-back": "true"}
    assert network_pod_labels(ctx, services["tool"]) == {"io.kompose.network/shop-default": "true"}
    assert network_pod_labels(ctx, services["sealed"]) == {}


# -- service groups ------------------------------------------------------------------------------


def test_group_by_label_selects_the_group_pod() -> None:
    web = Service("web", image="nginx", ports=(PortMapping(80),),
                  labels={"kompose.service.group": "front"})
    php = Service("php", image="php", expose=("9000",), labels={"kompose.service.group": "front"})
    ctx = _ctx(web, php, service_group_mode="label")
    assert service_groups(ctx) == {"web": "front", "php": "front"}
    plan_units(ctx)
    svc = _one(ctx, "php")
    assert svc["metadata"]["name"] == "php"
    assert svc["spec"]["selector"]["app.kubernetes.io/name"] == "front"
    assert ctx.pod_name("web") == "front"


def test_label_alone_does_not_group() -> None:
    web = Service("web", image="nginx", labels={"kompose.service.group": "front"})
    assert service_groups(_ctx(web)) == {}


def test_group_by_shared_volume() -> None:
    def vol(name: str) -> tuple[ServiceVolume, ...]:
        return (ServiceVolume(type="volume", source=name, target="/data"),)

    ctx = _ctx(Service("a", image="x", volumes=vol("v1")),
               Service("b", image="x", volumes=vol("v1")),
               Service("c", image="x", volumes=vol("v2")), service_group_mode="volume")
    assert service_groups(ctx) == {"a": "a-b", "b": "a-b"}
    named = _ctx(Service("a", image="x", volumes=vol("v1")),
                 Service("b", image="x", volumes=vol("v1")),
                 service_group_mode="volume", service_group_name="pair")
    assert service_groups(named) == {"a": "pair", "b": "pair"}


def test_network_aliases_become_clusterip_services() -> None:
    web = Service("web", image="nginx", labels={"kompose.service.type": "nodeport"},
                  ports=(PortMapping(80, published="8080"),),
                  networks={"front": ServiceNetwork(aliases=("www", "db", "web")),
                            "back": ServiceNetwork(ipv4_address="172.20.0.5")})
    ctx = _ctx(web, Service("db", image="postgres", expose=("5432",)))
    objects = _valid(build_services(ctx, web))
    assert [o["metadata"]["name"] for o in objects] == ["web", "www"]
    www = objects[1]
    assert www["spec"]["type"] == "ClusterIP"
    assert _ports(www) == [("80", 80, 80, "TCP")]
    assert "annotations" not in www["metadata"]
    messages = [d.message for d in ctx.diagnostics]
    assert any("'db' is also a service's name" in m for m in messages)
    assert any("ipv4_address has no Kubernetes equivalent" in m for m in messages)
    status = {r.key: r.status for r in ctx.report}
    assert status["services.web.networks.front"] == "approximated"
    assert status["services.web.networks.front.aliases[0]"] == "approximated"


def test_service_planned_once_so_records_are_not_repeated() -> None:
    web = Service("web", image="nginx", ports=(PortMapping(80, published="8080"),), labels={
        "kompose.service.type": "nodeport", "kompose.service.nodeport.port": "30080",
        "kompose.service.expose": "a.example"})
    ctx = _ctx(web, network_policies=True)
    build_services(ctx, web)
    build_ingresses(ctx, web)
    build_network_policies(ctx)
    keys = [r.key for r in ctx.report]
    assert len(keys) == len(set(keys)), keys


def test_endpoint_mode_dnsrr_is_headless() -> None:
    from kompy.model import Deploy

    db = Service("db", image="x", expose=("5432",), deploy=Deploy(endpoint_mode="dnsrr"))
    ctx = _ctx(db)
    svc = _one(ctx, "db")
    assert svc["spec"]["clusterIP"] == "None"
    assert {r.key: r.target for r in ctx.report}["services.db.deploy.endpoint_mode"] == (
        "Service/db spec.clusterIP: None")


def test_expose_on_nodeport_service_is_approximated() -> None:
    web = Service("web", image="nginx", ports=(PortMapping(80, published="8080"),),
                  expose=("9000",), labels={"kompose.service.type": "nodeport"})
    ctx = _ctx(web)
    svc = _one(ctx, "web")
    assert [p["port"] for p in svc["spec"]["ports"]] == [8080, 80, 9000]
    record = next(r for r in ctx.report if r.key == "services.web.expose[0]")
    assert record.status == "approximated" and "NodePort" in (record.note or "")


@pytest.mark.parametrize("host", ["localhost:8080", "10.0.0.1", "bad_host.example", "a..b"])
def test_invalid_ingress_host_is_an_error(host: str) -> None:
    web = Service("web", image="nginx", ports=(PortMapping(80),),
                  labels={"kompose.service.expose": host})
    with pytest.raises(ConvertError, match="cannot be an Ingress host"):
        build_ingresses(_ctx(web), web)


def test_ingress_host_is_lower_cased_and_wildcards_allowed() -> None:
    web = Service("web", image="nginx", ports=(PortMapping(80),),
                  labels={"kompose.service.expose": "Shop.Example.COM,*.example.com"})
    (ing,) = _valid(build_ingresses(_ctx(web), web))
    assert [r["host"] for r in ing["spec"]["rules"]] == ["shop.example.com", "*.example.com"]


def test_udp_only_service_gets_no_ingress() -> None:
    dns = Service("dns", image="x", ports=(PortMapping(53, protocol="udp"),),
                  labels={"kompose.service.expose": "dns.example"})
    ctx = _ctx(dns)
    assert build_ingresses(ctx, dns) == []
    assert "no TCP port" in ctx.diagnostics[0].message


def test_tls_secret_without_expose_warns() -> None:
    web = Service("web", image="nginx", ports=(PortMapping(80),),
                  labels={"kompose.service.expose.tls-secret": "tls"})
    ctx = _ctx(web)
    assert build_ingresses(ctx, web) == []
    assert ctx.diagnostics[0].message == (
        "kompose.service.expose.tls-secret is ignored without kompose.service.expose")


def test_alias_shared_by_two_services_goes_to_the_first() -> None:
    a = Service("a", image="x", ports=(PortMapping(80),),
                networks={"n": ServiceNetwork(aliases=("api",))})
    b = Service("b", image="x", ports=(PortMapping(80),),
                networks={"n": ServiceNetwork(aliases=("api",))})
    ctx = _ctx(a, b)
    assert [o["metadata"]["name"] for o in build_services(ctx, a)] == ["a", "api"]
    assert [o["metadata"]["name"] for o in build_services(ctx, b)] == ["b"]
    assert "also an alias of a" in ctx.diagnostics[0].message


def test_user_template_overrides_service_template(tmp_path: Any) -> None:
    from kompy.convert.render import builtin_templates_dir

    text = (builtin_templates_dir() / "service.yaml.j2").read_text()
    (tmp_path / "service.yaml.j2").write_text(
        text.replace("spec:\n", "spec:\n  sessionAffinity: ClientIP\n", 1))
    web = Service("web", image="nginx", ports=(PortMapping(80),))
    svc = _one(_ctx(web, templates_dir=str(tmp_path)), "web")
    assert svc["spec"]["sessionAffinity"] == "ClientIP"


def test_the_schema_check_used_here_is_strict() -> None:
    from kompy.errors import InternalError

    with pytest.raises(InternalError, match="not a valid Kubernetes"):
        _valid([{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
                 "spec": {"portz": []}}])


def test_link_aliases_resolve_like_network_aliases() -> None:
    # `links: [db:database]`: web reaches db as "database" (issue #9 class 2).
    web = Service("web", image="w", other={"links": ["db:database", "cache"]})
    db = Service("db", image="postgres", expose=("5432",))
    cache = Service("cache", image="redis")
    ctx = _ctx(web, db, cache)
    own, database = _valid(build_services(ctx, db))
    assert (own["metadata"]["name"], database["metadata"]["name"]) == ("db", "database")
    assert database["spec"]["selector"] == own["spec"]["selector"]
    assert [p["port"] for p in database["spec"]["ports"]] == [5432]
    build_services(ctx, web)
    status = {r.key: r.status for r in ctx.report if ".links[" in r.key}
    assert status == {"services.web.links[0]": "approximated", "services.web.links[1]": "mapped"}


def test_aliases_of_a_headless_service_are_headless() -> None:
    web = Service("web", image="w", other={"links": ["worker:jobs"]})
    worker = Service("worker", image="w", networks={"default": ServiceNetwork(
        aliases=("queue",))})
    services = _valid(build_services(_ctx(web, worker), worker))
    assert [(s["metadata"]["name"], s["spec"].get("clusterIP")) for s in services] == [
        ("worker", "None"), ("queue", "None"), ("jobs", "None")]


def test_container_name_resolves_like_an_alias() -> None:
    # Docker's DNS answers a container's name: awesome-compose's logstash sends to
    # http://es:9200, the container_name of its elasticsearch service.
    es = Service("elasticsearch", image="elasticsearch", container_name="es",
                 ports=(PortMapping(9200, published="9200"),))
    logstash = Service("logstash", image="logstash", container_name="logstash")
    ctx = _ctx(es, logstash)
    own, alias = _valid(build_services(ctx, es))
    assert (own["metadata"]["name"], alias["metadata"]["name"]) == ("elasticsearch", "es")
    assert alias["spec"]["selector"] == own["spec"]["selector"]
    assert _ports(alias) == [("9200", 9200, 9200, "TCP")]
    assert "kompy.dev/host-ports" not in (alias["metadata"].get("annotations") or {})
    # A container_name equal to the service's own name needs nothing more.
    assert [o["metadata"]["name"] for o in build_services(ctx, logstash)] == ["logstash"]
    assert ("services.elasticsearch.container_name", "approximated") in {
        (r.key, r.status) for r in ctx.report if r.target == "Service/es"}


def test_container_name_taken_by_a_service_or_not_a_dns_label() -> None:
    web = Service("web", image="w", container_name="db", ports=(PortMapping(80),))
    db = Service("db", image="postgres", expose=("5432",))
    api = Service("api", image="a", container_name="My_Api", ports=(PortMapping(80),))
    ctx = _ctx(web, db, api)
    assert [o["metadata"]["name"] for o in build_services(ctx, web)] == ["web"]
    assert [o["metadata"]["name"] for o in build_services(ctx, api)] == ["api", "my-api"]
    messages = [d.message for d in ctx.diagnostics]
    assert "container name 'db' is also a service's name; the service keeps it" in messages
    assert any("'My_Api' is not a DNS label: it resolves as 'my-api'" in m for m in messages)
