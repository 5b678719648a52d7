"""SPDY/3.1 (placeholder until the session layer lands)."""

from __future__ import annotations

from typing import Any

from kompy.cluster.apiserver.handlers import bad_request


def check_exec_request(headers: Any) -> None:
    raise bad_request("SPDY is not supported yet")


def exec_transport(request: Any, options: Any) -> Any:
    raise bad_request("SPDY is not supported yet")


def portforward_session(request: Any, kind: str, address: str) -> Any:
    raise bad_request("SPDY is not supported yet")
