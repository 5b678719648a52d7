"""ServiceAccount tokens: the JWTs the TokenRequest API issues, and their verification.

The one adapter of PyJWT (with ``cryptography`` for the key). A token is what
kube-apiserver's ``--service-account-issuer`` signs (pkg/serviceaccount/claims.go): ``iss``,
``sub`` (``system:serviceaccount:NS:NAME``), ``aud``, ``exp``/``iat``/``nbf``, ``jti``, and
the private claim ``kubernetes.io`` naming the namespace, the ServiceAccount (name, uid) and
the object the token is bound to (a Pod or a Secret, name and uid), so the token dies with
it. Signed ES256 with the cluster's own key (``sa.key`` in the state folder, 0600), the
``kid`` header the SHA-256 of its public key as upstream. Verification checks the signature,
the time window (with upstream's 60 s of leeway), the issuer and the audience; whether the
account and the bound object still exist is the authenticator's question (authn.py).
https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/#bound-service-account-token-volume
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kompy.fsutil import write_atomic

ISSUER = "https://kubernetes.default.svc.cluster.local"
# kube-apiserver's API audiences default to the issuer: a token for that audience is a
# credential for the API server; one for another audience is not.
API_AUDIENCE = ISSUER
LEEWAY_SECONDS = 60
ALGORITHM = "ES256"


@dataclass(frozen=True)
class Bound:
    """The object a token is bound to (TokenRequest's ``boundObjectRef``)."""

    kind: str            # Pod or Secret
    name: str
    uid: str


@dataclass(frozen=True)
class Claims:
    """What a verified token says."""

    namespace: str
    name: str            # the ServiceAccount's
    uid: str             # the ServiceAccount's
    bound: Bound | None
    expires: int         # seconds since the epoch


class TokenIssuer:
    def __init__(self, private_pem: bytes) -> None:
        key = serialization.load_pem_private_key(private_pem, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        self._key = key
        self._public = key.public_key()
        der = self._public.public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
        self.key_id = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")

    @classmethod
    def ephemeral(cls) -> TokenIssuer:
        """A key for this process only (tests, an API server without a state folder)."""
        return cls(_new_key())

    @classmethod
    def for_state(cls, state_dir: Path) -> TokenIssuer:
        """The cluster's key from ``sa.key``, made on first use (kept across restarts, so
        tokens handed out stay valid until ``kompy cluster reset``)."""
        path = state_dir / "sa.key"
        if not path.exists():
            write_atomic(path, _new_key(), mode=0o600)
        return cls(path.read_bytes())

    def issue(self, namespace: str, name: str, uid: str, audiences: list[str],
              expiration_seconds: int, bound: Bound | None = None,
              now: float | None = None) -> tuple[str, int]:
        """The signed token and its expiry (seconds since the epoch)."""
        issued = int(now if now is not None else time.time())
        expires = issued + expiration_seconds
        private: dict[str, Any] = {"namespace": namespace,
                                   "serviceaccount": {"name": name, "uid": uid}}
        if bound is not None:
            private[bound.kind.lower()] = {"name": bound.name, "uid": bound.uid}
        claims = {"iss": ISSUER, "sub": f"system:serviceaccount:{namespace}:{name}",
                  "aud": audiences, "iat": issued, "nbf": issued, "exp": expires,
                  "jti": str(uuid.uuid4()), "kubernetes.io": private}
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM,
                           headers={"kid": self.key_id})
        return token, expires

    def verify(self, token: str, audience: str = API_AUDIENCE) -> Claims | None:
        """The claims of a valid token for ``audience``; None for anything else (another
        issuer's JWT, a static token, an expired or tampered one)."""
        if token.count(".") != 2:
            return None
        try:
            claims = jwt.decode(token, self._public, algorithms=[ALGORITHM], audience=audience,
                                issuer=ISSUER, leeway=LEEWAY_SECONDS,
                                options={"require": ["exp", "iat", "nbf", "sub", "aud"]})
        except jwt.PyJWTError:
            return None
        private = claims.get("kubernetes.io")
        if not isinstance(private, dict):
            return None
        account = private.get("serviceaccount") or {}
        namespace = str(private.get("namespace") or "")
        name = str(account.get("name") or "")
        if claims["sub"] != f"system:serviceaccount:{namespace}:{name}" or not name:
            return None
        bound = None
        for kind in ("Pod", "Secret"):
            ref = private.get(kind.lower())
            if isinstance(ref, dict):
                bound = Bound(kind, str(ref.get("name") or ""), str(ref.get("uid") or ""))
        return Claims(namespace, name, str(account.get("uid") or ""), bound, int(claims["exp"]))


def _new_key() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
