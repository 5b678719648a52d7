"""Errors of the Kubernetes API, built from the ``Status`` bodies servers answer with.

A Status (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/status/)
carries ``code`` (the HTTP status), ``reason`` (NotFound, AlreadyExists, Conflict, Invalid,
Gone, Unauthorized...) and a human ``message``; the subclasses let callers catch by meaning.
"""

from __future__ import annotations

from typing import Any

from kompy.errors import ClusterError


class ApiError(ClusterError):
    """The API server answered with an error Status."""

    def __init__(self, status: int, reason: str, message: str, *, hint: str | None = None,
                 body: dict[str, Any] | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.reason = reason
        self.body = body or {}


class NotFound(ApiError):
    """404: no such object (or no such kind)."""


class Conflict(ApiError):
    """409: the object exists already, or it changed since it was read (stale resourceVersion)."""


class Unauthorized(ApiError):
    """401/403: the token is missing or wrong."""


class Forbidden(Unauthorized):
    """403: the user is known but may not do this (RBAC), or the server refuses it."""


class Invalid(ApiError):
    """422: the object is missing required fields or has wrong values."""


class Gone(ApiError):
    """410: a watch asked for a resourceVersion older than the server keeps history for."""


_BY_CODE: dict[int, type[ApiError]] = {
    404: NotFound, 409: Conflict, 401: Unauthorized, 403: Forbidden, 422: Invalid, 410: Gone,
}


def status_body(code: int, reason: str, message: str, details: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    """A ``Status`` object as Kubernetes API servers send them on failure."""
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                            "status": "Failure", "message": message, "reason": reason,
                            "code": code}
    if details:
        body["details"] = details
    return body


def error_from_status(code: int, body: Any, fallback: str = "") -> ApiError:
    """The ApiError subclass for an HTTP error answer (a Status body, or anything else)."""
    if isinstance(body, dict) and body.get("kind") == "Status":
        reason = str(body.get("reason") or "")
        message = str(body.get("message") or fallback or f"HTTP {code}")
    else:
        reason = ""
        message = fallback or f"HTTP {code}"
    cls = _BY_CODE.get(code, ApiError)
    if code == 409 and reason == "AlreadyExists":
        cls = Conflict
    hint = None
    if code == 401:   # a 403 is a refusal of what was asked (a quota, a policy), not the token
        hint = "the token in the kubeconfig was refused; for the built-in cluster run " \
               "`kompy cluster kubeconfig` to get the current one"
    return cls(code, reason or cls.__name__, message, hint=hint,
               body=body if isinstance(body, dict) else None)
