"""The query parameters of REST requests, checked as kube-apiserver checks them: a bad
value is a 400 or a 422 Status before anything runs."""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Protocol

from kompy.client.errors import ApiError
from kompy.cluster.apiserver.handlers import WriteOptions, bad_request

_INTEGER = re.compile(r"[-+]?[0-9]{1,18}")


class Headers(Protocol):
    def get(self, name: str, default: None = None) -> str | None: ...


def write_options(one: dict[str, str], query: dict[str, list[str]], headers: Headers
                  ) -> WriteOptions:
    """``fieldManager`` (else, as kube-apiserver, the User-Agent up to its first ``/``),
    ``dryRun`` (only ``All`` exists) and ``force``."""
    dry_run = query.get("dryRun") or []
    for value in dry_run:
        if value != "All":
            raise ApiError(422, "Invalid", f'dryRun: Unsupported value: "{value[:40]}": '
                                           'supported values: "All"')
    manager = one.get("fieldManager") or ""
    if len(manager) > 128:
        raise ApiError(422, "Invalid", "fieldManager: Too long: may not be more than 128 "
                                       "bytes")
    agent = (headers.get("User-Agent") or "").split("/", 1)[0][:128]
    force = one.get("force") or ""
    if force not in ("", "true", "false"):
        raise bad_request(f"force: invalid value {force[:40]!r}: must be true or false")
    return WriteOptions(manager or agent or "unknown", bool(dry_run), force == "true",
                        explicit_manager=bool(manager))



def int_param(one: dict[str, str], name: str) -> int | None:
    """An integer query parameter (``timeoutSeconds``, ``gracePeriodSeconds``...): None when
    absent or empty, a 400 when not an integer, as kube-apiserver's parameter decoding."""
    text = one.get(name)
    if not text:
        return None
    if not _INTEGER.fullmatch(text):
        raise bad_request(f"invalid value {text[:40]!r} for query parameter {name}: "
                          "must be an integer")
    return int(text)



def log_since(one: dict[str, str]) -> float | None:
    """PodLogOptions' ``sinceSeconds`` (relative, at least 1) or ``sinceTime`` (RFC 3339,
    a fraction of a second kept) as a POSIX time; at most one of the two, as kube-apiserver
    validates them."""
    seconds, when = one.get("sinceSeconds"), one.get("sinceTime")
    if seconds and when:
        raise bad_request("at most one of `sinceTime` or `sinceSeconds` may be specified")
    if seconds:
        try:
            value = int(seconds)
        except ValueError:
            raise bad_request(f"sinceSeconds: invalid value {seconds!r}") from None
        if value < 1:
            raise bad_request("sinceSeconds: must be greater than 0")
        return time.time() - value
    if when:
        try:
            parsed = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            raise bad_request(f"sinceTime: {when!r} is not an RFC 3339 time") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.timestamp()
    return None
