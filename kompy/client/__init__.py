"""Kubernetes client for the built-in cluster and real clusters alike, as client-go: REST,
kubeconfig, informers, work queues, the event recorder, and the API's shared conventions."""

from __future__ import annotations

from kompy.client.errors import ApiError, Conflict, Gone, Invalid, NotFound, Unauthorized
from kompy.client.rest import KubeClient

__all__ = ["ApiError", "Conflict", "Gone", "Invalid", "KubeClient", "NotFound", "Unauthorized"]
