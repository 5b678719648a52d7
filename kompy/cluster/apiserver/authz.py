"""Authorization: may this user do this? And the review endpoints that ask it.

The seam is kube-apiserver's: an ``Authorizer`` answers a request's ``Attributes`` (user,
verb, API group, resource, subresource, namespace, name; or a non-resource path) with
allow, deny or no opinion, and can list the rules a user has in a namespace (what
``SelfSubjectRulesReview`` reports). The router asks it for every resource request
(server.py), and the review endpoints here ask it what kubectl asks:

* ``SelfSubjectAccessReview`` (authorization.k8s.io/v1): ``kubectl auth can-i VERB RESOURCE``;
* ``SubjectAccessReview`` (authorization.k8s.io/v1): the same question about another user
  (``spec.user``, ``spec.groups``), as webhooks and proxies ask it;
* ``SelfSubjectRulesReview`` (authorization.k8s.io/v1): ``kubectl auth can-i --list``;
* ``SelfSubjectReview`` (authentication.k8s.io/v1, and v1beta1 for kubectl 1.27):
  ``kubectl auth whoami``.
https://kubernetes.io/docs/reference/access-authn-authz/authorization/#checking-api-access

The API server's authorizer is RBAC's (rbac.py); ``AllowAuthenticated`` (everyone may do
everything, kompy's behaviour before RBAC) remains for the benchmark that measures RBAC's
cost. The user a request is served for is kept in a context variable (``current_user``)
while it is handled, for the admission steps that judge a write by its author (RBAC's
escalation checks).
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import enum
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from kompy.client.errors import ApiError
from kompy.client.objects import Obj
from kompy.cluster.apiserver.authn import UserInfo

_CURRENT_USER: contextvars.ContextVar[UserInfo | None] = contextvars.ContextVar(
    "kompy_request_user", default=None)


@contextlib.contextmanager
def acting_as(user: UserInfo | None) -> Iterator[None]:
    """Handle a request for ``user``: ``current_user()`` answers it meanwhile."""
    token = _CURRENT_USER.set(user)
    try:
        yield
    finally:
        _CURRENT_USER.reset(token)


def current_user() -> UserInfo | None:
    """The user of the request being handled in this thread (None outside a request)."""
    return _CURRENT_USER.get()


class Decision(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"
    NO_OPINION = "no-opinion"


@dataclass(frozen=True)
class Attributes:
    """One request, as k8s.io/apiserver's authorizer.Attributes."""

    user: UserInfo
    verb: str                    # get, list, watch, create, update, patch, delete...
    namespace: str = ""
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""               # a non-resource request's path (/healthz, /openapi/v2)

    @property
    def is_resource(self) -> bool:
        return bool(self.resource)


@dataclass(frozen=True)
class Rules:
    """What a user may do in a namespace (SelfSubjectRulesReview's status)."""

    resource_rules: list[Obj]
    non_resource_rules: list[Obj]
    incomplete: bool = False
    evaluation_error: str = ""


class Authorizer(Protocol):
    def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        """The decision and its reason (shown by ``kubectl auth can-i``)."""
        ...

    def rules_for(self, user: UserInfo, namespace: str) -> Rules: ...


class AllowAuthenticated:
    """Every authenticated user may do everything (kompy's behaviour before RBAC)."""

    def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        return Decision.ALLOW, ""

    def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        return Rules([{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                     [{"verbs": ["*"], "nonResourceURLs": ["*"]}])


def forbidden(attributes: Attributes, reason: str) -> ApiError:
    """kube-apiserver's 403 wording: ``pods "web" is forbidden: User "u" cannot get
    resource "pods" in API group "" in the namespace "ns"``."""
    user = attributes.user.name
    if not attributes.is_resource:
        message = (f'forbidden: User "{user}" cannot {attributes.verb} path '
                   f'"{attributes.path}"')
    else:
        resource = attributes.resource + (f"/{attributes.subresource}"
                                          if attributes.subresource else "")
        subject = f'{resource} "{attributes.name}"' if attributes.name else resource
        where = (f' in the namespace "{attributes.namespace}"' if attributes.namespace
                 else " at the cluster scope")
        message = (f'{subject} is forbidden: User "{user}" cannot {attributes.verb} resource '
                   f'"{resource}" in API group "{attributes.group}"{where}')
    if reason:
        message += f": {reason}"
    return ApiError(403, "Forbidden", message)


# -- the review endpoints -----------------------------------------------------------------------

AUTHORIZATION = "authorization.k8s.io"
AUTHENTICATION = "authentication.k8s.io"
# (group, version, plural) -> kind; each is create-only and stores nothing.
REVIEWS = {
    (AUTHORIZATION, "v1", "selfsubjectaccessreviews"): "SelfSubjectAccessReview",
    (AUTHORIZATION, "v1", "selfsubjectrulesreviews"): "SelfSubjectRulesReview",
    (AUTHORIZATION, "v1", "subjectaccessreviews"): "SubjectAccessReview",
    (AUTHORIZATION, "v1", "localsubjectaccessreviews"): "LocalSubjectAccessReview",
    (AUTHENTICATION, "v1", "selfsubjectreviews"): "SelfSubjectReview",
    (AUTHENTICATION, "v1beta1", "selfsubjectreviews"): "SelfSubjectReview",
}


# Reviews asked in a namespace (``.../namespaces/NS/localsubjectaccessreviews``).
NAMESPACED_REVIEWS = frozenset({"localsubjectaccessreviews"})


def review_route(path: str) -> tuple[tuple[str, str, str], str] | None:
    """``((group, version, plural), namespace)`` when ``path`` is a review endpoint."""
    parts = path.strip("/").split("/")
    if len(parts) == 4 and parts[0] == "apis" and tuple(parts[1:]) in REVIEWS and \
            parts[3] not in NAMESPACED_REVIEWS:
        return (parts[1], parts[2], parts[3]), ""
    if len(parts) == 6 and parts[0] == "apis" and parts[3] == "namespaces" and \
            parts[5] in NAMESPACED_REVIEWS and (parts[1], parts[2], parts[5]) in REVIEWS:
        return (parts[1], parts[2], parts[5]), parts[4]
    return None


def _bad(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def review(authorizer: Authorizer, user: UserInfo, route: tuple[str, str, str],
           body: Any, namespace: str = "") -> Obj:
    """The answer to a POST of a review: the object with its ``status`` filled in
    (``namespace``: a LocalSubjectAccessReview's, from its URL)."""
    group, version, plural = route
    kind = REVIEWS[route]
    if not isinstance(body, dict):
        raise _bad(f"a {kind} must be a JSON object")
    obj = copy.deepcopy(body)
    given = obj.get("kind")
    if given not in (None, kind):
        raise _bad(f"the body is a {given}, but the URL is for {kind}")
    obj["kind"], obj["apiVersion"] = kind, f"{group}/{version}"
    obj.setdefault("metadata", {})["creationTimestamp"] = None
    spec = obj.get("spec") or {}
    if not isinstance(spec, dict):
        raise _bad(f"{kind}.spec must be an object")
    if kind == "SelfSubjectReview":
        obj["status"] = {"userInfo": {
            "username": user.name, **({"uid": user.uid} if user.uid else {}),
            "groups": list(user.groups)}}
    elif kind == "SelfSubjectAccessReview":
        obj["status"] = _access(authorizer, user, spec, kind)
    elif kind == "SubjectAccessReview":
        obj["status"] = _access(authorizer, _subject(spec), spec, kind)
    elif kind == "LocalSubjectAccessReview":
        obj["status"] = _access(authorizer, _subject(spec), _local(spec, namespace), kind)
    else:
        namespace = spec.get("namespace") or ""
        rules = authorizer.rules_for(user, str(namespace))
        obj["status"] = {"resourceRules": rules.resource_rules,
                         "nonResourceRules": rules.non_resource_rules,
                         "incomplete": rules.incomplete,
                         **({"evaluationError": rules.evaluation_error}
                            if rules.evaluation_error else {})}
    return obj


def _local(spec: Obj, namespace: str) -> Obj:
    """A LocalSubjectAccessReview's question, in the namespace of its URL only."""
    invalid = 'LocalSubjectAccessReview.authorization.k8s.io "" is invalid: '
    if spec.get("nonResourceAttributes"):
        raise ApiError(422, "Invalid", invalid + "spec.nonResourceAttributes: Invalid value: "
                       '"": disallowed on this kind of request')
    attributes = dict(spec.get("resourceAttributes") or {})
    if attributes.get("namespace") not in (None, "", namespace):
        raise ApiError(422, "Invalid", invalid + "spec.resourceAttributes.namespace: Invalid "
                       f'value: "{attributes.get("namespace")}": must match '
                       "metadata.namespace")
    attributes["namespace"] = namespace
    return {**spec, "resourceAttributes": attributes}


def _subject(spec: Obj) -> UserInfo:
    """The user a SubjectAccessReview asks about."""
    name, groups = spec.get("user"), spec.get("groups") or []
    if not (isinstance(name, str) and name) and not groups:
        raise ApiError(422, "Invalid", 'SubjectAccessReview.authorization.k8s.io "" is '
                       'invalid: spec.user: Invalid value: "": at least one of user or group '
                       "must be specified")
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise _bad("SubjectAccessReview.spec.groups must be a list of strings")
    return UserInfo(str(name or ""), str(spec.get("uid") or ""), tuple(groups))


def _access(authorizer: Authorizer, user: UserInfo, spec: Obj, kind: str) -> Obj:
    resource, other = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if bool(resource) == bool(other) or not isinstance(resource or other, dict):
        raise ApiError(422, "Invalid", f'{kind}.authorization.k8s.io "" is '
                       "invalid: spec.resourceAttributes: Invalid value: \"null\": exactly "
                       "one of nonResourceAttributes or resourceAttributes must be specified")
    if resource:
        attributes = Attributes(user, str(resource.get("verb") or ""),
                                str(resource.get("namespace") or ""),
                                str(resource.get("group") or ""),
                                str(resource.get("version") or ""),
                                str(resource.get("resource") or ""),
                                str(resource.get("subresource") or ""),
                                str(resource.get("name") or ""))
    else:
        assert isinstance(other, dict)
        attributes = Attributes(user, str(other.get("verb") or ""), path=str(
            other.get("path") or ""))
    decision, reason = authorizer.authorize(attributes)
    status: Obj = {"allowed": decision is Decision.ALLOW}
    if decision is Decision.DENY:
        status["denied"] = True
    if reason:
        status["reason"] = reason
    return status


def request_attributes(user: UserInfo, method: str, path: str, namespace: str | None,
                       group: str, version: str, resource: str, subresource: str | None,
                       name: str | None, watch: bool) -> Attributes:
    """A REST request's attributes, with kube-apiserver's verbs (RequestInfoFactory)."""
    if method == "GET":
        verb = "get" if name else ("watch" if watch else "list")
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())
    return Attributes(user, verb, namespace or "", group, version, resource, subresource or "",
                      name or "", path)
