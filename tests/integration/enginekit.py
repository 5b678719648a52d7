"""What the integration tests ask of the machine: whether a Docker engine answers, and a free
port on 127.0.0.1. (tests/integration/conftest.py puts this folder on sys.path.)"""

from __future__ import annotations

import socket


def docker_ok() -> bool:
    """Whether a Docker engine answers; the tests that need one skip without it."""
    try:
        import docker

        docker.from_env(timeout=30).ping()
    except Exception:  # noqa: BLE001 - any failure means: no engine to test against
        return False
    return True


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
