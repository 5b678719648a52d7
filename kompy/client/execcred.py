"""Exec credential plugins: what EKS (``aws eks get-token``), GKE (``gke-gcloud-auth-plugin``)
and AKS (``kubelogin``) put in a kubeconfig's ``users[].user.exec``.

The protocol (https://kubernetes.io/docs/reference/access-authn-authz/authentication/
#client-go-credential-plugins, API group ``client.authentication.k8s.io`` v1 and v1beta1),
as client-go's ``plugin/pkg/client/auth/exec`` runs it:

- the command runs with kompy's environment plus the stanza's ``env``, and
  ``KUBERNETES_EXEC_INFO``: an ``ExecCredential`` whose ``spec.interactive`` says whether
  the plugin may read standard input, and whose ``spec.cluster`` is the cluster's entry
  (CA as data, ``extensions[client.authentication.k8s.io/exec]`` as ``config``) when
  ``provideClusterInfo`` is set;
- ``interactiveMode``: ``Never`` (no standard input), ``IfAvailable`` (standard input when
  it is a terminal), ``Always`` (fails without a terminal);
- the plugin's standard error goes to the user as it comes (device-code logins print their
  instructions there); its standard output is one ``ExecCredential`` whose ``status`` holds
  a ``token`` or a client certificate and key, and optionally an ``expirationTimestamp``;
- the credential is cached (per process, shared by every client of the same stanza) until
  that time, or for the process's lifetime without one; a 401 answer re-runs the plugin
  unless another request already did.

Errors are one line: a plugin that is not installed gives its ``installHint``; a plugin that
fails gives its exit code and the first line of what it wrote to standard error. Standard
output is never shown: it may hold a token.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import IO, Any

from kompy.client.pem import temp_pem
from kompy.errors import ClusterError

GROUP = "client.authentication.k8s.io"
EXEC_API_VERSIONS = (f"{GROUP}/v1", f"{GROUP}/v1beta1")
EXEC_INFO_ENV = "KUBERNETES_EXEC_INFO"
# klog's header: "F1206 03:42:26.225445    4076 cred.go:145] " (gke-gcloud-auth-plugin).
_KLOG_HEADER = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ [\w.-]+:\d+\] ")


@dataclass(frozen=True)
class ExecConfig:
    """A kubeconfig user's ``exec`` stanza, validated (kompy/client/kubeconfig.py)."""

    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    api_version: str = EXEC_API_VERSIONS[0]
    install_hint: str = ""
    interactive_mode: str = "IfAvailable"
    cluster_info: str = ""  # JSON of spec.cluster when provideClusterInfo, else ""
    user: str = ""          # the kubeconfig user's name, for messages


@dataclass(frozen=True)
class Credential:
    token: str | None = None
    cert: tuple[str, str] | None = None  # private files: client certificate, key
    expires: datetime.datetime | None = None

    def expired(self, now: datetime.datetime | None = None) -> bool:
        if self.expires is None:
            return False
        return (now or datetime.datetime.now(datetime.UTC)) > self.expires


class ExecAuthenticator:
    """One plugin's cached credential. Thread-safe: the lock also keeps a plugin, which may
    ask the user something, from running twice at once."""

    def __init__(self, config: ExecConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._cached: Credential | None = None

    def get(self) -> Credential:
        with self._lock:
            if self._cached is None or self._cached.expired():
                self._cached = run_plugin(self.config)
            return self._cached

    def refresh(self, used: Credential) -> bool:
        """After a 401 with ``used``: run the plugin again unless the credential was rotated
        meanwhile. Whether a retry can use a different credential."""
        with self._lock:
            if self._cached is not used:
                return True
            fresh = run_plugin(self.config)
            self._cached = fresh
            return fresh != used


_AUTHENTICATORS: dict[ExecConfig, ExecAuthenticator] = {}
_AUTHENTICATORS_LOCK = threading.Lock()


def authenticator(config: ExecConfig) -> ExecAuthenticator:
    """The process-wide authenticator of ``config`` (client-go caches them the same way)."""
    with _AUTHENTICATORS_LOCK:
        found = _AUTHENTICATORS.get(config)
        if found is None:
            found = _AUTHENTICATORS[config] = ExecAuthenticator(config)
        return found


def _interactive(mode: str, stdin: IO[Any] | None) -> bool:
    terminal = stdin is not None and _isatty(stdin)
    if mode == "Never":
        return False
    if mode == "Always" and not terminal:
        raise ClusterError("the credential plugin needs a terminal (interactiveMode: Always) "
                           "and standard input is not one",
                           hint="run the command in a terminal, or log in with the plugin "
                                "first so that it has a cached credential")
    return terminal


def _isatty(stream: IO[Any]) -> bool:
    try:
        return stream.isatty()
    except (ValueError, OSError):
        return False


def exec_info(config: ExecConfig, interactive: bool) -> str:
    spec: dict[str, Any] = {"interactive": interactive}
    if config.cluster_info:
        spec["cluster"] = json.loads(config.cluster_info)
    return json.dumps({"kind": "ExecCredential", "apiVersion": config.api_version,
                       "spec": spec}, separators=(",", ":"))


def run_plugin(config: ExecConfig, *, stdin: IO[Any] | None = None,
               stderr: IO[str] | None = None) -> Credential:
    """Run the plugin once and return what it printed, or raise one-line ClusterErrors."""
    stdin = sys.stdin if stdin is None else stdin
    stderr = sys.stderr if stderr is None else stderr
    who = _who(config)
    try:
        interactive = _interactive(config.interactive_mode, stdin)
    except ClusterError as error:
        raise ClusterError(f"{who}: {error.message}", hint=error.hint) from None
    env = {**os.environ, **dict(config.env),
           EXEC_INFO_ENV: exec_info(config, interactive)}
    try:
        process = subprocess.Popen(  # noqa: S603 - the user's kubeconfig names the command
            [config.command, *config.args], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, stdin=stdin if interactive else subprocess.DEVNULL)
    except FileNotFoundError:
        raise ClusterError(f"{who} is not installed: {config.command!r} was not found",
                           hint=config.install_hint.strip() or
                           "install the plugin, or fix the exec command in the kubeconfig"
                           ) from None
    except PermissionError:
        raise ClusterError(f"{who}: {config.command!r} is not executable") from None
    messages: list[str] = []
    relay = threading.Thread(target=_relay, args=(process.stderr, stderr, messages),
                             daemon=True)
    relay.start()
    assert process.stdout is not None
    out = process.stdout.read()
    code = process.wait()
    relay.join(timeout=5)
    if code != 0:
        raise ClusterError(f"{who} failed with exit code {code}" + _summary(messages),
                           hint=_failure_hint(messages))
    return parse_credential(out, config)


def _who(config: ExecConfig) -> str:
    name = os.path.basename(config.command)
    return f"credential plugin {name!r}" + (f" of user {config.user!r}" if config.user else "")


def _relay(source: IO[bytes] | None, sink: IO[str], keep: list[str]) -> None:
    """Copy the plugin's standard error to the user as it comes, keeping its lines."""
    if source is None:
        return
    for raw in iter(source.readline, b""):
        line = raw.decode("utf-8", errors="replace")
        keep.append(line.rstrip())
        try:
            sink.write(line)
            sink.flush()
        except (OSError, ValueError):
            pass


def _summary(messages: list[str]) -> str:
    """``: <the first line of the plugin's standard error>``, without klog's header."""
    lines = [_KLOG_HEADER.sub("", line).strip() for line in messages]
    lines = [line for line in lines if line]
    if not lines:
        return " and printed nothing"
    if lines[0].lower().startswith("usage"):
        return ": it printed its usage (check the exec args in the kubeconfig)"
    return f": {lines[0][:300]}"


def _failure_hint(messages: list[str]) -> str:
    return ("its messages are above; run the plugin's own login command if it asks for one, "
            "or check the exec stanza of the kubeconfig" if messages else
            "check the exec stanza of the kubeconfig")


def parse_credential(out: bytes, config: ExecConfig) -> Credential:
    """The ``ExecCredential`` a plugin printed, checked as client-go checks it."""
    who = _who(config)
    try:
        data = json.loads(out.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ClusterError(f"{who} printed no ExecCredential (its output is not JSON)",
                           hint="run it by hand to see what it prints") from None
    if not isinstance(data, dict) or data.get("kind") != "ExecCredential":
        raise ClusterError(f"{who} printed something other than an ExecCredential")
    if data.get("apiVersion") != config.api_version:
        raise ClusterError(f"{who} answered with apiVersion {data.get('apiVersion')!r}; the "
                           f"kubeconfig asks for {config.api_version!r}",
                           hint="set the exec apiVersion the plugin speaks")
    status = data.get("status")
    if not isinstance(status, dict):
        raise ClusterError(f"{who} returned no status")
    token = str(status.get("token") or "") or None
    crt = str(status.get("clientCertificateData") or "")
    key = str(status.get("clientKeyData") or "")
    if not token and not crt and not key:
        raise ClusterError(f"{who} returned neither a token nor a client certificate")
    if bool(crt) != bool(key):
        raise ClusterError(f"{who} returned only a client certificate or only its key, "
                           "not both")
    expires = None
    if status.get("expirationTimestamp"):
        expires = _timestamp(str(status["expirationTimestamp"]), who)
    cert = (temp_pem(crt.encode()), temp_pem(key.encode())) if crt else None
    return Credential(token=token, cert=cert, expires=expires)


def _timestamp(text: str, who: str) -> datetime.datetime:
    try:
        value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ClusterError(f"{who} returned an expirationTimestamp that is not RFC 3339: "
                           f"{text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
