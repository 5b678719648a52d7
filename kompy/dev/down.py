"""``kompy down``: remove a project from the built-in cluster, as ``docker compose down``.

Every object in the project's namespace is deleted, then the namespace itself; the cluster's
kubelet removes the pods' containers. Afterwards no container and no network of the namespace
is left on the Docker engine. PersistentVolumeClaims' Docker volumes stay (the data survives a
later ``up``, as named volumes survive ``docker compose down``) unless ``--volumes``: their
PersistentVolumes are made Retain before the claims go, then deleted (the Docker volumes
stay); with ``--volumes`` the default class's Delete policy removes them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TextIO

from kompy.client import Gone, KubeClient, NotFound
from kompy.dev.target import ClusterTarget
from kompy.errors import EXIT_OK, ClusterError, KompyError

# Deleted in this order: controllers before what they own, so nothing is re-created.
DELETED = ("cronjobs", "jobs", "deployments", "statefulsets", "daemonsets", "replicasets",
           "pods", "services", "ingresses", "networkpolicies", "horizontalpodautoscalers",
           "configmaps", "secrets", "persistentvolumeclaims")


@dataclass(frozen=True)
class DownRequest:
    files: tuple[str, ...] = ()
    project_directory: str | None = None
    project_name: str | None = None
    env_files: tuple[str, ...] = ()
    volumes: bool = False
    timeout: float = 60.0
    cluster: str | None = None
    environ: Mapping[str, str] | None = None
    target: ClusterTarget | None = None   # another cluster (--context); None: the built-in one
    grace_period: int | None = None       # at most this for each pod to stop (kompy dev's)

    def where(self) -> ClusterTarget:
        return self.target or ClusterTarget(cluster=self.cluster)


def run_down(request: DownRequest, out: TextIO, err: TextIO) -> int:
    def say(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    from kompy.dev.up import namespace_of

    target = request.where()
    namespace = namespace_of(request.project_name or _project_name(request))
    client = target.connect(say)
    try:
        client.get("namespaces", namespace)
    except NotFound:
        say(f"namespace {namespace}: nothing to remove")
    else:
        kept = keep_claim_volumes(client, namespace) if target.builtin and \
            not request.volumes else []
        delete_namespace(client, namespace, request.timeout, say, request.grace_period)
        forget_volumes(client, kept)
    if target.builtin:   # the built-in cluster's Docker objects; another cluster's are its own
        _clean_docker(namespace, request, say)
    return EXIT_OK


def _project_name(request: DownRequest) -> str:
    from kompy.compose.loader import LoadOptions, load_project

    project = load_project(LoadOptions(
        files=request.files, project_directory=request.project_directory,
        env_files=request.env_files, environ=request.environ))
    return project.name


def delete_namespace(client: KubeClient, namespace: str, timeout: float,
                     say: Callable[[str], None], grace: int | None = None) -> None:
    """Delete every object of the namespace, wait for its pods to go, then the namespace.
    ``grace``: the most any pod gets to stop (each asks for its own otherwise)."""
    # Each pod gets its grace period (Kubernetes' default 30 s; Compose's stop_grace_period
    # when set) to stop before the wait below gives up.
    longest = _longest_grace(client, namespace)
    deadline = time.monotonic() + timeout + (longest if grace is None else min(longest, grace))
    for plural in DELETED:
        try:
            items = client.list(plural, namespace).get("items") or []
        except (NotFound, KompyError):
            continue  # a kind this cluster does not serve
        for item in items:
            name = str(item["metadata"]["name"])
            try:
                client.delete(plural, name, namespace,
                              grace_period_seconds=grace if plural == "pods" else None)
                say(f"  {plural.rstrip('s')}/{name} deleted")
            except NotFound:
                pass
    _wait_no_pods(client, namespace, deadline)
    try:
        client.delete("namespaces", namespace)
        say(f"namespace {namespace} deleted")
    except NotFound:
        pass


def keep_claim_volumes(client: KubeClient, namespace: str) -> list[str]:
    """The PersistentVolumes of kompy's provisioner bound to the namespace's claims, made
    Retain (as a cluster admin does before deleting a claim whose data must stay): their
    Docker volumes outlive the claims, and a later ``up`` provisions its claims on them again
    (the volume is named after its claim). Returns their names."""
    from kompy.cluster.kubelet.claims import PROVISIONER

    kept = []
    for claim in client.list("persistentvolumeclaims", namespace).get("items") or []:
        volume_name = (claim.get("spec") or {}).get("volumeName")
        if not volume_name:
            continue
        try:
            volume = client.get("persistentvolumes", str(volume_name))
        except NotFound:
            continue
        spec = volume.get("spec") or {}
        if (spec.get("csi") or {}).get("driver") != PROVISIONER:
            continue
        if spec.get("persistentVolumeReclaimPolicy") == "Delete":
            client.patch("persistentvolumes", str(volume_name), None,
                         {"spec": {"persistentVolumeReclaimPolicy": "Retain"}})
        kept.append(str(volume_name))
    return kept


def forget_volumes(client: KubeClient, names: list[str]) -> None:
    """Delete the (Released, Retain) PersistentVolume objects; their Docker volumes stay."""
    for volume_name in names:
        with contextlib.suppress(NotFound):
            client.delete("persistentvolumes", volume_name)


def _longest_grace(client: KubeClient, namespace: str) -> float:
    pods = client.list("pods", namespace).get("items") or []
    return float(max((int((p.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
                      for p in pods), default=0))


def _wait_no_pods(client: KubeClient, namespace: str, deadline: float) -> None:
    while True:
        listing = client.list("pods", namespace)
        pods = listing.get("items") or []
        if not pods:
            return
        if time.monotonic() >= deadline:
            names = ", ".join(str(p["metadata"]["name"]) for p in pods)
            raise ClusterError(f"timed out waiting for pods to stop: {names}",
                               hint="see `kompy get pods` and the daemon log")
        version = str((listing.get("metadata") or {}).get("resourceVersion") or "")
        try:
            for _ in client.watch("pods", namespace, resource_version=version or None,
                                  timeout_seconds=1):
                break  # a pod changed (or went): look again
        except Gone:
            pass


def _clean_docker(namespace: str, request: DownRequest,
                  say: Callable[[str], None]) -> None:
    """Wait for the namespace's containers to go; remove its network and, asked, its volumes.

    Only objects labelled with this cluster and namespace are touched (docs/cluster.md,
    "kompy up / kompy down").
    """
    from kompy.cluster.daemon.state import cluster_state
    from kompy.cluster.kubelet.backend import LABEL_NAMESPACE
    from kompy.cluster.kubelet.docker_backend import DockerBackend

    state = cluster_state(request.cluster)
    backend = DockerBackend(state.name, str(state.dir))
    labels = {LABEL_NAMESPACE: namespace}
    deadline = time.monotonic() + request.timeout
    while backend.list_containers(labels):
        if time.monotonic() >= deadline:
            left = ", ".join(c.name for c in backend.list_containers(labels))
            raise ClusterError(f"containers still running after down: {left}",
                               hint="see the cluster's daemon.log")
        time.sleep(0.2)  # the kubelet removes them right after their pods are deleted
    for network in backend.list_networks(labels):
        backend.remove_network(network.name)
        say(f"network {network.name} removed")
    if request.volumes:
        for volume in backend.list_volumes(labels):
            backend.remove_volume(volume)
            say(f"volume {volume} removed")
