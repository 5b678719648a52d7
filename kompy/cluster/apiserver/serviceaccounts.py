"""ServiceAccounts as identities: the TokenRequest API and the authentication of its tokens.

``POST /api/v1/namespaces/NS/serviceaccounts/NAME/token`` (``kubectl create token``, the
kubelet for projected volumes) answers an ``authentication.k8s.io/v1`` TokenRequest with a
signed token (satokens.py): ``spec.audiences`` (default: the API server's), an
``expirationSeconds`` of at least 10 minutes (default one hour), and an optional
``boundObjectRef`` (a Pod or a Secret of the namespace) whose deletion ends the token.
https://kubernetes.io/docs/reference/kubernetes-api/authentication-resources/token-request-v1/

A token authenticates as ``system:serviceaccount:NS:NAME`` in the groups
``system:serviceaccounts``, ``system:serviceaccounts:NS`` and ``system:authenticated`` while
it verifies, its ServiceAccount exists with the uid it names, and its bound object exists
with its uid (kube-apiserver's legacy-free ``validator.Validate``). A verified answer is
remembered for 10 s, as kube-apiserver's token cache does, so a request's two
authentications (headers, then dispatch) and a client's bursts cost one signature check.
"""

from __future__ import annotations

import copy
import threading
import time
from datetime import UTC, datetime
from typing import Any

from kompy.client import resources
from kompy.client.errors import ApiError, NotFound
from kompy.client.objects import Obj
from kompy.cluster.apiserver.authn import AUTHENTICATED, UserInfo
from kompy.cluster.apiserver.satokens import API_AUDIENCE, Bound, Claims, TokenIssuer
from kompy.cluster.store.sqlite import Store

SERVICE_ACCOUNTS = resources.lookup("serviceaccounts")
PODS = resources.lookup("pods")
SECRETS = resources.lookup("secrets")
ALL_SERVICE_ACCOUNTS = "system:serviceaccounts"
DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600
MAX_EXPIRATION = 2 ** 32
CACHE_SECONDS = 10.0
CACHE_LIMIT = 4096


def user_for(namespace: str, name: str, uid: str = "") -> UserInfo:
    """The user a ServiceAccount authenticates as."""
    return UserInfo(f"system:serviceaccount:{namespace}:{name}", uid,
                    (ALL_SERVICE_ACCOUNTS, f"{ALL_SERVICE_ACCOUNTS}:{namespace}", AUTHENTICATED))


def parse_user(username: str) -> tuple[str, str] | None:
    """(namespace, name) of a ``system:serviceaccount:NS:NAME`` user name."""
    parts = username.split(":")
    if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"] and all(parts[2:]):
        return parts[2], parts[3]
    return None


class ServiceAccountTokens:
    def __init__(self, store: Store, issuer: TokenIssuer) -> None:
        self.store = store
        self.issuer = issuer
        self._cache: dict[str, tuple[float, UserInfo]] = {}
        self._lock = threading.Lock()

    # -- authentication --------------------------------------------------------------------------

    def authenticate(self, token: str) -> UserInfo | None:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(token)
        if cached is not None and cached[0] > now:
            return cached[1]
        claims = self.issuer.verify(token, API_AUDIENCE)
        user = self._live_user(claims) if claims else None
        if user is not None:
            assert claims is not None
            until = min(now + CACHE_SECONDS, now + claims.expires - time.time())
            with self._lock:
                if len(self._cache) >= CACHE_LIMIT:
                    self._cache.clear()
                self._cache[token] = (until, user)
        return user

    def _live_user(self, claims: Claims) -> UserInfo | None:
        account = self._find(SERVICE_ACCOUNTS, claims.namespace, claims.name)
        if account is None or _uid(account) != claims.uid:
            return None
        if claims.bound is not None:
            kind = PODS if claims.bound.kind == "Pod" else SECRETS
            bound = self._find(kind, claims.namespace, claims.bound.name)
            # A pod being deleted keeps its token for its grace period, as upstream's
            # validator allows; a Secret marked for deletion ends its tokens at once.
            if bound is None or _uid(bound) != claims.bound.uid or (
                    kind is SECRETS and bound["metadata"].get("deletionTimestamp")):
                return None
        return user_for(claims.namespace, claims.name, claims.uid)

    def _find(self, res: resources.Resource, namespace: str, name: str) -> Obj | None:
        try:
            return self.store.get(res, namespace, name)
        except NotFound:
            return None

    # -- TokenRequest ------------------------------------------------------------------------------

    def token_request(self, namespace: str, name: str, body: Any) -> Obj:
        """The TokenRequest answered: its ``status`` holds the token and its expiry."""
        account = self._find(SERVICE_ACCOUNTS, namespace, name)
        if account is None:
            raise NotFound(404, "NotFound", f'serviceaccounts "{name}" not found')
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "a TokenRequest must be a JSON object")
        request = copy.deepcopy(body)
        if request.get("kind") not in (None, "TokenRequest"):
            raise ApiError(400, "BadRequest", f"the body is a {request.get('kind')}, but the "
                                              "URL is for TokenRequest")
        spec = request.get("spec") or {}
        if not isinstance(spec, dict):
            raise _invalid("spec", "must be an object")
        expiration = spec.get("expirationSeconds")
        if expiration is None:
            expiration = DEFAULT_EXPIRATION
        if not isinstance(expiration, int) or isinstance(expiration, bool):
            raise _invalid("spec.expirationSeconds", "must be an integer")
        if expiration < MIN_EXPIRATION:
            raise _invalid("spec.expirationSeconds",
                           f"Invalid value: {expiration}: may not specify a duration less "
                           "than 10 minutes")
        if expiration > MAX_EXPIRATION:
            raise _invalid("spec.expirationSeconds",
                           f"Invalid value: {expiration}: may not specify a duration larger "
                           "than 2^32 seconds")
        audiences = spec.get("audiences") or [API_AUDIENCE]
        if not isinstance(audiences, list) or not all(isinstance(a, str) and a
                                                      for a in audiences):
            raise _invalid("spec.audiences", "must be a list of non-empty strings")
        bound = self._bound(namespace, spec.get("boundObjectRef"))
        token, expires = self.issuer.issue(namespace, name, _uid(account), list(audiences),
                                           expiration, bound)
        spec["audiences"], spec["expirationSeconds"] = list(audiences), expiration
        spec.setdefault("boundObjectRef", None)
        request.update({"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                        "spec": spec})
        meta = request.setdefault("metadata", {})
        meta.update({"name": name, "namespace": namespace,
                     "creationTimestamp": _rfc3339(time.time())})
        request["status"] = {"token": token, "expirationTimestamp": _rfc3339(expires)}
        return request

    def _bound(self, namespace: str, ref: Any) -> Bound | None:
        if not ref:
            return None
        if not isinstance(ref, dict):
            raise _invalid("spec.boundObjectRef", "must be an object")
        kind, name = str(ref.get("kind") or ""), str(ref.get("name") or "")
        if kind not in ("Pod", "Secret"):
            raise _invalid("spec.boundObjectRef.kind", f'Unsupported value: "{kind}": '
                                                       'supported values: "Pod", "Secret"')
        obj = self._find(PODS if kind == "Pod" else SECRETS, namespace, name)
        if obj is None:
            raise NotFound(404, "NotFound", f'{kind.lower()}s "{name}" not found')
        given = str(ref.get("uid") or "")
        if given and given != _uid(obj):
            raise ApiError(409, "Conflict", f'the UID in the bound object reference '
                                            f'({given}) does not match the UID in record. The '
                                            "object might have been deleted and then recreated")
        return Bound(kind, name, _uid(obj))


def _uid(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def _rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "Invalid", f'TokenRequest.authentication.k8s.io "" is invalid: '
                                    f"{field}: {message}")
