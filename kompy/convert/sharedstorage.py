"""Storage that several pods use at once (issue #9, class 10).

Under Compose every container runs on one host, so a named volume (or a bind-mounted folder)
is shared by all the services, replicas and "global" containers that mount it. In Kubernetes
a claim's access mode decides: a ``ReadWriteOnce`` volume attaches to one node at a time, and
a pod scheduled on another node stays in ContainerCreating with the event ``Multi-Attach
error for volume ... Volume is already used by pod(s) ...``.

What kompy does, and why: claims stay ``ReadWriteOnce`` (unless asked otherwise with
``x-kompy.access_mode`` / ``kompose.volume.access-mode``), because it is the one mode every
storage class provides: most default classes (kind's local-path, GKE's and EKS's block disks)
cannot bind ``ReadWriteMany`` at all, and the claim would stay Pending, with nothing running,
even on one node. The pods that share such a claim get a required pod affinity to each other
on ``kubernetes.io/hostname`` (the label ``claim.kompy.dev/<claim>: "true"`` marks them), so
the scheduler keeps them on one node, as Compose keeps them on one host: the project runs on
any cluster, and a warning says how to spread it (a ``ReadWriteMany`` class). A DaemonSet
cannot be kept on one node: its claim gets a warning naming the Multi-Attach failure.
``ReadWriteOncePod`` allows one pod in all: a warning when more would use it.
https://kubernetes.io/docs/concepts/storage/persistent-volumes/#access-modes
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kompy.convert.context import ConvertContext, k8s_name
from kompy.convert.pod import BuiltPod, PodUnit
from kompy.convert.specs import ClaimSpec, WorkloadSpec
from kompy.errors import KeyPath

if TYPE_CHECKING:
    from kompy.client.objects import Obj

CLAIM_LABEL_PREFIX = "claim.kompy.dev/"
HOSTNAME = "kubernetes.io/hostname"
_SHARED_MODES = ("ReadWriteMany", "ReadOnlyMany")

Built = tuple[PodUnit, WorkloadSpec, BuiltPod]


def share_claims(ctx: ConvertContext, built: list[Built]) -> None:
    """Keep the pods of each shared ReadWriteOnce claim together; warn where that cannot be."""
    claims: dict[str, ClaimSpec] = {c.name: c for _, _, pod in built for c in pod.claims}
    users: dict[str, list[Built]] = {}
    for entry in built:
        for volume in entry[2].pod.volumes:
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if claim in claims and entry not in users.get(claim, []):
                users.setdefault(claim, []).append(entry)
    together = [name for name in sorted(users) if _share(ctx, claims[name], users[name])]
    _keep_together(together, users)


def _keep_together(claims: list[str], users: dict[str, list[Built]]) -> None:
    """One label and one affinity term per set of pods linked by shared claims: with a term
    per claim, a pod sharing two claims with pods placed on two nodes could never start
    (the scheduler lets the first pod of a term go anywhere)."""
    group: dict[str, str] = {}  # unit name -> the first claim of its set

    def find(claim: str) -> str:
        while group.get(claim, claim) != claim:
            claim = group[claim]
        return claim

    owner: dict[str, str] = {}
    for claim in claims:
        for unit, _, _ in users[claim]:
            if unit.name in owner:
                a, b = sorted((find(owner[unit.name]), find(claim)))
                group[b] = a
            else:
                owner[unit.name] = claim
    done: set[str] = set()
    for claim in claims:
        label = CLAIM_LABEL_PREFIX + k8s_name(find(claim))
        for unit, spec, _ in users[claim]:
            if unit.name in done:
                continue
            done.add(unit.name)
            spec.pod.labels[label] = "true"
            if spec.pod.affinity is None:
                spec.pod.affinity = {}
            _add_affinity(spec.pod.affinity, label)


def _share(ctx: ConvertContext, claim: ClaimSpec, users: list[Built]) -> bool:
    """Warn about one claim; True when its pods must be kept on one node."""
    mode = claim.access_modes[0] if claim.access_modes else "ReadWriteOnce"
    daemons = [unit.name for unit, spec, _ in users if spec.kind == "DaemonSet"]
    count = sum(_pod_count(spec) for _, spec, _ in users)
    if mode in _SHARED_MODES or (count < 2 and not daemons):
        return False
    path = _where(ctx, claim.name, users)
    who = _describe(users)
    if mode == "ReadWriteOncePod":
        ctx.warn(path, f"claim {claim.name} is ReadWriteOncePod but {who} use it: only one pod "
                 "at a time can mount it, the others stay Pending",
                 hint="use ReadWriteOnce (pods kept on one node) or ReadWriteMany")
        return False
    if daemons:
        ctx.warn(path, f"claim {claim.name} (ReadWriteOnce) is used by the DaemonSet "
                 f"{', '.join(daemons)}: its pods on every node but one fail with \"Multi-Attach "
                 "error for volume\" (a ReadWriteOnce volume attaches to one node)",
                 hint="give the volume a storage class that supports ReadWriteMany and "
                 "`x-kompy: {access_mode: ReadWriteMany}` (label kompose.volume.access-mode)")
        return False
    ctx.warn(path, f"claim {claim.name} (ReadWriteOnce) is shared by {who}: their pods are kept "
             "on one node (a required pod affinity), as Compose runs them on one host, since "
             "pods on another node would fail with \"Multi-Attach error for volume\"",
             hint="to spread them over nodes, give the volume a storage class that supports "
             "ReadWriteMany and `x-kompy: {access_mode: ReadWriteMany}` "
             "(label kompose.volume.access-mode)")
    return True


def _add_affinity(affinity: Obj, label: str) -> None:
    terms = affinity.setdefault("podAffinity", {}).setdefault(
        "requiredDuringSchedulingIgnoredDuringExecution", [])
    term = {"labelSelector": {"matchLabels": {label: "true"}}, "topologyKey": HOSTNAME}
    if term not in terms:
        terms.append(term)


def _pod_count(spec: WorkloadSpec) -> int:
    if spec.kind in ("Deployment", "StatefulSet"):
        return spec.replicas if spec.replicas is not None else 1
    if spec.kind == "Job":
        return spec.parallelism or 1
    return 1


def _describe(users: list[Built]) -> str:
    parts = []
    for unit, spec, _ in users:
        count = _pod_count(spec)
        parts.append(f"{unit.name} ({count} replicas)" if count > 1 else unit.name)
    return ", ".join(parts)


def _where(ctx: ConvertContext, claim: str, users: list[Built]) -> KeyPath:
    """The Compose key the claim comes from: the top-level volume, else a service's mount."""
    for name, definition in ctx.project.volumes.items():
        if k8s_name(definition.external_name or name) == claim:
            return ("volumes", name)
    for unit, _, _ in users:
        for service in unit.services:
            for index, volume in enumerate(service.volumes):
                bind_claim = f"{k8s_name(service.name, 50)}-claim{index}"
                if volume.source and claim in (k8s_name(volume.source), bind_claim):
                    return ("services", service.name, "volumes", index)
    return ("services", users[0][0].primary.name)
