"""``kompy dev``: deploy a Compose project to the built-in cluster, then keep it in step with
its sources until Ctrl-C, as ``skaffold dev`` and ``docker compose watch`` do.

1. Deploy as ``kompy up`` does (build, convert, apply, wait), remembering each built
   image's id.
2. Stream every pod's log, prefixed by service (:mod:`kompy.dev.logs`).
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
   A failing step is reported and the loop goes on watching: the next save may fix it.
4. Ctrl-C: stop watching and remove the project (``kompy down``, volumes kept), unless
   ``--keep``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from kompy.client import KubeClient
from kompy.errors import EXIT_OK, KompyError

IMAGE_IDS_ANNOTATION = "kompy.dev/image-ids"
ROLLED_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


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


def run_dev(request: DevRequest, out: TextIO, err: TextIO,
            stop: threading.Event | None = None) -> int:
    """Run until ``stop`` is set or Ctrl-C; the exit status."""
    session = DevSession(request, out, err, stop or threading.Event())
    return session.run()


class DevSession:
    def __init__(self, request: DevRequest, out: TextIO, err: TextIO,
                 stop: threading.Event) -> None:
        self.request = request
        self.out = out
        self.err = err
        self.stop = stop
        self.project: Any = None
        self.namespace = ""
        self.client: KubeClient | None = None
        self.options: Any = None                 # ConvertOptions, made once (they ask Docker)
        self.image_ids: dict[str, str] = {}      # image name -> id of the last build
        self.builds: dict[str, Any] = {}         # service -> BuildSpec it was built with
        self._out_lock = threading.Lock()

    # -- output --------------------------------------------------------------------------------
    def say(self, line: str) -> None:
        with self._out_lock:
            self.out.write(line + "\n")
            self.out.flush()

    def warn(self, line: str) -> None:
        with self._out_lock:
            self.err.write(line + "\n")
            self.err.flush()

    # -- the session ---------------------------------------------------------------------------
    def run(self) -> int:
        from kompy.cluster.daemon.process import ensure_cluster
        from kompy.dev.up import convert_options, namespace_of, published_urls

        self.project = self._load()
        self.namespace = namespace_of(self.project.name)
        self.options = convert_options(self.namespace)
        self.client = ensure_cluster(self.request.cluster)
        try:
            for url in published_urls(self._deploy(rebuild=None)):
                self.say(f"{url.service}: {url.text()}")
            if self.request.logs:
                from kompy.dev.logs import LogStreamer

                LogStreamer(self.client, self.namespace, self.out, self.stop).start()
            self._watch()
        except KeyboardInterrupt:
            self.say("\nstopping (Ctrl-C)")
        finally:
            self.stop.set()
            if self.request.cleanup:
                self._cleanup()
        return EXIT_OK

    def _watch(self) -> None:
        from kompy.dev.plan import watched_roots
        from kompy.dev.watcher import ChangeWatcher

        while not self.stop.is_set():
            roots = watched_roots(self.project, self._env_files())
            watcher = ChangeWatcher(roots)
            watcher.start()
            self.say(f"watching {len(roots) - len(watcher.missing)} paths for changes "
                     "(Ctrl-C to stop)")
            try:
                reloaded = self._serve(watcher, roots)
            finally:
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
            started = time.monotonic()
            try:
                plan = plan_changes(self.project, changed, self._config_files())
                if plan.empty():
                    continue
                if plan.reload:
                    self._reload()
                else:
                    self._carry_out(plan)
            except KompyError as error:
                self.warn(f"error: {error.format()}")
                continue
            self.say(f"up to date in {time.monotonic() - started:.2f} s")
            if plan.reload and watched_roots(self.project, self._env_files()) != roots:
                return True
        return False

    # -- deploying -----------------------------------------------------------------------------
    def _load(self) -> Any:
        from kompy.dev.up import UpRequest, load

        r = self.request
        project, diagnostics = load(UpRequest(
            files=r.files, project_directory=r.project_directory,
            project_name=r.project_name, env_files=r.env_files, profiles=r.profiles,
            environ=r.environ))
        for diagnostic in diagnostics:
            self.warn(f"warning: {diagnostic.format()}")
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
        convert, apply, prune and wait for the rollout; the objects applied."""
        from kompy.dev.builder import BuildPlan, build_images, plan_builds
        from kompy.dev.readiness import WORKLOAD_KINDS, wait_ready
        from kompy.dev.up import apply_all, convert_project, prune

        assert self.client is not None
        conversion = convert_project(self.project, self.options, [])
        plan = plan_builds(self.project, self.options)
        wanted = [s for s in plan.specs if rebuild is None or s.service in rebuild]
        if wanted:
            self.image_ids.update(build_images(BuildPlan(tuple(wanted)), self.say))
        self.builds = {s.service: s for s in plan.specs}
        stamp_image_ids(conversion.objects, self.image_ids)
        applied = apply_all(self.client, self.namespace, conversion.objects, self.say)
        prune(self.client, self.namespace, applied, self.say)
        workloads = [(o["kind"], o["metadata"]["name"]) for o in conversion.objects
                     if o.get("kind") in WORKLOAD_KINDS]
        wait_ready(self.client, self.namespace, workloads, self.request.wait_timeout, self.say)
        return list(conversion.objects)

    def _reload(self) -> None:
        self.say("project changed: reloading")
        from kompy.dev.builder import plan_builds

        before = dict(self.builds)
        self.project = self._load()   # an invalid edit raises: the old project stays
        specs = plan_builds(self.project, self.options).specs
        changed = [s.service for s in specs if before.get(s.service) != s]
        self._deploy(rebuild=changed)

    # -- changes to running pods -----------------------------------------------------------
    def _carry_out(self, plan: Any) -> None:
        rebuild = sorted(name for name, p in plan.services.items() if p.rebuild)
        for name in sorted(plan.services):
            service_plan = plan.services[name]
            if not service_plan.rebuild:
                self._update_pods(name, service_plan)
        if rebuild:
            self.say(f"rebuilding {', '.join(rebuild)}")
            self._deploy(rebuild=rebuild)

    def _update_pods(self, service: str, plan: Any) -> None:
        from kompy.dev import sync

        assert self.client is not None
        target = self._target(service)
        pods = sync.running_pods(self.client, target)
        if not pods:
            self.warn(f"warning: {service}: no running pod to update")
            return
        started = time.monotonic()
        if plan.syncs:
            sync.sync(self.client, target, pods, plan.syncs)
            files = len(plan.syncs)
            self.say(f"{service}: synced {files} file{'s' * (files != 1)} into "
                     f"{len(pods)} pod{'s' * (len(pods) != 1)} "
                     f"({time.monotonic() - started:.2f} s)")
        for command in plan.exec_commands:
            for pod in pods:
                output = sync.run_command(self.client, target, pod, command)
                for line in output.decode(errors="replace").splitlines():
                    self.say(f"{service} (exec) | {line}")
        if plan.restart:
            sync.request_restart(self.client, target, pods)
            self.say(f"{service}: restarting {len(pods)} pod{'s' * (len(pods) != 1)} "
                     "in place")

    def _target(self, service: str) -> Any:
        from kompy.convert.context import ConvertContext, k8s_name
        from kompy.dev.sync import Target

        svc = self.project.services[service]
        ctx = ConvertContext(self.project, self.options)
        selector = ",".join(f"{k}={v}" for k, v in sorted(ctx.selector(svc).items()))
        return Target(self.namespace, selector, k8s_name(svc.container_name or svc.name))

    # -- the end -------------------------------------------------------------------------------
    def _cleanup(self) -> None:
        from kompy.dev.down import DownRequest, run_down

        r = self.request
        self.say("removing the project from the cluster (--keep leaves it running)")
        try:
            run_down(DownRequest(files=r.files, project_directory=r.project_directory,
                                 project_name=self.project.name if self.project else
                                 r.project_name, env_files=r.env_files, cluster=r.cluster,
                                 environ=r.environ), self.out, self.err)
        except KompyError as error:
            self.warn(f"error: {error.format()}")


def stamp_image_ids(objects: list[dict[str, Any]], image_ids: Mapping[str, str]) -> None:
    """Record in each rolled workload's pod template the ids of the built images its
    containers run: a rebuilt image changes the template, and so rolls the pods."""
    for obj in objects:
        if obj.get("kind") not in ROLLED_KINDS:
            continue
        template = (obj.get("spec") or {}).get("template") or {}
        pod_spec = template.get("spec") or {}
        ids = sorted(f"{c.get('name')}={image_ids[str(c.get('image'))]}"
                     for c in [*(pod_spec.get("initContainers") or []),
                               *(pod_spec.get("containers") or [])]
                     if str(c.get("image")) in image_ids)
        if ids:
            annotations = template.setdefault("metadata", {}).setdefault("annotations", {})
            annotations[IMAGE_IDS_ANNOTATION] = ",".join(ids)
