"""kompy delete's wait (kompy/kubectl/deletion.py) against a scripted API: when an object
counts as gone, what a timeout says, and a wait the server forbids. The real API server and
a finalizer are in tests/cli/test_delete_cli.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kompy.client import resources
from kompy.client.errors import Forbidden, Gone, NotFound
from kompy.kubectl.deletion import Deleted, DeleteTimeout, wait_gone

HELD = Deleted(resources.lookup("configmaps"), "held", "default", "uid-1")


def cm(uid: str, version: str = "5") -> dict[str, Any]:
    return {"metadata": {"name": "held", "namespace": "default", "uid": uid,
                         "resourceVersion": version}}


class Script:
    """Answers ``get`` from ``gets`` (an object or an error, in turn) and each ``watch`` from
    ``watches`` (a list of events); records what was asked."""

    def __init__(self, gets: list[Any], watches: list[list[tuple[str, Any]]]) -> None:
        self.gets, self.watches = gets, watches
        self.asked: list[tuple[str, ...]] = []

    def get(self, resource: str, name: str, namespace: str | None = None) -> Any:
        self.asked.append(("get", resource, name))
        answer = self.gets.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def watch(self, resource: str, namespace: str | None = None,
              resource_version: str | None = None, **params: Any
              ) -> Iterator[tuple[str, Any]]:
        self.asked.append(("watch", resource, str(resource_version), params["field_selector"]))
        events = self.watches.pop(0)
        if isinstance(events, Exception):
            raise events
        yield from events


def test_gone_is_404_or_another_object_under_the_name() -> None:
    for answer in (NotFound(404, "NotFound", "gone"), cm("uid-2")):
        script = Script([answer], [])
        wait_gone(script, [HELD], 0)  # type: ignore[arg-type]
        assert script.asked == [("get", "configmaps", "held")]


def test_the_watch_follows_the_object_from_the_version_read() -> None:
    script = Script([cm("uid-1")], [[("MODIFIED", cm("uid-1", "6")), ("DELETED", cm("uid-1"))]])
    wait_gone(script, [HELD], 0)  # type: ignore[arg-type]
    assert script.asked == [("get", "configmaps", "held"),
                            ("watch", "configmaps", "5", "metadata.name=held")]
    # Replaced under the same name between two events: gone too.
    script = Script([cm("uid-1")], [[("ADDED", cm("uid-2"))]])
    wait_gone(script, [HELD], 0)  # type: ignore[arg-type]


def test_an_expired_version_reads_the_object_again() -> None:
    script = Script([cm("uid-1"), NotFound(404, "NotFound", "gone")],
                    [Gone(410, "Expired", "too old")])  # type: ignore[list-item]
    wait_gone(script, [HELD], 0)  # type: ignore[arg-type]
    assert [a[0] for a in script.asked] == ["get", "watch", "get"]


def test_a_timeout_names_the_object_as_kubectl_does() -> None:
    now = [0.0]

    def clock() -> float:
        now[0] += 1.0
        return now[0]
    script = Script([cm("uid-1"), cm("uid-1")], [[("MODIFIED", cm("uid-1", "6"))]])
    with pytest.raises(DeleteTimeout) as raised:
        wait_gone(script, [HELD], 2.5, clock)  # type: ignore[arg-type]
    assert raised.value.exit_code == 1
    assert str(raised.value) == "timed out waiting for the condition on configmaps/held"


def test_a_forbidden_wait_is_no_failure() -> None:
    script = Script([Forbidden(403, "Forbidden", "no get")], [])
    wait_gone(script, [HELD, HELD], 0)  # type: ignore[arg-type]
    assert len(script.asked) == 1


def test_each_object_has_the_whole_timeout_as_in_kubectl() -> None:
    """kubectl's IsDeleted starts each object's clock when it gets to it: a slow first
    object does not eat the second's time."""
    now = [0.0]

    def clock() -> float:
        now[0] += 1.0
        return now[0]
    script = Script([cm("uid-1"), cm("uid-1")],
                    [[("MODIFIED", cm("uid-1", "6")), ("DELETED", cm("uid-1"))],
                     [("DELETED", cm("uid-1"))]])
    wait_gone(script, [HELD, HELD], 2.5, clock)  # type: ignore[arg-type]
    assert [a[0] for a in script.asked] == ["get", "watch", "get", "watch"]
