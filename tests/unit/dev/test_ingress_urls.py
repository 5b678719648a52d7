"""kompy up's Ingress URLs: routes read from the converted Ingresses, and the lines printed."""

from __future__ import annotations

from typing import Any

from kompy.dev.ingress_urls import IngressEntry, IngressRoute, ingress_routes, url_lines

BUILTIN = IngressEntry("127.0.0.1", {"http": 8080, "https": 8443}, "/state/ingress-ca.crt")


def ingress(name: str, rules: list[dict[str, Any]], tls: list[str] | None = None,
            **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"rules": rules, **spec}
    if tls:
        body["tls"] = [{"hosts": tls, "secretName": "tls"}]
    return {"kind": "Ingress", "spec": body,
            "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "shop"}}}


def rule(host: str | None, *paths: str) -> dict[str, Any]:
    out: dict[str, Any] = {"http": {"paths": [{"path": p, "pathType": "Prefix"} for p in paths]}}
    if host:
        out["host"] = host
    return out


def test_every_host_and_path_is_a_route_with_its_tls() -> None:
    objects = [{"kind": "Service", "metadata": {"name": "shop"}},
               ingress("shop", [rule("shop.example", "/", "/api"), rule("admin.example", "/")],
                       tls=["admin.example"])]
    assert ingress_routes(objects) == [
        IngressRoute("shop", "shop", "shop.example", "/", False),
        IngressRoute("shop", "shop", "shop.example", "/api", False),
        IngressRoute("shop", "shop", "admin.example", "/", True)]


def test_a_default_backend_without_rules_answers_any_host() -> None:
    objects = [ingress("all", [], defaultBackend={"service": {"name": "shop"}})]
    assert ingress_routes(objects) == [IngressRoute("all", "shop", "", "/", False)]


def test_named_hosts_come_with_curl_resolve_and_one_hosts_line() -> None:
    routes = [IngressRoute("shop", "shop", "shop.example", "/api", False),
              IngressRoute("shop", "shop", "*.shop.example", "/", False)]
    assert url_lines(routes, BUILTIN) == [
        "shop: http://shop.example:8080/api  (Ingress shop: curl --resolve "
        "shop.example:8080:127.0.0.1 http://shop.example:8080/api)",
        "shop: http://app.shop.example:8080/  (Ingress shop: curl --resolve "
        "app.shop.example:8080:127.0.0.1 http://app.shop.example:8080/)",
        "  to open these names in a browser, add this line to /etc/hosts: "
        "127.0.0.1 shop.example app.shop.example"]


def test_tls_hosts_are_https_with_the_local_ca() -> None:
    routes = [IngressRoute("shop", "shop", "shop.example", "/", True)]
    assert url_lines(routes, BUILTIN)[0] == (
        "shop: https://shop.example:8443/  (Ingress shop: curl --cacert /state/ingress-ca.crt "
        "--resolve shop.example:8443:127.0.0.1 https://shop.example:8443/)")


def test_standard_ports_are_left_out_of_the_url() -> None:
    entry = IngressEntry("127.0.0.1", {"http": 80, "https": 443})
    routes = [IngressRoute("shop", "shop", "shop.example", "/", True)]
    assert url_lines(routes, entry)[0] == (
        "shop: https://shop.example/  (Ingress shop: curl --resolve "
        "shop.example:443:127.0.0.1 https://shop.example/)")


def test_hostless_and_localhost_routes_need_no_hint() -> None:
    routes = [IngressRoute("shop", "shop", "", "/", False),
              IngressRoute("shop", "shop", "shop.localhost", "/", False)]
    assert url_lines(routes, BUILTIN) == [
        "shop: http://127.0.0.1:8080/  (Ingress shop)",
        "shop: http://shop.localhost:8080/  (Ingress shop)"]


def test_a_scheme_the_ingress_does_not_listen_for_is_said() -> None:
    entry = IngressEntry("127.0.0.1", {"http": 8080, "https": None})
    routes = [IngressRoute("shop", "shop", "shop.example", "/", True)]
    assert url_lines(routes, entry) == [
        "shop: shop.example/ (Ingress shop): the cluster's Ingress does not listen for https"]
