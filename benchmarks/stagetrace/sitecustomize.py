"""Stage timestamps for benchmarks/bench_dev_stages.py (never part of kompy itself).

Python imports ``sitecustomize`` at start-up from the path: with this folder on PYTHONPATH
and ``KOMPY_STAGE_TRACE`` naming a file, every process of the run (``kompy dev`` and the
cluster's daemon, which inherits the environment) wraps the functions named in STAGES as
their modules are imported, and appends one JSON line per call: start and end (epoch
seconds), process, thread, name and a short argument. Without ``KOMPY_STAGE_TRACE`` it does
nothing.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.util
import json
import os
import sys
import threading
import time
from typing import Any

PATH = os.environ.get("KOMPY_STAGE_TRACE")
# module -> functions (Class.method) whose calls are timed: the steps of a rebuild from the
# file event to the proxy's switch (see docs/dev.md, "Where a rebuild's time goes").
STAGES: dict[str, tuple[str, ...]] = {
    "kompy.dev.watcher": ("ChangeWatcher._add",),
    "kompy.dev.plan": ("plan_changes",),
    "kompy.dev.images": ("prepare", "tidy_tags"),
    "kompy.dev.up": ("apply_all", "prune", "convert_project"),
    "kompy.dev.readiness": ("wait_ready",),
    "kompy.dev.loop": ("DevSession._deploy",),
    "kompy.engine.images": ("build_image", "inspect_image"),
    "kompy.engine.contexthash": ("build_digest",),
    "kompy.cluster.controllers.deployment": ("DeploymentController.sync",),
    "kompy.cluster.controllers.replicaset": ("ReplicaSetController._create_pod",),
    "kompy.cluster.controllers.endpoints": ("EndpointsController.sync",),
    "kompy.cluster.scheduler.scheduler": ("Scheduler._attempt",),
    "kompy.cluster.proxy.proxier": ("ServiceProxy.sync",),
    "kompy.cluster.kubelet.kubelet": ("Kubelet._sync", "Kubelet._write_status"),
    "kompy.cluster.kubelet.podworker": ("PodWorker._prepare_volumes", "PodWorker._write_hosts"),
    "kompy.cluster.kubelet.docker_backend": ("DockerBackend.create", "DockerBackend.start",
                                             "DockerBackend.inspect", "DockerBackend.stop"),
}
_lock = threading.Lock()


def _argument(args: tuple[Any, ...]) -> str:
    for arg in args[1:3]:
        if isinstance(arg, dict) and (arg.get("metadata") or {}).get("name"):
            return f"{arg.get('kind', '')}/{arg['metadata']['name']}"
        if isinstance(arg, (str, tuple)):
            return str(arg)[:60]
    return ""


def _timed(fn: Any, label: str) -> Any:
    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Any:
        began = time.time()
        try:
            return fn(*args, **kwargs)
        finally:
            line = json.dumps({"t0": began, "t1": time.time(), "pid": os.getpid(),
                               "th": threading.current_thread().name, "n": label,
                               "a": _argument(args)})
            with _lock, open(str(PATH), "a") as out:
                out.write(line + "\n")
    return timed


def _wrap(module: Any) -> None:
    for dotted in STAGES.get(module.__name__, ()):
        owner = module
        *path, last = dotted.split(".")
        for part in path:
            owner = getattr(owner, part)
        setattr(owner, last, _timed(getattr(owner, last), dotted))


class _Finder(importlib.abc.MetaPathFinder):
    """Finds the traced modules as usual, and wraps their functions once executed."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in STAGES:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            execute(module)
            _wrap(module)
        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if PATH:
    sys.meta_path.insert(0, _Finder())
