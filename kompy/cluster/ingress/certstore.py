"""The TLS material the Ingress serves and uses, from Secrets, cached per Secret version.

- Server certificates: a ``spec.tls`` Secret's ``tls.crt`` and ``tls.key`` (any Secret type
  with those keys, as ingress-nginx; ``kubernetes.io/tls`` is the usual one), checked once
  per resourceVersion and turned into an ``ssl.SSLContext``.
- The default certificate, self-signed and made at each start, for hosts without one.
- Certificates from the cluster's local CA for hosts of Ingresses annotated
  ``kompy.dev/auto-tls: "true"`` whose Secret is missing, made once per host and daemon.
- Towards re-encrypted backends (``backend-protocol: HTTPS``): ``proxy-ssl-secret``'s
  ``ca.crt`` checks the backend's certificate when ``proxy-ssl-verify`` is on, and its
  ``tls.crt``/``tls.key`` are presented as a client certificate.

Problems name the Secret and the key, never a value.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import logging
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kompy.client.objects import Obj, meta
from kompy.cluster.ingress.annotations import IngressOptions
from kompy.cluster.ingress.certs import CertificateError, CertInfo, LocalCA, read_pair, self_signed
from kompy.cluster.ingress.table import TlsLookup, UpstreamTls
from kompy.cluster.ingress.tlsctx import client_context, server_context

log = logging.getLogger(__name__)

DEFAULT_NAME = "kompy-ingress-default.invalid"


def secret_bytes(secret: Obj, key: str) -> bytes | None:
    value = (secret.get("data") or {}).get(key)
    if not value:
        return None
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        return None


class CertStore:
    def __init__(self, state_dir: Path, secret: Callable[[str, str], Obj | None]) -> None:
        self.ca = LocalCA(state_dir)
        self._secret = secret
        self.default = server_context(*self_signed([DEFAULT_NAME]))
        self._served: dict[tuple[str, str], tuple[str, CertInfo | None, Any, str]] = {}
        self._auto: dict[str, ssl.SSLContext] = {}
        self._upstream: dict[tuple[Any, ...], tuple[UpstreamTls | None, str]] = {}
        self._lock = threading.Lock()

    # -- certificates served to clients ---------------------------------------------------
    def tls(self, namespace: str, name: str, host: str) -> TlsLookup:
        info, context, problem = self._load(namespace, name)
        if context is None or info is None:
            return TlsLookup(problem=problem)
        return TlsLookup(context, info.covers(host), problem)

    def _load(self, namespace: str, name: str) -> tuple[CertInfo | None, Any, str]:
        where = f'secret "{namespace}/{name}"'
        secret = self._secret(namespace, name)
        if secret is None:
            return None, None, f"{where} not found"
        version = str(meta(secret).get("resourceVersion") or "")
        with self._lock:
            cached = self._served.get((namespace, name))
        if cached is not None and cached[0] == version:
            return cached[1], cached[2], cached[3]
        info, context, problem = None, None, ""
        cert, key = secret_bytes(secret, "tls.crt"), secret_bytes(secret, "tls.key")
        if cert is None or key is None:
            problem = f"{where} has no {'tls.crt' if cert is None else 'tls.key'} (base64 PEM)"
        else:
            try:
                info = read_pair(cert, key)
                context = server_context(cert, key)
            except (CertificateError, ssl.SSLError, ValueError) as error:
                info, problem = None, f"{where}: {error}"
        if info is not None and info.not_after < datetime.datetime.now(datetime.UTC):
            problem = f"the certificate of {where} expired on {info.not_after:%Y-%m-%d}"
        with self._lock:
            self._served[(namespace, name)] = (version, info, context, problem)
        return info, context, problem

    def auto_tls(self, host: str) -> ssl.SSLContext:
        with self._lock:
            found = self._auto.get(host)
        if found is None:
            cert, key, ca = self.ca.issue([host])
            found = server_context(cert + ca, key)
            with self._lock:
                self._auto[host] = found
        return found

    # -- towards backends ---------------------------------------------------------------
    def upstream_tls(self, namespace: str, service: str, options: IngressOptions
                     ) -> tuple[UpstreamTls | None, str]:
        secret: Obj | None = None
        where = ""
        if options.proxy_ssl_secret is not None:
            where = 'secret "{}/{}"'.format(*options.proxy_ssl_secret)
            secret = self._secret(*options.proxy_ssl_secret)
        version = str(meta(secret).get("resourceVersion") or "") if secret else ""
        name = options.proxy_ssl_name or f"{service}.{namespace}.svc"
        key = (options.proxy_ssl_secret, version, options.proxy_ssl_verify, name,
               options.proxy_ssl_server_name)
        with self._lock:
            cached = self._upstream.get(key)
        if cached is not None:
            return cached
        problem = ""
        ca = cert = private = None
        if options.proxy_ssl_secret is not None and secret is None:
            problem = f"proxy-ssl-secret: {where} not found"
        elif secret is not None:
            ca = secret_bytes(secret, "ca.crt")
            cert, private = secret_bytes(secret, "tls.crt"), secret_bytes(secret, "tls.key")
            if options.proxy_ssl_verify and ca is None:
                problem = f"proxy-ssl-secret: {where} has no ca.crt to verify the backend with"
        try:
            context = client_context(options.proxy_ssl_verify, ca, cert, private)
        except (ssl.SSLError, ValueError) as error:
            problem = f"proxy-ssl-secret: {where}: {error}"
            context = client_context(options.proxy_ssl_verify)
        send_name = options.proxy_ssl_verify or options.proxy_ssl_server_name
        result = (UpstreamTls(context, name if send_name else None), problem)
        with self._lock:
            self._upstream[key] = result
        return result

    def forget(self, live: set[tuple[str, str]]) -> None:
        """Drop cached Secrets that no Ingress refers to any more."""
        with self._lock:
            for key in [k for k in self._served if k not in live]:
                del self._served[key]
