"""``kompy dev``'s Ingress URLs: the lines ``kompy up`` prints (kompy/dev/ingress_urls.py),
after the first deploy and again whenever one of the project's Ingresses changes its rules
or its address (a reload that adds a host, a controller that takes the Ingress on).

It follows the project's Ingresses with a watch on a thread of its own, so no build, sync
or rollout ever waits for it. An Ingress that changed is announced once it has an address,
or, without one, after the time ``kompy up`` gives a controller (then with the reason no
controller serves it). Changes that arrive together are announced together, so the first
deploy's Ingresses share one ``/etc/hosts`` line, as in ``kompy up``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kompy.client import Gone
from kompy.client.objects import load_balancer_addresses
from kompy.dev.ingress_urls import SERVED_TIMEOUT, IngressRoute, announce, ingress_routes
from kompy.errors import KompyError

if TYPE_CHECKING:
    from kompy.client import KubeClient
    from kompy.dev.console import Console
    from kompy.dev.target import ClusterTarget

# What an announcement says of one Ingress: its routes and its address ("" for none).
Signature = tuple[tuple[IngressRoute, ...], str]

# How long one watch request lasts at most when nothing is pending.
IDLE_WATCH_SECONDS = 60


def signature(ingress: dict[str, Any]) -> Signature:
    obj = {**ingress, "kind": "Ingress"}   # watch events may leave the kind out
    address = next((a for a in load_balancer_addresses(obj) if a), "")
    return tuple(ingress_routes([obj])), address


class IngressAnnouncer:
    """Prints the URLs of the project's Ingresses (those labelled ``selector``) in
    ``namespace`` as they first appear and whenever they change, until ``stop``."""

    def __init__(self, client: KubeClient, target: ClusterTarget, namespace: str,
                 selector: str, console: Console, stop: threading.Event,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.target = target
        self.namespace = namespace
        self.selector = selector
        self.console = console
        self.stop = stop
        self.clock = clock
        self.grace = SERVED_TIMEOUT if target.builtin else 0.0
        self.current: dict[str, Signature] = {}     # name -> as the cluster has it
        self.announced: dict[str, Signature] = {}   # name -> as last announced
        self.pending: dict[str, float] = {}         # name -> when it changed

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="dev-ingress-urls", daemon=True)
        thread.start()
        return thread

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                listing = self.client.list("ingresses", self.namespace, self.selector)
                self.current = {str(i["metadata"]["name"]): signature(i)
                                for i in listing.get("items") or []}
                self._mark_changed()
                self._follow(str((listing.get("metadata") or {}).get("resourceVersion") or ""))
            except Gone:
                continue
            except KompyError:
                self.stop.wait(1.0)

    def _follow(self, version: str) -> None:
        while not self.stop.is_set():
            self._announce_due()
            seconds = self._watch_seconds()
            ends = self.clock() + seconds
            for kind, ingress in self.client.watch(
                    "ingresses", self.namespace, version or None, label_selector=self.selector,
                    timeout_seconds=seconds):
                if self.stop.is_set():
                    return
                meta = ingress.get("metadata") or {}
                version = str(meta.get("resourceVersion") or version)
                if kind == "DELETED":
                    self.current.pop(str(meta.get("name")), None)
                    self.announced.pop(str(meta.get("name")), None)
                else:
                    self.current[str(meta.get("name"))] = signature(ingress)
                self._mark_changed()
                if self._announce_due() or self._due_before(ends):
                    break   # a new request, whose timeout ends when the next one is due

    def _mark_changed(self) -> None:
        now = self.clock()
        for name, sig in self.current.items():
            if self.announced.get(name) != sig and sig[0]:
                self.pending.setdefault(name, now)
            elif self.announced.get(name) == sig:
                self.pending.pop(name, None)
        for name in [n for n in self.pending if n not in self.current]:
            del self.pending[name]

    def _ready(self, name: str) -> bool:
        return bool(self.current[name][1]) or self.clock() >= self.pending[name] + self.grace

    def _watch_seconds(self) -> int:
        if not self.pending:
            return IDLE_WATCH_SECONDS
        due = min(self.pending.values()) + self.grace - self.clock()
        return max(1, min(IDLE_WATCH_SECONDS, math.ceil(due)))

    def _due_before(self, moment: float) -> bool:
        """Whether a pending Ingress's grace ends before ``moment`` (a watch request's end):
        one that appeared without an address during a long request."""
        return bool(self.pending) and min(self.pending.values()) + self.grace < moment

    def _announce_due(self) -> bool:
        """Announce the pending Ingresses once all of them are ready (so those of one change
        share their lines); True when something was announced."""
        if not self.pending or not all(self._ready(name) for name in self.pending):
            return False
        names = sorted(self.pending, key=lambda n: self.pending[n])
        self.pending.clear()
        for name in names:
            self.announced[name] = self.current[name]
        self.announce(names)
        return True

    def announce(self, names: list[str]) -> None:
        announce(self.client, self.target, self.namespace,
                 {name: (list(self.current[name][0]), self.current[name][1]) for name in names},
                 self.console)
