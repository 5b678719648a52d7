"""The kubectl-shaped commands on bad input (issue #12, items 7 and 10), through the real
CLI against a real daemon serving the API only (KOMPY_CLUSTER_NO_RUNTIME: no Docker)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from clikit import run


@pytest.mark.parametrize("mapping", ["99999:18080", "8080:99999", "8080:0", "a:80", "٣:80",
                                     "8080:"])
def test_port_forward_with_a_bad_port_is_a_user_error(isolated_env: Path, mapping: str) -> None:
    """It used to end with "internal error: OverflowError" (exit 1)."""
    result = subprocess.run([sys.executable, "-m", "kompy", "port-forward", "svc/web", mapping],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: invalid port mapping '{mapping}'")
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


@pytest.mark.parametrize("text", ["", "---\n# nothing here\n---\n"])
def test_applying_no_object_says_so_as_kubectl(cluster: Path, tmp_path: Path,
                                               text: str) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text(text)
    result = run("apply", "-f", str(empty), code=1)     # kubectl's status for it
    # Said before any cluster is started, as kubectl reads its files first.
    assert result.output.startswith("error: no objects passed to apply\n")
    assert not cluster.exists()


def test_server_warnings_are_printed_as_kubectl_prints_them(cluster: Path,
                                                            tmp_path: Path) -> None:
    manifest = tmp_path / "pod.yaml"
    manifest.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: root}\nspec:\n"
                        "  containers: [{name: c, image: busybox:1}]\n"
                        "  volumes: [{name: v, hostPath: {path: /}}]\n")
    result = run("apply", "-f", str(manifest))
    assert "pod/root created" in result.output
    assert "Warning: spec.volumes[0].hostPath: '/' gives the pod the host's whole file " \
           "system" in result.output


def test_apply_keeps_no_secret_value_in_its_annotation(cluster: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "secret.yaml"
    manifest.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n"
                        "stringData: {password: hunter2-plain}\n"
                        "data: {token: " + base64.b64encode(b"tok-en-123").decode() + "}\n")
    assert "secret/creds created" in run("apply", "-f", str(manifest)).output
    stored = json.loads(run("get", "secret", "creds", "-o", "json").output)
    assert "stringData" not in stored and stored["type"] == "Opaque"
    assert base64.b64decode(stored["data"]["password"]) == b"hunter2-plain"
    annotation = stored["metadata"]["annotations"][
        "kubectl.kubernetes.io/last-applied-configuration"]
    assert "hunter2" not in annotation and "tok-en-123" not in annotation
    assert base64.b64encode(b"hunter2-plain").decode() not in annotation
    assert base64.b64encode(b"tok-en-123").decode() not in annotation
    assert sorted(json.loads(annotation)["data"]) == ["password", "token"]
    # Applying it again changes nothing; a new value is noticed though the annotation
    # (keys only) is the same.
    assert "secret/creds unchanged" in run("apply", "-f", str(manifest)).output
    manifest.write_text(manifest.read_text().replace("hunter2-plain", "hunter3-plain"))
    assert "secret/creds configured" in run("apply", "-f", str(manifest)).output
    stored = json.loads(run("get", "secret", "creds", "-o", "json").output)
    assert base64.b64decode(stored["data"]["password"]) == b"hunter3-plain"
    # Nothing of the plain text anywhere in the store either.
    store = b"".join(p.read_bytes() for p in cluster.glob("store.db*"))
    assert b"hunter2-plain" not in store and b"hunter3-plain" not in store
