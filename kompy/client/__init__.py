"""Kubernetes REST client: one client for the built-in cluster and for real clusters."""

from __future__ import annotations

from kompy.client.errors import ApiError, Conflict, Gone, Invalid, NotFound, Unauthorized
from kompy.client.rest import KubeClient

__all__ = ["ApiError", "Conflict", "Gone", "Invalid", "KubeClient", "NotFound", "Unauthorized"]
