"""The dev loop's memory of synced files, and how it reads a container's status: a crash
after a change, a restart after a request (whole seconds in the status, Docker's fraction
when they tie), and the log streamer's view of a stream's end."""

from __future__ import annotations

import time

import pytest

from kompy.dev import logs, tracker
from kompy.dev.plan import ServicePlan, SyncOp
from kompy.dev.sync import Target


def op(path: str, deleted: bool = False) -> SyncOp:
    return SyncOp(f"/src/{path}", f"/app/{path}", deleted)


def test_a_record_keeps_the_latest_op_per_path_in_the_order_paths_changed() -> None:
    record = tracker.SyncRecord()
    record.add(ServicePlan("web", syncs=[op("a.py"), op("b.py")]))
    assert record.generation == 1 and not record.restart
    record.add(ServicePlan("web", syncs=[op("a.py", deleted=True)], restart=True,
                           exec_commands=[("kill", "-HUP", "1")]))
    assert list(record.ops) == ["/app/b.py", "/app/a.py"]
    assert record.ops["/app/a.py"].deleted
    assert record.restart and record.commands == [("kill", "-HUP", "1")]
    assert record.generation == 2
    record.add(ServicePlan("web", restart=True))   # a restart rule alone: nothing to keep
    assert record.generation == 2


def terminated(exit_code: int, finished: str, cid: str = "docker://old") -> dict[str, object]:
    return {"lastState": {"terminated": {"exitCode": exit_code, "finishedAt": finished,
                                         "containerID": cid}},
            "state": {"running": {"startedAt": finished}}}


def test_a_crash_counts_only_after_the_change(monkeypatch: pytest.MonkeyPatch) -> None:
    since = 1767323045.5   # 2026-01-02T03:04:05.5Z
    assert tracker._crash(terminated(1, "2026-01-02T03:04:07Z"), since) == (1, "docker://old")
    assert tracker._crash(terminated(1, "2026-01-02T03:04:04Z"), since) is None
    assert tracker._crash(terminated(0, "2026-01-02T03:04:07Z"), since) is None
    # The same second as the change: Docker's fraction decides.
    monkeypatch.setattr(tracker, "_precise", lambda cid, which: since + 0.2)
    assert tracker._crash(terminated(3, "2026-01-02T03:04:05Z"), since) == (3, "docker://old")
    monkeypatch.setattr(tracker, "_precise", lambda cid, which: since - 0.2)
    assert tracker._crash(terminated(3, "2026-01-02T03:04:05Z"), since) is None


def test_the_run_a_restart_in_place_ended_is_no_crash() -> None:
    """The kubelet counts a restart in place as upstream counts restarts: the killed run
    (SIGTERM's 143) is lastState of the same container, running again or ended since."""
    since = 1767323045.5
    killed = terminated(143, "2026-01-02T03:04:07Z")
    assert tracker._crash({**killed, "containerID": "docker://old"}, since) is None
    assert tracker._crash({**killed, "containerID": "docker://old", "state": {
        "terminated": {"exitCode": 1, "containerID": "docker://old"}}}, since) is None
    # Restarted in place, then crashed and held back: lastState is that crash.
    assert tracker._crash({**killed, "containerID": "docker://old", "state": {
        "waiting": {"reason": "CrashLoopBackOff"}}}, since) == (143, "docker://old")


def test_selectors_pick_the_services_pods() -> None:
    target = Target("ns", "app.kubernetes.io/name=web,app.kubernetes.io/part-of=shop", "web")
    labels = {"app.kubernetes.io/name": "web", "app.kubernetes.io/part-of": "shop"}
    assert tracker._selects(target, {"metadata": {"labels": {**labels, "x": "1"}}})
    assert not tracker._selects(target, {"metadata": {"labels": {
        **labels, "app.kubernetes.io/name": "worker"}}})


@pytest.mark.parametrize(("status", "expected"), [
    # replaced by the kubelet: the old container's exit code
    ({"containerID": "docker://new", "state": {"running": {}},
      "lastState": {"terminated": {"containerID": "docker://old", "exitCode": 2}}}, 2),
    # held back (CrashLoopBackOff) or ended for good
    ({"containerID": "docker://old", "state": {"waiting": {"reason": "CrashLoopBackOff"}},
      "lastState": {"terminated": {"containerID": "docker://old", "exitCode": 1}}}, 1),
    ({"containerID": "docker://old", "state": {"terminated": {"containerID": "docker://old",
                                                              "exitCode": 0}}}, 0),
    # still running (an in-place restart keeps the container): not an end
    ({"containerID": "docker://old", "state": {"running": {}}}, None),
    # running again after a restart in place, which lastState shows: not an end either
    ({"containerID": "docker://old", "state": {"running": {}},
      "lastState": {"terminated": {"containerID": "docker://old", "exitCode": 143}}}, None),
    # restarted in place, then ended on its own: its own exit, not the restart's
    ({"containerID": "docker://old", "state": {"terminated": {"containerID": "docker://old",
                                                              "exitCode": 3}},
      "lastState": {"terminated": {"containerID": "docker://old", "exitCode": 143}}}, 3),
    # an earlier container's end says nothing about this one
    ({"containerID": "docker://new", "state": {"running": {}},
      "lastState": {"terminated": {"containerID": "docker://older", "exitCode": 2}}}, None),
])
def test_the_streamer_reads_how_a_container_ended(status: dict[str, object],
                                                  expected: int | None) -> None:
    assert logs._exit_code(status, "docker://old") == expected


def test_log_timestamps_to_the_nanosecond() -> None:
    base = logs._nanoseconds("2026-01-02T03:04:05Z")
    assert base == 1767323045 * 10**9
    assert logs._nanoseconds("2026-01-02T03:04:05.000000001Z") == base + 1
    assert logs._nanoseconds("2026-01-02T03:04:05.5Z") == base + 500_000_000
    assert logs._nanoseconds("not a time") is None


class _Console:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warn(self, line: str) -> None:
        self.warnings.append(line)

    def say(self, line: str, style: str = "") -> None:
        pass


@pytest.mark.parametrize("ending", [False, True], ids=["watching", "session-ending"])
def test_a_failed_resync_is_reported_unless_the_session_is_ending(
        monkeypatch: pytest.MonkeyPatch, ending: bool) -> None:
    # At Ctrl-C the clean-up deletes the pods a re-sync may be copying into: its failure is
    # the clean-up's doing, not something to warn the user about.
    import threading

    from kompy.dev import sync
    from kompy.dev.runstate import RunState
    from kompy.errors import ClusterError

    def failing_sync(*_: object) -> None:
        raise ClusterError('container "web" in pod "web-1" is not running')

    monkeypatch.setattr(sync, "sync", failing_sync)
    monkeypatch.setattr(tracker, "_run_state", lambda cid: RunState(True, 0.0, None))
    console, stop = _Console(), threading.Event()
    pods = tracker.PodTracker(None, "ns", console, stop)  # type: ignore[arg-type]
    pods.records["web"] = tracker.SyncRecord()
    pods.records["web"].add(ServicePlan("web", syncs=[op("a.py")]))
    pods.targets["web"] = Target("ns", "app=web", "web")
    pods._pods["web-1"] = {"metadata": {"name": "web-1"}, "status": {"containerStatuses": [
        {"name": "web", "containerID": "docker://c1", "state": {"running": {}}}]}}
    if ending:
        stop.set()
    pods._resync("web", "web-1", "docker://c1")
    assert bool(console.warnings) is not ending


def _stamp(when: float, fraction: bool = False) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + (
        f".{int(when % 1 * 1e6):06d}Z" if fraction else "Z")


def _streamer(monkeypatch: pytest.MonkeyPatch, states: list[object],
              status: dict[str, object], requested: float
              ) -> tuple[logs.LogStreamer, list[object]]:
    """A log streamer that knows one pod with ``status`` and a restart request made at
    ``requested``, and whose Docker answers are ``states``, one per look (the last one
    repeated)."""
    import threading

    from kompy.client.wellknown import RESTART_ANNOTATION

    seen: list[object] = []

    def run_state(cid: str) -> object:
        seen.append(states[0])
        return states.pop(0) if len(states) > 1 else states[0]

    monkeypatch.setattr(logs, "_run_state", run_state)
    streamer = logs.LogStreamer(None, "ns", None, threading.Event())  # type: ignore[arg-type]
    streamer._pods["web-1"] = {
        "metadata": {"name": "web-1", "annotations": {
            RESTART_ANNOTATION: _stamp(requested, fraction=True)}},
        "status": {"containerStatuses": [{"name": "web", **status}]}}
    return streamer, seen


def _stopped(requested: float) -> dict[str, object]:
    """What the pod status says while a container is stopped for an in-place restart, and
    a moment after the restarted run crashed: the stop's own record, under the same id."""
    return {"containerID": "docker://c1", "state": {"terminated": {
        "containerID": "docker://c1", "exitCode": 0, "startedAt": _stamp(requested - 5),
        "finishedAt": _stamp(requested + 1)}}}


def test_a_stop_for_an_in_place_restart_is_not_an_exit(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    # Docker: stopped for the request (started before it, ended after), then running
    # again. The status says terminated with code 0 all along: the follower must follow
    # the restarted run, not report "exited with exit code 0".
    from kompy.engine.containers import RunState

    at = time.time() - 1   # the request, a moment ago (a stop is given RESTART_WAIT s)
    stopped = RunState(False, at - 5, at + 0.3, 0)
    streamer, seen = _streamer(monkeypatch, [stopped, stopped, RunState(True, at + 0.4, None)],
                               _stopped(at), at)
    follower = logs._Follower("web-1", "web", "")
    assert streamer._outcome(follower, "docker://c1") is None
    assert len(seen) == 3   # it waited for the run after the stop


def test_a_crash_after_an_in_place_restart_has_docker_s_exit_code(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The restarted run (started after the request) died with 3; the status still holds
    # the stop's record (code 0).
    from kompy.engine.containers import RunState

    at = time.time() - 1
    streamer, _ = _streamer(monkeypatch, [RunState(False, at + 0.4, at + 0.6, 3)],
                            _stopped(at), at)
    assert streamer._outcome(logs._Follower("web-1", "web", ""), "docker://c1") == 3


def test_an_exit_without_a_restart_request_counts_once_the_kubelet_says_so(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from kompy.engine.containers import RunState

    at = time.time() - 1
    streamer, _ = _streamer(monkeypatch, [RunState(False, at - 5, at - 1, 1)], {
        "containerID": "docker://c2", "state": {"running": {}},
        "lastState": {"terminated": {"containerID": "docker://c1", "exitCode": 1}}}, at)
    assert streamer._outcome(logs._Follower("web-1", "web", ""), "docker://c1") == 1


class _LogsClient:
    """The log API as a lagging status meets it: the pod's current container is already the
    kubelet's fresh replacement."""

    def logs(self, *_: object, **__: object) -> list[bytes]:
        return [b"2026-01-02T03:04:09.000000000Z starting version 1\n"]


def test_a_crashed_run_s_last_words_are_its_own_not_its_replacement_s(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    streamer = logs.LogStreamer(_LogsClient(), "ns", None, threading.Event())  # type: ignore[arg-type]
    streamer._pods["web-1"] = {"metadata": {"name": "web-1"}, "status": {"containerStatuses": [
        {"name": "web", "containerID": "docker://c1", "state": {"terminated": {
            "containerID": "docker://c1", "exitCode": 3}}}]}}
    asked: list[tuple[str, float | None]] = []

    def engine_output(cid: str, since: float | None) -> bytes:
        asked.append((cid, since))
        return (b"2026-01-02T03:04:07.000000000Z starting version 2\n"
                b"2026-01-02T03:04:07.100000000Z boom\n")

    monkeypatch.setattr(logs, "_run_output", engine_output)
    follower = logs._Follower("web-1", "web", "")
    shown = logs._nanoseconds("2026-01-02T03:04:06Z") or 0
    newest = streamer._rest(follower, "docker://c1", shown)
    assert [line for _, line in follower.held] == ["starting version 2", "boom"]
    assert newest == logs._nanoseconds("2026-01-02T03:04:07.1Z")
    assert asked == [("docker://c1", (shown + 1000) / 1e9)]
    # Where the engine cannot say (another cluster), the log API's answer is taken.
    monkeypatch.setattr(logs, "_run_output", lambda cid, since: None)
    follower = logs._Follower("web-1", "web", "")
    streamer._rest(follower, "docker://c1", shown)
    assert [line for _, line in follower.held] == ["starting version 1"]
