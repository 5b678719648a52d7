"""client-go's flowcontrol.Backoff, which the DaemonSet controller's failedPodsBackoff is:
per key, 1 s doubling to the cap, in back-off since the last failure, and starting over
(and garbage-collected) after twice the cap without one."""

from __future__ import annotations

from kompy.cluster.controllers.keyedbackoff import KeyedBackoff


def test_each_key_doubles_to_the_cap_since_its_last_failure() -> None:
    backoff = KeyedBackoff(1.0, 900.0)
    assert backoff.remaining("a", 0.0) == 0.0            # never failed: not held
    assert [backoff.next("a", t) for t in (0.0, 1.0, 3.0, 7.0)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff.remaining("a", 7.0) == 8.0
    assert backoff.remaining("a", 14.5) == 0.5
    assert backoff.remaining("a", 15.0) == 0.0
    assert backoff.remaining("b", 7.0) == 0.0             # keys are apart
    for t in range(11):
        backoff.next("a", 20.0 + t)
    assert backoff.next("a", 40.0) == 900.0               # capped at 15 minutes


def test_a_key_left_alone_for_twice_the_cap_starts_over_and_is_collected() -> None:
    backoff = KeyedBackoff(1.0, 900.0)
    for t in (0.0, 1.0, 3.0):
        backoff.next("a", t)
    assert backoff.next("a", 3.0 + 1800.0) == 8.0         # twice the cap: not yet expired
    assert backoff.remaining("a", 1803.0 + 1800.5) == 0.0
    assert backoff.next("a", 1803.0 + 1800.5) == 1.0      # expired: from the start again
    backoff.gc(3603.5 + 1800.0)
    assert backoff._entries                               # not older than twice the cap
    backoff.gc(3603.5 + 1800.5)
    assert not backoff._entries
