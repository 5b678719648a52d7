"""The scheduler's cache (kube-scheduler's NodeInfo cache): kept from pod and node events,
with assumed pods between the bind and its watch event, and snapshots that copy only the
nodes that changed. Its snapshots must make the decisions a snapshot built from scratch
makes."""

from __future__ import annotations

import random
from typing import Any

import pytest

from kompy.client import Conflict, NotFound
from kompy.cluster.scheduler.cache import Cache
from kompy.cluster.scheduler.scheduler import Scheduler, place
from kompy.cluster.scheduler.snapshot import NodeInfo, Snapshot

NAMES = ("kompy", "kompy-m02", "kompy-m03")


def node(name: str, cpu: str = "2", zone: str | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {
        "kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone or name}},
        "spec": {}, "status": {"allocatable": {"cpu": cpu, "memory": "4Gi", "pods": "110"}}}


def pod(name: str, on: str | None = None, cpu: str = "100m", **extra: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "i",
                                 "resources": {"requests": {"cpu": cpu}}}
    if "hostPort" in extra:
        container["ports"] = [{"containerPort": 80, "hostPort": extra.pop("hostPort")}]
    labels = extra.pop("labels", {"app": "web"})
    meta: dict[str, Any] = {"name": name, "namespace": "default", "uid": f"uid-{name}",
                            "labels": labels}
    if "owner" in extra:
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": "rs", "controller": True,
                                    "uid": extra.pop("owner")}]
    status = {"phase": extra.pop("phase")} if "phase" in extra else {}
    return {"metadata": meta, "spec": {"containers": [container], "nodeName": on, **extra},
            "status": status}


def cache_with(*nodes: dict[str, Any], ttl: float = 0.0, clock: Any = None) -> Cache:
    cache = Cache(ttl=ttl, clock=clock) if clock else Cache(ttl=ttl)
    for n in nodes:
        cache.on_node(n, False)
    return cache


def snap(cache: Cache, snapshot: Snapshot | None = None) -> Snapshot:
    snapshot = snapshot or Snapshot([])
    cache.update(snapshot)
    return snapshot


def by_name(snapshot: Snapshot) -> dict[str, NodeInfo]:
    return {info.name: info for info in snapshot.nodes}


def test_pod_added_updated_and_deleted_changes_its_node() -> None:
    cache = cache_with(node("kompy"), node("kompy-m02"))
    cache.on_pod(pod("a", on="kompy", cpu="300m", hostPort=8080), False)
    info = by_name(snap(cache))["kompy"]
    assert (info.cpu, len(info.pods), set(info.host_ports)) == (
        300, 1, {("0.0.0.0", "TCP", 8080)})
    cache.on_pod(pod("a", on="kompy", cpu="300m", labels={"app": "api"}), False)
    info = by_name(snap(cache))["kompy"]
    assert (info.cpu, len(info.pods), dict(info.host_ports)) == (300, 1, {})
    assert list(info.pods.values())[0]["metadata"]["labels"] == {"app": "api"}
    cache.on_pod(pod("a", on="kompy"), True)
    info = by_name(snap(cache))["kompy"]
    assert (info.cpu, info.memory, info.nonzero_cpu, len(info.pods)) == (0, 0, 0, 0)
    assert not info.owners and not info.host_ports


def test_pending_and_finished_pods_are_not_counted() -> None:
    cache = cache_with(node("kompy"))
    cache.on_pod(pod("pending"), False)
    cache.on_pod(pod("done", on="kompy"), False)
    cache.on_pod(pod("done", on="kompy", phase="Succeeded"), False)
    assert by_name(snap(cache))["kompy"].pods == {}


def test_assumed_pod_counts_at_once_and_once_when_the_watch_confirms_it() -> None:
    cache = cache_with(node("kompy"))
    pending = pod("a", cpu="500m")
    assumed = cache.assume(pending, "kompy")
    assert assumed["spec"]["nodeName"] == "kompy" and pending["spec"]["nodeName"] is None
    assert by_name(snap(cache))["kompy"].cpu == 500 and cache.is_assumed(pending)
    # An older, still unbound version of the pod arrives meanwhile: the assumption stays.
    cache.on_pod(pending, False)
    assert by_name(snap(cache))["kompy"].cpu == 500 and cache.is_assumed(pending)
    cache.finish_binding(assumed)
    cache.on_pod(pod("a", on="kompy", cpu="500m"), False)     # the watch's bound pod
    assert not cache.is_assumed(pending)
    info = by_name(snap(cache))["kompy"]
    assert (info.cpu, len(info.pods)) == (500, 1)
    cache.forget(assumed)      # too late: a confirmed pod is the API's, not an assumption
    assert by_name(snap(cache))["kompy"].cpu == 500


def test_assumed_pod_whose_bind_failed_is_forgotten() -> None:
    cache = cache_with(node("kompy"))
    assumed = cache.assume(pod("a", cpu="500m"), "kompy")
    cache.forget(assumed)
    info = by_name(snap(cache))["kompy"]
    assert (info.cpu, info.pods, cache.is_assumed(assumed)) == (0, {}, False)
    cache.assume(pod("a", cpu="500m"), "kompy")   # and may be assumed again
    assert by_name(snap(cache))["kompy"].cpu == 500


def test_assuming_a_pod_already_in_the_cache_is_refused() -> None:
    cache = cache_with(node("kompy"))
    cache.on_pod(pod("a", on="kompy"), False)
    with pytest.raises(ValueError, match="already in the scheduler's cache"):
        cache.assume(pod("a"), "kompy-m02")


def test_assumed_pod_expires_after_its_binding_finished_only_with_a_ttl() -> None:
    now = [100.0]
    cache = cache_with(node("kompy"), ttl=30.0, clock=lambda: now[0])
    unfinished = cache.assume(pod("a"), "kompy")
    finished = cache.assume(pod("b"), "kompy")
    cache.finish_binding(finished)
    now[0] += 29.0
    assert set(by_name(snap(cache))["kompy"].pods) == {"uid-a", "uid-b"}
    now[0] += 1.0
    assert set(by_name(snap(cache))["kompy"].pods) == {"uid-a"}   # b expired, a binds still
    assert cache.is_assumed(unfinished) and not cache.is_assumed(finished)
    never = cache_with(node("kompy"), clock=lambda: now[0])         # ttl 0, as upstream
    never.finish_binding(never.assume(pod("c"), "kompy"))
    now[0] += 3600.0
    assert set(by_name(snap(never))["kompy"].pods) == {"uid-c"}


def test_bound_elsewhere_than_assumed_follows_the_api() -> None:
    cache = cache_with(node("kompy"), node("kompy-m02"))
    cache.assume(pod("a", cpu="500m"), "kompy")
    cache.on_pod(pod("a", on="kompy-m02", cpu="500m"), False)
    nodes = by_name(snap(cache))
    assert (nodes["kompy"].cpu, nodes["kompy-m02"].cpu) == (0, 500)


def test_removed_node_leaves_the_snapshot_and_its_pods_stay_until_deleted() -> None:
    cache = cache_with(node("kompy"), node("kompy-m02"))
    cache.on_pod(pod("a", on="kompy-m02", cpu="700m"), False)
    snapshot = snap(cache)
    cache.on_node(node("kompy-m02"), True)
    assert [i.name for i in snap(cache, snapshot).nodes] == ["kompy"]
    cache.on_node(node("kompy-m02"), False)     # back before its pod's deletion came
    assert by_name(snap(cache, snapshot))["kompy-m02"].cpu == 700
    cache.on_node(node("kompy-m02"), True)
    cache.on_pod(pod("a", on="kompy-m02"), True)
    cache.on_node(node("kompy-m02"), False)     # a new node of that name starts empty
    assert by_name(snap(cache, snapshot))["kompy-m02"].pods == {}


def test_pods_of_a_node_not_seen_yet_wait_for_it() -> None:
    cache = cache_with(node("kompy"))
    cache.on_pod(pod("a", on="kompy-m02", cpu="700m"), False)
    assert [i.name for i in snap(cache).nodes] == ["kompy"]
    cache.on_node(node("kompy-m02"), False)
    assert by_name(snap(cache))["kompy-m02"].cpu == 700


def test_update_copies_only_changed_nodes_and_later_events_do_not_reach_it() -> None:
    cache = cache_with(*(node(n) for n in NAMES))
    snapshot = snap(cache)
    first = by_name(snapshot)
    cache.on_pod(pod("a", on="kompy-m02"), False)
    cache.update(snapshot)
    second = by_name(snapshot)
    assert second["kompy"] is first["kompy"] and second["kompy-m03"] is first["kompy-m03"]
    assert second["kompy-m02"] is not first["kompy-m02"] and first["kompy-m02"].pods == {}
    cache.on_pod(pod("b", on="kompy-m02"), False)          # after the cycle's update
    assert set(second["kompy-m02"].pods) == {"uid-a"}
    assert [i.name for i in snapshot.nodes] == sorted(NAMES)


def _random_pod(rng: random.Random, i: int) -> dict[str, Any]:
    extra: dict[str, Any] = {"owner": rng.choice(["rs-a", "rs-b"])}
    if rng.random() < 0.2:
        extra["hostPort"] = rng.choice([80, 443])
    if rng.random() < 0.2:
        extra["affinity"] = {"podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [{
                "labelSelector": {"matchLabels": {"app": "db"}},
                "topologyKey": "kubernetes.io/hostname"}]}}
    if rng.random() < 0.2:
        extra["topologySpreadConstraints"] = [{
            "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": rng.choice(["DoNotSchedule", "ScheduleAnyway"]),
            "labelSelector": {"matchLabels": {"app": "web"}}}]
    labels = {"app": rng.choice(["web", "db"])}
    return pod(f"p{i}", cpu=rng.choice(["0", "100m", "250m"]), labels=labels, **extra)


def test_decisions_from_the_cache_are_those_of_a_snapshot_built_from_scratch() -> None:
    """Random pods placed one by one, with deletions and a node leaving: at each step the
    cache's snapshot decides as Snapshot.build over the same objects does."""
    rng = random.Random(7)
    nodes = [node("kompy", "4", "a"), node("kompy-m02", "4", "a"), node("kompy-m03", "4", "b")]
    cache = cache_with(*nodes)
    snapshot = Snapshot([])
    bound: dict[str, dict[str, Any]] = {}
    for i in range(120):
        if bound and rng.random() < 0.15:
            gone = bound.pop(rng.choice(sorted(bound)))
            cache.on_pod(gone, True)
        if i == 80:
            cache.on_node(nodes[2], True)
            nodes = nodes[:2]
        incoming = _random_pod(rng, i)
        cache.update(snapshot)
        scratch = Snapshot.build(nodes, list(bound.values()))
        seed = rng.randrange(1 << 30)
        chosen = place(incoming, snapshot, {"default": {}}, random.Random(seed))
        assert chosen == place(incoming, scratch, {"default": {}}, random.Random(seed)), i
        for mine, theirs in zip(snapshot.nodes, scratch.nodes, strict=True):
            assert (mine.name, mine.cpu, mine.nonzero_memory, len(mine.pods)) == (
                theirs.name, theirs.cpu, theirs.nonzero_memory, len(theirs.pods))
        if chosen[0] is not None:
            assumed = cache.assume(incoming, chosen[0])
            cache.finish_binding(assumed)
            cache.on_pod(assumed, False)
            bound[assumed["metadata"]["name"]] = assumed


# -- the scheduler's binding cycle ------------------------------------------------------------
class _Informer:
    def __init__(self, objs: list[dict[str, Any]] | None = None) -> None:
        self.objs = {(o["metadata"].get("namespace", ""), o["metadata"]["name"]): o
                     for o in objs or []}

    def get(self, ns: str, name: str) -> dict[str, Any] | None:
        return self.objs.get((ns, name))

    def list(self) -> list[dict[str, Any]]:
        return list(self.objs.values())

    def add_handler(self, handler: Any) -> None:
        pass

    def upsert_local(self, obj: dict[str, Any]) -> None:
        self.objs[(obj["metadata"]["namespace"], obj["metadata"]["name"])] = obj


class _Client:
    def __init__(self, error: Exception | None) -> None:
        self.error = error

    def patch(self, _res: str, name: str, ns: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        return pod(name, on=body["spec"]["nodeName"])


class _Recorder:
    def normal(self, *_args: Any) -> None:
        pass

    def warning(self, *_args: Any) -> None:
        pass


@pytest.mark.parametrize("error", [None, Conflict(409, "Conflict", "modified"),
                                   NotFound(404, "NotFound", "gone"), RuntimeError("wire cut")])
def test_scheduler_assumes_on_bind_and_forgets_a_failed_bind(error: Exception | None) -> None:
    pending = pod("a", cpu="500m")
    informers = {"pods": _Informer([pending]), "nodes": _Informer([node("kompy")]),
                 "namespaces": _Informer(), "persistentvolumeclaims": _Informer(),
                 "storageclasses": _Informer(), "poddisruptionbudgets": _Informer()}
    scheduler = Scheduler(_Client(error), informers, _Recorder())  # type: ignore[arg-type]
    scheduler.cache.on_node(node("kompy"), False)
    scheduler.queue.add(pending)
    popped = scheduler.queue.pop(timeout=0)
    assert popped is not None
    if isinstance(error, RuntimeError):
        with pytest.raises(RuntimeError):
            scheduler._attempt(popped)
    else:
        scheduler._attempt(popped)
    scheduler.cache.update(scheduler.snapshot)
    counted = by_name(scheduler.snapshot)["kompy"].cpu
    assert (counted, scheduler.cache.is_assumed(pending)) == (
        (500, True) if error is None else (0, False))
