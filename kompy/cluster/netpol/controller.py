"""The NetworkPolicy controller: the informers' pods, namespaces and policies -> the rules.

Level-triggered like every controller here, with a single key: any change to a pod, a
namespace or a policy recompiles the whole model (cheap: a cluster on one machine has tens to
hundreds of pods) and, when the rendered chains differ from the ones applied last, replaces
them in one batch. Every ``RESYNC`` seconds the chains are applied again regardless, which
heals a Docker restart or a hand-flushed table. A cluster with no policy owns no rules at all.

The compiled model is also what the Service proxy asks (:meth:`permits`) for each connection
it relays, because a relayed connection reaches the backend from the host, where the rules
on forwarded packets never see it (docs/cluster.md, "NetworkPolicy").

Where the host cannot filter (no iptables, not root, no br_netfilter), the daemon says so
once in its log and with a ``NetworkPolicyNotEnforced`` warning event on each policy; the
Service proxy still enforces the policies on what it relays.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable
from typing import Protocol

from kompy.client import KubeClient
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers
from kompy.client.objects import Obj, meta
from kompy.cluster.controllers.base import Controller
from kompy.cluster.kubelet.backend import ContainerBackend
from kompy.cluster.netpol.iptables import IptablesError
from kompy.cluster.netpol.model import PodRef, PolicyModel, compile_policies, network, pod_ref
from kompy.cluster.netpol.rules import Chains, render
from kompy.errors import ClusterError, KompyError

log = logging.getLogger(__name__)

KEY = "all"
RESYNC = 30.0
NOT_ENFORCED = "NetworkPolicyNotEnforced"


class Firewall(Protocol):
    """Where a cluster's chains go (the host's: :class:`.iptables.Iptables`)."""

    prefix: str

    def unavailable(self) -> str | None: ...

    def apply(self, chains: Chains) -> None: ...

    def remove(self) -> None: ...


class NoFirewall:
    """A host where nothing can be filtered, saying why."""

    prefix = "KOMPY-NP-NONE"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def unavailable(self) -> str | None:
        return self.reason

    def apply(self, chains: Chains) -> None:
        raise IptablesError(self.reason)

    def remove(self) -> None:
        return None


class PodRefs:
    """Each pod's part of the model (its address, namespace, labels, named ports), to tell
    the pod changes that matter to the policies from the many that do not: every status
    write of the kubelet (a pod's conditions, restarts, readiness) would otherwise recompile
    the model over every pod, a cost that grows with the square of the pods as they start."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refs: dict[str, PodRef] = {}

    def changed(self, pod: Obj, deleted: bool) -> bool:
        key = str(meta(pod).get("uid") or f"{meta(pod).get('namespace')}/{meta(pod).get('name')}")
        ref = None if deleted else pod_ref(pod)
        with self._lock:
            before = self._refs.pop(key, None) if ref is None else self._refs.get(key)
            if ref is not None:
                self._refs[key] = ref
        return before != ref


class NetworkPolicyController(Controller):
    name = "network-policy"

    def __init__(self, client: KubeClient, informers: Informers, recorder: EventRecorder,
                 backend: ContainerBackend, firewall: Firewall) -> None:
        super().__init__(client, informers, recorder, workers=1)
        self.backend = backend
        self.firewall = firewall
        self.pods = informers["pods"]
        self.namespaces = informers["namespaces"]
        self.policies = informers["networkpolicies"]
        self._pod_refs = PodRefs()
        self.pods.add_handler(self._on_pod)
        for informer in (self.namespaces, self.policies):
            informer.add_handler(lambda _obj, _deleted: self.queue.add(KEY))
        self.model = PolicyModel()
        self._applied: Chains | None = None
        self._resync = threading.Event()
        self._resync_pending = threading.Lock()
        self._unavailable: str | None = None
        self._checked = False
        self._logged = False
        self._warned: set[str] = set()
        self._pod_networks: list[str] = []

    def _on_pod(self, pod: Obj, deleted: bool) -> None:
        if self._pod_refs.changed(pod, deleted):
            self.queue.add(KEY)

    # -- what the Service proxy asks --------------------------------------------------------------
    def permits(self, src: str, dst: str, protocol: str, port: int) -> bool:
        return self.model.permits(src, dst, protocol, port)

    def knows(self, ip: str) -> bool:
        return ip in self.model.pods

    # -- sync -------------------------------------------------------------------------------------
    def sync(self, key: Hashable) -> None:
        model = compile_policies(self.pods.list(), self.namespaces.list(), self.policies.list())
        self.model = model  # one reference swap: the proxy's threads see old or new, whole
        if not self._firewall_ready(model):
            return
        chains = render(model, self.firewall.prefix, self._networks_of(model))
        if chains != self._applied or self._resync_due():
            try:
                self.firewall.apply(chains)
            except IptablesError as error:
                self._applied = None
                raise ClusterError(f"could not apply the NetworkPolicy rules: {error}") from error
            self._applied = chains
        if chains:
            self._schedule_resync()

    def _firewall_ready(self, model: PolicyModel) -> bool:
        if not self._checked:
            self._unavailable = self.firewall.unavailable()
            self._checked = True
        if self._unavailable is None:
            return True
        if model.policies and not self._logged:  # said once, when it first matters
            self._logged = True
            log.warning("NetworkPolicies are not enforced on forwarded pod traffic: %s; "
                        "only connections through Services are filtered (by the Service "
                        "proxy)", self._unavailable)
        for policy in self.policies.list():
            uid = str(meta(policy).get("uid") or "")
            if uid and uid not in self._warned:
                self._warned.add(uid)
                self.recorder.warning(policy, NOT_ENFORCED, (
                    f"this host cannot filter pod traffic ({self._unavailable}): only "
                    "connections through Services are filtered"))
        return False

    def _resync_due(self) -> bool:
        """True once per RESYNC period: then the chains are applied even if unchanged."""
        if self._resync.is_set():
            self._resync.clear()
            return True
        return False

    def _schedule_resync(self) -> None:
        if not self._resync_pending.acquire(blocking=False):
            return  # one timer at a time

        def fire() -> None:
            self._resync.set()
            self._resync_pending.release()
            self.queue.add(KEY)
        timer = threading.Timer(RESYNC, fire)
        timer.daemon = True
        timer.start()

    def _networks_of(self, model: PolicyModel) -> list[str]:
        """The cluster's Docker networks' subnets that hold its pods (read again from the
        engine when a pod's address lies outside the ones known: a new namespace or node)."""
        def covered(ip: str) -> bool:
            return any(network(ip).subnet_of(network(n))  # type: ignore[arg-type]
                       for n in self._pod_networks if network(n).version == network(ip).version)
        if any(not covered(ip) for ip in model.pods):
            try:
                found = {n.subnet for n in self.backend.list_networks({}) if n.subnet}
            except KompyError as error:
                log.warning("could not list the cluster's networks: %s", error)
                found = set(self._pod_networks)
            self._pod_networks = sorted(n for n in found if network(n).version == 4)
        return self._pod_networks

    def join(self, timeout: float | None = None) -> None:
        """Stop, and take the cluster's rules away (``kompy cluster stop``)."""
        super().join(timeout)
        remove_rules(self.firewall)


def remove_rules(firewall: Firewall) -> None:
    """Best effort: a host that cannot filter has no rules to remove."""
    try:
        if firewall.unavailable() is None:
            firewall.remove()
    except IptablesError as error:
        log.warning("could not remove the NetworkPolicy rules: %s", error)
