"""A pod's status from its containers, as the kubelet reports it.

https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/ (phase, conditions,
container states). Pure functions over :class:`ContainerInfo`, unit-tested without Docker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kompy.client.objects import Obj, docker_time, now
from kompy.client.qos import qos_class
from kompy.cluster.kubelet.backend import ContainerInfo
from kompy.cluster.kubelet.inplace import InPlace


@dataclass(frozen=True)
class Observed:
    """What the kubelet knows about one container of the pod spec."""

    name: str
    image: str
    current: ContainerInfo | None  # the latest attempt
    previous: ContainerInfo | None  # the attempt before it
    waiting: tuple[str, str] | None  # (reason, message) when the kubelet holds it back
    ready: bool
    started: bool
    will_restart: bool  # an exited container that the restart policy will run again
    in_place: InPlace = InPlace()  # runs that restarts in place ended (:mod:`.inplace`)


def exited(info: ContainerInfo) -> bool:
    """A container that ran and stopped, or that Docker could not start at all."""
    return info.status in ("exited", "dead") or (info.status == "created" and bool(info.error))


def terminated(info: ContainerInfo) -> dict[str, Any]:
    if info.status == "created" and info.error:
        reason = "ContainerCannotRun"
        code = info.exit_code or 128
    else:
        code = info.exit_code
        reason = "OOMKilled" if info.oom_killed else ("Completed" if code == 0 else "Error")
    out: dict[str, Any] = {"exitCode": code, "reason": reason, "containerID": f"docker://{info.id}"}
    for key, value in (("startedAt", docker_time(info.started_at)),
                       ("finishedAt", docker_time(info.finished_at))):
        if value:
            out[key] = value
    if info.error:
        out["message"] = info.error
    return out


def previous_run(obs: Observed) -> dict[str, Any]:
    """``lastState``: the run before the current one. That is the run a restart in place
    ended when it was the current container's (the same container runs again), else the
    previous container's last run."""
    cur, prev, ended = obs.current, obs.previous, obs.in_place.last
    if cur is not None and ended and ended.get("containerID") == f"docker://{cur.id}":
        return {"terminated": ended}
    return {"terminated": terminated(prev)} if prev is not None else {}


def container_status(obs: Observed) -> dict[str, Any]:
    """One container's status. ``restartCount`` counts every run after the first, as
    upstream counts new container instances: the kubelet's new containers (the attempt
    number) and the runs restarts in place ended."""
    cur = obs.current
    state: dict[str, Any]
    last = previous_run(obs)
    if obs.waiting is not None:
        reason, message = obs.waiting
        state = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
        if cur is not None and exited(cur):
            last = {"terminated": terminated(cur)}
    elif cur is None or (cur.status == "created" and not cur.error):
        state = {"waiting": {"reason": "ContainerCreating"}}
        last = {}
    elif cur.running:
        state = {"running": {"startedAt": docker_time(cur.started_at) or now()}}
    else:
        state = {"terminated": terminated(cur)}
    out: dict[str, Any] = {
        "name": obs.name, "image": obs.image, "imageID": "",
        "ready": bool(obs.ready and cur is not None and cur.running),
        "started": bool(obs.started and cur is not None and cur.running),
        "restartCount": (cur.attempt if cur is not None else 0) + obs.in_place.count,
        "state": state, "lastState": last,
    }
    if cur is not None:
        out["containerID"] = f"docker://{cur.id}"
        out["imageID"] = f"docker-pullable://{cur.image_id}" if cur.image_id else ""
    return out


def phase(init: list[Observed], app: list[Observed], init_failed: bool) -> str:
    if init_failed:
        return "Failed"
    if any(o.current is None or not exited(o.current) or o.current.exit_code != 0
           for o in init):
        return "Pending"
    if not app:
        return "Pending"
    if any(o.current is None or (o.current.status == "created" and not o.current.error)
           for o in app):
        return "Pending" if all(o.current is None or o.current.attempt == 0 for o in app) \
            else "Running"
    if all(o.current is not None and exited(o.current) and not o.will_restart for o in app):
        if all(o.current is not None and o.current.exit_code == 0 and not o.current.error
               for o in app):
            return "Succeeded"
        return "Failed"
    return "Running"


def conditions(old: list[dict[str, Any]], *, initialized: bool, containers_ready: bool,
               ready: bool) -> list[dict[str, Any]]:
    """The four standard conditions; lastTransitionTime only moves when a status flips."""
    previous = {c.get("type"): c for c in old}
    out = []
    for kind, value in (("Initialized", initialized), ("Ready", ready),
                        ("ContainersReady", containers_ready), ("PodScheduled", True)):
        status = "True" if value else "False"
        before = previous.get(kind)
        stamp = before.get("lastTransitionTime") if before and before.get("status") == status \
            else now()
        cond: dict[str, Any] = {"type": kind, "status": status, "lastProbeTime": None,
                                "lastTransitionTime": stamp}
        if not value and kind in ("Ready", "ContainersReady"):
            cond["reason"] = "ContainersNotReady"
        if not value and kind == "Initialized":
            cond["reason"] = "ContainersNotInitialized"
        out.append(cond)
    return out


def pod_status(pod: Obj, init: list[Observed], app: list[Observed], *, pod_ip: str,
               host_ip: str, init_failed: bool = False, message: str = "") -> dict[str, Any]:
    old = pod.get("status") or {}
    initialized = not init_failed and all(
        o.current is not None and exited(o.current) and o.current.exit_code == 0 for o in init)
    containers_ready = bool(app) and all(
        o.ready and o.current is not None and o.current.running for o in app)
    the_phase = phase(init, app, init_failed)
    status: dict[str, Any] = {
        "phase": the_phase,
        "conditions": conditions(old.get("conditions") or [], initialized=initialized,
                                 containers_ready=containers_ready,
                                 ready=containers_ready and the_phase == "Running"),
        "hostIP": host_ip, "hostIPs": [{"ip": host_ip}] if host_ip else [],
        "startTime": old.get("startTime") or now(),
        "containerStatuses": [container_status(o) for o in app],
        "qosClass": old.get("qosClass") or qos_class(pod.get("spec") or {}),
    }
    if init:
        status["initContainerStatuses"] = [container_status(o) for o in init]
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    if message:
        status["message"] = message
    return status


def failed_status(pod: Obj, reason: str, message: str) -> dict[str, Any]:
    """The status of a pod whose sync failed before its status could be worked out: what was
    reported stays, and every container not reported running or terminated waits with
    ``reason`` and ``message`` (what `kubectl get pods` and `describe` show)."""
    old = pod.get("status") or {}
    spec = pod.get("spec") or {}
    status: dict[str, Any] = {**old, "phase": old.get("phase") or "Pending",
                              "startTime": old.get("startTime") or now(),
                              "qosClass": old.get("qosClass") or qos_class(pod.get("spec") or {})}
    if not old.get("conditions"):
        status["conditions"] = conditions([], initialized=False, containers_ready=False,
                                          ready=False)
    for field, containers in (("initContainerStatuses", spec.get("initContainers") or []),
                              ("containerStatuses", spec.get("containers") or [])):
        if not containers:
            continue
        before = {cs.get("name"): cs for cs in old.get(field) or []}
        out = []
        for c in containers:
            cname = str(c.get("name"))
            cs = dict(before.get(cname) or {
                "name": cname, "image": str(c.get("image") or ""), "imageID": "",
                "ready": False, "started": False, "restartCount": 0, "lastState": {}})
            if not {"running", "terminated"} & set(cs.get("state") or {}):
                cs["state"] = {"waiting": {"reason": reason, "message": message}}
            out.append(cs)
        status[field] = out
    return status


def same_status(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal but for timestamps that change without meaning anything (transition times)."""
    def strip(status: dict[str, Any]) -> Any:
        out = dict(status)
        out["conditions"] = [{k: v for k, v in c.items() if k != "lastTransitionTime"}
                             for c in status.get("conditions") or []]
        return out

    return bool(strip(a) == strip(b))


# The pod conditions the kubelet owns (upstream's kubetypes.PodConditionByKubelet, and
# DisruptionTarget, which it shares): any other one (PodScheduled, a readiness gate's) is
# another writer's, kept as the API has it.
KUBELET_CONDITIONS = frozenset({"PodReadyToStartContainers", "Initialized", "Ready",
                                "ContainersReady"})
# Fields of a pod's status that are not the kubelet's (the scheduler's).
FOREIGN_FIELDS = ("nominatedNodeName",)


def merge_foreign(api: dict[str, Any], mine: dict[str, Any]) -> dict[str, Any]:
    """The kubelet's status with what other writers own kept from the API's (upstream's
    mergePodStatus): their conditions and fields."""
    merged = {**mine, **{f: api[f] for f in FOREIGN_FIELDS if f in api}}
    theirs = [c for c in api.get("conditions") or [] if c.get("type") not in KUBELET_CONDITIONS]
    types = {c.get("type") for c in theirs}
    merged["conditions"] = [*(c for c in mine.get("conditions") or []
                              if c.get("type") not in types), *theirs]
    return merged


def same_kubelet_status(api: dict[str, Any], mine: dict[str, Any]) -> bool:
    """Whether the API holds the kubelet's status, other writers' parts aside (upstream's
    isPodStatusByKubeletEqual)."""
    return same_status(merge_foreign(api, api), merge_foreign(api, mine))
