"""``kompy delete`` waits until the objects are gone, as kubectl's default ``--wait=true``:
an object held by a finalizer keeps it waiting, ``--timeout`` bounds the wait with kubectl's
message, ``--wait=false`` returns at once. Stock kubectl, on the same cluster, says the same."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from clikit import run

HELD = ("apiVersion: v1\nkind: ConfigMap\n"
        "metadata: {name: held, finalizers: [example.com/hold]}\ndata: {a: b}\n")


def _terminating(name: str) -> bool:
    got = json.loads(run("get", "cm", name, "-o", "json").output)
    return bool(got["metadata"].get("deletionTimestamp"))


def _release(name: str) -> None:
    """Take the finalizer off, as the controller owning it would."""
    got = json.loads(run("get", "cm", name, "-o", "json").output)
    got["metadata"]["finalizers"] = []
    run("apply", "-f", "-", input=json.dumps(got))


def test_delete_waits_for_the_finalizer(cluster: Path) -> None:
    run("apply", "-f", "-", input=HELD)
    with subprocess.Popen([sys.executable, "-m", "kompy", "delete", "cm", "held"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=os.environ.copy()) as deleting:
        assert deleting.stdout is not None
        assert deleting.stdout.readline() == 'configmap "held" deleted\n'
        assert _terminating("held")
        assert deleting.poll() is None, deleting.communicate()
        _release("held")
        out, err = deleting.communicate(timeout=60)
    assert (deleting.returncode, out, err) == (0, "", "")
    assert 'configmaps "held" not found' in run("get", "cm", "held", code=2).output


def test_timeout_and_no_wait(cluster: Path) -> None:
    run("apply", "-f", "-", input=HELD)
    timed_out = run("delete", "cm", "held", "--timeout=1s", code=1)
    assert timed_out.stdout == 'configmap "held" deleted\n'
    assert timed_out.stderr == "error: timed out waiting for the condition on configmaps/held\n"
    assert _terminating("held")
    # Deleting again is accepted (the object is still there) and, without waiting, at once.
    assert run("delete", "cm", "held", "--wait=false").output == 'configmap "held" deleted\n'
    _release("held")
    # Nothing to wait for: an object without finalizers is gone with the answer.
    run("apply", "-f", "-", input="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: free}\n")
    assert run("delete", "cm", "free", "--wait=true").output == 'configmap "free" deleted\n'
    assert run("delete", "cm", "free", "--wait=maybe", code=2).stderr.startswith("error: ")


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_says_the_same(cluster: Path, tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(run("cluster", "kubeconfig").stdout)
    run("apply", "-f", "-", input=HELD)
    done = subprocess.run(["kubectl", "--kubeconfig", str(config), "delete", "cm", "held",
                           "--timeout=1s"], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (1, 'configmap "held" deleted\n')
    assert done.stderr == "error: timed out waiting for the condition on configmaps/held\n"
    _release("held")
