"""``kompy logs`` as ``kubectl logs``: which pods and containers, kubectl's remarks on
stderr, the options that reach the pod log API, prefixes and followed streams."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kompy.client import KubeClient
from kompy.cluster.apiserver.server import ApiServer
from kompy.cluster.store.sqlite import Store
from kompy.errors import UserError
from kompy.kubectl.logs import LogOptions, by_logging, go_duration, logs


class RecordingPodIO:
    """Answers log requests with two lines naming the pod and container; records them."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def logs(self, namespace: str, pod: str, container: str, *, follow: bool, previous: bool,
             tail_lines: int | None, since: float | None = None,
             timestamps: bool = False) -> Iterator[bytes]:
        with self.lock:
            self.calls.append({"pod": pod, "container": container, "follow": follow,
                               "previous": previous, "tail": tail_lines, "since": since,
                               "timestamps": timestamps})
        yield f"{pod}/{container} one\n{pod}/".encode()
        if follow:
            time.sleep(0.05)   # the other streams write meanwhile
        yield f"{container} two\n".encode()

    def exec(self, *args: Any) -> tuple[int, bytes]:
        raise NotImplementedError


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[KubeClient, RecordingPodIO]]:
    server = ApiServer(Store(tmp_path / "s.db"), "t").start()
    io = RecordingPodIO()
    server.set_pod_io(io)
    yield KubeClient.for_server(server.url, "t"), io
    server.stop()


def pod(name: str, *, containers: tuple[str, ...] = ("web",), inits: tuple[str, ...] = (),
        ready: str | None = None, restarts: int = 0, node: str = "kompy",
        annotations: dict[str, str] | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": "Running", "containerStatuses": [
        {"name": containers[0], "restartCount": restarts}]}
    if ready:
        status["conditions"] = [{"type": "Ready", "status": "True",
                                 "lastTransitionTime": ready}]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "web"},
                         "annotations": annotations or {}},
            "spec": {"nodeName": node,
                     "containers": [{"name": c, "image": "i:1"} for c in containers],
                     "initContainers": [{"name": c, "image": "i:1"} for c in inits]},
            "status": status}


def create(client: KubeClient, obj: dict[str, Any]) -> None:
    created = client.create(obj)
    created["status"] = obj["status"]
    client.replace_status(created)


def deployment(client: KubeClient) -> None:
    client.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                   "spec": {"selector": {"matchLabels": {"app": "web"}},
                            "template": {"metadata": {"labels": {"app": "web"}},
                                         "spec": {"containers": [{"name": "web",
                                                                  "image": "i:1"}]}}}})


def run(client: KubeClient, target: str | None, **options: Any) -> tuple[str, list[str]]:
    out: list[bytes] = []
    notes: list[str] = []
    assert logs(client, target, None, LogOptions(**options), out.append, notes.append) == 0
    return b"".join(out).decode(), notes


def test_a_deployment_with_several_pods_says_which_one(cluster: Any) -> None:
    client, io = cluster
    deployment(client)
    create(client, pod("web-new", ready="2026-01-01T00:00:09Z"))
    create(client, pod("web-old", ready="2026-01-01T00:00:01Z"))
    create(client, pod("web-unready"))
    text, notes = run(client, "deploy/web")
    # kubectl's ByLogging: ready before not ready, ready longer first.
    assert notes == ["Found 3 pods, using pod/web-old"]
    assert text == "web-old/web one\nweb-old/web two\n"


def test_by_logging_order() -> None:
    pods = [pod("unassigned", node=""), pod("restarted", ready="2026-01-01T00:00:05Z",
                                              restarts=3),
            pod("calm", ready="2026-01-01T00:00:05Z"), pod("early", ready="2026-01-01T00:00:01Z")]
    assert [p["metadata"]["name"] for p in sorted(pods, key=by_logging)] == [
        "early", "restarted", "calm", "unassigned"]


def test_a_selector_logs_every_pod_with_a_tail_of_10(cluster: Any) -> None:
    client, io = cluster
    create(client, pod("a"))
    create(client, pod("b"))
    text, notes = run(client, None, selector="app=web", prefix=True)
    assert text == ("[pod/a/web] a/web one\n[pod/a/web] a/web two\n"
                    "[pod/b/web] b/web one\n[pod/b/web] b/web two\n")
    assert [c["tail"] for c in io.calls] == [10, 10]
    run(client, None, selector="app=web", tail=-1)
    assert io.calls[-1]["tail"] is None
    _, notes = run(client, None, selector="app=nothing")
    assert notes == ["No resources found in default namespace."]


def test_containers_default_or_all(cluster: Any) -> None:
    client, io = cluster
    create(client, pod("p", containers=("web", "side"), inits=("wait",)))
    _, notes = run(client, "p")
    assert notes == ['Defaulted container "web" out of: web, side, wait (init)']
    assert io.calls[-1]["container"] == "web"
    io.calls.clear()
    run(client, "pod/p", all_containers=True)
    assert [c["container"] for c in io.calls] == ["wait", "web", "side"]
    create(client, pod("q", containers=("web", "side"), annotations={
        "kubectl.kubernetes.io/default-container": "side"}))
    _, notes = run(client, "q")
    assert notes == [] and io.calls[-1]["container"] == "side"
    with pytest.raises(UserError, match="container nope is not valid for pod p out of: web, "
                                        "side, wait"):
        run(client, "p", container="nope")


def test_options_reach_the_log_api(cluster: Any) -> None:
    client, io = cluster
    create(client, pod("p"))
    before = time.time()
    run(client, "p", since="1h30m", timestamps=True, previous=True, tail=5)
    call = io.calls[-1]
    assert call["previous"] is True and call["timestamps"] is True and call["tail"] == 5
    assert before - 5401 <= call["since"] <= time.time() - 5399
    run(client, "p", since_time="2024-08-30T08:00:00+02:00")
    assert io.calls[-1]["since"] == 1724997600.0  # 2024-08-30T06:00:00Z


def test_following_several_streams_interleaves_whole_lines(cluster: Any) -> None:
    client, io = cluster
    for name in ("a", "b", "c"):
        create(client, pod(name))
    text, _ = run(client, None, selector="app=web", follow=True)
    assert sorted(text.splitlines()) == sorted(
        f"{p}/web {n}" for p in "abc" for n in ("one", "two"))
    with pytest.raises(UserError, match="you are attempting to follow 3 log streams, but "
                                        "maximum allowed concurrency is 2"):
        run(client, None, selector="app=web", follow=True, max_log_requests=2)


@pytest.mark.parametrize(("target", "options", "message"), [
    (None, {}, "POD or TYPE/NAME is a required argument"),
    ("p", {"selector": "a=b"}, "only a selector"),
    ("p", {"since": "5s", "since_time": "2024-01-01T00:00:00Z"}, "at most one of"),
    ("p", {"all_containers": True, "container": "c"}, "should not be specified"),
    ("p", {"tail": -2}, "--tail must be greater than or equal to -1"),
    ("p", {"since": "soon"}, 'invalid duration "soon"'),
    ("p", {"since_time": "yesterday"}, "RFC 3339"),
])
def test_wrong_calls(cluster: Any, target: str | None, options: dict[str, Any],
                     message: str) -> None:
    client, io = cluster
    with pytest.raises(UserError, match=message):
        run(client, target, **options)
    assert io.calls == []


def test_go_durations() -> None:
    assert go_duration("5s") == 5 and go_duration("2m") == 120 and go_duration("3h") == 10800
    assert go_duration("1h30m") == 5400 and go_duration("1.5h") == 5400
    assert go_duration("300ms") == pytest.approx(0.3)
    for bad in ("5", "5x", "h", ""):
        with pytest.raises(UserError):
            go_duration(bad)
