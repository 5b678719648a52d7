"""``kompy dev``: deploy a Compose project to the built-in cluster, then keep it in step with
its sources until Ctrl-C, as ``skaffold dev`` and ``docker compose watch`` do.

1. Deploy as ``kompy up`` does (build, convert, apply, wait), remembering each built
   image's id.
2. Stream every pod's log, prefixed by service; a crashed container's last words in red
   with its exit code (:mod:`kompy.dev.logs`). kompy's own lines start with ``[kompy]``.
3. Watch the sources (:mod:`kompy.dev.watcher`); each debounced batch of changes becomes a
   plan (:mod:`kompy.dev.plan`) that the loop carries out:
   - ``sync`` rules copy (and delete) files in the running containers, ``sync+restart`` and
     ``restart`` then restart them in place, ``sync+exec`` runs a command
     (:mod:`kompy.dev.sync`);
   - ``rebuild`` rules (and, as Skaffold does, any change in the build context of a service
     without ``develop`` rules) rebuild only that service's image and re-apply. Each
     workload's pod template carries the ids of the images it runs
     (``kompy.dev/image-ids``), so a new image is a new template: a rolling update, while
     a rebuild that changed nothing (a cache hit) changes nothing;
   - a changed Compose file or env file re-loads the project and re-deploys it (rebuilding
     the images whose build settings changed); an invalid edit is reported and the last
     good project keeps running.
   What is synced is remembered and synced again into every container that starts later
   (:mod:`kompy.dev.tracker`); a batch is "up to date" only once every pod it touched has
   restarted, has the files and is ready, and a crash after it is said in red. A failing
   step is reported and the loop goes on watching: the next save may fix it (a crashed
   container is started again at once to try it).
4. Ctrl-C: stop watching and remove the project (``kompy down``, volumes kept), unless
   ``--keep``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, TextIO

from kompy.client import KubeClient
from kompy.dev.console import Console
from kompy.dev.target import ClusterTarget
from kompy.dev.tracker import PodTracker
from kompy.dev.up import count
from kompy.errors import EXIT_OK, ClusterUnreachable, KompyError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DevRequest:
    files: tuple[str, ...] = ()
    project_directory: str | None = None
    project_name: str | None = None
    env_files: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    cluster: str | None = None
    environ: Mapping[str, str] | None = None
    cleanup: bool = True
    logs: bool = True
    wait_timeout: float = 120.0
    target: ClusterTarget | None = None   # another cluster (--context); None: the built-in one
    # The longest a pod of the session gets to stop (rollouts, restarts, the clean-up).
    grace_period: int = 2

    def where(self) -> ClusterTarget:
        return self.target or ClusterTarget(cluster=self.cluster)


def run_dev(request: DevRequest, out: TextIO, err: TextIO,
            stop: threading.Event | None = None) -> int:
    """Run until ``stop`` is set or Ctrl-C; the exit status."""
    session = DevSession(request, out, err, stop or threading.Event())
    return session.run()


class DevSession:
    def __init__(self, request: DevRequest, out: TextIO, err: TextIO,
                 stop: threading.Event) -> None:
        self.request = request
        self.console = Console(out, err, tag="[kompy]")
        self.out = out
        self.err = err
        self.stop = stop
        self.project: Any = None
        self.namespace = ""
        self.client: KubeClient | None = None
        self.tracker: PodTracker | None = None
        self.logs: Any = None                    # the LogStreamer, unless --no-logs
        self.options: Any = None                 # ConvertOptions, made once (they ask Docker)
        self.target = request.where()
        self.images: dict[str, Any] = {}         # service -> ServiceImage of the last build
        self.builds: dict[str, Any] = {}         # service -> BuildSpec it was built with
        self.status: Any = None                  # DevStatus, written for the dashboard
        # Whether a newer change interrupts a rollout wait (the watcher's pending batch), and
        # whether the last one was interrupted (superseded: no "up to date" for it).
        self.newer_change: Callable[[], bool] | None = None
        self.superseded = False
        # service -> its newest image to name and untag once a rollout is done (tidy_tags)
        self.untidy: dict[str, Any] = {}

    def say(self, line: str, style: str = "") -> None:
        self.console.say(line, style)

    # -- the session ---------------------------------------------------------------------------
    def run(self) -> int:
        from kompy.dev.up import convert_options, namespace_of

        self.project = self._load()
        self.namespace = namespace_of(self.project.name, self.target)
        self.options = convert_options(self.namespace, self.target)
        from kompy.dev.status import DevStatus

        self._set_status(DevStatus(self.project.name, self.namespace), first=True)
        unreachable = False
        try:
            deploy_started = time.monotonic()
            objects = self._deploy(rebuild=None)
            self._set_status(self.status.with_change("deploy", sorted(self.project.services),
                                                     time.monotonic() - deploy_started, True))
            assert self.client is not None
            self._publish(objects)
            self._announce_ingresses()
            self.tracker = PodTracker(self.client, self.namespace, self.console, self.stop)
            self.tracker.extras = self.target.extras
            self.tracker.start()
            self._set_targets()
            if self.request.logs:
                from kompy.dev.logs import LogStreamer

                self.logs = LogStreamer(self.client, self.namespace, self.console, self.stop)
                self.logs.start()
            self._initial_sync()
            self._set_status(replace(self.status, state="watching", watched=tuple(sorted(
                n for n, s in self.project.services.items() if s.develop or s.build))))
            self._watch()
        except KeyboardInterrupt:
            self.console.lines("\n")
            self.say("stopping (Ctrl-C)")
        except KompyError as error:   # the first build or deploy failed: the panel says why
            self._set_status(self.status.with_change("deploy", [], 0.0, False, error.format()))
            unreachable = isinstance(error, ClusterUnreachable)
            raise
        finally:
            self._set_status(replace(self.status, state="stopped"))
            self.stop.set()
            # A cluster that never answered holds nothing of the session's, and a clean-up
            # would only fail the same way (its error printed a second time).
            cleanup = self._cleanup if self.request.cleanup and self.client is not None \
                and not unreachable else None
            tidy_beside(self._tidy, cleanup)
        return EXIT_OK

    def _initial_sync(self) -> None:
        """The ``initial_sync`` rules' files into the running containers (kompy/dev/plan.py
        says what), before watching; and a word on what this cluster cannot honour."""
        from kompy.dev.plan import initial_plans

        self._warn_privileged()
        plans = initial_plans(self.project)
        if not plans:
            return
        started, since = time.monotonic(), time.time()
        touched = []
        for name, plan in sorted(plans.items()):
            self.say(f"{name}: initial sync of {count(len(plan.syncs), 'file')}")
            try:
                if self._update_pods(name, plan):
                    touched.append(name)
            except KompyError as error:
                self.console.error(error.format())
        if touched:
            assert self.tracker is not None
            self.tracker.settle(touched, since, self.request.wait_timeout, lambda: False)
            self.say(f"initial sync done in {time.monotonic() - started:.2f} s")

    def _warn_privileged(self) -> None:
        if self.target.extras:
            return   # run through the engine with privileges (kompy/dev/engine_sync.py)
        for name in sorted(self.project.services):
            service = self.project.services[name]
            for rule in service.develop.watch if service.develop else ():
                block = rule.extra.get("exec") or {}
                if str(block.get("privileged")).lower() == "true":
                    self.console.warn(f"{name}: exec.privileged of the rule for {rule.path} "
                                      "cannot be granted through the Kubernetes exec API: "
                                      "the command runs unprivileged (the built-in cluster's "
                                      "extras grant it)")

    def _publish(self, objects: list[dict[str, Any]]) -> None:
        """Say where the published ports answer: the built-in cluster's host ports, or
        port-forwards of this session (extras off, or another cluster)."""
        from kompy.dev.up import published_urls

        assert self.client is not None
        if self.target.extras:
            for url in published_urls(objects):
                self.say(f"{url.service}: {url.text()}")
            return
        from kompy.dev.forward import start_forwards

        urls = published_urls(objects, with_extras=False)
        for url in start_forwards(self.client, self.namespace, urls, self.console.warn,
                                  self.stop):
            self.say(f"{url.service}: {url.text()} (port-forward to service "
                     f"{url.k8s_service}:{url.port})")

    def _announce_ingresses(self) -> None:
        """The Ingress URLs now and after each change to them, from a thread of their own."""
        from kompy.convert.context import LABEL_PART_OF, label_value
        from kompy.dev.ingress_watch import IngressAnnouncer

        assert self.client is not None
        IngressAnnouncer(self.client, self.target, self.namespace,
                         f"{LABEL_PART_OF}={label_value(self.project.name)}", self.console,
                         self.stop).start()

    def _watch(self) -> None:
        from kompy.dev.plan import watched_roots
        from kompy.dev.watcher import ChangeWatcher

        while not self.stop.is_set():
            roots = watched_roots(self.project, self._env_files())
            watcher = ChangeWatcher(roots)
            watcher.start()
            self.say(f"watching {len(roots) - len(watcher.missing)} paths for changes "
                     "(Ctrl-C to stop)")
            self.newer_change = watcher.pending
            try:
                reloaded = self._serve(watcher, roots)
            finally:
                self.newer_change = None
                watcher.stop()
            if not reloaded:
                return

    def _serve(self, watcher: Any, roots: list[str]) -> bool:
        """Carry out change batches until stopped (False) or until the folders to watch
        changed after a reload (True)."""
        from kompy.dev.plan import plan_changes, watched_roots

        while not self.stop.is_set():
            changed = watcher.next_batch(timeout=0.5)
            if not changed:
                continue
            started, since = time.monotonic(), time.time()
            plan = None
            self.superseded = False
            try:
                plan = plan_changes(self.project, changed, self._config_files())
                if plan.empty():
                    continue
                if plan.reload:
                    self._reload()
                    touched: list[str] = []
                else:
                    touched = self._carry_out(plan)
            except KompyError as error:
                self.console.error(error.format())
                self._record(plan, [], started, error.format())
                continue
            if self.superseded:   # a newer change came during the rollout: on to it
                self.say("a newer change came: carrying it out (the rollout goes on)")
            else:
                self._report(touched, since, started, watcher)
            self._record(plan, touched, started)
            if any(plan.services[name].restart for name in touched):
                threading.Thread(target=self._warm, args=(touched,), name="dev-warm",
                                 daemon=True).start()
            if plan.reload and watched_roots(self.project, self._env_files()) != roots:
                return True
        return False

    def _warm(self, services: list[str]) -> None:
        """After an in-place restart, the sync helpers of the restarted containers are
        started again at once (kompy/dev/sync.py), not by the next save, which would wait
        for them."""
        from kompy.dev import sync

        assert self.client is not None
        for service in services:
            target = self._target(service)
            try:
                running = [p.name for p in sync.target_pods(self.client, target) if p.running]
                if running:
                    sync.warm(self.client, target, running)
            except KompyError as error:   # the next sync starts them (and reports)
                log.debug("sync helpers of %s: %s", service, error)

    def _report(self, services: list[str], since: float, started: float, watcher: Any
                ) -> None:
        """Wait until the pods of ``services`` took the batch, then say how it went: "up to
        date" only once restarts are done and new containers have the files."""
        assert self.tracker is not None
        verdicts = self.tracker.settle(services, since, self.request.wait_timeout,
                                       watcher.pending) if services else {}
        bad = {s: v for s, v in verdicts.items() if v.state in ("crashed", "failed")}
        for service, verdict in sorted(bad.items()):
            if self.logs is not None and verdict.container:
                self.logs.wait_shown(verdict.container, 3.0)   # its output first
            word = "crashed" if verdict.state == "crashed" else "cannot start"
            self.say(f"{service} {word} after the change ({verdict.text}): fix it and save, "
                     "kompy goes on watching", "red")
        pending = sorted(s for s, v in verdicts.items() if v.state == "pending")
        if pending and not watcher.pending():
            self.console.warn(f"{', '.join(pending)}: not ready after "
                              f"{self.request.wait_timeout:g} s (kompy get pods -n "
                              f"{self.namespace})")
        if not bad and not pending:
            self.say(f"up to date in {time.monotonic() - started:.2f} s", "green")

    def _record(self, plan: Any, touched: list[str], started: float, error: str = "") -> None:
        """The batch just carried out (or failed: a build error, an invalid edit)."""
        kind = "change"
        if plan is not None:
            kind = "reload" if plan.reload else "rebuild" if any(
                p.rebuild for p in plan.services.values()) else "sync"
        services = touched or (sorted(plan.services) if plan is not None else [])
        self._set_status(self.status.with_change(kind, services, time.monotonic() - started,
                                                 not error, error))

    def _set_status(self, status: Any, first: bool = False) -> None:
        """The status file the dashboard's dev panel reads. A folder that cannot be written
        at the ``first`` write, before anything is deployed, is the user's error (KOMPY_HOME
        is wrong), as for ``kompy cluster start``; a later failure is logged, never a reason
        to stop the loop."""
        from kompy.dev.status import unwritable, write_status

        self.status = status
        try:
            write_status(status)
        except OSError as error:
            if first:
                raise unwritable(status, error) from None
            log.debug("dev status not written: %s", error)

    # -- deploying -----------------------------------------------------------------------------
    def _load(self) -> Any:
        from kompy.dev.up import UpRequest, load

        r = self.request
        project, diagnostics = load(UpRequest(
            files=r.files, project_directory=r.project_directory,
            project_name=r.project_name, env_files=r.env_files, profiles=r.profiles,
            environ=r.environ))
        for diagnostic in diagnostics:
            self.console.warn(diagnostic.format())
        return project

    def _env_files(self) -> list[str]:
        return [os.path.abspath(f) for f in self.request.env_files]

    def _config_files(self) -> list[str]:
        """Files whose change means loading the project again (:func:`plan.config_files`,
        plus the --env-file files the project does not record)."""
        from kompy.dev.plan import config_files

        return [*config_files(self.project), *self._env_files()]

    def _deploy(self, rebuild: Collection[str] | None) -> list[dict[str, Any]]:
        """Build (all services with ``build:`` when ``rebuild`` is None, else those named),
        convert, apply, prune and wait for the rollout; the objects applied. The first
        deploy also starts the cluster (after its checks, while the images build)."""
        from kompy.dev.builder import BuildPlan, plan_builds
        from kompy.dev.readiness import WORKLOAD_KINDS, wait_ready
        from kompy.dev.target import limit_grace
        from kompy.dev.up import (
            apply_all,
            convert_project,
            prune,
            start_and_build,
            use_built,
        )

        plan = plan_builds(self.project, self.options)
        wanted = BuildPlan(tuple(s for s in plan.specs
                                 if rebuild is None or s.service in rebuild))
        tidy_later: list[Any] = []
        if self.client is None:   # a project that cannot be converted fails before a build
            conversion = convert_project(self.project, self.options, [])
            self.client, built = start_and_build(self.target, wanted, True, self.console)
            self.target.use_run_states(self.client, self.namespace)
        else:
            with ThreadPoolExecutor(1, thread_name_prefix="kompy-convert") as pool:
                # The manifests are made while the images build (the engine's work): a
                # rebuild waits for the longer of the two, not for both in turn. Not
                # sooner: the content hashes before the build are Python's work too, and
                # would wait for the conversion's turns at the GIL (20-30 ms).
                converting: list[Any] = []

                def convert() -> None:
                    if not converting:
                        converting.append(pool.submit(convert_project, self.project,
                                                      self.options, []))
                built = tidy_later = self._build(wanted, convert)
                convert()   # nothing was built (every image up to date)
                conversion = converting[0].result()
        self.images.update({image.service: image for image in built})
        if self.tracker is not None:
            for image in built:   # a new image has the files: nothing to re-sync
                if image.built:
                    self.tracker.forget(image.service)
        self.builds = {s.service: s for s in plan.specs}
        use_built(conversion.objects, list(self.images.values()), self.target)
        limit_grace(conversion.objects, self.request.grace_period)
        self.say(f"applying {count(len(conversion.objects), 'object')} to namespace "
                 f"{self.namespace}")
        applied = apply_all(self.client, self.namespace, conversion.objects, self.say)
        prune(self.client, self.namespace, applied, self.say)
        workloads = [(o["kind"], o["metadata"]["name"]) for o in conversion.objects
                     if o.get("kind") in WORKLOAD_KINDS]
        for image in tidy_later:
            older = self.untidy.get(image.service)
            self.untidy[image.service] = replace(image, built=image.built or (
                older is not None and older.built))
        if wait_ready(self.client, self.namespace, workloads, self.request.wait_timeout,
                      self.say, interrupted=self.newer_change):
            self._tidy()   # the Compose names and old tags, once the new pods run
        else:
            self.superseded = True   # tidied after the rollout of the newer change
        return list(conversion.objects)

    def _tidy(self) -> None:
        """Name and untag the images of rollouts whose wait a newer change cut short (the
        session ends before another rollout finished)."""
        from kompy.dev.images import tidy_tags

        try:
            tidy_tags(list(self.untidy.values()))
        except KompyError as error:
            log.debug("images not tidied: %s", error)
        self.untidy = {}

    def _build(self, wanted: Any, building: Callable[[], None]) -> list[Any]:
        """Build the images of a running session (named and untagged once the new pods
        run: :func:`kompy.dev.images.tidy_tags`); ``building()`` is called as a build
        starts."""
        from kompy.dev.builder import BuildPlan, build_images
        from kompy.dev.images import ImageTarget, prepare

        if not wanted.specs:
            return []

        def build_one(spec: Any) -> str:
            building()
            return build_images(BuildPlan((spec,)), self.console)[spec.image]
        return prepare(wanted.specs, ImageTarget(self.target.default_repo, self.target.pushes),
                       build_one, self.say, push_out=self.console.err,
                       terminal=self.console.terminal, tidy=False)

    def _reload(self) -> None:
        self.say("project changed: reloading")
        from kompy.dev.builder import plan_builds

        before = dict(self.builds)
        self.project = self._load()   # an invalid edit raises: the old project stays
        specs = plan_builds(self.project, self.options).specs
        changed = [s.service for s in specs if before.get(s.service) != s]
        self._deploy(rebuild=changed)
        self._set_targets()

    def _set_targets(self) -> None:
        assert self.tracker is not None
        for name in self.project.services:
            self.tracker.target(name, self._target(name))

    # -- changes to running pods -----------------------------------------------------------
    def _carry_out(self, plan: Any) -> list[str]:
        """Carry out a batch; the services whose pods were updated in place."""
        if not self.target.extras:
            self._without_in_place_restarts(plan)
        rebuild = sorted(name for name, p in plan.services.items() if p.rebuild)
        touched = []
        for name in sorted(plan.services):
            service_plan = plan.services[name]
            if not service_plan.rebuild and self._update_pods(name, service_plan):
                touched.append(name)
        if rebuild:
            self.say(f"rebuilding {', '.join(rebuild)}")
            self._deploy(rebuild=rebuild)
        return touched

    def _without_in_place_restarts(self, plan: Any) -> None:
        """Where containers cannot be restarted in place, a new container starts from the
        image, without synced files: a ``sync+restart`` of files the image is built from
        becomes a rebuild (the new image has them; then the restart reads them)."""
        from kompy.dev.plan import builds_from

        for name, service_plan in plan.services.items():
            if service_plan.rebuild or not (service_plan.restart and service_plan.syncs):
                continue
            service = self.project.services[name]
            if builds_from(service, [op.host_path for op in service_plan.syncs]):
                self.say(f"{name}: no in-place restarts on this cluster: rebuilding the "
                         "image, which has the synced files")
                service_plan.rebuild = True
                service_plan.syncs, service_plan.restart = [], False
                service_plan.exec_commands = []

    def _update_pods(self, service: str, plan: Any) -> bool:
        """Sync, run commands and restart in the service's pods; whether there were any.
        What is synced is remembered, for containers that start later
        (:class:`kompy.dev.tracker.PodTracker`): one that crashed and waits out its
        back-off is started again at once, to try the change."""
        from kompy.dev import sync

        assert self.client is not None and self.tracker is not None
        target = self._target(service)
        with self.tracker.lock:
            record = self.tracker.record(service)
            before = record.generation
            record.add(plan)
            pods = sync.target_pods(self.client, target)
            running = [p for p in pods if p.running]
            if not pods:
                self.console.warn(f"{service}: no pod to update (the change is kept for "
                                  "the next one)")
                return False
            started = time.monotonic()
            running, behind, crashed = self._sync_into(service, target, running, plan,
                                                       before)
            if plan.syncs and running:
                self.say(f"{service}: synced {count(len(plan.syncs), 'file')} into "
                         f"{count(len(running), 'pod')} ({time.monotonic() - started:.2f} s)")
            self.tracker.mark_synced(service, [p.container_id for p in running])
            stopped = [p for p in pods if not p.running] + crashed
            restart = pods if plan.restart else [*stopped, *(behind if record.restart else [])]
            if restart and not self.target.extras:
                sync.restart_by_deleting(self.client, target, [p.name for p in restart],
                                         self.request.grace_period)
            elif restart:
                sync.drop_helpers(self.client, target, [p.name for p in restart])
                at = sync.request_restart(self.client, target, [p.name for p in restart])
                self.tracker.mark_restart([p.container_id for p in restart if p in running], at)
            if plan.restart and running:
                how = "in place" if self.target.extras else "(new pods: their files are " \
                    "synced again once they run)"
                self.say(f"{service}: restarting {count(len(running), 'pod')} {how}")
            if stopped:
                self.say(f"{service}: {count(len(stopped), 'pod')} waiting to restart after "
                         "a crash: starting now, with the change")
        return True

    def _sync_into(self, service: str, target: Any, running: list[Any], plan: Any,
                   before: int) -> tuple[list[Any], list[Any], list[Any]]:
        """Sync and run the commands in each running pod; the pods where that worked. A
        container that has not had the earlier changes yet (it just started) gets them
        all. A container that stopped meanwhile (a crash loop) is left to the tracker,
        which syncs the next one: (synced, synced with everything, stopped)."""
        from kompy.dev import sync

        assert self.client is not None and self.tracker is not None
        everything = list(self.tracker.record(service).ops.values())
        late = [p for p in running
                if before and self.tracker.synced.get(p.container_id) != before]
        current = [p for p in running if p not in late]
        done: list[Any] = []
        stopped: list[Any] = []
        for pods, ops in ((current, plan.syncs), (late, everything)):
            if not pods or not ops:
                done += pods
                continue
            try:   # all at once (sync keeps a helper per pod, and works on them together)
                sync.sync(self.client, target, [p.name for p in pods], ops)
                done += pods
                continue
            except KompyError:
                pass
            for pod in pods:   # something failed: pod by pod, to tell a crash from a fault
                if self._sync_one(target, pod, ops):
                    done.append(pod)
                else:
                    stopped.append(pod)
        for command in plan.exec_commands:
            for pod in list(done):
                try:
                    output = sync.run_command(self.client, target, pod.name, command,
                                              self.target.extras)
                except KompyError:
                    if _still_running(pod.container_id):
                        raise
                    done.remove(pod)
                    stopped.append(pod)
                    continue
                for line in output.decode(errors="replace").splitlines():
                    self.console.lines(f"{service} (exec) | {line}\n")
        return done, [p for p in late if p in done], stopped

    def _sync_one(self, target: Any, pod: Any, ops: Any) -> bool:
        """Sync into one pod; False when its container stopped (a crash), a ClusterError
        when it runs and the sync itself fails (no tar, a read-only folder)."""
        from kompy.dev import sync

        assert self.client is not None
        for attempt in range(3):
            try:
                sync.sync(self.client, target, [pod.name], ops)
                return True
            except KompyError:
                if not _still_running(pod.container_id):
                    return False
                if attempt == 2:
                    raise
                time.sleep(0.2)  # perhaps caught in an in-place restart: try again
        return False

    def _target(self, service: str) -> Any:
        from kompy.convert.context import ConvertContext, k8s_name
        from kompy.dev.sync import Target

        svc = self.project.services[service]
        ctx = ConvertContext(self.project, self.options)
        selector = ",".join(f"{k}={v}" for k, v in sorted(ctx.selector(svc).items()))
        return Target(self.namespace, selector, k8s_name(svc.container_name or svc.name),
                      self.target.extras)

    # -- the end -------------------------------------------------------------------------------
    def _cleanup(self) -> None:
        """Remove what the session made, each pod within the session's grace period; a
        second Ctrl-C forces: every pod deleted at once (grace period 0), no waiting."""
        from kompy.dev.down import DownRequest, run_down

        r = self.request
        self.say("removing the project from the cluster (--keep leaves it running; Ctrl-C "
                 "again forces it)")
        try:
            run_down(DownRequest(files=r.files, project_directory=r.project_directory,
                                 project_name=self.project.name if self.project else
                                 r.project_name, env_files=r.env_files, cluster=r.cluster,
                                 environ=r.environ, target=self.target,
                                 grace_period=r.grace_period), self.out, self.err,
                     self.client)
        except KeyboardInterrupt:
            self.console.lines("\n")
            self._force_cleanup()
        except KompyError as error:
            self.console.error(error.format())

    def _force_cleanup(self) -> None:
        from kompy.dev.down import force_delete

        assert self.client is not None
        self.say("forcing: deleting the pods at once (grace period 0) and the namespace")
        try:
            force_delete(self.client, self.namespace)
        except KompyError as error:
            self.console.error(error.format())


TIDY_WAIT_SECONDS = 30.0


def tidy_beside(tidy: Callable[[], None], cleanup: Callable[[], None] | None,
                wait: float = TIDY_WAIT_SECONDS) -> None:
    """At the session's end, ``tidy`` (the images' names and old tags: engine calls of about
    0.6 s) on a thread of its own while ``cleanup`` runs, rather than before it, which kept
    the clean-up waiting at Ctrl-C. The session ends without it after ``wait`` seconds: an
    untidied image keeps an old tag, which the next session's tidying removes."""
    tidying = threading.Thread(target=tidy, name="tidy-images", daemon=True)
    tidying.start()
    if cleanup is not None:
        cleanup()
    tidying.join(wait)


def _still_running(container_id: str) -> bool:
    """Docker's word on the built-in cluster (the pod status may lag behind a crash by a
    moment), the pod status elsewhere (kompy/dev/runstate.py)."""
    from kompy.dev.runstate import still_running

    return still_running(container_id)
