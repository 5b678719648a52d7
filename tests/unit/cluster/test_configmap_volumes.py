"""The kubelet's ConfigMap volumes (kompy.cluster.volumes), as upstream projects them:
``items`` (keys to relative paths, subfolders created), per-item ``mode`` over
``defaultMode`` (default 0644), ``binaryData`` byte for byte, read-only mounts, and
``subPath`` mounts of one file. https://kubernetes.io/docs/concepts/storage/volumes/#configmap
"""

from __future__ import annotations

import base64
import stat
from pathlib import Path
from typing import Any

import pytest

from kompy.cluster.kubelet.volumes import PodConfigError, VolumeMaker

BINARY = bytes(range(256))
CONFIGMAP = {"metadata": {"name": "site", "namespace": "ns"},
             "data": {"index.html": "hi\n", "cgi-bin_run": "#!/bin/sh\n", "extra": "x"},
             "binaryData": {"logo": base64.b64encode(BINARY).decode()}}


def maker(tmp_path: Path) -> VolumeMaker:
    def configmaps(ns: str, name: str) -> dict[str, Any] | None:
        return CONFIGMAP if (ns, name) == ("ns", "site") else None

    return VolumeMaker(backend=None, state_dir=tmp_path,  # type: ignore[arg-type]
                       configmaps=configmaps, secrets=lambda ns, n: None,
                       claims=lambda ns, n: None)


def pod(source: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u-1"},
            "spec": {"containers": [], "volumes": [{"name": "v", "configMap": source}]}}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_items_project_keys_to_paths_with_their_modes(tmp_path: Path) -> None:
    source = {"name": "site", "items": [
        {"key": "index.html", "path": "index.html"},
        {"key": "cgi-bin_run", "path": "cgi-bin/run", "mode": 0o755},
        {"key": "logo", "path": "assets/img/logo.bin"}]}
    where = Path(maker(tmp_path).prepare(pod(source))["v"].path)
    files = sorted(p.relative_to(where).as_posix() for p in where.rglob("*") if p.is_file())
    assert files == ["assets/img/logo.bin", "cgi-bin/run", "index.html"]  # "extra" is not listed
    assert (where / "assets/img/logo.bin").read_bytes() == BINARY
    assert mode(where / "cgi-bin/run") == 0o755
    assert mode(where / "index.html") == 0o644
    assert mode(where / "cgi-bin") == 0o755


def test_default_mode_applies_to_items_without_their_own(tmp_path: Path) -> None:
    source = {"name": "site", "defaultMode": 0o440, "items": [
        {"key": "index.html", "path": "index.html"},
        {"key": "cgi-bin_run", "path": "run", "mode": 0o500},
        {"key": "extra", "path": "none", "mode": 0}]}
    where = Path(maker(tmp_path).prepare(pod(source))["v"].path)
    assert mode(where / "index.html") == 0o440
    assert mode(where / "run") == 0o500
    assert mode(where / "none") == 0  # mode 0 is a valid mode, not "unset"


def test_the_volume_is_read_only_whatever_the_mount_says(tmp_path: Path) -> None:
    volumes = maker(tmp_path)
    sources = volumes.prepare(pod({"name": "site"}))
    assert sources["v"].read_only
    [mount] = volumes.mounts({"volumeMounts": [
        {"name": "v", "mountPath": "/www", "readOnly": False}]}, sources)
    assert mount.read_only


def test_a_subpath_mount_binds_the_one_file(tmp_path: Path) -> None:
    volumes = maker(tmp_path)
    sources = volumes.prepare(pod({"name": "site"}))
    [mount] = volumes.mounts({"volumeMounts": [
        {"name": "v", "mountPath": "/etc/httpd.conf", "subPath": "index.html"}]}, sources)
    assert Path(mount.source).is_file() and Path(mount.source).read_text() == "hi\n"
    assert mount.target == "/etc/httpd.conf" and mount.read_only


def test_a_missing_key_is_an_error_unless_optional(tmp_path: Path) -> None:
    items = [{"key": "nope", "path": "nope"}]
    with pytest.raises(PodConfigError, match="nope"):
        maker(tmp_path).prepare(pod({"name": "site", "items": items}))
    maker(tmp_path).prepare(pod({"name": "site", "items": items, "optional": True}))


def test_an_item_path_cannot_leave_the_volume(tmp_path: Path) -> None:
    with pytest.raises(PodConfigError, match="leaves"):
        maker(tmp_path).prepare(pod({"name": "site", "items": [
            {"key": "extra", "path": "../escape"}]}))


def _admit(obj: dict[str, Any]) -> str:
    from kompy.client.errors import Invalid
    from kompy.client.resources import for_object
    from kompy.cluster.apiserver.admission import validate

    try:
        validate(for_object(obj), obj)
    except Invalid as error:
        return str(error)
    return ""


def test_the_api_server_refuses_what_upstream_refuses() -> None:
    """A ConfigMap over 1 MiB, an invalid key, annotations over 256 KiB (what makes
    client-side kubectl apply fail on big objects): kube-apiserver's limits and messages."""
    base = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    assert _admit({**base, "data": {"a": "x" * 1024 * 1024}}) == ""
    assert "Too long: must have at most 1048576 bytes" in _admit(
        {**base, "data": {"a": "x" * 600_000},
         "binaryData": {"b": base64.b64encode(b"y" * 500_000).decode()}})
    assert "a valid config key" in _admit({**base, "data": {"a/b": "x"}})
    big = {**base, "metadata": {"name": "c", "annotations": {"k": "v" * 300_000}}}
    assert "metadata.annotations: Too long: must have at most 262144 bytes" in _admit(big)
