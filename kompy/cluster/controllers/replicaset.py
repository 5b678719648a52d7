"""ReplicaSet controller: keeps ``spec.replicas`` pods of the template running.

Pods carry an ownerReference to their ReplicaSet (controller: true); pods matching the
selector without a controller are adopted. Scaling down removes the least useful pods first
(unscheduled, then pending, then not ready, then the youngest), as Kubernetes ranks them.
``availableReplicas`` counts the pods Ready for ``minReadySeconds`` (``availability``).
https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/
"""

from __future__ import annotations

import contextlib
import copy
import logging
import time
from collections.abc import Hashable
from typing import Any, cast

from kompy.client import ApiError, KubeClient, NotFound
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers, key_of
from kompy.client.objects import (
    Obj,
    controller_ref,
    labels,
    meta,
    name,
    namespace,
    owner_ref,
    pod_ready,
    pod_terminal,
    random_suffix,
    selector_matches,
    terminating,
    uid,
)
from kompy.cluster.controllers.availability import min_ready_seconds, pod_available, recheck_in
from kompy.cluster.controllers.base import PodOwnerController

log = logging.getLogger(__name__)


def deletion_rank(pod: Obj) -> tuple[int, int, int, int, str]:
    """Sort key: the pod to delete first sorts first."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(status.get("phase", ""), 0)
    restarts = sum(int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or [])
    created = str(meta(pod).get("creationTimestamp") or "")
    return (1 if spec.get("nodeName") else 0, phase_rank, 1 if pod_ready(pod) else 0,
            -restarts, _invert(created))


def _invert(text: str) -> str:
    """Newest first in an ascending sort."""
    return "".join(chr(0x10FFFF - ord(c)) for c in text)


def pod_from_template(rs: Obj) -> Obj:
    template = copy.deepcopy((rs.get("spec") or {}).get("template") or {})
    tmeta = template.get("metadata") or {}
    pod_meta: dict[str, Any] = {
        "name": f"{name(rs)}-{random_suffix()}", "namespace": namespace(rs),
        "labels": tmeta.get("labels") or {},
        "ownerReferences": [owner_ref({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                       "metadata": meta(rs)})],
    }
    if tmeta.get("annotations"):
        pod_meta["annotations"] = tmeta["annotations"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta,
            "spec": template.get("spec") or {}}


class ReplicaSetController(PodOwnerController):
    name = "replicaset"
    owner_resource = "replicasets"
    owner_kind = "ReplicaSet"

    def __init__(self, client: KubeClient, informers: Informers, recorder: EventRecorder
                 ) -> None:
        super().__init__(client, informers, recorder, workers=4)

    def _on_pod(self, pod: Obj, deleted: bool) -> None:
        if controller_ref(pod) is not None:
            super()._on_pod(pod, deleted)
            return
        # An orphan pod: a ReplicaSet whose selector matches may adopt it.
        for rs in self.owners.list(namespace(pod)):
            if selector_matches((rs.get("spec") or {}).get("selector"), labels(pod)):
                self.queue.add(key_of(rs))

    def owned_pods(self, rs: Obj) -> list[Obj]:
        out = []
        selector = (rs.get("spec") or {}).get("selector")
        for pod in self.pods.list(namespace(rs)):
            ref = controller_ref(pod)
            if ref is not None:
                if ref.get("uid") == uid(rs):
                    out.append(pod)
            elif not terminating(pod) and selector_matches(selector, labels(pod)):
                out.append(self._adopt(rs, pod))
        return out

    def _adopt(self, rs: Obj, pod: Obj) -> Obj:
        refs = [*(meta(pod).get("ownerReferences") or []),
                owner_ref({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta(rs)})]
        try:
            adopted = self.client.patch("pods", name(pod), namespace(pod),
                                        {"metadata": {"ownerReferences": refs}})
        except NotFound:
            return pod
        self.pods.upsert_local(adopted)
        return adopted

    def sync(self, key: Hashable) -> None:
        ns, rs_name = cast(tuple[str, str], key)
        rs = self.owners.get(ns, rs_name)
        if rs is None or terminating(rs):
            return
        pods = self.owned_pods(rs)
        active = [p for p in pods if not terminating(p) and not pod_terminal(p)]
        want = int((rs.get("spec") or {}).get("replicas", 1))
        diff = want - len(active)
        if diff > 0 and not self.still_there("replicasets", rs):
            return   # deleted meanwhile: its pods are going, none is made
        if diff > 0:
            for _ in range(diff):
                created = self._create_pod(rs)
                self.pods.upsert_local(created)
                active.append(created)
                self.recorder.normal(rs, "SuccessfulCreate", f"Created pod: {name(created)}")
        elif diff < 0:
            victims = sorted(active, key=deletion_rank)[:-diff]
            for pod in victims:
                try:
                    left = self.client.delete("pods", name(pod), ns)
                except NotFound:
                    left = None
                if left is not None:
                    self.pods.upsert_local(left)
                else:
                    self.pods.remove_local(pod)
                active.remove(pod)
                self.recorder.normal(rs, "SuccessfulDelete", f"Deleted pod: {name(pod)}")
        # Pods that failed for good are replaced above; remove them so they do not pile up.
        for pod in pods:
            if pod_terminal(pod) and not terminating(pod) and \
                    (pod.get("spec") or {}).get("restartPolicy", "Always") == "Always":
                with contextlib.suppress(NotFound):
                    self.client.delete("pods", name(pod), ns)
        self._write_status(rs, active)

    def _create_pod(self, rs: Obj) -> Obj:
        """A pod of the template; a refusal (a quota, a LimitRange) is the FailedCreate
        event upstream's controller posts, and a retry with back-off."""
        try:
            return self.client.create(pod_from_template(rs))
        except ApiError as error:
            self.recorder.warning(rs, "FailedCreate", f"Error creating: {error.message}")
            raise

    def _write_status(self, rs: Obj, active: list[Obj]) -> None:
        ready = sum(1 for p in active if pod_ready(p))
        min_ready = min_ready_seconds(rs)
        now = time.time()
        available = sum(1 for p in active if pod_available(p, min_ready, now))
        # The count changes when a pod's minReadySeconds pass, with no event: come back
        # then (upstream's AddAfter on the ReplicaSet's key).
        wait = recheck_in(active, min_ready, now)
        if wait is not None:
            self.queue.add_after(key_of(rs), wait)
        status = dict(rs.get("status") or {})
        wanted = {
            "replicas": len(active), "fullyLabeledReplicas": len(active),
            "readyReplicas": ready, "availableReplicas": available,
            "observedGeneration": meta(rs).get("generation", 1),
        }
        if all(status.get(k) == v for k, v in wanted.items()):
            return
        status.update(wanted)
        updated = self.client.replace_status({**rs, "status": status})
        self.owners.upsert_local(updated)
