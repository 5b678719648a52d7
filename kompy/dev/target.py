"""Which cluster ``kompy up``/``down``/``dev`` work on, and what they may use of it.

The built-in cluster (no ``--kubeconfig``/``--context``) is started on demand and shares the
Docker engine, so built images need no push. Any other cluster is reached through its
kubeconfig with the same client and the same standard API calls; images reach it through a
registry (``--default-repo``, pushed).

Two things the built-in cluster does beyond Kubernetes, its *extras*, are used only when
``builtin_extras`` is on (the default for the built-in cluster, off for any other; switch
them off with ``--no-builtin-extras`` or ``KOMPY_BUILTIN_EXTRAS=0`` to run the built-in
cluster exactly as a remote one is run):

- **host ports**: published Compose ports served on 127.0.0.1 by the cluster's proxy (the
  Service annotation ``kompy.dev/host-ports``). Without them, ``kompy dev`` forwards each
  published port through the API's port-forward, as ``kubectl port-forward svc/...`` does;
- **in-place restarts** (the pod annotation ``kompy.dev/restart-requested-at``, which the
  kubelet honours by restarting the containers). Without them, a restart deletes the pods
  and their controller makes new ones (synced files are synced again into them).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kompy.client import KubeClient

EXTRAS_ENV = "KOMPY_BUILTIN_EXTRAS"
HOST_PORTS_ANNOTATION = "kompy.dev/host-ports"
PUBLISHED_ANNOTATION = "kompy.dev/published-ports"


@dataclass(frozen=True)
class ClusterTarget:
    kubeconfig: str | None = None
    context: str | None = None
    cluster: str | None = None          # the built-in cluster's name
    default_repo: str | None = None
    push: bool | None = None            # None: push when there is a default repo
    builtin_extras: bool | None = None  # None: KOMPY_BUILTIN_EXTRAS, else on when built-in
    namespace: str | None = None        # None: the project's name (-n/--namespace)

    @property
    def builtin(self) -> bool:
        return not (self.kubeconfig or self.context)

    @property
    def extras(self) -> bool:
        if self.builtin_extras is not None:
            return self.builtin_extras
        env = os.environ.get(EXTRAS_ENV, "").strip().lower()
        if env:
            return env not in ("0", "false", "no", "off")
        return self.builtin

    @property
    def pushes(self) -> bool:
        return self.push if self.push is not None else bool(self.default_repo)

    def describe(self) -> str:
        if self.builtin:
            return f"the built-in cluster {self.cluster or 'default'!r}"
        return f"context {self.context!r}" if self.context else \
            f"the current context of {self.kubeconfig}"

    def connect(self, announce: Callable[[str], None] | None = None) -> KubeClient:
        """A client of the cluster (the built-in one is started when needed)."""
        if self.builtin:
            from kompy.cluster.daemon.process import ensure_cluster

            return ensure_cluster(self.cluster, announce)
        return KubeClient.from_kubeconfig(self.kubeconfig, self.context)

    def flags(self) -> str:
        """The command-line flags that name this cluster (for hints)."""
        out = f" --kubeconfig {self.kubeconfig}" if self.kubeconfig else ""
        out += f" --context {self.context}" if self.context else ""
        out += f" -n {self.namespace}" if self.namespace else ""
        return out + (f" --cluster {self.cluster}" if self.builtin and self.cluster else "")

    def use_run_states(self, client: KubeClient, namespace: str) -> None:
        """Where the dev loop learns about containers (kompy/dev/runstate.py): the engine
        with the extras, the pods' statuses without."""
        from kompy.dev import runstate

        if self.extras:
            runstate.use_engine()
        else:
            runstate.use_api(client, namespace)

    def preflight(self) -> None:
        """The built-in cluster's start-up checks, before a long build; nothing for others."""
        if self.builtin:
            from kompy.cluster.daemon.process import preflight

            preflight(self.cluster)


def without_host_ports(objects: list[dict[str, Any]]) -> None:
    """Extras off: the Services' host ports (which the built-in cluster's proxy would serve)
    become ``kompy.dev/published-ports``, which no cluster acts on and ``kompy dev`` reads
    to forward them."""
    for obj in objects:
        if obj.get("kind") == "Service":
            annotations = (obj.get("metadata") or {}).get("annotations")
            if isinstance(annotations, dict) and HOST_PORTS_ANNOTATION in annotations:
                annotations[PUBLISHED_ANNOTATION] = annotations.pop(HOST_PORTS_ANNOTATION)


def limit_grace(objects: list[dict[str, Any]], seconds: int) -> None:
    """Give every pod template a termination grace period of at most ``seconds``: a
    development session's pods then stop (rollouts, restarts, the clean-up on Ctrl-C) within
    that time even when their process ignores SIGTERM."""
    from kompy.dev.images import pod_specs

    for spec in pod_specs(objects):
        current = spec.get("terminationGracePeriodSeconds")
        spec["terminationGracePeriodSeconds"] = seconds if current is None else \
            min(int(current), seconds)
