"""A pod's volumes on the host: ConfigMap and Secret files, emptyDir, claims, hostPath.

ConfigMap and Secret volumes are written as files under the cluster's state folder
(``pods/<uid>/volumes/<name>/``) and bind-mounted read-only, so their values never appear in
``docker inspect`` (only the host path does). Secret folders are 0700 and files 0600 unless
the manifest gives a ``defaultMode``/``mode`` (Kubernetes' default would be 0644; kompy keeps
secrets private to the user that reads them: who owns the files, and how ``fsGroup`` opens
them to a group, is :mod:`kompy.cluster.kubelet.ownership`).

emptyDir is a Docker volume per pod (tmpfs-backed for ``medium: Memory``), removed with the
pod; a PersistentVolumeClaim is its bound PersistentVolume (:mod:`.claims`), by default a
Docker volume named after cluster, namespace and claim, so its data outlives pods and
re-deploys. https://kubernetes.io/docs/concepts/storage/volumes/
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kompy.client.objects import Obj, name, namespace, uid
from kompy.cluster.kubelet.backend import LABEL_POD_UID, ContainerBackend, Mount
from kompy.cluster.kubelet.claims import ClaimError, ClaimMounts, PodLister, host_path
from kompy.cluster.kubelet.ownership import ImageUser, Ownership, ownership
from kompy.errors import ClusterError
from kompy.fsutil import write_atomic


class PodConfigError(ClusterError):
    """The pod refers to something missing (a ConfigMap key, a claim...): it cannot start yet.
    ``reason`` is the event that says so."""

    def __init__(self, message: str, *, hint: str | None = None,
                 reason: str = "FailedMount") -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


@dataclass(frozen=True)
class Source:
    kind: str  # "bind" | "volume"
    path: str  # host path, or Docker volume name
    read_only: bool = False


# (namespace, name) -> object or None; backed by the runtime's informers.
Lookup = Callable[[str, str], Obj | None]
# (pod, ServiceAccount, audience, expirationSeconds) -> a token (tokens.py).
TokenSource = Callable[[Obj, str, str, int], bytes]


def pod_dir(state_dir: Path, pod_uid: str) -> Path:
    return state_dir / "pods" / pod_uid


def emptydir_volume(cluster: str, pod_uid: str, vol: str) -> str:
    return f"kompy-{cluster}-{pod_uid[:13]}-{vol}"


def secret_data(secret: Obj) -> dict[str, bytes]:
    """A Secret's values (``data`` decoded; ``stringData`` as written by an API server that
    did not merge it). A malformed object is a :class:`PodConfigError` that names the
    field, never a value."""
    out = {k: _decode(v, secret, f"data.{k}") for k, v in _mapping(secret, "data").items()}
    out.update({k: str(v).encode() for k, v in _mapping(secret, "stringData").items()})
    return out


def configmap_data(cm: Obj) -> dict[str, bytes]:
    out = {k: str(v).encode() for k, v in _mapping(cm, "data").items()}
    out.update({k: _decode(v, cm, f"binaryData.{k}")
                for k, v in _mapping(cm, "binaryData").items()})
    return out


def _what(obj: Obj) -> str:
    return f'{str(obj.get("kind") or "object").lower()} "{name(obj)}"'


def _mapping(obj: Obj, field: str) -> dict[str, Any]:
    """``obj[field]``: a map of strings (absent is empty). Objects stored before the API
    server validated fields may hold anything."""
    value = obj.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PodConfigError(f"{_what(obj)}: {field} must be a map of strings, not "
                             f"{type(value).__name__}")
    return value


def _decode(value: Any, obj: Obj, field: str) -> bytes:
    # Go's decoder, which kube-apiserver uses, skips line breaks: wrapped base64 is valid.
    text = str(value).replace("\r", "").replace("\n", "")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise PodConfigError(f"{_what(obj)}: {field} is not valid base64") from None


class VolumeMaker:
    def __init__(self, backend: ContainerBackend, state_dir: Path, configmaps: Lookup,
                 secrets: Lookup, claims: Lookup, tokens: TokenSource | None = None,
                 persistent_volumes: Lookup | None = None,
                 pods: PodLister | None = None) -> None:
        self.tokens = tokens
        self.backend = backend
        self.state_dir = state_dir
        self.configmaps = configmaps
        self.secrets = secrets
        self.claims = ClaimMounts(backend, claims, persistent_volumes, pods)

    def prepare(self, pod: Obj, image_user: ImageUser = lambda ref: "") -> dict[str, Source]:
        """Create or refresh every volume of the pod; PodConfigError when one cannot be.
        ``image_user`` says which USER an image runs as (see :mod:`.ownership`)."""
        out: dict[str, Source] = {}
        base = pod_dir(self.state_dir, uid(pod)) / "volumes"
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
        for vol in (pod.get("spec") or {}).get("volumes") or []:
            vol_name = str(vol.get("name"))
            owner = ownership(pod, vol_name, image_user) if _has_files(vol) else None
            out[vol_name] = self._one(pod, vol, base / vol_name, owner)
        return out

    def _one(self, pod: Obj, vol: dict[str, Any], where: Path,
             owner: Ownership | None) -> Source:
        ns = namespace(pod)
        if "configMap" in vol:
            src = vol["configMap"]
            cm = self.configmaps(ns, str(src.get("name")))
            if cm is None and not src.get("optional"):
                raise PodConfigError(f'configmap "{src.get("name")}" not found')
            data = configmap_data(cm) if cm else {}
            _write_files(where, data, src, default_mode=0o644, dir_mode=0o755, owner=owner)
            return Source("bind", str(where), read_only=True)
        if "secret" in vol:
            src = vol["secret"]
            secret = self.secrets(ns, str(src.get("secretName")))
            if secret is None and not src.get("optional"):
                raise PodConfigError(f'secret "{src.get("secretName")}" not found')
            data = secret_data(secret) if secret else {}
            _write_files(where, data, src, default_mode=0o600, dir_mode=0o700, owner=owner)
            return Source("bind", str(where), read_only=True)
        if "projected" in vol or "downwardAPI" in vol:
            files, private = self._projected(pod, vol)
            _write_tree(where, files, dir_mode=0o700 if private else 0o755, owner=owner)
            return Source("bind", str(where), read_only=True)
        if "emptyDir" in vol:
            src = vol["emptyDir"] or {}
            vname = emptydir_volume(self.backend.cluster, uid(pod), str(vol.get("name")))
            labels = self.backend.labels(ns, f"Pod/{name(pod)}", **{
                LABEL_POD_UID: uid(pod), "kompy.volume-kind": "emptyDir"})
            tmpfs = None
            if src.get("medium") == "Memory":
                tmpfs = _tmpfs_size(src.get("sizeLimit"))
            # Upstream's emptyDir folder is 0777 (pkg/volume/emptydir), so any user writes.
            self.backend.ensure_volume(vname, labels, tmpfs_size=tmpfs, mode=0o777)
            return Source("volume", vname)
        if "persistentVolumeClaim" in vol:
            try:
                kind, path, read_only = self.claims.source(pod, vol["persistentVolumeClaim"])
            except ClaimError as error:
                raise PodConfigError(error.message, reason=error.reason) from None
            return Source(kind, path, read_only=read_only)
        if "hostPath" in vol:
            try:
                return Source("bind", host_path(vol["hostPath"]))
            except ClaimError as error:
                raise PodConfigError(error.message) from None
        raise PodConfigError(f"volume {vol.get('name')!r}: this kind of volume is not "
                             "supported by kompy's built-in cluster",
                             hint="use configMap, secret, projected, downwardAPI, emptyDir, "
                                  "persistentVolumeClaim or hostPath")

    def _projected(self, pod: Obj, vol: dict[str, Any]
                   ) -> tuple[dict[str, tuple[bytes, int]], bool]:
        """Files of a projected (or downwardAPI) volume; True when a Secret is among them.
        https://kubernetes.io/docs/concepts/storage/projected-volumes/"""
        src = vol.get("projected") or {}
        sources = src.get("sources") or []
        if "downwardAPI" in vol:
            src = vol["downwardAPI"] or {}
            sources = [{"downwardAPI": src}]
        private = any("secret" in s for s in sources)
        mode = _mode(src.get("defaultMode"), 0o600 if private else 0o644)
        ns = namespace(pod)
        files: dict[str, tuple[bytes, int]] = {}
        for source in sources:
            if "secret" in source or "configMap" in source:
                kind = "secret" if "secret" in source else "configMap"
                ref = source[kind]
                lookup = self.secrets if kind == "secret" else self.configmaps
                obj = lookup(ns, str(ref.get("name")))
                if obj is None and not ref.get("optional"):
                    raise PodConfigError(f'{kind.lower()} "{ref.get("name")}" not found')
                data = (secret_data(obj) if kind == "secret" else configmap_data(obj)) \
                    if obj else {}
                files.update(_select(data, ref, mode))
            elif "serviceAccountToken" in source:
                files[str(source["serviceAccountToken"].get("path") or "token")] = (
                    self._token(pod, source["serviceAccountToken"]), mode)
            elif "downwardAPI" in source:
                for item in source["downwardAPI"].get("items") or []:
                    path = str(item.get("fieldRef", {}).get("fieldPath", ""))
                    value = field_ref(pod, path, "") if path else ""
                    files[str(item.get("path"))] = (value.encode(),
                                                    _mode(item.get("mode"), mode))
        return files, private

    def _token(self, pod: Obj, source: dict[str, Any]) -> bytes:
        if self.tokens is None:
            raise PodConfigError("serviceAccountToken volumes need the kubelet's token source")
        account = str((pod.get("spec") or {}).get("serviceAccountName") or "default")
        expiration = source.get("expirationSeconds")
        return self.tokens(pod, account, str(source.get("audience") or ""),
                           int(expiration) if isinstance(expiration, int) else 3600)

    def mounts(self, container: dict[str, Any], sources: dict[str, Source]) -> list[Mount]:
        out = []
        for vm in container.get("volumeMounts") or []:
            src = sources.get(str(vm.get("name")))
            if src is None:
                raise PodConfigError(f"volumeMount {vm.get('name')!r}: no volume of that name "
                                     "in the pod")
            read_only = bool(vm.get("readOnly")) or src.read_only
            target = str(vm.get("mountPath"))
            sub = str(vm.get("subPath") or "").strip("/")
            if not sub:
                out.append(Mount(src.kind, src.path, target, read_only))
                continue
            # Docker 20.10 cannot mount a sub-folder of a named volume: bind its host path.
            root = src.path if src.kind == "bind" else self.backend.volume_mountpoint(src.path)
            host = os.path.normpath(os.path.join(root, sub))
            if not host.startswith(os.path.normpath(root)):
                raise PodConfigError(f"subPath {sub!r} leaves its volume")
            if not os.path.exists(host):
                os.makedirs(host, exist_ok=True)
            out.append(Mount("bind", host, target, read_only))
        return out

    def remove(self, pod_uid: str, volume_names: list[str]) -> None:
        """Forget a deleted pod's files and emptyDir volumes (claims stay)."""
        for vol in volume_names:
            self.backend.remove_volume(emptydir_volume(self.backend.cluster, pod_uid, vol))
        shutil.rmtree(pod_dir(self.state_dir, pod_uid), ignore_errors=True)
        self.forget(pod_uid)

    def forget(self, pod_uid: str) -> None:
        """What is held in memory for the pod (the claims it mounted)."""
        self.claims.forget(pod_uid)


def _has_files(vol: dict[str, Any]) -> bool:
    return any(kind in vol for kind in ("configMap", "secret", "projected", "downwardAPI"))


def _select(data: dict[str, bytes], src: dict[str, Any], mode: int
            ) -> dict[str, tuple[bytes, int]]:
    """The files a ConfigMap/Secret source projects: all keys, or its ``items``."""
    items = src.get("items")
    if not items:
        return {k: (v, mode) for k, v in data.items()}
    files: dict[str, tuple[bytes, int]] = {}
    for item in items:
        key = str(item.get("key"))
        if key not in data:
            if src.get("optional"):
                continue
            source = src.get("name") or src.get("secretName")
            raise PodConfigError(f"key {key!r} not found in {source}")
        files[str(item.get("path") or key)] = (data[key], _mode(item.get("mode"), mode))
    return files


def _mode(value: Any, default: int) -> int:
    """A file mode from the manifest; 0 is a mode like any other (no permission bits)."""
    return default if value is None else int(value)


def _write_files(where: Path, data: dict[str, bytes], src: dict[str, Any], *,
                 default_mode: int, dir_mode: int, owner: Ownership | None) -> None:
    mode = _mode(src.get("defaultMode"), default_mode)
    _write_tree(where, _select(data, src, mode), dir_mode=dir_mode, owner=owner)


def _write_tree(where: Path, files: dict[str, tuple[bytes, int]], *, dir_mode: int,
                owner: Ownership | None) -> None:
    """Make ``where`` hold exactly ``files`` (path -> content, mode); unchanged files are
    left alone, and each changed one is replaced atomically. ``owner`` gets them, with the
    group or world read bits it asks for."""
    if owner is not None:
        dir_mode = owner.dir_mode(dir_mode)
    where.mkdir(parents=True, exist_ok=True)
    os.chmod(where, dir_mode)
    for rel, (payload, mode) in files.items():
        file_mode = owner.file_mode(mode) if owner is not None else mode
        target = where / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            raise PodConfigError(f"item path {rel!r} leaves its volume")
        if target.parent != where:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(target.parent, dir_mode)
            if owner is not None:
                os.chown(target.parent, owner.uid, owner.gid)
        current = target.read_bytes() if target.is_file() else None
        if current != payload or (target.stat().st_mode & 0o777) != file_mode:
            # No fsync, as upstream's AtomicWriter (pkg/volume/util): the files come from
            # the API and every sync of the pod writes them again; the rename keeps a
            # reader from ever seeing half a file. It was ~4 ms a file before each start.
            write_atomic(target, payload, mode=file_mode, durable=False)
        if owner is not None:
            os.chown(target, owner.uid, owner.gid)
    if owner is not None:
        os.chown(where, owner.uid, owner.gid)
    for existing in where.rglob("*"):
        rel = existing.relative_to(where).as_posix()
        if existing.is_file() and rel not in files:
            existing.unlink()


def _tmpfs_size(limit: Any) -> str:
    if not limit:
        return ""
    from kompy.client.quantity import int_value

    return str(int_value(limit))


def field_ref(pod: Obj, path: str, host_ip: str) -> str:
    """A downward API ``fieldRef``'s value, for env ``valueFrom`` and downwardAPI volumes."""
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    m = re.match(r"^metadata\.(labels|annotations)\['([^']+)'\]$", path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    values = {
        "metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"), "spec.nodeName": (pod.get("spec") or {}).get("nodeName"),
        "spec.serviceAccountName": (pod.get("spec") or {}).get("serviceAccountName", "default"),
        "status.podIP": status.get("podIP"), "status.hostIP": host_ip or status.get("hostIP"),
    }
    if path not in values:
        raise PodConfigError(f"fieldRef {path!r} is not supported")
    return str(values[path] or "")
