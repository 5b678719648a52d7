"""Who owns a pod's secret files, and their modes (kompy.cluster.kubelet.ownership): 0600 and
given to the user that reads them (its runAsUser, else its image's USER), so an image that
reads its secrets as a non-root user reads them as on Kubernetes (where they are 0644);
``fsGroup`` adds group read as upstream's ownership management does; several readers
share a group, or read as upstream's 0644 lets them."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from kompy.cluster.kubelet.ownership import ownership
from kompy.cluster.kubelet.volumes import VolumeMaker

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="giving files away needs root")

SECRET = {"kind": "Secret", "metadata": {"name": "db", "namespace": "ns"},
          "data": {"password": base64.b64encode(b"s3cret").decode()}}
IMAGES = {"app:uid": "1000", "app:uidgid": "1000:3000", "app:named": "postgres", "app:root": ""}


def maker(tmp_path: Path) -> VolumeMaker:
    return VolumeMaker(backend=None, state_dir=tmp_path,  # type: ignore[arg-type]
                       configmaps=lambda ns, n: None,
                       secrets=lambda ns, n: SECRET if n == "db" else None,
                       claims=lambda ns, n: None)


def pod(*containers: dict[str, Any], source: dict[str, Any] | None = None,
        **security: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u-1"},
            "spec": {"securityContext": security, "containers": [
                {"name": f"c{i}", "volumeMounts": [{"name": "v", "mountPath": "/run/s"}], **c}
                for i, c in enumerate(containers)],
                "volumes": [{"name": "v", "secret": {"secretName": "db", **(source or {})}}]}}


def files(tmp_path: Path, p: dict[str, Any]) -> tuple[os.stat_result, os.stat_result]:
    where = Path(maker(tmp_path).prepare(p, IMAGES.get)["v"].path)  # type: ignore[arg-type]
    return where.stat(), (where / "password").stat()


def mode(st: os.stat_result) -> int:
    return stat.S_IMODE(st.st_mode)


def test_an_image_user_reads_its_secret_0600(tmp_path: Path) -> None:
    folder, secret = files(tmp_path, pod({"image": "app:uid"}))
    assert (secret.st_uid, mode(secret)) == (1000, 0o600)
    assert (folder.st_uid, mode(folder)) == (1000, 0o700)
    _, secret = files(tmp_path, pod({"image": "app:uidgid"}))
    assert (secret.st_uid, secret.st_gid, mode(secret)) == (1000, 3000, 0o600)


def test_run_as_user_wins_over_the_image_and_a_name_counts_as_root(tmp_path: Path) -> None:
    _, secret = files(tmp_path, pod({"image": "app:uid", "securityContext": {"runAsUser": 7}}))
    assert secret.st_uid == 7
    _, secret = files(tmp_path, pod({"image": "app:named"}))
    assert (secret.st_uid, mode(secret)) == (0, 0o600)


def test_fs_group_reads_as_upstream_gives_it_group_read(tmp_path: Path) -> None:
    folder, secret = files(tmp_path, pod({"image": "app:root"}, runAsUser=1000, fsGroup=2000))
    assert (secret.st_uid, secret.st_gid, mode(secret)) == (1000, 2000, 0o640)
    assert (folder.st_gid, mode(folder)) == (2000, 0o2750)
    # An explicit mode is kept, with the group's read added (upstream: mode | 0440).
    _, secret = files(tmp_path, pod({"image": "app:root"}, source={"defaultMode": 0o400},
                                    runAsUser=1000, fsGroup=2000))
    assert mode(secret) == 0o440


def test_an_explicit_mode_is_applied_to_the_readers_file(tmp_path: Path) -> None:
    _, secret = files(tmp_path, pod({"image": "app:root"}, source={"defaultMode": 0o400},
                                    runAsUser=1000))
    assert (secret.st_uid, mode(secret)) == (1000, 0o400)


def test_readers_of_different_users_share_a_group_or_read_as_0644(tmp_path: Path) -> None:
    two = ({"image": "app:root", "securityContext": {"runAsUser": 1, "runAsGroup": 5}},
           {"image": "app:root", "securityContext": {"runAsUser": 2, "runAsGroup": 5}})
    _, secret = files(tmp_path, pod(*two))
    assert (secret.st_uid, secret.st_gid, mode(secret)) == (0, 5, 0o640)
    _, secret = files(tmp_path, pod({"image": "app:uid"}, {"image": "app:root",
                                                           "securityContext": {"runAsUser": 9}}))
    assert (secret.st_uid, mode(secret)) == (0, 0o644)


def test_containers_that_do_not_mount_the_volume_are_not_readers() -> None:
    p = pod({"image": "app:uid"})
    p["spec"]["containers"].append({"name": "other", "image": "app:root",
                                    "securityContext": {"runAsUser": 4}})
    owner = ownership(p, "v", IMAGES.get)  # type: ignore[arg-type]
    assert owner is not None and owner.uid == 1000
