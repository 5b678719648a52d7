"""How Ingresses merge into the routing table: ingress-nginx's rules (oldest wins, default
backends per host and catch-all, TLS per host, passthrough), and the problems reported."""

from __future__ import annotations

from typing import Any

from kompy.cluster.ingress.annotations import IngressOptions
from kompy.cluster.ingress.table import Lookups, Table, TlsLookup, UpstreamTls, build

ENDPOINTS = {"web": [("10.0.0.1", 8080), ("10.0.0.2", 8080)], "api": [("10.0.0.3", 9000)],
             "other": [("10.0.0.4", 80)], "secure": [("10.0.0.5", 8443)]}
CERTS = {"shop-tls": ["shop.local", "*.shop.local"], "api-tls": ["api.example"]}


def service(ns: str, name: str) -> dict[str, Any] | None:
    if name not in ENDPOINTS:
        return None
    port = ENDPOINTS[name][0][1]
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": port}]}}


def endpoints(ns: str, name: str) -> dict[str, Any] | None:
    if name not in ENDPOINTS:
        return None
    return {"subsets": [{"ports": [{"name": "http", "port": ENDPOINTS[name][0][1]}],
                         "addresses": [{"ip": ip} for ip, _ in ENDPOINTS[name]]}]}


def tls(ns: str, secret: str, host: str) -> TlsLookup:
    if secret not in CERTS:
        return TlsLookup(problem=f'secret "{ns}/{secret}" not found')
    import datetime

    from kompy.cluster.ingress.certs import CertInfo
    info = CertInfo(tuple(CERTS[secret]), datetime.datetime.now(datetime.UTC))
    return TlsLookup(f"ctx:{secret}", info.covers(host))


def lookups() -> Lookups:
    def upstream(ns: str, svc: str, options: IngressOptions) -> tuple[UpstreamTls, str]:
        return UpstreamTls("client-ctx", options.proxy_ssl_name or None), ""

    return Lookups(service=service, endpoints=endpoints, tls=tls,
                   auto_tls=lambda host: f"auto:{host}", default_tls="default",
                   upstream_tls=upstream)


def ingress(name: str, *rules: dict[str, Any], created: str = "2026-01-01T00:00:00Z",
            ns: str = "shop", default: str | None = None, tls_: list[Any] | None = None,
            **annotations: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"rules": list(rules)}
    if default:
        spec["defaultBackend"] = {"service": {"name": default, "port": {"number": 80}}}
    if tls_ is not None:
        spec["tls"] = tls_
    return {"metadata": {"name": name, "namespace": ns, "creationTimestamp": created,
                         "uid": f"uid-{name}",
                         "annotations": {f"nginx.ingress.kubernetes.io/{k.replace('_', '-')}": v
                                         for k, v in annotations.items()}},
            "spec": spec}


def rule(host: str | None, *paths: tuple[str, str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"http": {"paths": [
        {"path": path, "pathType": kind,
         "backend": {"service": {"name": svc, "port": {"name": "http"}}}}
        for path, kind, svc in paths]}}
    if host is not None:
        out["host"] = host
    return out


def route(table: Table, host: str, path: str) -> str | None:
    found, _ = table.server_for(host).find(path)
    return found.backend.service if found and found.backend else None


def test_paths_of_several_ingresses_merge_on_one_host_and_the_oldest_wins() -> None:
    old = ingress("old", rule("shop.local", ("/", "Prefix", "web"), ("/api", "Prefix", "api")),
                  created="2026-01-01T00:00:00Z")
    new = ingress("new", rule("shop.local", ("/api", "Prefix", "other"),
                              ("/admin", "Exact", "other")), created="2026-01-02T00:00:00Z")
    table, problems = build([new, old], lookups())
    assert route(table, "shop.local", "/api/x") == "api"        # the older Ingress's
    assert route(table, "shop.local", "/admin") == "other"      # merged in from the newer
    assert route(table, "shop.local", "/x") == "web"
    assert problems[("shop", "new")] == [(
        "PathConflict", "path /api (Prefix) of host shop.local is already served by the older "
                        "Ingress shop/old; the older one wins")]
    assert ("shop", "old") not in problems


def test_same_second_ties_go_to_the_name_that_sorts_last_as_in_ingress_nginx() -> None:
    a = ingress("a", rule("shop.local", ("/", "Prefix", "web")))
    b = ingress("b", rule("shop.local", ("/", "Prefix", "api")))
    table, _ = build([a, b], lookups())
    assert route(table, "shop.local", "/") == "api"


def test_a_hosts_default_backend_is_its_first_ingress_s_and_hosts_never_fall_through() -> None:
    first = ingress("first", rule("shop.local", ("/api", "Prefix", "api")), default="web")
    catch_all = ingress("catch-all", default="other", created="2026-01-03T00:00:00Z")
    hostless = ingress("hostless", rule(None, ("/status", "Exact", "api")),
                       created="2026-01-04T00:00:00Z")
    table, problems = build([first, catch_all, hostless], lookups())
    assert route(table, "shop.local", "/api") == "api"
    assert route(table, "shop.local", "/elsewhere") == "web"     # first's defaultBackend
    assert route(table, "shop.local", "/status") == "web"        # not the host-less rule
    assert route(table, "unknown.host", "/status") == "api"      # host-less rules: catch-all
    assert route(table, "unknown.host", "/x") == "other"         # the catch-all default
    assert route(table, "", "/x") == "other"
    assert not problems


def test_a_host_without_a_default_backend_answers_no_route() -> None:
    table, _ = build([ingress("i", rule("shop.local", ("/api", "Prefix", "api")))], lookups())
    found, _ = table.server_for("shop.local").find("/x")
    assert found is not None and found.default and found.backend is None


def test_wildcard_hosts() -> None:
    table, _ = build([ingress("w", rule("*.shop.local", ("/", "Prefix", "web"))),
                      ingress("e", rule("api.shop.local", ("/", "Prefix", "api")))], lookups())
    assert route(table, "eu.shop.local", "/") == "web"
    assert route(table, "api.shop.local", "/") == "api"        # exact before wildcard
    assert route(table, "a.eu.shop.local", "/") is None        # one label only


def test_backends_are_ready_endpoints_by_port_name_or_number() -> None:
    by_number = ingress("n", {"host": "n.local", "http": {"paths": [{
        "path": "/", "pathType": "Prefix",
        "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}})
    table, problems = build([by_number], lookups())
    found, _ = table.server_for("n.local").find("/")
    assert found and found.backend and found.backend.endpoints == (
        ("10.0.0.1", 8080), ("10.0.0.2", 8080))
    assert not problems


def test_bad_references_are_problems_and_answer_503() -> None:
    bad = ingress("bad", rule("shop.local", ("/a", "Prefix", "missing")), {
        "host": "shop.local", "http": {"paths": [{
            "path": "/b", "pathType": "Prefix",
            "backend": {"service": {"name": "web", "port": {"number": 8081}}}}]}})
    table, problems = build([bad], lookups())
    assert problems[("shop", "bad")] == [
        ("ServiceNotFound", 'service "shop/missing" not found'),
        ("ServicePortNotFound", 'service "shop/web" has no port 8081')]
    found, _ = table.server_for("shop.local").find("/a")
    assert found and found.backend and found.backend.problem


def test_tls_for_a_host_comes_from_its_oldest_ingress_with_tls() -> None:
    plain = ingress("plain", rule("shop.local", ("/", "Prefix", "web")))
    secured = ingress("secured", rule("shop.local", ("/x", "Prefix", "api")),
                      created="2026-01-02T00:00:00Z",
                      tls_=[{"hosts": ["shop.local"], "secretName": "shop-tls"}])
    table, problems = build([plain, secured], lookups())
    assert table.server_for("shop.local").tls == "ctx:shop-tls"
    assert table.server_for("other.local").tls is None
    assert not problems


def test_tls_entries_without_the_host_use_a_certificate_that_covers_it() -> None:
    table, _ = build([ingress("i", rule("eu.shop.local", ("/", "Prefix", "web")),
                              tls_=[{"secretName": "api-tls"}, {"secretName": "shop-tls"}])],
                     lookups())
    assert table.server_for("eu.shop.local").tls == "ctx:shop-tls"


def test_unusable_certificates_give_the_default_and_a_problem() -> None:
    missing = ingress("missing", rule("a.local", ("/", "Prefix", "web")),
                      tls_=[{"hosts": ["a.local"], "secretName": "nope"}])
    wrong = ingress("wrong", rule("b.local", ("/", "Prefix", "web")),
                    tls_=[{"hosts": ["b.local"], "secretName": "api-tls"}])
    unnamed = ingress("unnamed", rule("c.local", ("/", "Prefix", "web")),
                      tls_=[{"hosts": ["c.local"]}])
    auto = ingress("auto", rule("d.local", ("/", "Prefix", "web")),
                   tls_=[{"hosts": ["d.local"], "secretName": "nope"}])
    auto["metadata"]["annotations"]["kompy.dev/auto-tls"] = "true"
    table, problems = build([missing, wrong, unnamed, auto], lookups())
    assert [table.server_for(h).tls for h in ("a.local", "b.local", "c.local", "d.local")] == [
        "default", "default", "default", "auto:d.local"]
    assert problems[("shop", "missing")][0][0] == "TLSSecretInvalid"
    assert problems[("shop", "wrong")] == [("TLSHostMismatch", 'the certificate of secret '
                                            '"shop/api-tls" is not valid for host b.local; it '
                                            "uses the default certificate")]
    assert ("shop", "unnamed") not in problems and ("shop", "auto") not in problems


def test_passthrough_relays_the_backend_of_path_slash() -> None:
    through = ingress("through", rule("secure.local", ("/", "ImplementationSpecific", "secure")),
                      ssl_passthrough="true")
    nothing = ingress("nothing", rule("none.local", ("/x", "Prefix", "secure")),
                      ssl_passthrough="true")
    table, problems = build([through, nothing], lookups())
    backend = table.server_for("secure.local").passthrough
    assert backend is not None and backend.service == "secure"
    assert table.server_for("none.local").passthrough is None
    assert problems[("shop", "nothing")][0][0] == "PassthroughIgnored"


def test_annotations_that_do_not_parse_are_problems_and_keep_defaults() -> None:
    odd = ingress("odd", rule("o.local", ("/", "Prefix", "web")), ssl_redirect="maybe",
                  backend_protocol="GRPC", proxy_body_size="lots")
    table, problems = build([odd], lookups())
    found, _ = table.server_for("o.local").find("/")
    assert found and found.options.ssl_redirect is True and found.options.body_limit == 2**20
    assert [reason for reason, _ in problems[("shop", "odd")]] == ["InvalidAnnotation"] * 3


def test_re_encryption_attaches_the_client_side_tls() -> None:
    api = ingress("api", rule("api.local", ("/", "Prefix", "secure")),
                  backend_protocol="HTTPS", proxy_ssl_name="secure.internal")
    table, _ = build([api], lookups())
    found, _ = table.server_for("api.local").find("/")
    assert found and found.backend and found.backend.tls == UpstreamTls("client-ctx",
                                                                        "secure.internal")


def test_rewrite_target_uses_regular_expressions() -> None:
    from kompy.cluster.ingress.annotations import rewrite

    api = ingress("api", rule("api.local", ("/something(/|$)(.*)", "ImplementationSpecific",
                                            "api")), rewrite_target="/$2")
    table, _ = build([api], lookups())
    found, match = table.server_for("api.local").find("/something/new/x")
    assert found and found.options.rewrite_target == "/$2"
    assert rewrite("/$2", match, "?q=1") == "/new/x?q=1"
    _, match = table.server_for("api.local").find("/something")
    assert rewrite("/$2", match, "") == "/"
