"""Debian's ``docker-registry`` (the CNCF distribution registry 2.8) on 127.0.0.1, for tests.

Each :class:`Registry` is a process of its own on a free port, with a temporary config and
storage folder, optionally behind htpasswd (bcrypt) authentication. The Docker engine treats
registries on 127.0.0.0/8 as insecure by default, so plain HTTP works without configuring
the engine. ``tests/run.sh`` installs the package (and apache2-utils for ``htpasswd``).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import leakkit
import requests
from enginekit import free_port

BINARY = "docker-registry"
REGISTRY_USER = ("kompy", "s3cret-registry-password")  # the auth_registry fixture's user


def available() -> bool:
    return shutil.which(BINARY) is not None


def bcrypt_line(user: str, password: str) -> str:
    """An htpasswd line with a bcrypt hash (the only kind the registry accepts)."""
    if shutil.which("htpasswd"):
        done = subprocess.run(["htpasswd", "-Bbn", user, password], capture_output=True,
                              text=True, check=True)
        return done.stdout.strip()
    import crypt  # Python < 3.13 on glibc: bcrypt through libxcrypt

    return f"{user}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))}"


class Registry:
    def __init__(self, folder: Path, users: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.users = users or {}
        self.process: subprocess.Popen[bytes] | None = None
        # Every repository the tests push goes under this prefix: the session's own
        # (leakkit), so what the engine keeps of them (pushed, pulled) is known as ours.
        self.prefix = f"{self.host}/{leakkit.image_name('registry')}"

    def start(self) -> Registry:
        storage = self.folder / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        auth = ""
        if self.users:
            htpasswd = self.folder / "htpasswd"
            htpasswd.write_text("".join(f"{bcrypt_line(u, p)}\n"
                                        for u, p in self.users.items()))
            auth = f"auth:\n  htpasswd:\n    realm: kompy-test\n    path: {htpasswd}\n"
        config = self.folder / "config.yml"
        config.write_text(f"""version: 0.1
log:
  level: warn
  accesslog: {{disabled: true}}
storage:
  filesystem: {{rootdirectory: {storage}}}
  delete: {{enabled: true}}
http:
  addr: {self.host}
{auth}""")
        log = open(self.folder / "registry.log", "wb")  # noqa: SIM115 - the process owns it
        self.process = subprocess.Popen([BINARY, "serve", str(config)], stdout=log,
                                        stderr=subprocess.STDOUT)
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError("docker-registry exited: "
                                     + (self.folder / "registry.log").read_text()[-2000:])
            try:
                answer = requests.get(f"http://{self.host}/v2/", timeout=1)
                if answer.status_code in (200, 401):
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"docker-registry did not answer on {self.host} "
                                     f"within {timeout} s")
            time.sleep(0.05)

    def stop(self) -> None:
        """The registry's process ends, and the engine's images under its prefix (tagged
        for a push, built by ``kompy dev --default-repo``, pulled by a node) go."""
        try:
            leakkit.remove_images(leakkit.images_named(self.prefix + "/"))
        finally:
            self._stop_process()

    def _stop_process(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def tags(self, repository: str) -> list[str]:
        """The tags the registry holds for ``repository`` (a name under this registry)."""
        name = repository.split("/", 1)[1]
        auth: Any = next(iter(self.users.items()), None)
        answer = requests.get(f"http://{self.host}/v2/{name}/tags/list", auth=auth, timeout=5)
        if answer.status_code == 404:
            return []
        answer.raise_for_status()
        return list(answer.json().get("tags") or [])
