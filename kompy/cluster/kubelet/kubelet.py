"""The kubelet: runs the pods bound to this node on Docker and reports their status.

Level-triggered, as the real one: pod changes (API watch), container deaths (Docker's event
stream) and probe results each put the pod's uid on a work queue; a worker then compares the
pod spec with what Docker runs (:class:`kompy.cluster.kubelet.podworker.PodWorker`) and writes the
status through ``replace_status``. Nothing polls: an idle node costs no CPU but its probes.

Deletion follows Kubernetes' graceful protocol: the API server marks a bound pod with
``deletionTimestamp``; the kubelet stops its containers within the grace period
(``deletionGracePeriodSeconds``, else ``terminationGracePeriodSeconds``, default 30 s),
removes them, and then deletes the pod with ``gracePeriodSeconds=0``, which removes the object.
The stop (preStop hooks, stop signal, SIGKILL) is the stopper's (:mod:`.shutdown`): it holds
no worker, so pods deleted together stop together.
https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kompy.client import ApiError, Conflict, KubeClient, NotFound
from kompy.client.events import EventRecorder
from kompy.client.informer import Informer, Informers
from kompy.client.objects import (
    Obj,
    grace_seconds,
    meta,
    name,
    namespace,
    restart_request,
    terminating,
    uid,
)
from kompy.client.workqueue import WorkQueue
from kompy.cluster.kubelet import statuses
from kompy.cluster.kubelet.backend import (
    LABEL_CONTAINER,
    LABEL_NODE,
    LABEL_POD_UID,
    LABEL_ROLE,
    RESYNC_EVENT,
    ContainerBackend,
    ContainerInfo,
)
from kompy.cluster.kubelet.config import KubeletConfig
from kompy.cluster.kubelet.hooks import hook_runner, pre_stop_handler
from kompy.cluster.kubelet.hosts import HostsTable
from kompy.cluster.kubelet.node import NodeAgent
from kompy.cluster.kubelet.podstatus import failed_status, merge_foreign, same_status
from kompy.cluster.kubelet.podworker import RESTART_GRACE, PodWorker, restart_message
from kompy.cluster.kubelet.probekill import kill_grace, kill_message
from kompy.cluster.kubelet.probes import Prober
from kompy.cluster.kubelet.shutdown import Batch, Done, Stop, Stopper
from kompy.cluster.kubelet.statuses import REPAIR_DELAY, StatusManager
from kompy.cluster.kubelet.tokens import TokenManager
from kompy.cluster.kubelet.volumes import Lookup
from kompy.errors import KompyError

log = logging.getLogger(__name__)

# The API server's Service, whose cluster IP containers get as KUBERNETES_SERVICE_HOST.
API_NAMESPACE, API_SERVICE = "default", "kubernetes"
API_WAIT_SECONDS = 30.0

NODE_NAME = "kompy"
# The least time a pod's container gets between its stop signal and SIGKILL, whatever the
# grace period (upstream's minimumGracePeriodInSeconds: a force deletion's 0 included).
MIN_GRACE = 2
# A power change of a node container is looked at this soon after Docker reports a death.
POWER_CHECK_DELAY = 0.2
# A status write is tried this many times on Conflicts (re-reading the pod in between).
STATUS_WRITE_TRIES = 3
# A pod whose sync fails is tried again after 1 s, 2 s, 4 s... at most 5 minutes (Docker
# coming back, or a change of the pod or of what it refers to, wakes it at once).
ERROR_BACKOFF = (1.0, 300.0)


def error_backoff(failures: int) -> float:
    base, cap = ERROR_BACKOFF
    return float(min(base * 2 ** min(failures - 1, 16), cap))


def describe_error(error: BaseException) -> str:
    """One line about a failure: kompy's own message, else the exception's type and text."""
    if isinstance(error, KompyError):
        return error.message
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def cached_lookup(client: KubeClient, informer: Informer, resource: str) -> Lookup:
    """Read from the informer's cache; on a miss ask the API (the watch may lag a create)."""

    def lookup(ns: str, obj_name: str) -> Obj | None:
        found = informer.get(ns, obj_name)
        if found is not None:
            return found
        try:
            return client.get(resource, obj_name, ns)
        except NotFound:
            return None

    return lookup


# The containers that stop after the pods' own at a shutdown, in this order.
SHUTDOWN_STEPS = ("sandbox", "node")

# Namespaces that never get a pod network of their own in advance.
NO_POD_NETWORK = frozenset({"kube-system", "kube-node-lease", "kube-public"})


class Kubelet:
    def __init__(self, client: KubeClient, backend: ContainerBackend, informers: Informers,
                 recorder: EventRecorder, state_dir: Path, hosts: HostsTable,
                 stop: threading.Event, *, node_name: str = NODE_NAME, workers: int = 8,
                 backoff_base: float = 10.0, config: KubeletConfig | None = None) -> None:
        """One kubelet serves every node of the cluster (each node's pods, containers,
        Lease and status its own: :mod:`.node`), on one work queue: the engine's best
        throughput (eight parallel calls, below) is the same whatever the nodes."""
        self.client = client
        self.backend = backend
        self.recorder = recorder
        self.stop = stop
        self.node_name = node_name  # the first node, registered before anything runs
        self.config = config or KubeletConfig()
        self.agents: dict[str, NodeAgent] = {}
        self._up: set[str] = set()  # nodes whose machine runs: their pods are synced
        self._wake = threading.Event()  # look at the nodes' power now
        # Eight workers: Docker's throughput of container starts peaks around eight parallel
        # calls on this class of machine (30 containers: 6.8 s sequential, 3.5 s with 8 threads;
        # 16 were slower in our measurements).
        self.queue = WorkQueue()
        self._known: dict[str, Obj] = {}
        self._gone: set[str] = set()
        self._failures: dict[str, int] = {}  # pod uid -> failed syncs in a row
        self.stopper = Stopper(backend)
        self.statuses = StatusManager()
        self._stopping: dict[str, Batch] = {}  # pod uid -> its containers being stopped
        self._lock = threading.Lock()
        self.pods = informers["pods"]
        configmaps, secrets = informers["configmaps"], informers["secrets"]
        claims = informers["persistentvolumeclaims"]
        persistent_volumes = informers["persistentvolumes"]
        self.prober = Prober(backend, self.queue.add, self._probe_failed)
        self.tokens = TokenManager(client)
        self.hosts = hosts
        self.services = informers["services"]
        self.worker = PodWorker(
            backend, state_dir, hosts, recorder, self.prober,
            configmaps=cached_lookup(client, configmaps, "configmaps"),
            secrets=cached_lookup(client, secrets, "secrets"),
            claims=cached_lookup(client, claims, "persistentvolumeclaims"),
            backoff_base=backoff_base, config=config, tokens=self.tokens.token,
            api_address=self._api_address,
            persistent_volumes=cached_lookup(client, persistent_volumes, "persistentvolumes"),
            pods=self.pods.list)
        self.worker.deleting = self._deleting
        self.worker.hook_done = self.queue.add
        self.worker.stopping = self.stopper.stopping
        self.worker.kill_in_place = self._kill_for_restart
        self.pods.add_handler(self._on_pod)
        informers["namespaces"].add_handler(self._on_namespace)
        informers["nodes"].add_handler(self._on_node)
        for informer in (configmaps, secrets, claims):
            informer.add_handler(self._on_pod_input)
        hosts.on_change(self._on_hosts)
        self._threads = [threading.Thread(target=self.queue.run_worker,
                                          args=(self._sync_key, self._sync_failed),
                                          name=f"kubelet-{i}", daemon=True)
                         for i in range(workers)]
        self._threads.append(threading.Thread(target=self._heartbeats, name="kubelet-nodes",
                                              daemon=True))
        self._threads.append(threading.Thread(target=self.stopper.run, args=(stop,),
                                              name="kubelet-stopper", daemon=True))
        self._threads.append(threading.Thread(target=self._sweep_statuses_loop,
                                              name="kubelet-statuses", daemon=True))
        self._threads.append(threading.Thread(target=self._docker_events, name="kubelet-events",
                                              daemon=True))

    def start(self, informers: Informers) -> None:
        self._take_inventory()
        self.add_node(self.node_name)
        for thread in self._threads:
            thread.start()
        threading.Thread(target=self._remove_orphans, args=(informers,), name="kubelet-orphans",
                         daemon=True).start()

    def _take_inventory(self) -> None:
        """Before any pod is synced, every container of the node is found by its labels, so
        each pod adopts what exists for it whatever its status says (a daemon killed between
        creating a container and writing the pod's first status left such containers)."""
        try:
            containers = self.backend.list_containers({})
        except KompyError as error:  # each pod's containers are then listed at its sync
            log.warning("could not list the node's containers: %s", error)
            return
        self.worker.adopt(containers)

    def join(self, timeout: float | None = None) -> None:
        self.queue.shutdown()
        self.prober.shutdown()
        self._wake.set()
        self.stopper.wake()
        for thread in self._threads[:-1]:
            thread.join(timeout)

    def stop_containers(self, max_grace: int = 10) -> None:
        """Stop every running container of the nodes (daemon shutdown) as a node's graceful
        shutdown does: the pods' containers first, each within its pod's grace period (at
        most ``max_grace``), its preStop hook first and within it, then the sandboxes, then
        the nodes' own containers. All of a step at once (:mod:`.shutdown`): the stop takes
        the longest grace period, not the sum of them."""
        try:
            running = [c for c in self.backend.list_containers({}) if c.running]
        except KompyError as error:
            log.warning("could not list containers to stop them: %s", error)
            return
        with self._lock:
            pods = {uid(p): p for p in self._known.values()}

        def stop(c: ContainerInfo) -> Stop:
            pod = pods.get(c.labels.get(LABEL_POD_UID, ""))
            if pod is None:
                return Stop(c, max_grace)
            grace = min(grace_seconds(pod), max_grace)
            if _shutdown_step(c) != 0:
                return Stop(c, grace)  # a sandbox
            spec = _container_specs(pod).get(c.labels.get(LABEL_CONTAINER, "")) or {}
            return self._stop_of(pod, c, spec, grace)

        # On the kubelet's own stopper: a container whose kill is under way (a probe's) is
        # joined, its preStop hook not run a second time (the stopper's thread has ended:
        # finish() polls itself).
        for step in range(len(SHUTDOWN_STEPS) + 1):
            left = self.stopper.finish([stop(c) for c in running
                                        if _shutdown_step(c) == step])
            if left:
                log.warning("could not stop %d containers: %s", len(left), ", ".join(left[:5]))

    def pod(self, ns: str, pod_name: str) -> Obj | None:
        return self.pods.get(ns, pod_name)

    # -- inputs ---------------------------------------------------------------------------------
    def _on_pod(self, pod: Obj, deleted: bool) -> None:
        with self._lock:
            if (pod.get("spec") or {}).get("nodeName") not in self._up:
                return
        key = uid(pod)
        with self._lock:
            before = self._known.get(key)
            self._known[key] = pod
            if deleted:
                self._gone.add(key)
        if not deleted and before is not None and _same_desire(before, pod):
            # Only the status changed: most often by our own write; by another writer's,
            # the kubelet's status is written back (upstream's status manager's reconcile).
            if self.statuses.needs_repair(pod):
                self.queue.add_after(key, REPAIR_DELAY)
            return
        self.queue.add(key)

    def _sweep_statuses_loop(self) -> None:
        """Every :data:`~.statuses.SWEEP_SECONDS`, each pod whose status another writer
        changed is synced, which writes the kubelet's back: upstream's syncBatch, for the
        changes whose watch event did not wake the pod (:mod:`.statuses`)."""
        while not self.stop.wait(statuses.SWEEP_SECONDS):
            self.sweep_statuses()

    def sweep_statuses(self) -> list[str]:
        """One sweep: the pods found overwritten, or whose status write gave up, are
        queued (and returned)."""
        with self._lock:
            pods = [p for k, p in self._known.items()
                    if k not in self._gone and not terminating(p)]
        found = self.statuses.stale(pods)
        for key in found:
            log.info("pod %s: its status was changed by another writer; writing the "
                     "kubelet's back", self._describe(key))
        retried = [key for key in self.statuses.unwritten(pods) if key not in found]
        for key in retried:
            log.info("pod %s: writing its status again", self._describe(key))
        for key in [*found, *retried]:
            self.queue.add(key)
        return [*found, *retried]

    def _on_pod_input(self, obj: Obj, deleted: bool) -> None:
        """A ConfigMap, Secret or claim changed: re-sync the pods of its namespace (their
        mounted files are refreshed; a pod waiting for it may start now)."""
        ns = namespace(obj)
        with self._lock:
            keys = [k for k, p in self._known.items() if namespace(p) == ns]
        for key in keys:
            self.queue.add(key)

    def _on_hosts(self) -> None:
        with self._lock:
            pods = [p for k, p in self._known.items() if k not in self._gone]
        for pod in pods:
            try:
                self.worker.rewrite_hosts(pod)
            except OSError as error:
                log.debug("hosts file of %s: %s", name(pod), error)

    def _docker_events(self) -> None:
        while not self.stop.is_set():
            try:
                for event in self.backend.events(self.stop):
                    self._on_docker_event(event)
            except Exception as error:  # noqa: BLE001 - deaths must keep being heard
                log.warning("Docker event stream: %s; listening again", describe_error(error))
                self.stop.wait(1.0)

    def _on_docker_event(self, event: dict[str, object]) -> None:
        status = event.get("status")
        if status == RESYNC_EVENT:
            # The engine was gone (restarted?): deaths in between were not heard, and pods
            # backing off for its absence need not wait any longer.
            with self._lock:
                keys = [k for k in self._known if k not in self._gone]
                self._failures.clear()
            for key in keys:
                self.queue.add(key)
            return
        if status not in ("die", "oom"):
            return
        actor = event.get("Actor")
        attrs = actor.get("Attributes") if isinstance(actor, dict) else None
        if isinstance(attrs, dict) and attrs.get(LABEL_ROLE) == "node":
            self._wake.set()  # a machine went down
            return
        if isinstance(attrs, dict) and attrs.get(LABEL_POD_UID):
            self.stopper.gone(str(event.get("id") or ""))  # before the pod's sync
            self.queue.add(str(attrs[LABEL_POD_UID]))

    def _probe_failed(self, pod_uid: str, container: str, container_id: str, kind: str,
                      message: str) -> None:
        with self._lock:
            pod = self._known.get(pod_uid)
        if pod is None:
            return
        what, _, probe = kind.partition(":")
        if what == "Unhealthy":
            self.recorder.warning(pod, "Unhealthy", f"{probe.capitalize()} probe failed: "
                                  f"{message}")
            return
        # A thread of its own, not the engine's pool: the stopper's signals go through that
        # pool (map), which a task of the pool itself must not wait on.
        threading.Thread(target=self._kill_for_probe,
                         args=(pod_uid, container, container_id, probe),
                         name=f"probekill-{container}"[:40], daemon=True).start()

    def _kill_for_probe(self, pod_uid: str, cname: str, container_id: str, probe: str) -> None:
        """Kill a container whose liveness or startup probe failed (:mod:`.probekill`): a
        ``Killing`` event, then its preStop hook, its stop signal and SIGKILL within its
        grace period, all on the stopper; its death wakes the pod, whose sync restarts it
        per the restart policy."""
        with self._lock:
            pod = self._known.get(pod_uid)
            deleting = pod_uid in self._stopping or pod_uid in self._gone
        if pod is None or deleting or terminating(pod):
            return  # the pod's termination stops the container
        try:
            info = self.backend.inspect(container_id)
        except KompyError as error:  # the engine is gone: its return resyncs every pod
            log.warning("could not kill container %s for its %s probe: %s", cname, probe,
                        error.message)
            return
        if info is None or not info.running:
            return
        spec = _container_specs(pod).get(cname) or {}
        self._kill(pod, info, spec, kill_grace(pod, spec, probe),
                   kill_message(pod, cname, probe), lambda _left: self.queue.add(pod_uid))

    def _kill_for_restart(self, pod: Obj, info: ContainerInfo) -> None:
        """``kompy dev``'s restart in place (:meth:`.PodWorker._restart_in_place`): the
        container is killed as for a probe, within the pod's grace period (at most
        :data:`~.podworker.RESTART_GRACE`); its end wakes the pod, whose sync starts the same
        container again. Called on a sync worker: nothing here waits for the stop."""
        cname = info.labels.get(LABEL_CONTAINER, "")
        spec = _container_specs(pod).get(cname) or {}
        key = uid(pod)
        self._kill(pod, info, spec, min(grace_seconds(pod), RESTART_GRACE),
                   restart_message(cname), lambda _left: self.queue.add(key))

    def _kill(self, pod: Obj, info: ContainerInfo, spec: dict[str, Any], grace: int,
              message: str, done: Done) -> None:
        """Kill one running container as upstream's killContainer: a ``Killing`` event, its
        preStop hook, its stop signal, SIGKILL at the end of ``grace``, all on the stopper;
        ``done`` once it is gone. A container being killed already is joined (no second
        event or hook: :mod:`.shutdown`)."""
        if not self.stopper.stopping(info.id):
            self.recorder.normal(pod, "Killing", message)
        self.stopper.begin([self._stop_of(pod, info, spec, grace)], done)

    def _stop_of(self, pod: Obj, info: ContainerInfo, spec: dict[str, Any], grace: int
                 ) -> Stop:
        """How a pod's container stops (upstream's killContainer): its preStop hook first
        (none with no grace period), then its stop signal, then SIGKILL at the end of
        ``grace`` but at least 2 s after the signal."""
        handler = pre_stop_handler(spec) if grace > 0 else None
        runner = (hook_runner(self.backend, self.recorder, pod, info, spec, handler, grace)
                  if handler is not None else None)
        return Stop(info, grace, runner, MIN_GRACE)

    def _on_namespace(self, ns: Obj, deleted: bool) -> None:
        """A namespace's pod network is set up with the namespace, as a node's CNI network is
        ready before pods arrive: the first pod's start does not wait for a bridge (and its
        iptables rules) to be created. kube-system runs no pods here."""
        if not deleted and not terminating(ns) and name(ns) not in NO_POD_NETWORK:
            self.backend.submit(self._ensure_network, name(ns))

    def _ensure_network(self, ns: str) -> None:
        try:
            self.worker.network(ns)
        except KompyError as error:  # the first pod will try again, and report it
            log.warning("network of namespace %s: %s", ns, error)

    # -- the work -------------------------------------------------------------------------------
    def _sync_key(self, key: Hashable) -> None:
        self._sync(str(key))

    def _sync_failed(self, key: Hashable, error: Exception) -> float:
        """Any failure of a pod's sync is said where its user looks (a Warning event and a
        waiting reason on the pod) and retried with a back-off, never in a silent loop. The
        log gets one line; a traceback only the first time a pod meets an unexpected error
        (a bug of kompy's, not a Docker or input failure)."""
        pod_uid = str(key)
        with self._lock:
            pod = self._known.get(pod_uid)
            failures = self._failures[pod_uid] = self._failures.get(pod_uid, 0) + 1
        delay = error_backoff(failures)
        message = describe_error(error)
        where = self._describe(pod_uid)
        if isinstance(error, KompyError) or failures > 1:
            log.warning("pod %s: %s (retry in %.0f s)", where, message, delay)
        else:
            log.error("pod %s: sync failed (retry in %.0f s)", where, delay, exc_info=error)
        if pod is not None and pod_uid not in self._gone:
            if terminating(pod):
                self.recorder.warning(pod, "FailedKillPod", f"error killing pod: {message}")
            else:
                self.recorder.warning(pod, "FailedSync", f"error syncing pod: {message}")
                try:
                    self._write_status(pod, failed_status(self.statuses.view(pod),
                                                          "CreateContainerError", message))
                except KompyError as write_error:
                    log.warning("status of pod %s: %s", where, write_error)
        return delay

    def _describe(self, key: str) -> str:
        with self._lock:
            pod = self._known.get(key)
        return f"{namespace(pod)}/{name(pod)}" if pod else key

    def _sync(self, key: str) -> None:
        with self._lock:
            pod = self._known.get(key)
            gone = key in self._gone
        if pod is None:
            return
        if gone or terminating(pod):
            self._terminate(pod, gone)
            return
        mine = self.statuses.view(pod)  # the kubelet's status, not another writer's
        result = self.worker.sync(mine)
        self._write_status(pod, result.status)
        with self._lock:
            self._failures.pop(key, None)
        terminal = ("Succeeded", "Failed")
        if result.status.get("phase") in terminal and \
                (mine.get("status") or {}).get("phase") not in terminal:
            self.queue.add(key)  # once more, to release the finished pod's sandbox
        if result.retry is not None:
            self.queue.add_after(key, result.retry)
        renew = self.tokens.next_refresh(key)
        if renew is not None:
            self.queue.add_after(key, renew + 0.05)   # a projected token is due for renewal

    def _deleting(self, key: str) -> bool:
        """The pod is being deleted, or is gone from this kubelet already (deleted, or its
        node went down): nothing more is started for it."""
        with self._lock:
            pod = self._known.get(key)
            return key in self._gone or pod is None or terminating(pod)

    def _api_address(self) -> str | None:
        """The ``kubernetes`` Service's cluster IP, KUBERNETES_SERVICE_HOST in containers:
        the address the Service proxy serves it at (the one in its spec may still be the
        allocator's, before the proxy writes its own); None while the Service exists but is
        not served yet (a container must not start with an address that leads nowhere),
        "" without such a Service."""
        address = self.hosts.service_address(API_NAMESPACE, API_SERVICE)
        if address:
            return address
        service = self.services.get(API_NAMESPACE, API_SERVICE)
        if service is None:
            return ""
        # Waited for a few seconds at most: a proxy that cannot serve it must not keep every
        # pod from starting (they start without the variables, as with no such Service).
        created = str((service.get("metadata") or {}).get("creationTimestamp") or "")
        return None if _younger_than(created, API_WAIT_SECONDS) else ""

    def _write_status(self, pod: Obj, status: dict[str, Any]) -> None:
        """Write the kubelet's ``status`` of ``pod`` (as the API has it) unless the API holds
        it already; other writers' conditions and fields stay (:mod:`.statuses`). After three
        Conflicts in a row it gives up, and the status sweep tries again."""
        for _ in range(STATUS_WRITE_TRIES):
            merged = merge_foreign(pod.get("status") or {}, status)
            if same_status(pod.get("status") or {}, merged):
                self.statuses.record(pod)
                return
            try:
                updated = self.client.replace_status({**pod, "status": merged})
            except Conflict:
                try:
                    pod = self.client.get("pods", name(pod), namespace(pod))
                except NotFound:
                    return
                if uid(pod) not in self._known or terminating(pod):
                    return
                continue
            except NotFound:
                return
            self.statuses.record(updated)
            with self._lock:
                if uid(updated) in self._known and uid(updated) not in self._gone:
                    self._known[uid(updated)] = updated
            self.pods.upsert_local(updated)
            return
        log.warning("pod %s: its status write met %d Conflicts in a row; trying again within "
                    "%.0f s", self._describe(uid(pod)), STATUS_WRITE_TRIES,
                    statuses.SWEEP_SECONDS)
        self.statuses.gave_up(uid(pod))

    def _terminate(self, pod: Obj, gone: bool) -> None:
        """Stop the pod's containers, then remove them and the pod. The stop does not hold
        a worker: its containers are handed to the stopper (:mod:`.shutdown`), which calls
        back when they are gone, so many pods deleted at once stop together, each within
        its own grace period, as upstream's pod workers stop them."""
        key = uid(pod)
        grace = grace_seconds(pod)
        with self._lock:
            stopping = self._stopping.get(key)
        if stopping is not None and not stopping.done.is_set():
            self.stopper.shorten(stopping, max(grace, MIN_GRACE))
            return
        found = self.worker.containers(key)
        apps = [c for c in found if c.running and c.labels.get(LABEL_ROLE) != "sandbox"]
        if apps and stopping is None:
            self._stop_pod(pod, apps, grace)
            return
        self.backend.map(lambda c: self.backend.remove(c.id), found)
        volumes = [str(v.get("name")) for v in (pod.get("spec") or {}).get("volumes") or []
                   if "emptyDir" in v]
        self.worker.volumes.remove(key, volumes)
        if not gone:
            try:
                self.client.delete("pods", name(pod), namespace(pod), grace_period_seconds=0)
            except NotFound:
                pass
            except ApiError as error:
                log.warning("could not remove pod %s: %s", name(pod), error)
                self.queue.add_after(key, 5.0)
                return
        self._forget_pod(key)

    def _stop_pod(self, pod: Obj, apps: list[ContainerInfo], grace: int) -> None:
        """Hand the pod's running containers to the stopper: each runs its preStop hook,
        then gets its stop signal, and SIGKILL when the grace period ends (at least 2 s
        after the signal: upstream's minimumGracePeriodInSeconds)."""
        key = uid(pod)
        specs = _container_specs(pod)
        stops = []
        for c in apps:
            cname = c.labels.get(LABEL_CONTAINER, "")
            # A container being killed already (a probe's kill, a restart in place) is
            # joined: no second event or preStop hook (upstream's termination waits for
            # that kill and finds the container gone); the deletion only shortens it.
            if not self.stopper.stopping(c.id):
                self.recorder.normal(pod, "Killing", f"Stopping container {cname}")
            stops.append(self._stop_of(pod, c, specs.get(cname) or {}, grace))
        self.prober.forget(key)
        with self._lock:
            self._stopping[key] = self.stopper.begin(stops, lambda _left: self.queue.add(key))

    def _forget_pod(self, key: str) -> None:
        """Nothing of the pod is left on its node: let go of everything held for it."""
        self.prober.forget(key)
        self.worker.forget(key)
        self.worker.volumes.forget(key)
        self.tokens.forget(key)
        with self._lock:
            self._known.pop(key, None)
            self._gone.discard(key)
            self._failures.pop(key, None)
            self._stopping.pop(key, None)
        self.statuses.forget(key)
        self.queue.forget(key)        # its token renewal, a retry: nothing is left to do

    def _remove_orphans(self, informers: Informers) -> None:
        """After a daemon restart: containers of pods that no longer exist are removed; those
        of existing pods are simply found again by their labels (adopted, never duplicated)."""
        if not informers.wait_synced(60):
            return
        while True:
            try:
                containers = self.backend.list_containers({})
                break
            except KompyError as error:  # Docker is not there yet: try again
                log.warning("could not list containers to remove orphans: %s", error.message)
                if self.stop.wait(5.0):
                    return
        with self._lock:
            known = set(self._known)
        known |= {uid(p) for p in self.pods.list()}  # pods of nodes that are down count
        orphans = [c for c in containers
                   if c.labels.get(LABEL_POD_UID) and c.labels[LABEL_POD_UID] not in known]
        for c in orphans:
            log.info("removing container %s of a pod that no longer exists", c.name)
        self.backend.map(lambda c: self.backend.remove(c.id), orphans)

    # -- nodes ----------------------------------------------------------------------------------
    def add_node(self, node_name: str) -> NodeAgent:
        """Serve ``node_name``: the heartbeat thread boots its machine, registers it, and
        syncs its pods."""
        with self._lock:
            agent = self.agents.get(node_name)
            if agent is not None:
                return agent
            agent = self.agents[node_name] = NodeAgent(
                self.client, self.backend, node_name, self.worker.images.pause_image,
                self.config.max_pods, self.config.node_lease_duration_seconds)
        self._wake.set()
        return agent

    def _on_node(self, node: Obj, deleted: bool) -> None:
        node_name = name(node)
        if not deleted:
            if node_name not in self.agents:
                self.backend.submit(self.add_node, node_name)
            return
        with self._lock:
            agent = self.agents.pop(node_name, None)
        if agent is None:
            return
        self._power_off(agent)
        try:
            self.backend.remove(agent.container_name)
        except KompyError as error:
            log.info("node container of %s: %s", node_name, error)

    def _heartbeats(self) -> None:
        """Every quarter of the lease duration (or at once after a node container's death):
        each node's power is looked at, and each running node renews its Lease."""
        interval = max(self.config.node_lease_duration_seconds / 4, 0.25)
        while not self.stop.is_set():
            self._wake.clear()
            with self._lock:
                agents = list(self.agents.values())
            for agent in agents:
                if not agent.booted:
                    agent.safe(agent.boot, "start of its node container")
                powered = agent.powered()
                if powered and not agent.up:
                    self._power_on(agent)
                elif not powered and agent.up:
                    self._power_off(agent)
                if agent.up:
                    agent.safe(agent.heartbeat, "heartbeat")
            if self._wake.wait(interval):
                self.stop.wait(POWER_CHECK_DELAY)

    def _power_on(self, agent: NodeAgent) -> None:
        log.info("node %s is up", agent.name)
        agent.safe(agent.register, "registration")
        agent.up = True
        with self._lock:
            self._up.add(agent.name)
        for pod in self.pods.list():
            if (pod.get("spec") or {}).get("nodeName") == agent.name:
                self._on_pod(pod, False)

    def _power_off(self, agent: NodeAgent) -> None:
        """The machine is gone: so are its containers; its pods are no longer looked after
        (the node lifecycle controller sees its Lease age)."""
        log.warning("node %s is down", agent.name)
        agent.up = False
        with self._lock:
            self._up.discard(agent.name)
            gone = [k for k, p in self._known.items()
                    if (p.get("spec") or {}).get("nodeName") == agent.name]
        for key in gone:
            self._forget_pod(key)
        try:
            found = self.backend.list_containers({LABEL_NODE: agent.name})
        except KompyError as error:
            log.warning("containers of node %s: %s", agent.name, error)
            return
        self.backend.map(lambda c: self.backend.kill(c.id), [
            c for c in found if c.running and c.labels.get(LABEL_ROLE) != "node"])


def _container_specs(pod: Obj) -> dict[str, dict[str, Any]]:
    """The pod's init and app containers' specs by name."""
    spec = pod.get("spec") or {}
    return {str(c.get("name")): c
            for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]}


def _shutdown_step(c: ContainerInfo) -> int:
    """When ``c`` stops at a shutdown: app and init containers (0), then sandboxes, then
    the nodes' own containers (:data:`SHUTDOWN_STEPS`)."""
    role = c.labels.get(LABEL_ROLE, "")
    return SHUTDOWN_STEPS.index(role) + 1 if role in SHUTDOWN_STEPS else 0


def _same_desire(a: Obj, b: Obj) -> bool:
    """Same spec, deletion state (a second deletion may shorten the grace period) and
    restart request: a change of status alone needs no sync."""
    return bool(a.get("spec") == b.get("spec") and
                meta(a).get("deletionTimestamp") == meta(b).get("deletionTimestamp") and
                meta(a).get("deletionGracePeriodSeconds") ==
                meta(b).get("deletionGracePeriodSeconds") and
                restart_request(a) == restart_request(b))


def _younger_than(timestamp: str, seconds: float) -> bool:
    try:
        then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return False
    return (datetime.now(UTC) - then).total_seconds() < seconds
