"""The annotations of an Ingress that change how it is served (pure parsing).

ingress-nginx's names and meanings (https://kubernetes.github.io/ingress-nginx/user-guide/
nginx-configuration/annotations/), so manifests written for it work unchanged; each may also
be spelt with the ``kompy.dev/`` prefix (which wins when both are set). One is kompy's own:
``kompy.dev/auto-tls``. A value that does not parse keeps the default and is reported (an
event on the Ingress), as ingress-nginx logs and ignores it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NGINX = "nginx.ingress.kubernetes.io/"
KOMPY = "kompy.dev/"
AUTO_TLS = KOMPY + "auto-tls"

MIB = 2**20
_SIZE = re.compile(r"^(\d+)([kKmMgG]?)$")
_UNITS = {"": 1, "k": 2**10, "m": MIB, "g": 2**30}
_TRUE = ("1", "t", "true")  # Go's strconv.ParseBool, case-insensitively
_FALSE = ("0", "f", "false")
BACKEND_PROTOCOLS = ("HTTP", "HTTPS")


@dataclass(frozen=True)
class IngressOptions:
    ssl_redirect: bool = True            # ssl-redirect: HTTP -> HTTPS for hosts with TLS
    force_ssl_redirect: bool = False     # force-ssl-redirect: also for hosts without TLS
    ssl_passthrough: bool = False        # ssl-passthrough: the TLS stream to the backend
    backend_protocol: str = "HTTP"       # backend-protocol: HTTPS re-encrypts
    proxy_ssl_secret: tuple[str, str] | None = None  # proxy-ssl-secret: (namespace, name)
    proxy_ssl_verify: bool = False       # proxy-ssl-verify: check the backend's certificate
    proxy_ssl_name: str = ""             # proxy-ssl-name: the name checked and sent in SNI
    proxy_ssl_server_name: bool = False  # proxy-ssl-server-name: send SNI to the backend
    use_regex: bool = False              # use-regex
    rewrite_target: str | None = None    # rewrite-target
    body_limit: int | None = MIB         # proxy-body-size (None: no limit, "0")
    connect_timeout: float = 5.0         # proxy-connect-timeout (seconds)
    read_timeout: float = 60.0           # proxy-read-timeout (seconds)
    auto_tls: bool = False               # kompy.dev/auto-tls

    @property
    def regex(self) -> bool:
        """ingress-nginx treats paths as regular expressions with use-regex, and whenever a
        rewrite-target is set."""
        return self.use_regex or self.rewrite_target is not None


def _get(annotations: dict[str, str], key: str) -> str | None:
    for prefix in (KOMPY, NGINX):
        value = annotations.get(prefix + key)
        if value is not None:
            return str(value).strip()
    return None


def parse_options(annotations: dict[str, str] | None, namespace: str
                  ) -> tuple[IngressOptions, list[str]]:
    """The options an Ingress's annotations set, and a sentence per value that did not parse."""
    found = dict(annotations or {})
    problems: list[str] = []
    values: dict[str, object] = {}

    def flag(key: str, field: str) -> None:
        text = _get(found, key)
        if text is None:
            return
        if text.lower() in _TRUE:
            values[field] = True
        elif text.lower() in _FALSE:
            values[field] = False
        else:
            problems.append(f"annotation {key}: {text!r} is not a boolean (true or false)")

    def seconds(key: str, field: str) -> None:
        text = _get(found, key)
        if text is None:
            return
        if text.isdigit() and int(text) > 0:
            values[field] = float(text)
        else:
            problems.append(f"annotation {key}: {text!r} is not a whole number of seconds")

    flag("ssl-redirect", "ssl_redirect")
    flag("force-ssl-redirect", "force_ssl_redirect")
    flag("ssl-passthrough", "ssl_passthrough")
    flag("use-regex", "use_regex")
    flag("proxy-ssl-server-name", "proxy_ssl_server_name")
    seconds("proxy-connect-timeout", "connect_timeout")
    seconds("proxy-read-timeout", "read_timeout")
    verify = _get(found, "proxy-ssl-verify")
    if verify is not None:  # nginx's "on"/"off"; booleans accepted too
        if verify.lower() in ("on", *_TRUE):
            values["proxy_ssl_verify"] = True
        elif verify.lower() in ("off", *_FALSE):
            values["proxy_ssl_verify"] = False
        else:
            problems.append(f"annotation proxy-ssl-verify: {verify!r} is not on or off")
    auto = found.get(AUTO_TLS)
    if auto is not None:
        if str(auto).strip().lower() in _TRUE:
            values["auto_tls"] = True
        elif str(auto).strip().lower() not in _FALSE:
            problems.append(f"annotation {AUTO_TLS}: {auto!r} is not a boolean (true or false)")
    protocol = _get(found, "backend-protocol")
    if protocol is not None:
        if protocol.upper() in BACKEND_PROTOCOLS:
            values["backend_protocol"] = protocol.upper()
        else:
            problems.append(f"annotation backend-protocol: {protocol!r} is not supported "
                            "(HTTP or HTTPS); using HTTP")
    secret = _get(found, "proxy-ssl-secret")
    if secret:
        ns, slash, secret_name = secret.rpartition("/")
        values["proxy_ssl_secret"] = (ns if slash else namespace, secret_name)
    name = _get(found, "proxy-ssl-name")
    if name:
        values["proxy_ssl_name"] = name
    rewrite = _get(found, "rewrite-target")
    if rewrite:
        values["rewrite_target"] = rewrite
    size = _get(found, "proxy-body-size")
    if size is not None:
        match = _SIZE.match(size)
        if match is None:
            problems.append(f"annotation proxy-body-size: {size!r} is not a size (such as "
                            "8m, 512k or 0 for no limit)")
        else:
            limit = int(match.group(1)) * _UNITS[match.group(2).lower()]
            values["body_limit"] = limit or None
    return IngressOptions(**values), problems  # type: ignore[arg-type]


def rewrite(target: str, match: object, query: str) -> str:
    """The request target after a rewrite-target: ``$1``... replaced by the path match's
    groups (nginx's ``rewrite``, which replaces the whole path), the query kept."""
    groups = match.groups() if isinstance(match, re.Match) else ()

    def group(found: re.Match[str]) -> str:
        index = int(found.group(1))
        return (groups[index - 1] or "") if 0 < index <= len(groups) else ""

    path = re.sub(r"\$(\d)", group, target)
    if not path.startswith("/"):
        path = "/" + path
    return path + query
