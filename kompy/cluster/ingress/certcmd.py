"""``kompy cluster cert HOST...``: a certificate from the cluster's local CA, as a TLS Secret.

The Secret (type ``kubernetes.io/tls``) holds ``tls.crt`` and ``tls.key`` for the hosts, and
``ca.crt``, the local CA's certificate: name it in an Ingress's ``spec.tls`` (edge TLS), mount
it in a pod that terminates TLS itself (passthrough, re-encryption), or give it as
``proxy-ssl-secret`` to check a backend's certificate. Clients trust the hosts by trusting the
one CA file (``curl --cacert``), the way mkcert works, without touching the system's trust
store.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kompy.client import Conflict, KubeClient
from kompy.client.objects import meta
from kompy.cluster.ingress.certs import LEAF_DAYS, LocalCA, read_pair
from kompy.errors import UserError

_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"^(\*\.)?{_LABEL}(\.{_LABEL})*$")


@dataclass(frozen=True)
class Issued:
    secret: str
    namespace: str
    verb: str                # created / configured
    hosts: tuple[str, ...]
    not_after: datetime.datetime
    ca_file: Path


def check_hosts(hosts: list[str]) -> list[str]:
    out = []
    for host in hosts:
        host = host.strip().lower().rstrip(".")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if not _HOST.match(host) or len(host) > 253:
                raise UserError(f"invalid host name {host!r}",
                                hint="give DNS names (shop.local, *.shop.local) or IP "
                                     "addresses") from None
        out.append(host)
    if not out:
        raise UserError("name at least one host: kompy cluster cert HOST...")
    return list(dict.fromkeys(out))


def default_secret_name(hosts: list[str]) -> str:
    """``shop-local-tls`` for shop.local; ``wildcard-shop-local-tls`` for *.shop.local."""
    first = hosts[0].replace("*", "wildcard").replace(".", "-").replace(":", "-")
    return f"{first[:59].strip('-')}-tls"


def issue_secret(client: KubeClient, state_dir: Path, hosts: list[str], namespace: str,
                 secret: str | None = None, days: int = LEAF_DAYS) -> Issued:
    """Make (or renew) the Secret for ``hosts`` in ``namespace``."""
    hosts = check_hosts(hosts)
    if not 1 <= days <= LEAF_DAYS:
        raise UserError(f"--days must be between 1 and {LEAF_DAYS}")
    name = secret or default_secret_name(hosts)
    ca = LocalCA(state_dir)
    cert, key, ca_pem = ca.issue(hosts, days)
    metadata: dict[str, Any] = {
        "name": name, "namespace": namespace,
        "labels": {"app.kubernetes.io/managed-by": "kompy"},
        "annotations": {"kompy.dev/certificate-hosts": ",".join(hosts)}}
    obj = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
           "metadata": metadata,
           "data": {k: base64.b64encode(v).decode() for k, v in
                    (("tls.crt", cert), ("tls.key", key), ("ca.crt", ca_pem))}}
    verb = "created"
    try:
        client.create(obj)
    except Conflict:
        current = client.get("secrets", name, namespace)
        if current.get("type") != "kubernetes.io/tls":
            raise UserError(f'secret "{namespace}/{name}" exists and is not of type '
                            "kubernetes.io/tls",
                            hint="name another Secret with --secret") from None
        metadata["resourceVersion"] = meta(current).get("resourceVersion")
        client.replace(obj)
        verb = "configured"
    return Issued(name, namespace, verb, tuple(hosts), read_pair(cert, key).not_after,
                  ca.cert_file)
