"""kompy dev's Ingress announcer: what it announces when, from the Ingresses the cluster has
(the watch itself is proven in tests/integration/test_up_ingress.py)."""

from __future__ import annotations

import threading
from typing import Any

from kompy.dev.ingress_watch import IngressAnnouncer, signature


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Target:
    builtin = True


class Recorder(IngressAnnouncer):
    def __init__(self, clock: Clock) -> None:
        super().__init__(None, Target(), "shop", "app.kubernetes.io/part-of=shop",  # type: ignore[arg-type]
                         None, threading.Event(), clock)  # type: ignore[arg-type]
        self.said: list[list[str]] = []

    def announce(self, names: list[str]) -> None:
        self.said.append(names)

    def see(self, *ingresses: dict[str, Any]) -> bool:
        for ingress in ingresses:
            self.current[ingress["metadata"]["name"]] = signature(ingress)
        self._mark_changed()
        return self._announce_due()


def ingress(name: str, hosts: list[str], address: str = "") -> dict[str, Any]:
    status = {"loadBalancer": {"ingress": [{"ip": address}]}} if address else {}
    return {"metadata": {"name": name}, "status": status,
            "spec": {"rules": [{"host": h, "http": {"paths": [{"path": "/"}]}} for h in hosts]}}


def test_first_deploy_is_announced_together_once_every_ingress_has_an_address() -> None:
    clock = Clock()
    announcer = Recorder(clock)
    assert not announcer.see(ingress("a", ["a.test"]), ingress("b", ["b.test"]))
    assert not announcer.see(ingress("a", ["a.test"], "127.0.0.1"))   # b has none yet
    assert announcer.see(ingress("b", ["b.test"], "127.0.0.1"))
    assert announcer.said == [["a", "b"]]
    # The same again (a status write, a resync) says nothing.
    assert not announcer.see(ingress("a", ["a.test"], "127.0.0.1"))
    assert announcer.said == [["a", "b"]]


def test_a_change_of_rules_or_address_is_announced_again() -> None:
    announcer = Recorder(Clock())
    announcer.see(ingress("a", ["a.test"], "127.0.0.1"))
    assert announcer.see(ingress("a", ["a.test", "admin.test"], "127.0.0.1"))
    assert announcer.see(ingress("a", ["a.test", "admin.test"], "10.0.0.9"))
    assert announcer.said == [["a"], ["a"], ["a"]]


def test_an_ingress_without_an_address_is_announced_after_the_grace() -> None:
    clock = Clock()
    announcer = Recorder(clock)
    assert not announcer.see(ingress("a", ["a.test"]))
    assert announcer._watch_seconds() == 10   # the watch ends when the grace does
    clock.now += 10
    assert announcer.see()
    assert announcer.said == [["a"]]
    assert announcer._watch_seconds() == 60
    assert not announcer.see()                 # warned once, not at every event
    # A new one without an address during a long watch request: that request ends early.
    ends = clock.now + announcer._watch_seconds()
    assert not announcer._due_before(ends)
    announcer.see(ingress("b", ["b.test"]))
    assert announcer._due_before(ends) and announcer._watch_seconds() == 10


def test_an_ingress_without_routes_or_gone_is_not_announced() -> None:
    announcer = Recorder(Clock())
    assert not announcer.see({"metadata": {"name": "empty"}, "spec": {}})
    assert not announcer.pending
    announcer.see(ingress("a", ["a.test"]))
    del announcer.current["a"]
    announcer._mark_changed()
    assert not announcer.pending
