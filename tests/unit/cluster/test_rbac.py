"""ServiceAccount tokens, RBAC, escalation checks, impersonation and the reviews, against the
real API server in this process (no runtime: roles are aggregated by calling the
controller's function)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kompy.client import KubeClient
from kompy.client.errors import ApiError, Forbidden, Invalid, Unauthorized, error_from_status
from kompy.cluster.apiserver.authn import UserInfo
from kompy.cluster.apiserver.authz import Attributes
from kompy.cluster.apiserver.rbac import rule_allows
from kompy.cluster.apiserver.satokens import API_AUDIENCE, TokenIssuer
from kompy.cluster.apiserver.server import ApiServer
from kompy.cluster.controllers.clusterroles import aggregated_rules
from kompy.cluster.store.sqlite import Store

RBAC = "rbac.authorization.k8s.io"


@pytest.fixture
def server() -> Iterator[ApiServer]:
    srv = ApiServer(Store(":memory:"), "admin-token").start()
    admin = KubeClient.for_server(srv.url, "admin-token")
    for role in ("view", "edit", "admin"):     # what the aggregation controller does
        current = admin.get("clusterroles", role)
        admin.patch("clusterroles", role, None, {"rules": aggregated_rules(
            current, admin.list("clusterroles")["items"])})
    admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    admin.create({"apiVersion": "v1", "kind": "ServiceAccount",
                  "metadata": {"name": "robot", "namespace": "team"}})
    yield srv
    srv.stop()


@pytest.fixture
def admin(server: ApiServer) -> KubeClient:
    return KubeClient.for_server(server.url, "admin-token")


def token_for(admin: KubeClient, account: str = "robot", **spec: Any) -> str:
    answer = admin.request("POST", f"/api/v1/namespaces/team/serviceaccounts/{account}/token",
                           body={"apiVersion": "authentication.k8s.io/v1",
                                 "kind": "TokenRequest", "spec": spec}).json()
    return str(answer["status"]["token"])


def as_user(server: ApiServer, token: str) -> KubeClient:
    return KubeClient.for_server(server.url, token)


def bind(admin: KubeClient, role: str, subject: dict[str, str], ns: str = "team",
         name: str = "b", kind: str = "ClusterRole") -> None:
    admin.create({"apiVersion": f"{RBAC}/v1", "kind": "RoleBinding",
                  "metadata": {"name": name, "namespace": ns},
                  "roleRef": {"apiGroup": RBAC, "kind": kind, "name": role},
                  "subjects": [subject]})


ROBOT = {"kind": "ServiceAccount", "name": "robot", "namespace": "team"}


# -- tokens ------------------------------------------------------------------------------------

def test_a_token_authenticates_its_service_account(server: ApiServer, admin: KubeClient) -> None:
    robot = as_user(server, token_for(admin))
    who = robot.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                        body={"kind": "SelfSubjectReview"}).json()["status"]["userInfo"]
    assert who["username"] == "system:serviceaccount:team:robot"
    assert who["groups"] == ["system:serviceaccounts", "system:serviceaccounts:team",
                             "system:authenticated"]


def test_tokens_for_other_audiences_expired_foreign_or_of_deleted_accounts_are_refused(
        server: ApiServer, admin: KubeClient) -> None:
    other = token_for(admin, audiences=["vault"])
    with pytest.raises(Unauthorized):
        as_user(server, other).list("pods", "team")
    issuer = server.router.service_accounts.issuer
    uid = admin.get("serviceaccounts", "robot", "team")["metadata"]["uid"]
    old, _ = issuer.issue("team", "robot", uid, [API_AUDIENCE], 600, now=time.time() - 3600)
    with pytest.raises(Unauthorized):
        as_user(server, old).list("pods", "team")
    foreign, _ = TokenIssuer.ephemeral().issue("team", "robot", uid, [API_AUDIENCE], 600)
    with pytest.raises(Unauthorized):
        as_user(server, foreign).list("pods", "team")
    live = token_for(admin)
    bind(admin, "view", ROBOT)
    assert as_user(server, live).list("pods", "team")["items"] == []
    admin.delete("serviceaccounts", "robot", "team")
    server.router.service_accounts._cache.clear()     # as after its 10 s
    with pytest.raises(Unauthorized):
        as_user(server, live).list("pods", "team")


def test_a_pod_bound_token_dies_with_its_pod(server: ApiServer, admin: KubeClient) -> None:
    bind(admin, "view", ROBOT)
    pod = admin.create({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "p", "namespace": "team"}, "spec": {"serviceAccountName": "robot",
                                                    "containers": [{"name": "c",
                                                                    "image": "x"}]}})
    token = token_for(admin, boundObjectRef={"kind": "Pod", "apiVersion": "v1", "name": "p",
                                             "uid": pod["metadata"]["uid"]})
    assert as_user(server, token).list("pods", "team")["items"]
    admin.delete("pods", "p", "team", grace_period_seconds=0)
    server.router.service_accounts._cache.clear()
    with pytest.raises(Unauthorized):
        as_user(server, token).list("pods", "team")


@pytest.mark.parametrize(("spec", "message"), [
    ({"expirationSeconds": 60}, "may not specify a duration less than 10 minutes"),
    ({"boundObjectRef": {"kind": "Node", "name": "n"}}, 'supported values: "Pod", "Secret"'),
])
def test_token_requests_are_validated(admin: KubeClient, spec: dict[str, Any],
                                      message: str) -> None:
    with pytest.raises(Invalid, match=message):
        token_for(admin, **spec)


# -- the authorizer ----------------------------------------------------------------------------

def test_a_role_binding_grants_in_its_namespace_only(server: ApiServer,
                                                     admin: KubeClient) -> None:
    admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
    robot = as_user(server, token_for(admin))
    with pytest.raises(Forbidden) as refused:
        robot.list("pods", "team")
    assert refused.value.message == ('pods is forbidden: User "system:serviceaccount:team:'
                                     'robot" cannot list resource "pods" in API group "" in '
                                     'the namespace "team"')
    bind(admin, "view", ROBOT)
    assert robot.list("pods", "team")["items"] == []
    with pytest.raises(Forbidden):
        robot.list("pods", "other")
    with pytest.raises(Forbidden, match='cannot list resource "secrets"'):
        robot.list("secrets", "team")
    with pytest.raises(Forbidden, match='cannot list resource "namespaces" .* at the '
                                        "cluster scope"):
        robot.list("namespaces")
    assert robot.request("GET", "/version").json()["major"] == "1"   # system:discovery


def user(name: str = "u", *groups: str) -> UserInfo:
    return UserInfo(name, "", (*groups, "system:authenticated"))


@pytest.mark.parametrize(("rule", "attrs", "allowed"), [
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]},
     dict(verb="get", resource="pods", subresource="log"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]},
     dict(verb="get", resource="pods", subresource="log"), False),
    ({"verbs": ["*"], "apiGroups": ["apps"], "resources": ["*/scale"]},
     dict(verb="update", group="apps", resource="deployments", subresource="scale"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"],
      "resourceNames": ["cfg"]}, dict(verb="get", resource="configmaps", name="cfg"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"],
      "resourceNames": ["cfg"]}, dict(verb="get", resource="configmaps", name="x"), False),
    ({"verbs": ["list"], "apiGroups": [""], "resources": ["configmaps"],
      "resourceNames": ["cfg"]}, dict(verb="list", resource="configmaps"), False),
    ({"verbs": ["get"], "nonResourceURLs": ["/apis/*"]}, dict(verb="get", path="/apis/apps"),
     True),
    ({"verbs": ["get"], "nonResourceURLs": ["/version"]}, dict(verb="get", path="/healthz"),
     False),
    ({"verbs": ["deletecollection"], "apiGroups": ["*"], "resources": ["pods"]},
     dict(verb="deletecollection", resource="pods"), True),
])
def test_rule_matching(rule: dict[str, Any], attrs: dict[str, str], allowed: bool) -> None:
    assert rule_allows(rule, Attributes(user(), **attrs)) is allowed


def test_a_binding_to_a_missing_role_says_so(server: ApiServer, admin: KubeClient) -> None:
    bind(admin, "nope", {"kind": "User", "name": "ann"}, kind="Role")
    decision, reason = server.router.rbac.authorize(Attributes(user("ann"), "get", "team", "",
                                                               "v1", "pods"))
    assert reason == 'RBAC: role.rbac.authorization.k8s.io "nope" not found'


# -- escalation --------------------------------------------------------------------------------

def test_roles_and_bindings_grant_only_what_their_author_holds(
        server: ApiServer, admin: KubeClient) -> None:
    bind(admin, "admin", ROBOT)
    robot = as_user(server, token_for(admin))
    role = {"apiVersion": f"{RBAC}/v1", "kind": "Role",
            "metadata": {"name": "reader", "namespace": "team"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}
    robot.create(role)
    bigger = {**role, "metadata": {"name": "nodes", "namespace": "team"},
              "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]}
    with pytest.raises(Forbidden) as refused:
        robot.create(bigger)
    assert refused.value.message == (
        'roles.rbac.authorization.k8s.io "nodes" is forbidden: user "system:serviceaccount:'
        'team:robot" (groups=["system:serviceaccounts" "system:serviceaccounts:team" '
        '"system:authenticated"]) is attempting to grant RBAC permissions not currently '
        'held:\n{APIGroups:[""], Resources:["nodes"], Verbs:["get"]}')
    bind(admin, "reader", {"kind": "User", "name": "ann"}, name="ann-reads", kind="Role")
    binding = {"apiVersion": f"{RBAC}/v1", "kind": "RoleBinding",
               "metadata": {"name": "grab", "namespace": "team"},
               "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "cluster-admin"},
               "subjects": [ROBOT]}
    with pytest.raises(Forbidden, match="attempting to grant RBAC permissions"):
        robot.create(binding)
    # With the bind verb on that role, no coverage is needed.
    admin.create({"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole",
                  "metadata": {"name": "may-bind"}, "rules": [{
                      "apiGroups": [RBAC], "resources": ["clusterroles"], "verbs": ["bind"],
                      "resourceNames": ["cluster-admin"]}]})
    bind(admin, "may-bind", ROBOT, name="may-bind")
    robot.create(binding)
    moved = {**binding, "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "view"}}
    with pytest.raises(Invalid, match="cannot change roleRef"):
        admin.replace(moved)


def test_only_escalate_may_create_an_aggregated_role(server: ApiServer,
                                                     admin: KubeClient) -> None:
    admin.create({"apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding",
                  "metadata": {"name": "robot-roles"},
                  "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "cr-writer"},
                  "subjects": [ROBOT]})
    admin.create({"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole",
                  "metadata": {"name": "cr-writer"}, "rules": [{
                      "apiGroups": [RBAC], "resources": ["clusterroles"],
                      "verbs": ["create"]}]})
    robot = as_user(server, token_for(admin))
    with pytest.raises(Forbidden, match="must have cluster-admin privileges to use the "
                                        "aggregationRule"):
        robot.create({"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole",
                      "metadata": {"name": "agg"}, "aggregationRule": {
                          "clusterRoleSelectors": [{"matchLabels": {"x": "y"}}]}})


# -- impersonation and reviews -----------------------------------------------------------------

def test_impersonation_needs_the_impersonate_verb(server: ApiServer, admin: KubeClient) -> None:
    bind(admin, "view", ROBOT)
    with pytest.raises(Forbidden, match='users "ann" is forbidden: User "system:serviceaccount:'
                                        'team:robot" cannot impersonate resource "users"'):
        _get_as(server, token_for(admin), "ann")
    with pytest.raises(ApiError, match="without impersonating a user"):
        _get_as(server, "admin-token", "", groups=("g",))
    bind(admin, "view", {"kind": "Group", "name": "auditors"}, name="auditors")
    listed = _get_as(server, "admin-token", "ann", groups=("auditors",))
    assert listed["kind"] == "PodList"


def _get_as(server: ApiServer, token: str, name: str, groups: tuple[str, ...] = ()) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    if name:
        headers["Impersonate-User"] = name
    reply = server.router.handle("GET", "/api/v1/namespaces/team/pods",
                                 _Headers(headers, groups), b"")
    body = json.loads(reply.body)
    if reply.status >= 400:
        raise error_from_status(reply.status, body)
    return body


class _Headers:
    """Headers with a repeated Impersonate-Group, as http.server's give them."""

    def __init__(self, single: dict[str, str], groups: tuple[str, ...]) -> None:
        self.single = single
        self.groups = list(groups)

    def get(self, name: str, default: None = None) -> str | None:
        if name.lower() == "impersonate-group":
            return self.groups[0] if self.groups else None
        return next((v for k, v in self.single.items() if k.lower() == name.lower()), None)

    def get_all(self, name: str) -> list[str]:
        return self.groups if name.lower() == "impersonate-group" else []

    def keys(self) -> list[str]:
        return [*self.single, *(["Impersonate-Group"] if self.groups else [])]


def test_subject_access_reviews_answer_from_rbac(server: ApiServer, admin: KubeClient) -> None:
    bind(admin, "edit", {"kind": "User", "name": "ann"})

    def review(**attributes: str) -> dict[str, Any]:
        return dict(admin.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                                  body={"kind": "SubjectAccessReview", "spec": {
                                      "user": "ann", "resourceAttributes": attributes}}
                                  ).json()["status"])
    assert review(verb="delete", resource="pods", namespace="team")["allowed"] is True
    assert "RoleBinding" in review(verb="delete", resource="pods", namespace="team")["reason"]
    assert review(verb="delete", resource="pods", namespace="default") == {"allowed": False}


# -- ServiceAccount admission ------------------------------------------------------------------

def test_pods_get_their_account_and_its_token_volume(admin: KubeClient) -> None:
    def make(name: str, **spec: Any) -> dict[str, Any]:
        return admin.create({"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": name, "namespace": "team"}, "spec": {
            "containers": [{"name": "c", "image": "x"}], **spec}})["spec"]
    spec = make("a")
    assert spec["serviceAccountName"] == "default"
    volume = spec["volumes"][0]
    assert volume["name"].startswith("kube-api-access-")
    assert [list(s) for s in volume["projected"]["sources"]] == [
        ["serviceAccountToken"], ["configMap"], ["downwardAPI"]]
    assert spec["containers"][0]["volumeMounts"] == [{
        "name": volume["name"], "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
        "readOnly": True}]
    assert "volumes" not in make("b", automountServiceAccountToken=False)
    admin.patch("serviceaccounts", "robot", "team", {"automountServiceAccountToken": False})
    assert "volumes" not in make("c", serviceAccountName="robot")
    with pytest.raises(Forbidden, match='error looking up service account team/ghost: '
                                        'serviceaccount "ghost" not found'):
        make("d", serviceAccountName="ghost")


def test_local_subject_access_reviews_ask_in_their_namespace(server: ApiServer,
                                                             admin: KubeClient) -> None:
    bind(admin, "edit", {"kind": "User", "name": "ann"})
    path = "/apis/authorization.k8s.io/v1/namespaces/team/localsubjectaccessreviews"

    def review(**attributes: str) -> dict[str, Any]:
        return dict(admin.request("POST", path, body={
            "kind": "LocalSubjectAccessReview", "spec": {
                "user": "ann", "resourceAttributes": attributes}}).json()["status"])
    assert review(verb="delete", resource="pods")["allowed"] is True
    with pytest.raises(Invalid, match="must match metadata.namespace"):
        review(verb="delete", resource="pods", namespace="default")
    # admin (which includes localsubjectaccessreviews) may ask in its namespace only.
    bind(admin, "admin", ROBOT, name="robot-admin")
    robot = as_user(server, token_for(admin))
    assert robot.request("POST", path, body={"spec": {"user": "ann", "resourceAttributes": {
        "verb": "get", "resource": "pods"}}}).json()["status"]["allowed"] is True
    with pytest.raises(Forbidden, match='cannot create resource "localsubjectaccessreviews"'):
        robot.request("POST", path.replace("/team/", "/default/"), body={"spec": {
            "user": "ann", "resourceAttributes": {"verb": "get", "resource": "pods"}}})
