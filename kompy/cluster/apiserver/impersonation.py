"""User impersonation: ``kubectl --as USER --as-group GROUP``.

As kube-apiserver's impersonation filter (k8s.io/apiserver/pkg/endpoints/filters): the
headers ``Impersonate-User``, ``Impersonate-Group`` (repeated), ``Impersonate-Uid`` and
``Impersonate-Extra-*`` make the request act as that user, if the authenticated user may
``impersonate`` each of them: ``users`` (or ``serviceaccounts`` in their namespace, for
``system:serviceaccount:NS:NAME``), ``groups`` and, in ``authentication.k8s.io``, ``uids``
and ``userextras/KEY``. Groups without a user are refused. The impersonated user is in
``system:authenticated`` (``system:unauthenticated`` for ``system:anonymous``), and a
ServiceAccount with no groups asked for in its usual groups.
https://kubernetes.io/docs/reference/access-authn-authz/authentication/#user-impersonation
"""

from __future__ import annotations

from typing import Any

from kompy.client.errors import ApiError
from kompy.cluster.apiserver.authn import AUTHENTICATED, UserInfo
from kompy.cluster.apiserver.authz import Attributes, Authorizer, Decision, forbidden
from kompy.cluster.apiserver.serviceaccounts import parse_user, user_for

USER, GROUP, UID = "Impersonate-User", "Impersonate-Group", "Impersonate-Uid"
EXTRA = "impersonate-extra-"
ANONYMOUS = "system:anonymous"


def _all(headers: Any, name: str) -> list[str]:
    get_all = getattr(headers, "get_all", None)
    if get_all is not None:
        return [str(v) for v in get_all(name) or []]
    value = headers.get(name)
    return [v.strip() for v in str(value).split(",")] if value else []


def _keys(headers: Any) -> list[str]:
    """Header names (http.server's Message, requests' dict, a test's stand-in)."""
    return list(map(str, headers.keys())) if hasattr(headers, "keys") else []


def wanted(headers: Any) -> bool:
    return any(headers.get(h) for h in (USER, GROUP, UID)) or any(
        str(k).lower().startswith(EXTRA) for k in _keys(headers))


def impersonate(authorizer: Authorizer, user: UserInfo, headers: Any) -> UserInfo:
    """The user the request acts as; Forbidden when ``user`` may not impersonate it."""
    name = str(headers.get(USER) or "").strip()
    groups = [g for g in _all(headers, GROUP) if g]
    uid = str(headers.get(UID) or "").strip()
    extras = [(str(k)[len(EXTRA):].lower(), v) for k in _keys(headers)
              if str(k).lower().startswith(EXTRA) for v in _all(headers, str(k))]
    if not name:
        raise ApiError(400, "BadRequest", "requested impersonation of groups, uid or extra "
                                          "without impersonating a user")
    account = parse_user(name)
    if account is not None:
        _check(authorizer, Attributes(user, "impersonate", account[0], "", "", "serviceaccounts",
                                      name=account[1]))
    else:
        _check(authorizer, Attributes(user, "impersonate", "", "", "", "users", name=name))
    for group in groups:
        _check(authorizer, Attributes(user, "impersonate", "", "", "", "groups", name=group))
    if uid:
        _check(authorizer, Attributes(user, "impersonate", "", "authentication.k8s.io", "",
                                      "uids", name=uid))
    for key, value in extras:
        _check(authorizer, Attributes(user, "impersonate", "", "authentication.k8s.io", "",
                                      "userextras", key, value))
    if account is not None and not groups:
        groups = list(user_for(*account).groups)
    extra_group = "system:unauthenticated" if name == ANONYMOUS else AUTHENTICATED
    if extra_group not in groups:
        groups.append(extra_group)
    return UserInfo(name, uid, tuple(groups))


def _check(authorizer: Authorizer, attributes: Attributes) -> None:
    decision, reason = authorizer.authorize(attributes)
    if decision is not Decision.ALLOW:
        raise forbidden(attributes, reason)
