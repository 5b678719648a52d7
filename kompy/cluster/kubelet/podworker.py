"""Running one pod on Docker: its sandbox, init containers, app containers and restarts.

A pod is a *sandbox* container that holds the pod's network namespace (the "pause"
container of Kubernetes: ``sleep`` behind Docker's init, which reaps children and exits on
SIGTERM) plus the pod's containers joined to it with ``network_mode: container:<sandbox>``,
so they share ``localhost``, the pod IP and the hostname. Init containers run to completion
one at a time, in order, before any app container starts. A pod of a single container needs
no sandbox: that container joins the namespace network itself (see :func:`is_solo`).
https://kubernetes.io/docs/concepts/workloads/pods/init-containers/

:meth:`PodWorker.sync` is level-triggered: it compares what Docker runs (found by the
``kompy.pod-uid`` label, which is also how a restarted daemon adopts running containers)
with the pod spec, does the next step, and reports the resulting status.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kompy.client.events import EventRecorder
from kompy.client.objects import (
    Obj,
    docker_time,
    name,
    namespace,
    parse_time,
    restart_request,
    uid,
)
from kompy.cluster.kubelet.backend import (
    LABEL_ATTEMPT,
    LABEL_CONTAINER,
    LABEL_NODE,
    LABEL_POD,
    LABEL_POD_UID,
    LABEL_ROLE,
    ContainerBackend,
    ContainerInfo,
    ContainerSpec,
)
from kompy.cluster.kubelet.claims import PodLister
from kompy.cluster.kubelet.config import KubeletConfig
from kompy.cluster.kubelet.hooks import post_start_handler, run_post_start
from kompy.cluster.kubelet.hosts import HostsTable, name_mounts, write_name_files
from kompy.cluster.kubelet.images import Hold, ImagePuller
from kompy.cluster.kubelet.inplace import InPlaceLedger
from kompy.cluster.kubelet.podspec import api_service_env, container_spec, resolve_env
from kompy.cluster.kubelet.podstatus import Observed, exited, pod_status, terminated
from kompy.cluster.kubelet.probes import Prober
from kompy.cluster.kubelet.volumes import (
    Lookup,
    PodConfigError,
    Source,
    TokenSource,
    VolumeMaker,
    pod_dir,
)
from kompy.errors import KompyError

log = logging.getLogger(__name__)

# The longest CrashLoopBackOff (kubelet's MaxContainerBackOff).
MAX_BACKOFF = 300.0
# A container that ran this long without failing resets its back-off (as the kubelet does).
BACKOFF_RESET = 600.0
# The longest an in-place restart waits for the process to exit on SIGTERM.
RESTART_GRACE = 10
# The first retry of a pod that waits for its configuration (CreateContainerConfigError).
CONFIG_RETRY = 10.0
# Sync the pod again right away (a container was adopted, or its start failed).
RESYNC = 0.01


def restart_requested(c: ContainerInfo, requested_at: float) -> bool:
    """Whether a running app container predates a restart request (so it was not restarted
    for it yet)."""
    started = parse_time(c.started_at)
    return (c.labels.get(LABEL_ROLE) == "app" and c.running and started is not None
            and started < requested_at)


def stopped_for_restart(c: ContainerInfo, requested_at: float | None) -> bool:
    """Whether an app container that was running at a restart request has exited since:
    stopped for the restart in place (or it died on its own meanwhile: either way it starts
    again as it is, keeping its files). Read from the container's times alone, so a daemon
    restarted between the stop and the start still starts it in place."""
    if requested_at is None or c.labels.get(LABEL_ROLE) != "app" or not exited(c) or c.error:
        return False
    started, finished = parse_time(c.started_at), parse_time(c.finished_at)
    return started is not None and finished is not None and started < requested_at <= finished


def restart_message(container: str) -> str:
    """The ``Killing`` event of a restart in place, worded as upstream's computePodActions
    words its kills ("Container X definition changed, will be restarted")."""
    return f"Container {container} restart requested by kompy dev, will be restarted"


def restart_delay(restart_count: int, ran_for: float, base: float) -> float:
    """Seconds to wait before restarting a container that exited: the first restart is
    immediate, then ``base``, 2x, 4x... up to five minutes (CrashLoopBackOff)."""
    if restart_count <= 0 or ran_for >= BACKOFF_RESET:
        return 0.0
    return float(min(base * 2 ** (restart_count - 1), MAX_BACKOFF))


def stopped_at(info: ContainerInfo) -> float:
    """When an exited container stopped (its back-off counts from then): Docker's FinishedAt,
    or for a container whose start failed (it never ran: FinishedAt is Docker's year 1) the
    time it was created, just before that start."""
    for text in (info.finished_at, info.created_at):
        when = parse_time(text) if docker_time(text) else None
        if when is not None:
            return when
    return time.time()


def should_restart(policy: str, exit_code: int) -> bool:
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


class HookRunning(Hold):
    """A container's postStart hook runs (on a thread of its own): the pod's next container
    starts, and the container is probed, once it ends; its end wakes the pod."""


@dataclass
class SyncResult:
    status: dict[str, Any]
    retry: float | None = None


@dataclass
class _PodState:
    waiting: dict[str, tuple[str, str]] = field(default_factory=dict)
    pull_failures: dict[str, int] = field(default_factory=dict)
    config_failures: int = 0  # syncs in a row that met a PodConfigError
    sandbox_ip: str = ""
    dns_warned: bool = False  # MissingClusterDNS / DNSConfigForming said once


class PodWorker:
    def __init__(self, backend: ContainerBackend, state_dir: Path, hosts: HostsTable,
                 recorder: EventRecorder, prober: Prober, configmaps: Lookup, secrets: Lookup,
                 claims: Lookup, backoff_base: float = 10.0,
                 config: KubeletConfig | None = None, tokens: TokenSource | None = None,
                 api_address: Callable[[], str | None] | None = None,
                 persistent_volumes: Lookup | None = None,
                 pods: PodLister | None = None) -> None:
        self.backend = backend
        self.config = config or KubeletConfig()
        self.state_dir = state_dir
        self.hosts = hosts
        # Render and write of a hosts file happen under one lock: a pod's sync (rendering the
        # table as it was) and a table change's rewrite must not interleave, or the older
        # render lands last and a name that now resolves stays missing until the next change.
        self._hosts_lock = threading.Lock()
        self.recorder = recorder
        self.prober = prober
        self.configmaps = configmaps
        self.secrets = secrets
        self.volumes = VolumeMaker(backend, state_dir, configmaps, secrets, claims, tokens,
                                   persistent_volumes, pods)
        # The cluster IP of the API server's Service (KUBERNETES_SERVICE_HOST): "" for none,
        # None while it is not served yet.
        self.api_address: Callable[[], str | None] = api_address or (lambda: "")
        # Whether the pod (by uid) is being deleted now, as the kubelet last heard: a pod
        # deleted while its sync starts it gets no new container (upstream's pod workers
        # stop starting containers once a pod terminates); its next sync stops it.
        self.deleting: Callable[[str], bool] = lambda pod_uid: False
        # Told the pod's uid when a container's postStart hook ended (the kubelet syncs it).
        self.hook_done: Callable[[str], None] = lambda pod_uid: None
        # Whether a container's kill is under way (the kubelet's stopper), and how a running
        # container is killed for a restart in place (off the sync worker; its end wakes
        # the pod): see _restart_in_place.
        self.stopping: Callable[[str], bool] = lambda container_id: False
        self.kill_in_place: Callable[[Obj, ContainerInfo], None] = (
            lambda pod, c: self.backend.kill(c.id))
        self._hooks_lock = threading.Lock()
        self._post_starts: set[str] = set()  # ids of containers whose postStart hook runs
        self.backoff_base = backoff_base
        self._networks: dict[str, tuple[str, str]] = {}  # namespace -> (network, gateway)
        self._state: dict[str, _PodState] = {}
        self._ids: dict[str, set[str]] = {}  # pod uid -> ids of all its containers
        self._inventoried = False  # see adopt()
        self.images = ImagePuller(backend, recorder, secrets)
        self.in_place = InPlaceLedger(lambda pod_uid: pod_dir(state_dir, pod_uid))

    # -- entry points ---------------------------------------------------------------------------
    def network(self, ns: str) -> tuple[str, str]:
        """The namespace's Docker network (one bridge per namespace isolates namespaces)."""
        if ns not in self._networks:
            net_name = f"kompy-{self.backend.cluster}-{ns}"
            info = self.backend.ensure_network(
                net_name, self.backend.labels(ns, f"Namespace/{ns}"))
            self._networks[ns] = (info.name, info.gateway)
        return self._networks[ns]

    def forget_namespace(self, ns: str) -> None:
        """The namespace is gone: remove its network (once no pod uses it)."""
        self._networks.pop(ns, None)
        try:
            self.backend.remove_network(f"kompy-{self.backend.cluster}-{ns}")
        except Exception as error:  # noqa: BLE001 - still in use: left for `cluster reset`
            log.info("namespace network of %s kept: %s", ns, error)

    def forget(self, pod_uid: str) -> None:
        self._state.pop(pod_uid, None)
        self._ids.pop(pod_uid, None)
        self.in_place.forget(pod_uid)

    def adopt(self, containers: list[ContainerInfo]) -> None:
        """The node's inventory, taken at start before any pod is synced: every container
        is known under its pod, whatever that pod's status says (a daemon killed between
        creating a container and writing the pod's status left one that no status names).
        From then on, a pod without a container status that this kubelet has not seen
        truly has no container, and is not listed."""
        ids: dict[str, set[str]] = {}
        for c in containers:
            pod_uid = c.labels.get(LABEL_POD_UID)
            if pod_uid:
                ids.setdefault(pod_uid, set()).add(c.id)
        for pod_uid, found in ids.items():
            self._ids.setdefault(pod_uid, set()).update(found)
        self._inventoried = True

    def containers(self, pod_uid: str, fresh: bool = False) -> list[ContainerInfo]:
        """The pod's containers. Listing containers makes Docker lock every container, and
        waits behind every container being started, so a pod's containers are listed once
        and then inspected by id: every container of a pod is created through
        :meth:`_create`. A ``fresh`` pod (no container status yet) is not listed at all once
        the start's inventory (:meth:`adopt`) is known: it holds every container that
        existed before this kubelet."""
        known = self._ids.get(pod_uid)
        if known is None:
            if fresh and self._inventoried:
                self._ids[pod_uid] = set()
                return []
            found = self.backend.list_containers({LABEL_POD_UID: pod_uid})
            self._ids[pod_uid] = {c.id for c in found}
            return found
        out = []
        for cid in list(known):
            info = self.backend.inspect(cid)
            if info is None:
                known.discard(cid)
            else:
                out.append(info)
        return out

    def _create(self, pod: Obj, spec: ContainerSpec) -> str:
        # Logs rotate as the kubelet rotates them, so a chatty container cannot fill the disk.
        spec.log_max_size = self.config.container_log_max_size
        spec.log_max_files = self.config.container_log_max_files
        try:
            cid = self.backend.create(spec)
        except KompyError as error:
            # A container of that name may exist that we did not know of (made by another
            # kubelet process that died before reporting it): adopt it, and look again.
            try:
                existing = self.backend.inspect(spec.name)
            except KompyError:
                raise error from None  # Docker is gone: say what failed first
            if existing is not None and existing.labels.get(LABEL_POD_UID) == uid(pod):
                log.info("adopting container %s of pod %s/%s", spec.name, namespace(pod),
                         name(pod))
                self._ids.setdefault(uid(pod), set()).add(existing.id)
                raise Hold(RESYNC) from None
            raise
        self._ids.setdefault(uid(pod), set()).add(cid)
        return cid

    def _remove(self, pod: Obj, container_id: str) -> None:
        self.backend.remove(container_id)
        self._ids.get(uid(pod), set()).discard(container_id)

    def sync(self, pod: Obj) -> SyncResult:
        state = self._state.setdefault(uid(pod), _PodState())
        spec = pod.get("spec") or {}
        old_status = pod.get("status") or {}
        found = self.containers(uid(pod), fresh="containerStatuses" not in old_status)
        _, gateway = self.network(namespace(pod))
        retry: float | None = None
        init_failed = False
        message = ""
        if old_status.get("phase") in ("Succeeded", "Failed"):
            return self._finished(pod, found, state, gateway)
        solo = is_solo(pod)
        try:
            sandbox: ContainerInfo | None = None
            if solo:
                state.sandbox_ip = _solo_ip(found, spec)
            else:
                sandbox = self._sandbox(pod, found)
                state.sandbox_ip = sandbox.ip
            found = [c for c in found if c.labels.get(LABEL_ROLE) != "sandbox"]
            self._write_hosts(pod, state.sandbox_ip)
            sources = self._prepare_volumes(pod, state)
            init_failed = self._run_init(pod, found, sandbox, sources, state)
            if not init_failed and self._initialized(spec, found):
                self._run_app(pod, found, sandbox, sources, state)
                self._restart_in_place(pod, found)
        except Hold as hold:
            retry = hold.retry
        except PodConfigError as error:
            message = error.message
            # Tried again after 10 s, 20 s... at most 5 minutes: a change of the ConfigMap,
            # Secret or claim it waits for wakes the pod at once anyway.
            state.config_failures += 1
            retry = restart_delay(state.config_failures, 0.0, CONFIG_RETRY)
        else:
            state.config_failures = 0
        found = self.containers(uid(pod))
        if solo:
            state.sandbox_ip = _solo_ip(found, spec)
            if state.sandbox_ip:
                self._write_hosts(pod, state.sandbox_ip)
        self._probe_running(pod, found, state.sandbox_ip)
        waits = [t for t in (self._next_restart(pod, found, state),) if t is not None]
        if waits:
            retry = min([*waits, *([retry] if retry is not None else [])])
        init = self._observe(pod, spec.get("initContainers") or [], found, state, "init")
        app = self._observe(pod, spec.get("containers") or [], found, state, "app")
        status = pod_status(pod, init, app, pod_ip=state.sandbox_ip, host_ip=gateway,
                            init_failed=init_failed, message=message)
        return SyncResult(status, retry)

    def _finished(self, pod: Obj, found: list[ContainerInfo], state: _PodState,
                  gateway: str) -> SyncResult:
        """A pod that ended for good keeps its containers (for logs) but not its sandbox."""
        for c in found:
            if c.labels.get(LABEL_ROLE) == "sandbox" and c.running:
                self.backend.kill(c.id)
        spec = pod.get("spec") or {}
        old_status = pod.get("status") or {}
        state.sandbox_ip = state.sandbox_ip or str(old_status.get("podIP") or "")
        init = self._observe(pod, spec.get("initContainers") or [], found, state, "init")
        app = self._observe(pod, spec.get("containers") or [], found, state, "app")
        init_failed = old_status.get("phase") == "Failed" and not self._initialized(spec, found)
        return SyncResult(pod_status(pod, init, app, pod_ip=state.sandbox_ip, host_ip=gateway,
                                     init_failed=init_failed))

    # -- the sandbox --------------------------------------------------------------------------
    def _sandbox(self, pod: Obj, found: list[ContainerInfo]) -> ContainerInfo:
        boxes = sorted((c for c in found if c.labels.get(LABEL_ROLE) == "sandbox"),
                       key=lambda c: c.attempt)
        if boxes and boxes[-1].running and boxes[-1].ip:
            for old in boxes[:-1]:
                self._remove(pod, old.id)
            return boxes[-1]
        # No sandbox, or it died: its network namespace is gone, so every container of the
        # pod must be started again in a new one (restart counts carry on).
        attempt = boxes[-1].attempt + 1 if boxes else 0
        self.backend.map(lambda c: self._remove(pod, c.id), boxes + [
            c for c in found if c.labels.get(LABEL_ROLE) != "sandbox" and c.running])
        ns = namespace(pod)
        net_name, _ = self.network(ns)
        spec = pod.get("spec") or {}
        hostname = str(spec.get("hostname") or name(pod))[:63].rstrip("-.")
        labels = self._labels(pod, "POD", "sandbox", attempt)
        box = ContainerSpec(
            name=self._container_name(pod, "POD", attempt), image=self.images.pause_image(),
            labels=labels, entrypoint=["sleep"], command=["2147483647"], hostname=hostname,
            network=net_name, init=True)
        try:
            cid = self._create(pod, box)
        except KompyError:
            # The namespace network may have been removed under us (`kompy down`): make it
            # again and retry once.
            self._networks.pop(ns, None)
            box.network = self.network(ns)[0]
            cid = self._create(pod, box)
        self.backend.start(cid)
        info = self.backend.inspect(cid)
        if info is None or not info.ip:
            raise Hold(1.0)
        return info

    def _write_hosts(self, pod: Obj, pod_ip: str) -> None:
        """The pod's /etc/hosts and /etc/resolv.conf (:mod:`.hosts`, :mod:`.resolvconf`)."""
        with self._hosts_lock:
            warnings = write_name_files(pod_dir(self.state_dir, uid(pod)), pod, pod_ip,
                                        self.hosts)
        state = self._state.get(uid(pod))
        if warnings and state is not None and not state.dns_warned:
            state.dns_warned = True
            for reason, message in warnings:
                self.recorder.warning(pod, reason, message)

    def rewrite_hosts(self, pod: Obj) -> None:
        state = self._state.get(uid(pod))
        if state is not None and state.sandbox_ip:
            self._write_hosts(pod, state.sandbox_ip)

    def _prepare_volumes(self, pod: Obj, state: _PodState) -> dict[str, Source]:
        try:
            return self.volumes.prepare(pod, self.images.user_of)
        except PodConfigError as error:
            self.recorder.warning(pod, error.reason, error.message)
            for c in _all_containers(pod):
                state.waiting[str(c.get("name"))] = ("ContainerCreating", error.message)
            raise

    # -- containers ---------------------------------------------------------------------------
    def _run_init(self, pod: Obj, found: list[ContainerInfo], sandbox: ContainerInfo | None,
                  sources: dict[str, Source], state: _PodState) -> bool:
        """Advance init containers; True when one failed for good (restartPolicy Never)."""
        policy = str((pod.get("spec") or {}).get("restartPolicy") or "Always")
        for c in (pod.get("spec") or {}).get("initContainers") or []:
            cname = str(c.get("name"))
            cur, _ = _latest(found, cname)
            if cur is None:
                self._start(pod, c, 0, sandbox, sources, state, "init")
                raise Hold()
            if cur.status == "created" and not cur.error:
                self.backend.start(cur.id)
                raise Hold()
            if cur.running:
                raise Hold()
            if cur.exit_code == 0 and not cur.error:
                continue
            if policy == "Never":
                return True
            self._restart(pod, c, cur, sandbox, sources, state, "init")
            raise Hold()
        return False

    def _initialized(self, spec: dict[str, Any], found: list[ContainerInfo]) -> bool:
        for c in spec.get("initContainers") or []:
            cur, _ = _latest(found, str(c.get("name")))
            if cur is None or not exited(cur) or cur.exit_code != 0 or cur.error:
                return False
        return True

    def _run_app(self, pod: Obj, found: list[ContainerInfo], sandbox: ContainerInfo | None,
                 sources: dict[str, Source], state: _PodState) -> None:
        policy = str((pod.get("spec") or {}).get("restartPolicy") or "Always")
        requested = parse_time(restart_request(pod))
        held: Hold | None = None
        for c in (pod.get("spec") or {}).get("containers") or []:
            cname = str(c.get("name"))
            cur, _ = _latest(found, cname)
            if cur is not None and self.post_start_running(cur.id):
                held = held or HookRunning()
                break  # as upstream's startContainer: the next container waits for the hook
            try:
                if cur is None:
                    self._start(pod, c, 0, sandbox, sources, state, "app")
                elif cur.status == "created" and not cur.error:
                    self.backend.start(cur.id)   # made before a daemon restart
                    self._post_start(pod, c, cur.id, sandbox)
                elif cur.running:
                    pass  # probed (see _probe_running)
                elif stopped_for_restart(cur, requested):
                    self._start_in_place(pod, c, cur, sandbox)
                elif should_restart(policy, cur.exit_code if not cur.error else 1):
                    self._restart(pod, c, cur, sandbox, sources, state, "app")
            except HookRunning as hold:
                held = held or hold
                break
            except Hold as hold:
                held = hold if held is None or (hold.retry or 1e9) < (held.retry or 1e9) \
                    else held
        if held is not None:
            raise held

    def _probe_running(self, pod: Obj, found: list[ContainerInfo], pod_ip: str) -> None:
        """Register the probes of every running app container (idempotent per container)."""
        for c in (pod.get("spec") or {}).get("containers") or []:
            cur, _ = _latest(found, str(c.get("name")))
            if cur is not None and cur.running and pod_ip and not self.post_start_running(cur.id):
                started = parse_time(cur.started_at) or time.time()
                self.prober.ensure(uid(pod), c, cur.id, pod_ip, started)

    def _restart(self, pod: Obj, c: dict[str, Any], cur: ContainerInfo,
                 sandbox: ContainerInfo | None, sources: dict[str, Source], state: _PodState,
                 role: str) -> None:
        cname = str(c.get("name"))
        wait = self._restart_wait(pod, cur)
        if wait > 0:
            state.waiting[cname] = ("CrashLoopBackOff",
                                    f"back-off {int(self._delay(cur))}s restarting failed "
                                    f"container={cname} pod={name(pod)}")
            self.recorder.warning(pod, "BackOff", "Back-off restarting failed container "
                                  f"{cname} in pod {name(pod)}")
            raise Hold(wait)
        for old in self.containers(uid(pod)):
            if old.labels.get(LABEL_CONTAINER) == cname and old.attempt < cur.attempt:
                self._remove(pod, old.id)  # the last one stays, for `logs --previous`
        self._start(pod, c, cur.attempt + 1, sandbox, sources, state, role)

    def _delay(self, cur: ContainerInfo) -> float:
        started = parse_time(cur.started_at)
        finished = parse_time(cur.finished_at)
        ran = (finished - started) if started and finished else 0.0
        return restart_delay(cur.attempt, ran, self.backoff_base)

    def _restart_wait(self, pod: Obj, cur: ContainerInfo) -> float:
        finished = stopped_at(cur)
        requested = parse_time(restart_request(pod))
        if requested is not None and requested > finished:
            # `kompy dev` asked for a restart after the crash (a save that may fix it): the
            # back-off, there to spare a node from a hopeless loop, would only hold the fix.
            return 0.0
        return max(0.0, finished + self._delay(cur) - time.time())

    def _next_restart(self, pod: Obj, found: list[ContainerInfo], state: _PodState
                      ) -> float | None:
        policy = str((pod.get("spec") or {}).get("restartPolicy") or "Always")
        waits = []
        requested = parse_time(restart_request(pod))
        for c in (pod.get("spec") or {}).get("containers") or []:
            cur, _ = _latest(found, str(c.get("name")))
            if cur is not None and stopped_for_restart(cur, requested):
                continue  # started in place once its stop ends (which wakes the pod)
            if cur is not None and exited(cur) and should_restart(
                    policy, cur.exit_code if not cur.error else 1):
                waits.append(self._restart_wait(pod, cur) + 0.05)
        return min(waits) if waits else None

    def _start(self, pod: Obj, c: dict[str, Any], attempt: int, sandbox: ContainerInfo | None,
               sources: dict[str, Source], state: _PodState, role: str) -> None:
        cname = str(c.get("name"))
        image = self.images.ensure(pod, c, state.waiting, state.pull_failures)
        api_address = self.api_address()
        if api_address is None:
            raise Hold(0.2)      # the kubernetes Service is about to be served: its address
        try:
            # fieldRef status.podIP may be asked before the status carrying it was written.
            pod_ip = sandbox.ip if sandbox is not None else ""
            seen = {**pod, "status": {**(pod.get("status") or {}), "podIP": pod_ip}}
            env = resolve_env(seen, c, self.configmaps, self.secrets,
                              host_ip=self.network(namespace(pod))[1],
                              service_env=api_service_env(api_address))
            mounts = self.volumes.mounts(c, sources)
        except PodConfigError as error:
            state.waiting[cname] = ("CreateContainerConfigError", error.message)
            self.recorder.warning(pod, "Failed", f"Error: {error.message}")
            state.config_failures += 1
            raise Hold(restart_delay(state.config_failures, 0.0, CONFIG_RETRY)) from error
        mounts += name_mounts(pod_dir(self.state_dir, uid(pod)), pod, self.hosts, mounts)
        if self.deleting(uid(pod)):
            raise Hold(RESYNC)
        spec = container_spec(pod, c, name=self._container_name(pod, cname, attempt),
                              image=image, labels=self._labels(pod, cname, role, attempt),
                              sandbox_id=sandbox.id if sandbox is not None else None,
                              env=env, mounts=mounts)
        if sandbox is None:  # a solo container holds the pod's network itself
            spec.network = self.network(namespace(pod))[0]
            spec.hostname = _hostname(pod)
        cid = self._create(pod, spec)
        self.recorder.normal(pod, "Created", f"Created container {cname}")
        state.waiting.pop(cname, None)
        if self.deleting(uid(pod)):
            raise Hold(RESYNC)   # deleted while its container was made: never started
        try:
            self.backend.start(cid)
        except Exception as error:  # noqa: BLE001 - e.g. executable not found: report it
            self.recorder.warning(pod, "Failed", f"Error: {getattr(error, 'message', error)}")
            # Once more now: the restart policy and its back-off take it from here (no
            # container death will come to wake the pod up).
            raise Hold(RESYNC) from error
        self.recorder.normal(pod, "Started", f"Started container {cname}")
        self._post_start(pod, c, cid, sandbox)

    def _post_start(self, pod: Obj, c: dict[str, Any], cid: str,
                    sandbox: ContainerInfo | None) -> None:
        """Start the container's postStart hook, if it has one, on a thread of its own.
        Upstream's startContainer waits for it in the pod's own worker; here a worker serves
        every pod, so the pod's sync ends (:class:`HookRunning`) and the hook's end wakes it:
        its next container starts and it is probed only then, other pods' syncs do not
        queue behind the hook, and a deletion stops the pod without waiting for it."""
        if post_start_handler(c) is None:
            return
        with self._hooks_lock:
            self._post_starts.add(cid)
        threading.Thread(target=self._run_post_start, args=(pod, c, cid, sandbox),
                         name=f"poststart-{name(pod)}"[:40], daemon=True).start()
        raise HookRunning()

    def _run_post_start(self, pod: Obj, c: dict[str, Any], cid: str,
                        sandbox: ContainerInfo | None) -> None:
        """A failed hook kills the container (the restart policy takes it over), unless the
        pod is being deleted meanwhile: its termination stops the container then."""
        try:
            run_post_start(self.backend, self.recorder, pod, c, cid,
                           self._pod_ip(sandbox, cid),
                           cancelled=lambda: self.deleting(uid(pod)))
        except Exception:  # noqa: BLE001 - the pod must be woken whatever happened
            log.exception("postStart hook of container %s of pod %s/%s", c.get("name"),
                          namespace(pod), name(pod))
        finally:
            with self._hooks_lock:
                self._post_starts.discard(cid)
            self.hook_done(uid(pod))

    def post_start_running(self, container_id: str) -> bool:
        with self._hooks_lock:
            return container_id in self._post_starts

    def _pod_ip(self, sandbox: ContainerInfo | None, container_id: str) -> str:
        """The pod's IP: its sandbox's, or a solo container's own (known once it runs)."""
        if sandbox is not None:
            return sandbox.ip
        info = self.backend.inspect(container_id)
        return info.ip if info is not None else ""

    def _restart_in_place(self, pod: Obj, found: list[ContainerInfo]) -> None:
        """``kompy dev``'s restart (Compose watch's ``sync+restart`` and ``restart``): app
        containers that started before the time in the pod's RESTART_ANNOTATION are stopped
        and started again as they are, keeping the files synced into them; a kubelet restart
        would start a fresh container from the image. Comparing with the container's start
        time makes a request act once, across daemon restarts too. The run it ends counts
        as upstream counts a container killed and started again: ``restartCount`` + 1, and
        that run in ``lastState`` (:mod:`.inplace`). A container that crashed before the
        request and waits out its back-off starts at once instead (:meth:`_restart_wait`).

        The stop is a kill as upstream's killContainer (``Killing`` event, preStop hook,
        stop signal, SIGKILL at the end of the grace period) on the kubelet's stopper, not a
        Docker restart on this worker: a process deaf to SIGTERM holds no sync worker for
        its grace period. Meanwhile the container reads as running, then as terminated; its
        stop's end wakes the pod, whose sync starts it again (:meth:`_start_in_place`)."""
        requested = parse_time(restart_request(pod))
        if requested is None:
            return
        for c in found:
            if restart_requested(c, requested) and not self.stopping(c.id):
                self.kill_in_place(pod, c)

    def _start_in_place(self, pod: Obj, c: dict[str, Any], cur: ContainerInfo,
                        sandbox: ContainerInfo | None) -> None:
        """Start a container stopped for a restart in place again, once its stop is over (the
        stopper must see it gone first, or it would kill the started one at the end of its
        grace period). It is probed afresh, as a new container is, and its postStart hook
        runs, as after any start."""
        if self.stopping(cur.id):
            raise Hold()  # the stop's end wakes the pod
        if self.deleting(uid(pod)):
            raise Hold(RESYNC)  # its termination takes it from here
        cname = str(c.get("name"))
        self.prober.forget(uid(pod), cname)
        # Counted before the start: a start that fails is tried again as the same run.
        self.in_place.count(uid(pod), cname, f"{cur.id}@{cur.started_at}@{cur.finished_at}",
                            terminated(cur))
        self.backend.start(cur.id)
        self.recorder.normal(pod, "Started", f"Started container {cname}")
        self._post_start(pod, c, cur.id, sandbox)

    # -- naming and observing -----------------------------------------------------------------
    def _labels(self, pod: Obj, cname: str, role: str, attempt: int) -> dict[str, str]:
        return self.backend.labels(namespace(pod), f"Pod/{name(pod)}", **{
            LABEL_POD: name(pod), LABEL_POD_UID: uid(pod), LABEL_CONTAINER: cname,
            LABEL_ROLE: role, LABEL_ATTEMPT: str(attempt),
            LABEL_NODE: str((pod.get("spec") or {}).get("nodeName") or "")})

    def _container_name(self, pod: Obj, cname: str, attempt: int) -> str:
        return (f"kompy_{self.backend.cluster}_{namespace(pod)}_{name(pod)}_{cname}_"
                f"{uid(pod)[:8]}_{attempt}")

    def _observe(self, pod: Obj, containers: list[dict[str, Any]], found: list[ContainerInfo],
                 state: _PodState, role: str) -> list[Observed]:
        policy = str((pod.get("spec") or {}).get("restartPolicy") or "Always")
        requested = parse_time(restart_request(pod))
        out = []
        for c in containers:
            cname = str(c.get("name"))
            cur, prev = _latest(found, cname)
            waiting = state.waiting.get(cname)
            if waiting is not None and cur is not None and cur.running:
                state.waiting.pop(cname, None)
                waiting = None
            if waiting and waiting[0] == "CrashLoopBackOff" and (
                    cur is None or not exited(cur)):
                waiting = None
            started = ready = False
            if cur is not None and cur.running and self.post_start_running(cur.id):
                # Upstream's status is not updated while the pod's sync waits for the
                # hook: the container reads as being created, not running or ready.
                cur = replace(cur, status="created")
            if cur is not None and cur.running:
                started = self.prober.started(uid(pod), cname, cur.id)
                ready = role == "app" and self.prober.ready(uid(pod), cname, cur.id)
            will = cur is not None and exited(cur) and (
                should_restart(policy, cur.exit_code if not cur.error else 1)
                or stopped_for_restart(cur, requested))
            out.append(Observed(cname, str(c.get("image") or ""), cur, prev, waiting, ready,
                                started, will, self.in_place.of(uid(pod), cname)))
        return out


def is_solo(pod: Obj) -> bool:
    """A pod of one container and no init containers needs no sandbox: the container holds
    the pod's network itself (one Docker container per pod instead of two, which halves the
    engine's work). Its IP is known only once it runs, so ``fieldRef: status.podIP`` in its
    env asks for a sandbox. A restart gets a new container, and possibly a new pod IP."""
    spec = pod.get("spec") or {}
    containers = spec.get("containers") or []
    if len(containers) != 1 or spec.get("initContainers") or spec.get("shareProcessNamespace"):
        return False
    for item in containers[0].get("env") or []:
        ref = ((item.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
        if ref in ("status.podIP", "status.podIPs"):
            return False
    return True


def _solo_ip(found: list[ContainerInfo], spec: dict[str, Any]) -> str:
    containers = spec.get("containers") or [{}]
    cur, _ = _latest(found, str(containers[0].get("name")))
    return cur.ip if cur is not None and cur.running else ""


def _hostname(pod: Obj) -> str:
    return str((pod.get("spec") or {}).get("hostname") or name(pod))[:63].rstrip("-.")


def _latest(found: list[ContainerInfo], cname: str
            ) -> tuple[ContainerInfo | None, ContainerInfo | None]:
    mine = sorted((c for c in found if c.labels.get(LABEL_CONTAINER) == cname
                   and c.labels.get(LABEL_ROLE) != "sandbox"), key=lambda c: c.attempt)
    return (mine[-1] if mine else None), (mine[-2] if len(mine) > 1 else None)


def _all_containers(pod: Obj) -> list[dict[str, Any]]:
    spec = pod.get("spec") or {}
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
