"""Small pure helpers over Kubernetes objects (plain dicts): metadata, owners, a pod's requests."""

from __future__ import annotations

import datetime as _dt
import secrets
from collections.abc import Mapping
from typing import Any

from kompy.client.quantity import int_value, milli_value
from kompy.client.selectors import matches_labels, selector_from_match
from kompy.client.wellknown import RESTART_ANNOTATION

Obj = dict[str, Any]


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value (dicts, lists, scalars): what copy.deepcopy does for
    them, three times faster (no memo, no dispatch), which every API write pays."""
    if isinstance(value, dict):
        return {key: copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_json(item) for item in value]
    return value


def now() -> str:
    """RFC 3339 in UTC with second precision, as Kubernetes writes timestamps."""
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def docker_time(text: str) -> str | None:
    """Docker's ``2026-11-25T20:01:02.123456789Z`` as ``2026-11-25T20:01:02Z``; None if unset."""
    if not text or text.startswith("0001-"):
        return None
    return text[:19] + "Z"


# A pod's grace period when neither the deletion nor the spec gives one (Kubernetes' default).
DEFAULT_GRACE = 30


def parse_time(text: str | None) -> float | None:
    """An RFC 3339 UTC time (Kubernetes' seconds, or Docker's nanoseconds: the fraction is
    kept to the microsecond) as a POSIX timestamp; None when absent or malformed."""
    if not text:
        return None
    try:
        whole = _dt.datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(
            tzinfo=_dt.UTC).timestamp()
    except ValueError:
        return None
    fraction = text[19:].rstrip("Z")
    if fraction.startswith(".") and fraction[1:7].isdigit():
        whole += int(fraction[1:7].ljust(6, "0")) / 1e6
    return whole


def meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    value = obj.get("metadata")
    return value if isinstance(value, dict) else {}


def name(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("name") or "")


def namespace(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("namespace") or "")


def uid(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("uid") or "")


def labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(meta(obj).get("labels") or {})


def terminating(obj: Mapping[str, Any]) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def load_balancer_addresses(obj: Mapping[str, Any]) -> list[str]:
    """The ip (else hostname; "" for neither) of each ``status.loadBalancer.ingress`` entry
    of a Service or an Ingress, in order."""
    points = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [str(p.get("ip") or p.get("hostname") or "") for p in points]


def ingress_paths(ingress: Mapping[str, Any]) -> list[tuple[str, str, bool]]:
    """(host, path, tls) of each host/path pair of an Ingress's rules, in order: host "" for
    a rule without one (any host), path "/" where none is given, tls when the host is in
    one of ``spec.tls``'s entries; an Ingress with only a ``defaultBackend`` answers
    ("", "/", False). kompy up/dev's URLs and the dashboard's links walk it alike."""
    spec = ingress.get("spec") or {}
    tls_hosts = {str(h) for entry in spec.get("tls") or [] for h in entry.get("hosts") or []}
    found = [(host, str(path.get("path") or "/"), bool(host) and host in tls_hosts)
             for rule in spec.get("rules") or [] for host in [str(rule.get("host") or "")]
             for path in (rule.get("http") or {}).get("paths") or [{"path": "/"}]]
    if not spec.get("rules") and spec.get("defaultBackend"):
        found.append(("", "/", False))
    return found


def controller_ref(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def owner_ref(owner: Mapping[str, Any]) -> dict[str, Any]:
    """An ownerReference naming ``owner`` as the managing controller (background GC)."""
    return {"apiVersion": owner.get("apiVersion"), "kind": owner.get("kind"),
            "name": name(owner), "uid": uid(owner), "controller": True,
            "blockOwnerDeletion": True}


def selector_matches(selector: Mapping[str, Any] | None, obj_labels: Mapping[str, str]) -> bool:
    """A LabelSelector object matches; an empty selector matches nothing (as controllers do)."""
    reqs = selector_from_match(selector)
    return bool(reqs) and matches_labels(reqs, obj_labels)


def map_selector_matches(selector: Mapping[str, str] | None, obj_labels: Mapping[str, str]
                         ) -> bool:
    """A Service's plain ``selector`` map; empty matches nothing."""
    if not selector:
        return False
    return all(obj_labels.get(k) == str(v) for k, v in selector.items())


def random_suffix(n: int = 5) -> str:
    """As generateName: consonants and digits, so no word is ever spelled by accident."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(secrets.choice(alphabet) for _ in range(n))


def pod_requests(pod: Mapping[str, Any]) -> tuple[int, int]:
    """(CPU millis, memory bytes) the pod requests: the sum over its app containers, or the
    largest init container if bigger (init containers run one at a time)."""
    spec = pod.get("spec") or {}

    def total(containers: list[dict[str, Any]], pick: Any) -> tuple[int, int]:
        cpu = mem = 0
        for c in containers:
            res = c.get("resources") or {}
            req = {**(res.get("limits") or {}), **(res.get("requests") or {})}
            c_cpu = milli_value(req["cpu"]) if "cpu" in req else 0
            c_mem = int_value(req["memory"]) if "memory" in req else 0
            cpu, mem = pick(cpu, c_cpu), pick(mem, c_mem)
        return cpu, mem

    app = total(spec.get("containers") or [], lambda a, b: a + b)
    init = total(spec.get("initContainers") or [], max)
    return max(app[0], init[0]), max(app[1], init[1])


def pod_ready(pod: Mapping[str, Any]) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def pod_terminal(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def restart_request(pod: Mapping[str, Any]) -> str | None:
    """The pod's RESTART_ANNOTATION, if it has one."""
    value = (meta(pod).get("annotations") or {}).get(RESTART_ANNOTATION)
    return str(value) if value is not None else None


def grace_seconds(pod: Mapping[str, Any]) -> int:
    """How long the pod's processes get between SIGTERM and SIGKILL: the deletion's grace
    period while it is being deleted, else ``terminationGracePeriodSeconds``."""
    value = meta(pod).get("deletionGracePeriodSeconds")
    if value is None:
        value = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    return int(value) if value is not None else DEFAULT_GRACE
