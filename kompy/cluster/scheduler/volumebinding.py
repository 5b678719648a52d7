"""kube-scheduler's VolumeBinding plugin: a pod reaches its node only once its claims are
bound, so the kubelet never meets an unbound claim.

* PreFilter (:meth:`VolumeBinder.pre_filter`): a claim that is missing, or unbound in a
  class that binds at once (``Immediate``), refuses the pod before any node is looked at
  (UnschedulableAndUnresolvable: ``pod has unbound immediate PersistentVolumeClaims``); the
  claim's binding brings the pod back.
* Filter (:func:`selected_elsewhere`): a delayed claim already selected for a node (an
  earlier pod's PreBind) takes no other node, as upstream's findProvisionablePVCs.
* PreBind (:meth:`VolumeBinder.pre_bind`): a claim of a ``WaitForFirstConsumer`` class gets
  the chosen node in its ``volume.kubernetes.io/selected-node`` annotation (what the
  PersistentVolume controller provisions or binds on), then the binding cycle waits until
  every claim of the pod is bound (``--bind-timeout-seconds``, 600 s) before the pod is
  bound to the node. The scheduler runs that wait on its own thread, as kube-scheduler runs
  each binding cycle in a goroutine, so other pods are scheduled meanwhile.

https://github.com/kubernetes/kubernetes/tree/master/pkg/scheduler/framework/plugins/volumebinding
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from kompy.client import KubeClient, NotFound
from kompy.client.informer import Informers
from kompy.client.objects import Obj, namespace
from kompy.cluster.controllers.persistentvolume import BIND_COMPLETED, SELECTED_NODE, claims_of
from kompy.cluster.controllers.volumebinding import claim_class

UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
BIND_TIMEOUT = 600.0   # kube-scheduler's default --bind-timeout-seconds
POLL = 1.0             # upstream's binder checks the claims every second too
PLUGIN = "VolumeBinding"


class VolumeBindingError(Exception):
    """The binding cycle's PreBind failed: the pod is unreserved and tried again."""

    def __str__(self) -> str:
        return f'running PreBind plugin "{PLUGIN}": {self.args[0]}'


class VolumeBinder:
    def __init__(self, client: KubeClient, informers: Informers,
                 timeout: float = BIND_TIMEOUT) -> None:
        self.client = client
        self.claims = informers["persistentvolumeclaims"]
        self.classes = informers["storageclasses"]
        self.timeout = timeout
        self.stopping = threading.Event()
        # Woken by every claim event, so a wait ends as soon as its claims are bound.
        self._changed = threading.Condition()
        self.claims.add_handler(self._on_claim)

    def stop(self) -> None:
        self.stopping.set()
        self._on_claim({}, False)

    def _on_claim(self, _claim: Obj, _deleted: bool) -> None:
        with self._changed:
            self._changed.notify_all()

    # -- PreFilter ------------------------------------------------------------------------------
    def pre_filter(self, pod: Obj) -> str:
        """Why no node can take the pod, in kube-scheduler's words ("" when one may)."""
        unbound_immediate = False
        for claim_name in claims_of(pod):
            claim = self.claims.get(namespace(pod), claim_name)
            if claim is None:
                return f'persistentvolumeclaim "{claim_name}" not found'
            if (claim.get("metadata") or {}).get("deletionTimestamp"):
                continue   # the scheduler's claim_being_deleted says so, before the nodes
            if not fully_bound(claim) and not self.delays_binding(claim):
                unbound_immediate = True
        return UNBOUND_IMMEDIATE if unbound_immediate else ""

    def delays_binding(self, claim: Obj) -> bool:
        """The claim's class binds at the first consumer (WaitForFirstConsumer)."""
        klass = claim_class(claim)
        storage_class = self.classes.get("", klass) if klass else None
        return storage_class is not None and \
            storage_class.get("volumeBindingMode") == "WaitForFirstConsumer"

    def unbound(self, pod: Obj) -> list[str]:
        """The pod's claims that are not bound yet: its binding cycle has to wait for them."""
        return [c for c in claims_of(pod)
                if not fully_bound(self.claims.get(namespace(pod), c) or {})]

    # -- PreBind --------------------------------------------------------------------------------
    def pre_bind(self, pod: Obj, node: str, still_wanted: Callable[[], bool]) -> bool:
        """Select ``node`` for the pod's delayed claims, then wait until all its claims are
        bound. False when the pod went away meanwhile (nothing to bind); raises
        :class:`VolumeBindingError` when the claims are not bound in time."""
        ns = namespace(pod)
        for claim_name in self.unbound(pod):
            claim = self.claims.get(ns, claim_name)
            if claim is not None and self.delays_binding(claim):
                self._select_node(claim, node)
        deadline = time.monotonic() + self.timeout
        with self._changed:
            while True:
                if self.stopping.is_set() or not still_wanted():
                    return False
                failure = self._binding_failure(pod)
                if failure:
                    raise VolumeBindingError(f"binding volumes: {failure}")
                if not self.unbound(pod):
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    raise VolumeBindingError("binding volumes: context deadline exceeded")
                self._changed.wait(min(left, POLL))

    def _select_node(self, claim: Obj, node: str) -> None:
        annotations = (claim.get("metadata") or {}).get("annotations") or {}
        if annotations.get(SELECTED_NODE) == node:
            return
        try:
            updated = self.client.patch("persistentvolumeclaims", str(claim["metadata"]["name"]),
                                        namespace(claim), {"metadata": {
                                            "annotations": {SELECTED_NODE: node}}})
        except NotFound:
            return   # the wait below says it is gone
        self.claims.upsert_local(updated)

    def _binding_failure(self, pod: Obj) -> str:
        """A claim deleted (or replaced) while the pod waited for it: upstream's checkBindings
        fails the same way, and the pod goes back to its PreFilter."""
        for claim_name in claims_of(pod):
            claim = self.claims.get(namespace(pod), claim_name)
            if claim is None:
                return f'persistentvolumeclaim "{claim_name}" not found'
            if (claim.get("metadata") or {}).get("deletionTimestamp"):
                return f'persistentvolumeclaim "{claim_name}" is being deleted'
        return ""


def selected_elsewhere(pod: Obj, node: str, claims: Callable[[str, str], Obj | None]) -> bool:
    """An unbound claim of the pod is selected for another node than ``node``."""
    for claim_name in claims_of(pod):
        claim = claims(namespace(pod), claim_name) or {}
        selected = ((claim.get("metadata") or {}).get("annotations") or {}).get(SELECTED_NODE)
        if claim and selected and selected != node and not fully_bound(claim):
            return True
    return False


def fully_bound(claim: Obj) -> bool:
    """Bound to a volume, the binding completed (upstream's isPVCFullyBound); or a claim
    kompy bound before PersistentVolumes existed (phase Bound, no volume)."""
    spec = claim.get("spec") or {}
    annotations = (claim.get("metadata") or {}).get("annotations") or {}
    if spec.get("volumeName"):
        return annotations.get(BIND_COMPLETED) == "yes" or \
            (claim.get("status") or {}).get("phase") == "Bound"
    return (claim.get("status") or {}).get("phase") == "Bound"


__all__ = ["BIND_CONFLICT", "BIND_TIMEOUT", "UNBOUND_IMMEDIATE", "VolumeBinder",
           "VolumeBindingError", "fully_bound", "selected_elsewhere"]
