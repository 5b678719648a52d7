"""Authentication: who a request's bearer token belongs to.

Two sources, as kube-apiserver's token authenticators:
- the cluster's own admin token (api.json, the kubeconfig ``kompy cluster kubeconfig``
  prints): user ``kompy-admin`` in group ``system:masters``;
- a static token file, kube-apiserver's ``--token-auth-file`` format
  (https://kubernetes.io/docs/reference/access-authn-authz/authentication/#static-token-file):
  CSV lines ``token,user,uid,"group1,group2"`` (the groups column is optional). kompy reads
  it from the cluster's state folder (``tokens.csv``, put there by
  ``kompy cluster start --token-auth-file FILE``) at start and again whenever the file
  changes; kube-apiserver reads it only at start.

- a ServiceAccount's token, as the TokenRequest API issues it (serviceaccounts.py verifies
  it): user ``system:serviceaccount:NS:NAME``.

Every authenticated user is also in ``system:authenticated``. The scheme is matched without
regard to case (RFC 7235: ``bearer`` is ``Bearer``). Tokens are kept as SHA-256 digests and
the admin token is compared in constant time, so the lookup leaks nothing through timing.
What a user may do is the authorizer's question (authz.py, rbac.py).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kompy.errors import UserError

log = logging.getLogger(__name__)

AUTHENTICATED = "system:authenticated"
RECHECK_SECONDS = 1.0


@dataclass(frozen=True)
class UserInfo:
    """An authenticated user, as Kubernetes' ``user.Info``."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()


ADMIN = UserInfo("kompy-admin", "kompy-admin", ("system:masters", AUTHENTICATED))


def parse_token_file(text: str, source: str) -> dict[str, UserInfo]:
    """Token digest -> user, from kube-apiserver's CSV format; errors name the line."""
    users: dict[str, UserInfo] = {}
    reader = csv.reader(io.StringIO(text))
    for record in reader:
        line = reader.line_num
        if not record or (len(record) == 1 and not record[0].strip()):
            continue
        if len(record) < 3:
            raise UserError(f"{source}:{line}: a token line needs at least 3 columns (token, "
                            f"user name, user uid), found {len(record)}",
                            hint='format: token,user,uid,"group1,group2"')
        token, name, uid = record[0], record[1], record[2]
        if not token:
            log.warning("%s:%d: empty token ignored", source, line)
            continue
        groups = tuple(g for g in record[3].split(",") if g) if len(record) > 3 else ()
        if AUTHENTICATED not in groups:
            groups = (*groups, AUTHENTICATED)
        users[_digest(token)] = UserInfo(name, uid, groups)
    return users


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenAuthenticator:
    def __init__(self, admin_token: str, token_file: Path | None = None,
                 service_accounts: Callable[[str], UserInfo | None] | None = None) -> None:
        self._admin = f"Bearer {admin_token}".encode()
        self._file = token_file
        self._service_accounts = service_accounts
        self._users: dict[str, UserInfo] = {}
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._reload(initial=True)

    def authenticate(self, header: str | None) -> UserInfo | None:
        """The user of an ``Authorization`` header, or None (401)."""
        if not header:
            return None
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        if hmac.compare_digest(f"Bearer {token}".encode(), self._admin):
            return ADMIN
        if self._file is not None:
            self._maybe_reload()
            found = self._users.get(_digest(token))
            if found is not None:
                return found
        return self._service_accounts(token) if self._service_accounts else None

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if now - self._checked < RECHECK_SECONDS:
            return
        with self._lock:
            self._checked = now
            self._reload(initial=False)

    def _reload(self, *, initial: bool) -> None:
        if self._file is None:
            return
        try:
            info = os.stat(self._file)
        except FileNotFoundError:
            self._users, self._stamp = {}, None
            return
        stamp = (info.st_mtime_ns, info.st_size)
        if stamp == self._stamp:
            return
        try:
            users = parse_token_file(self._file.read_text(encoding="utf-8"), str(self._file))
        except (OSError, UnicodeDecodeError, UserError) as error:
            if initial:
                raise
            log.error("token file not reloaded, keeping the previous one: %s", error)
            self._stamp = stamp
            return
        self._users, self._stamp = users, stamp
        log.info("token file %s: %d token(s)", self._file, len(users))
