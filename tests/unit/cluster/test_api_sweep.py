"""Every endpoint of the API server swept with generated bad requests (issue #12, item 8):
malformed query parameters, bodies of every shape and content type, wrong methods and
paths. Every answer must be a 2xx, or a 4xx with a Status body; never a 500, never a
dropped connection.

Hypothesis generates the requests (property-based testing: it also shrinks a failure to
the smallest request that shows it). The server runs in this process over real HTTP, so a
dropped connection is seen as the client would see it. About 30 s on the 2-core machine
under load (10,000 requests).
"""

from __future__ import annotations

import json
import string
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kompy.client import resources
from kompy.cluster.apiserver.server import ApiServer
from kompy.cluster.store.sqlite import Store

TOKEN = "sweep-token"
SETTINGS = settings(max_examples=500, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


class PodIO:
    """The runtime's logs and exec, answering at once."""

    def logs(self, namespace: str, pod: str, container: str, **options: Any) -> Iterator[bytes]:
        yield b"a line\n"

    def exec(self, namespace: str, pod: str, container: str, command: list[str],
             stdin: bytes | None) -> tuple[int, bytes]:
        return 0, b"output"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    folder = tmp_path_factory.mktemp("sweep")
    srv = ApiServer(Store(folder / "store.db"), TOKEN).start()
    srv.set_pod_io(PodIO())
    setup = requests.Session()
    setup.headers["Authorization"] = f"Bearer {TOKEN}"
    # A few objects for the named endpoints to find.
    for obj in (
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
         "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "d", "namespace": "default"},
         "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
             "metadata": {"labels": {"a": "b"}},
             "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}}}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "c", "namespace": "default"}, "data": {"k": "v"}},
    ):
        res = resources.for_object(obj)
        setup.post(srv.url + res.path("default"), json=obj, timeout=10).raise_for_status()
    setup.close()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def session() -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    return session


# -- what requests are made of ------------------------------------------------------------

WEIRD = st.sampled_from(["", "abc", "-1", "0", "1", "1.5", "1e9", "true", "null", "%00",
                         "99999999999999999999999", "٣", "a" * 300, "x=y,,", "!", "in (",
                         "metadata.name=", "=", "a in (b", "{}", "[]", "\\", "..", "/"])
VALUE = st.one_of(WEIRD, st.text(max_size=20))
PARAMETERS = (
    "watch", "resourceVersion", "timeoutSeconds", "labelSelector", "fieldSelector",
    "allowWatchBookmarks", "gracePeriodSeconds", "tailLines", "follow", "previous",
    "container", "command", "stdin", "fieldValidation", "sinceSeconds", "sinceTime",
    "timestamps", "limit", "continue", "propagationPolicy", "dryRun", "pretty")
PARAMS = st.sampled_from(PARAMETERS)
QUERY = st.lists(st.tuples(PARAMS, VALUE), max_size=6)
NAMES = st.one_of(st.sampled_from(["p", "d", "c", "missing", "", "UPPER", "a.b", "-x", "..",
                                   "%2F"]), st.text(string.ascii_letters + "-._~", max_size=8))
SUBRESOURCES = st.sampled_from([None, None, "status", "scale", "log", "exec", "attach",
                                "portforward", "bogus", "finalize"])
METHODS = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
CONTENT_TYPES = st.sampled_from([
    None, "application/json", "application/merge-patch+json", "application/json-patch+json",
    "application/strategic-merge-patch+json", "application/yaml", "text/plain",
    "application/apply-patch+yaml", "application/json; charset=utf-8", "garbage"])
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
              st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20)
FIELDS = st.sampled_from(["metadata", "spec", "status", "data", "kind", "apiVersion",
                          "stringData", "binaryData", "type", "items", "replicas", "selector",
                          "template", "containers", "ports", "op", "path", "value",
                          "$patch", "$setElementOrder/containers", "$retainKeys"])


@st.composite
def object_like(draw: st.DrawFn) -> Any:
    """Something shaped like an object of a served kind, with random values in places."""
    res = draw(st.sampled_from(resources.RESOURCES))
    obj: dict[str, Any] = {"apiVersion": res.api_version, "kind": res.kind,
                           "metadata": {"name": draw(NAMES)}}
    for _ in range(draw(st.integers(0, 4))):
        where = obj
        for _depth in range(draw(st.integers(0, 3))):
            key = draw(FIELDS)
            where = where.setdefault(key, {}) if isinstance(where.get(key, {}), dict) \
                else where
        where[draw(FIELDS)] = draw(JSON)
    return obj


@st.composite
def json_patch(draw: st.DrawFn) -> Any:
    return [{"op": draw(st.sampled_from(["add", "remove", "replace", "move", "copy", "test",
                                         "bogus"])),
             "path": draw(st.sampled_from(["", "/", "/spec", "/metadata/labels/a", "/spec/-",
                                           "/spec/containers/0", "/x~1y", "/data/k",
                                           "/spec/replicas", "~2", "/spec/containers/99"])),
             "from": draw(st.sampled_from(["/spec", "/metadata", "", "/nope"])),
             "value": draw(JSON)} for _ in range(draw(st.integers(0, 3)))]


HOSTILE_BODIES = (
    b"{", b"[" * 5000 + b"]" * 5000, b'{"a":' * 2000 + b"1" + b"}" * 2000, b"NaN",
    b'{"spec": Infinity}', b"1e999", b"\xff\xfe", b'"\\ud800"', b"- a\n- [b\n",
    b"a: &x [*x]\n", b"{a: " * 300 + b"1" + b"}" * 300, b'{"metadata": "x"}',
    b'{"metadata": {"name": 5}}', b'{"spec": []}', b'{"data": "x"}', b"[]", b"null",
    b'{"metadata": {"labels": {"a": {"b": 1}}}}')
HOSTILE = st.sampled_from(HOSTILE_BODIES)
# Each alternative as likely as the others: the hostile bodies twice, so that they meet
# every endpoint within the examples.
BODIES = st.one_of(
    st.none(),
    JSON.map(lambda v: json.dumps(v).encode()),
    object_like().map(lambda v: json.dumps(v).encode()),
    json_patch().map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
    HOSTILE, HOSTILE,
)


EXISTING = {"pods": "p", "deployments": "d", "configmaps": "c"}


@st.composite
def request_(draw: st.DrawFn) -> tuple[str, str, list[tuple[str, str]], str | None, bytes | None]:
    """Mostly requests that reach an endpoint's logic (the namespace exists, objects of
    that name exist, the method takes a body), so the bad parts are what is tested."""
    method = draw(st.one_of(st.sampled_from(["POST", "PUT", "PATCH"]), METHODS))
    query = draw(QUERY)
    if draw(st.integers(0, 9)) == 0:
        path = draw(st.sampled_from(["/", "/api", "/apis", "/api/v1", "/apis/apps/v1",
                                     "/apis/nope/v1", "/version", "/healthz", "/openapi/v3",
                                     "/openapi/v3/api/v1", "/openapi/v3/apis/nope/v9",
                                     "/api/v1/namespaces/default/nothings",
                                     "/api/v1/namespaces//pods", "/api/v1/pods/p/log/x/y"]))
    else:
        res = draw(st.sampled_from(resources.RESOURCES))
        namespace = draw(st.sampled_from(["default", "default", "nowhere", None])) \
            if res.namespaced else None
        named = method in ("PUT", "PATCH", "DELETE") or draw(st.booleans())
        name = draw(st.one_of(st.just(EXISTING.get(res.plural, "x")), NAMES)) if named \
            else None
        sub = draw(SUBRESOURCES) if name else None
        path = res.path(namespace, name or None, sub)
    # A watch that succeeds must end at once: a valid timeout (the last value counts)
    # becomes -1 (allowed, as kube-apiserver), an invalid one stays (it is a 400).
    if any(k == "watch" for k, _ in query):
        given = [v for k, v in query if k == "timeoutSeconds"]
        if not given or not given[-1] or given[-1].lstrip("+-").isdigit():
            query = [(k, v) for k, v in query if k != "timeoutSeconds"]
            query.append(("timeoutSeconds", "-1"))
    return method, path, query, draw(CONTENT_TYPES), draw(BODIES)


@SETTINGS
@given(request=request_())
def test_no_request_gets_a_500_or_a_dropped_connection(server: ApiServer,
                                                       session: requests.Session,
                                                       request: Any) -> None:
    method, path, query, content_type, body = request
    headers = {"Content-Type": content_type} if content_type else {}
    try:
        answer = session.request(method, server.url + path, params=query, data=body,
                                 headers=headers, timeout=15, stream=True)
        content = answer.content          # a stream (watch, logs) read to its end
    except requests.RequestException as error:
        pytest.fail(f"{method} {path} {query}: the connection failed: {error}")
    assert answer.status_code < 500, f"{method} {path} {query}: {content[:300]!r}"
    assert answer.status_code < 300 or 400 <= answer.status_code < 500
    if answer.status_code >= 400 and method != "HEAD":
        status = json.loads(content)
        assert status["kind"] == "Status" and status["code"] == answer.status_code


# The systematic half: every endpoint shape of a sample of kinds (namespaced and not, with
# and without status and scale) with every method and each hostile body; and every query
# parameter with each bad value on each endpoint shape. About 7,000 requests. (A missing
# namespace is refused before any of this is looked at: test_api.py covers it.)
SWEPT_KINDS = ("pods", "deployments", "secrets", "namespaces", "nodes")
SWEPT_VALUES = ("abc", "-1", "1.5", "1e9", "", "99999999999999999999999", "٣", "%00",
                "a in (", "=", "true")
ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE")
SHAPES = (None, "status", "scale", "log", "exec", "attach", "portforward", "bogus")


def endpoints(kinds: tuple[str, ...] = SWEPT_KINDS) -> Iterator[str]:
    for plural in kinds:
        res = resources.lookup(plural)
        namespace = "default" if res.namespaced else None
        yield res.path(namespace)
        for sub in SHAPES:
            yield res.path(namespace, EXISTING.get(plural, "x"), sub)


DISCOVERY = ("/", "/api", "/apis", "/api/v1", "/apis/apps/v1", "/version", "/healthz",
             "/openapi/v3", "/openapi/v3/api/v1", "/apis/nope/v1")


def test_every_endpoint_with_every_bad_body_and_parameter(server: ApiServer,
                                                         session: requests.Session) -> None:
    failures: list[str] = []

    def check(method: str, path: str, query: list[tuple[str, str]],
              content_type: str | None, body: bytes | None) -> None:
        headers = {"Content-Type": content_type} if content_type else {}
        try:
            answer = session.request(method, server.url + path, params=query, data=body,
                                     headers=headers, timeout=15)
        except requests.RequestException as error:
            failures.append(f"{method} {path} {query}: connection failed: {error}")
            return
        if answer.status_code >= 500 or 300 <= answer.status_code < 400:
            failures.append(f"{method} {path} {query} {content_type} {(body or b'')[:30]!r}: "
                            f"{answer.status_code} {answer.text[:200]}")

    for path in (*DISCOVERY, *endpoints()):
        for method in ALL_METHODS:
            check(method, path, [], None, None)
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            for body in HOSTILE_BODIES:
                check(method, path, [], "application/json", body)
    for path in endpoints(("pods",)):
        for content_type in ("application/yaml", "application/strategic-merge-patch+json",
                             "application/json-patch+json", "text/plain"):
            for body in HOSTILE_BODIES:
                check("POST" if path.endswith("pods") else "PATCH", path, [], content_type,
                      body)
    # Query parameters on one namespaced and one cluster-scoped kind. A watch that is
    # accepted ends at once: a negative timeoutSeconds is allowed (as kube-apiserver's).
    for path in (*endpoints(("pods", "nodes")), "/api/v1/pods"):
        for name in PARAMETERS:
            for value in SWEPT_VALUES:
                if name == "timeoutSeconds" and not value:
                    continue        # empty is absent: the default timeout of half an hour
                query = [(name, value)]
                if name != "timeoutSeconds":
                    query.append(("timeoutSeconds", "-1"))
                if name != "watch" and path.endswith("s"):
                    query.append(("watch", "true"))
                check("GET", path, query, None, None)
                if "/namespaces/default/pods/" in path and name in (
                        "gracePeriodSeconds", "propagationPolicy", "dryRun", "command",
                        "stdin", "container", "fieldValidation"):
                    for method in ("DELETE", "POST", "PATCH"):
                        check(method, path, query, "application/json", b"{}")
    assert not failures, f"{len(failures)} bad answers, the first:\n" + "\n".join(failures[:20])


def test_the_sweep_left_the_server_sound(server: ApiServer, session: requests.Session
                                         ) -> None:
    """After the sweep: the store is consistent, no watch is left, and once the client
    closes its keep-alive connections no connection (and its thread) is either."""
    assert server.api.store.check() == []
    assert server.api.watching() == 0
    session.close()
    deadline = time.monotonic() + 30
    while server.httpd.connections and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not server.httpd.connections


def test_a_body_nested_100000_levels_is_a_400(server: ApiServer,
                                              session: requests.Session) -> None:
    """It was a 500 (RecursionError), for JSON and YAML alike."""
    url = server.url + "/api/v1/namespaces/default/configmaps"
    for content_type, body in (("application/json", b"[" * 100_000 + b"]" * 100_000),
                               ("application/json", b'{"a":' * 100_000 + b"1" +
                                b"}" * 100_000),
                               ("application/yaml", b"[" * 100_000 + b"]" * 100_000),
                               ("application/yaml", b"".join(b"  " * i + b"-\n"
                                                             for i in range(1000)))):
        answer = session.post(url, data=body, headers={"Content-Type": content_type},
                              timeout=30)
        assert answer.status_code == 400, (content_type, answer.text[:200])
        assert "nested deeper than" in answer.json()["message"]


def test_a_yaml_alias_bomb_is_a_400(server: ApiServer, session: requests.Session) -> None:
    bomb = b"a: &a [x, x, x, x, x, x, x, x, x, x]\n" + b"".join(
        b"%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n" % (
            (ord("b") + i,) * 2 + (ord("a") + i,) * 10) for i in range(8))
    answer = session.post(server.url + "/api/v1/namespaces/default/configmaps", data=bomb,
                          headers={"Content-Type": "application/yaml"}, timeout=30)
    assert answer.status_code == 400


@pytest.mark.parametrize("path", ["/api/v1/namespaces/default/configmaps/x",
                                  "/api/v1/namespaces/default/configmaps"])
def test_a_huge_query_value_is_no_500(server: ApiServer, session: requests.Session,
                                      path: str) -> None:
    for query in ("watch=true&timeoutSeconds=abc", "timeoutSeconds=" + "9" * 5000,
                  "gracePeriodSeconds=" + "9" * 5000, "labelSelector=" + "a," * 3000):
        answer = session.get(server.url + path + "?" + query, timeout=10)
        assert answer.status_code < 500, (query[:40], answer.text[:200])
