"""The host's packet filter, through the ``iptables-save``/``iptables-restore`` commands.

Each cluster owns the chains named ``KOMPY-NP-<id>`` and ``KOMPY-NP-<id>-*`` (``<id>`` from
the cluster's name and state folder, so two clusters on one engine never share one) and one
jump to its main chain in DOCKER-USER (FORWARD when Docker made no DOCKER-USER). Every change
is one ``iptables-restore --noflush`` batch, applied by the kernel at once: the chains are
re-declared (which empties them), filled, and chains no longer needed deleted, without a
moment in which half the rules exist. The read of the current state and the batch happen
under a host-wide file lock, and the batch also under xtables' own lock (``-w``), so clusters
(and Docker) changing rules at the same time do not overwrite each other's changes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from kompy.cluster.netpol.rules import Chains

log = logging.getLogger(__name__)

CHAIN_PREFIX = "KOMPY-NP-"
HOOKS = ("DOCKER-USER", "FORWARD")  # the first that exists is hooked
BRIDGE_SYSCTL = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
TIMEOUT = 30.0


def chain_prefix(cluster: str, home: str) -> str:
    """``KOMPY-NP-`` and 8 hex digits: the chain names stay within iptables' 28 characters."""
    digest = hashlib.sha256(f"{home}\0{cluster}".encode()).hexdigest()[:8]
    return f"{CHAIN_PREFIX}{digest.upper()}"


def _lock_path() -> Path:
    for folder in (Path("/run/lock"), Path(tempfile.gettempdir())):
        if folder.is_dir() and os.access(folder, os.W_OK):
            return folder / "kompy-netpol.lock"
    return Path(tempfile.gettempdir()) / "kompy-netpol.lock"


@contextlib.contextmanager
def host_lock() -> Iterator[None]:
    with open(_lock_path(), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class IptablesError(Exception):
    pass


class Iptables:
    """One cluster's chains in the host's filter table."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def unavailable(self) -> str | None:
        """Why this host's pod traffic cannot be filtered (None: it can)."""
        if shutil.which("iptables-restore") is None or shutil.which("iptables-save") is None:
            return "the iptables-save and iptables-restore commands are not installed"
        if os.geteuid() != 0:
            return "changing the packet filter needs root (the daemon runs as a user)"
        try:
            self._save()
        except IptablesError as error:
            return str(error)
        try:
            if BRIDGE_SYSCTL.read_text().strip() != "1":
                return ("net.bridge.bridge-nf-call-iptables is 0: traffic between pods on one "
                        "bridge never reaches iptables")
        except OSError:
            return "the br_netfilter module is not loaded (no bridge traffic in iptables)"
        return None

    def apply(self, chains: Chains) -> None:
        """Make the cluster's chains exactly ``chains`` ({}: none, and no jump)."""
        with host_lock():
            current = self._save()
            existing = self._own_chains(current)
            hook = self._hook(current)
            lines = ["*filter"]
            lines += [f":{name} - [0:0]" for name in sorted(existing | set(chains))]
            for name, rules in chains.items():
                lines += [f"-A {name} {rule}" for rule in rules]
            jump = f"-A {hook} -j {self.prefix}"
            jumps = sum(1 for line in current.splitlines() if line.strip() == jump)
            if chains and not jumps:
                lines.append(f"-I {hook} 1 -j {self.prefix}")
            if not chains:
                lines += [f"-D {hook} -j {self.prefix}"] * jumps
            lines += [f"-X {name}" for name in sorted(existing - set(chains))]
            lines.append("COMMIT")
            if len(lines) > 2 or chains:
                self._restore("\n".join(lines) + "\n")

    def remove(self) -> None:
        self.apply({})

    # -- the commands ---------------------------------------------------------------------------
    def _own_chains(self, saved: str) -> set[str]:
        out = set()
        for line in saved.splitlines():
            if line.startswith(":"):
                chain = line[1:].split()[0]
                if chain == self.prefix or chain.startswith(self.prefix + "-"):
                    out.add(chain)
        return out

    @staticmethod
    def _hook(saved: str) -> str:
        declared = {line[1:].split()[0] for line in saved.splitlines() if line.startswith(":")}
        return next(h for h in HOOKS if h in declared or h == "FORWARD")

    def _save(self) -> str:
        return self._run(["iptables-save", "-t", "filter"], None)

    def _restore(self, batch: str) -> None:
        log.debug("iptables-restore batch:\n%s", batch)
        self._run(["iptables-restore", "-w", "5", "--noflush"], batch)

    @staticmethod
    def _run(argv: list[str], stdin: str | None) -> str:
        try:
            done = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                                  timeout=TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise IptablesError(f"{argv[0]}: {error}") from error
        if done.returncode != 0:
            message = (done.stderr or done.stdout).strip().splitlines()
            raise IptablesError(f"{argv[0]} failed: {message[-1] if message else done.returncode}")
        return done.stdout
