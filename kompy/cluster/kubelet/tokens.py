"""The kubelet's ServiceAccount tokens for projected volumes, requested and renewed.

As the kubelet's token manager (pkg/kubelet/token): a ``serviceAccountToken`` source of a
projected volume is filled with a token from the TokenRequest API, bound to the pod (it dies
with it), for the source's audience (the API server's by default) and lifetime
(``expirationSeconds``, at least 10 minutes, default one hour). A token is kept and served
again until 80% of its life has passed (or 24 hours), then a new one is requested; the pod's
sync is due again at that moment (``next_refresh``), so the file is renewed before expiry.
https://kubernetes.io/docs/concepts/storage/projected-volumes/#serviceaccounttoken
"""

from __future__ import annotations

import threading
import time
from typing import Any

from kompy.client import KubeClient
from kompy.client.objects import Obj, name, namespace, uid
from kompy.cluster.kubelet.volumes import PodConfigError
from kompy.errors import KompyError

DEFAULT_EXPIRATION = 3600
RENEW_AT = 0.8
MAX_AGE = 24 * 3600.0


class TokenManager:
    def __init__(self, client: KubeClient) -> None:
        self.client = client
        self._lock = threading.Lock()
        # (pod uid, account, audience, expiration) -> (token, renew at: monotonic)
        self._tokens: dict[tuple[str, str, str, int], tuple[bytes, float]] = {}

    def token(self, pod: Obj, account: str, audience: str, expiration: int) -> bytes:
        key = (uid(pod), account, audience, expiration)
        now = time.monotonic()
        with self._lock:
            cached = self._tokens.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        spec: dict[str, Any] = {"expirationSeconds": expiration, "boundObjectRef": {
            "kind": "Pod", "apiVersion": "v1", "name": name(pod), "uid": uid(pod)}}
        if audience:
            spec["audiences"] = [audience]
        path = f"/api/v1/namespaces/{namespace(pod)}/serviceaccounts/{account}/token"
        try:
            answer = self.client.request("POST", path, body={
                "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": spec}).json()
        except KompyError as error:
            raise PodConfigError(f"failed to fetch token: {error}") from error
        token = str((answer.get("status") or {}).get("token") or "").encode()
        renew = now + min(expiration * RENEW_AT, MAX_AGE)
        with self._lock:
            self._tokens[key] = (token, renew)
        return token

    def next_refresh(self, pod_uid: str) -> float | None:
        """Seconds until a token of the pod is due for renewal; None without tokens."""
        with self._lock:
            due = [renew for key, (_, renew) in self._tokens.items() if key[0] == pod_uid]
        return max(0.0, min(due) - time.monotonic()) if due else None

    def forget(self, pod_uid: str) -> None:
        with self._lock:
            for key in [k for k in self._tokens if k[0] == pod_uid]:
                del self._tokens[key]
