"""``kompy cordon``, ``uncordon`` and ``drain``, as kubectl's: a node marked unschedulable,
and its pods evicted through the Eviction API (``pods/NAME/eviction``, policy/v1), which
honours PodDisruptionBudgets: a refused eviction (429) is tried again every 5 s until
``--timeout``. https://kubernetes.io/docs/tasks/administer-cluster/safely-drain-node/
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kompy.client import ApiError, KubeClient, NotFound
from kompy.client.objects import Obj, controller_ref, name, namespace, pod_terminal, uid
from kompy.errors import UserError

Out = Callable[[str], None]
RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class DrainOptions:
    ignore_daemonsets: bool = False
    delete_emptydir_data: bool = False
    force: bool = False
    timeout: float = 0.0          # 0: for ever, as kubectl's default
    grace_period: int | None = None


def cordon(client: KubeClient, node: str, out: Out, unschedulable: bool = True) -> int:
    current = client.get("nodes", node)
    verb = "cordoned" if unschedulable else "uncordoned"
    if bool((current.get("spec") or {}).get("unschedulable")) == unschedulable:
        out(f"node/{node} already {verb}\n")
        return 0
    client.patch("nodes", node, None, {"spec": {"unschedulable": unschedulable or None}})
    out(f"node/{node} {verb}\n")
    return 0


def _refusals(pods: list[Obj], options: DrainOptions) -> tuple[list[Obj], list[str], list[str]]:
    """(pods to evict, DaemonSet pods ignored, errors): kubectl drain's filters."""
    ignored: list[str] = []
    errors: list[str] = []
    unmanaged = [p for p in pods if controller_ref(p) is None]
    daemons = [p for p in pods if (controller_ref(p) or {}).get("kind") == "DaemonSet"]
    local = [p for p in pods if any("emptyDir" in v for v in
                                    (p.get("spec") or {}).get("volumes") or [])]

    def names(group: list[Obj]) -> str:
        return ", ".join(f"{namespace(p)}/{name(p)}" for p in group)

    if unmanaged and not options.force:
        errors.append("cannot delete Pods that declare no controller (use --force to "
                      f"override): {names(unmanaged)}")
    if daemons and not options.ignore_daemonsets:
        errors.append("cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to "
                      f"ignore): {names(daemons)}")
    if local and not options.delete_emptydir_data:
        errors.append("cannot delete Pods with local storage (use --delete-emptydir-data to "
                      f"override): {names(local)}")
    if daemons:
        ignored.append(names(daemons))
    evict = [p for p in pods if p not in daemons]
    return evict, ignored, errors


def drain(client: KubeClient, node: str, options: DrainOptions, out: Out,
          clock: Callable[[], float] = time.monotonic,
          sleep: Callable[[float], None] = time.sleep) -> int:
    cordon(client, node, out)
    pods = [p for p in client.list("pods", field_selector=f"spec.nodeName={node}")["items"]
            if not pod_terminal(p)]
    evict, ignored, errors = _refusals(pods, options)
    if errors:
        raise UserError(f'unable to drain node "{node}" due to error: ' + "; ".join(errors),
                        hint="kompy uncordon " + node + " makes it schedulable again")
    if ignored:
        out(f"Warning: ignoring DaemonSet-managed Pods: {ignored[0]}\n")
    deadline = clock() + options.timeout if options.timeout else None
    waiting = list(evict)
    for pod in waiting:
        out(f"evicting pod {namespace(pod)}/{name(pod)}\n")
    while waiting:
        for pod in list(waiting):
            if _evict(client, pod, options, out):
                waiting.remove(pod)
        if waiting:
            if deadline is not None and clock() + RETRY_SECONDS > deadline:
                raise UserError(f'unable to drain node "{node}": timed out evicting '
                                + ", ".join(f"{namespace(p)}/{name(p)}" for p in waiting))
            sleep(RETRY_SECONDS)
    for pod in evict:
        _wait_gone(client, pod, deadline, clock, sleep)
        out(f"pod/{name(pod)} evicted\n")
    out(f"node/{node} drained\n")
    return 0


def _evict(client: KubeClient, pod: Obj, options: DrainOptions, out: Out) -> bool:
    body: dict[str, Any] = {"apiVersion": "policy/v1", "kind": "Eviction",
                            "metadata": {"name": name(pod), "namespace": namespace(pod)}}
    if options.grace_period is not None and options.grace_period >= 0:
        body["deleteOptions"] = {"gracePeriodSeconds": options.grace_period}
    try:
        client.request("POST", f"/api/v1/namespaces/{namespace(pod)}/pods/{name(pod)}"
                               "/eviction", body=body)
    except NotFound:
        return True
    except ApiError as error:
        if error.status != 429:
            raise
        out(f'error when evicting pods/"{name(pod)}" -n "{namespace(pod)}" (will retry after '
            f"5s): {error.message}\n")
        return False
    return True


def _wait_gone(client: KubeClient, pod: Obj, deadline: float | None,
               clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
    while True:
        try:
            current = client.get("pods", name(pod), namespace(pod))
        except NotFound:
            return
        if uid(current) != uid(pod):
            return
        if deadline is not None and clock() > deadline:
            raise UserError(f"timed out waiting for pod {namespace(pod)}/{name(pod)} to go")
        sleep(0.5)
