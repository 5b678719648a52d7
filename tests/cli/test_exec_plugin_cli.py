"""A kubeconfig whose user is an exec credential plugin, against the built-in API server
(a real daemon serving the API only: KOMPY_CLUSTER_NO_RUNTIME) that accepts the plugin's
tokens from its static token file (``kompy cluster start --token-auth-file``)."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from clikit import run

from kompy.client import KubeClient, Unauthorized
from kompy.yaml import plain

# In system:masters: these tests are about authentication; RBAC lets masters do everything.
TOKENS = ('tok-alice-1,alice,u-1,"devs,ops,system:masters"\n'
          'tok-alice-2,alice,u-1,system:masters\n')
V1 = "client.authentication.k8s.io/v1"


@pytest.fixture
def cluster(cluster: Path, tmp_path: Path) -> Path:
    """The API-only cluster (conftest.py), started with its static token file."""
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(TOKENS)
    output = run("cluster", "start", "--token-auth-file", str(tokens)).output
    assert "token file: 2 token(s)" in output
    return cluster


def plugin_kubeconfig(tmp_path: Path, script: str, **exec_extra: object) -> Path:
    """The built-in cluster's kubeconfig with its user replaced by an exec plugin: a shell
    script that appends a line to ``runs`` each time it runs (``$N`` is the run's number)."""
    name = f"plugin-{uuid.uuid4().hex[:6]}"  # credentials are cached per process and stanza
    command = tmp_path / name
    runs = tmp_path / f"{name}.runs"
    command.write_text(f"#!/bin/sh\necho run >> {runs}\nN=$(wc -l < {runs})\n{script}\n")
    command.chmod(command.stat().st_mode | stat.S_IXUSR)
    config = plain.load(run("cluster", "kubeconfig").output)
    config["users"] = [*config["users"], {"name": "alice", "user": {"exec": {
        "apiVersion": V1, "command": str(command), "interactiveMode": "Never",
        "installHint": "see the test", **exec_extra}}}]
    config["contexts"][0]["context"]["user"] = "alice"
    path = tmp_path / f"{name}.kubeconfig"
    path.write_text(plain.dump(config))
    return path


def runs_of(kubeconfig: Path) -> int:
    runs = kubeconfig.with_suffix(".runs")
    return len(runs.read_text().splitlines()) if runs.exists() else 0


def answer(token: str, expires: str | None = None) -> str:
    status = {"token": token, **({"expirationTimestamp": expires} if expires else {})}
    body = json.dumps({"apiVersion": V1, "kind": "ExecCredential", "status": status})
    return f"cat <<'EOF'\n{body}\nEOF"


def test_the_plugins_token_is_accepted_and_cached(cluster: Path, tmp_path: Path) -> None:
    config = plugin_kubeconfig(tmp_path, answer("tok-alice-1", "2999-01-01T00:00:00Z"))
    run("apply", "-f", "-", "--kubeconfig", str(config),
        input="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mine}\n")
    assert "mine" in run("get", "cm", "--kubeconfig", str(config)).output
    assert runs_of(config) == 1  # one run for every request of this process


def test_an_expired_credential_is_fetched_again(cluster: Path, tmp_path: Path) -> None:
    # The first run's credential expired long ago: used for the request it was fetched
    # for, then fetched again for the next (client-go's rule); the second one lasts.
    script = f"""if [ "$N" = 1 ]; then
{answer("tok-alice-1", "2000-01-01T00:00:00Z")}
else
{answer("tok-alice-2", "2999-01-01T00:00:00Z")}
fi"""
    config = plugin_kubeconfig(tmp_path, script)
    for _ in range(3):
        run("get", "ns", "--kubeconfig", str(config))
    assert runs_of(config) == 2


def test_a_refused_token_runs_the_plugin_again(cluster: Path, tmp_path: Path) -> None:
    # No expiry given, but the server refuses the first token (401): the plugin runs again
    # and the request is sent once more with the new token.
    script = f"""if [ "$N" = 1 ]; then
{answer("revoked")}
else
{answer("tok-alice-2")}
fi"""
    config = plugin_kubeconfig(tmp_path, script)
    assert "kube-system" in run("get", "ns", "--kubeconfig", str(config)).output
    assert runs_of(config) == 2


def test_a_token_the_server_never_accepts(cluster: Path, tmp_path: Path) -> None:
    config = plugin_kubeconfig(tmp_path, answer("not-in-the-file"))
    output = run("get", "ns", "--kubeconfig", str(config), code=2).output
    assert output.startswith("error: Unauthorized")
    assert "the server refused the credential that plugin" in output
    assert "not-in-the-file" not in output


def test_plugin_failure_is_one_line_with_its_stderr(cluster: Path, tmp_path: Path) -> None:
    config = plugin_kubeconfig(tmp_path, "echo 'error: you must log in first' >&2; exit 1")
    output = run("get", "ns", "--kubeconfig", str(config), code=2).output
    lines = output.splitlines()
    name = config.stem
    assert f"error: credential plugin '{name}' of user 'alice' failed with exit code 1: " \
           "error: you must log in first" in lines


def test_a_missing_plugin_shows_its_install_hint(cluster: Path, tmp_path: Path) -> None:
    config = plugin_kubeconfig(tmp_path, "true", command="kompy-test-no-such-plugin")
    output = run("get", "ns", "--kubeconfig", str(config), code=2).output
    assert output == ("error: credential plugin 'kompy-test-no-such-plugin' of user 'alice' "
                      "is not installed: 'kompy-test-no-such-plugin' was not found\n"
                      "  hint: see the test\n")


def test_the_token_file_is_read_again_when_it_changes(cluster: Path, tmp_path: Path) -> None:
    config = plugin_kubeconfig(tmp_path, answer("tok-bob"))
    run("get", "ns", "--kubeconfig", str(config), code=2)
    (cluster / "tokens.csv").write_text(TOKENS + "tok-bob,bob,u-2,system:masters\n")
    # The server looks at the file at most once a second: the plugin's token is refused
    # until then (each refusal runs the plugin once more).
    client = KubeClient.from_kubeconfig(str(config))
    deadline = time.monotonic() + 60   # generous: each try runs the plugin, slow under load
    while True:
        try:
            client.list("namespaces")
            break
        except Unauthorized:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_user_override(cluster: Path, tmp_path: Path) -> None:
    config = plugin_kubeconfig(tmp_path, "echo 'not logged in' >&2; exit 1")
    assert "not logged in" in run("get", "ns", "--kubeconfig", str(config), code=2).output
    # The built-in cluster's own user (its admin token) is still in the kubeconfig.
    output = run("get", "ns", "--kubeconfig", str(config), "--user", "kompy-default").output
    assert "kube-system" in output
    assert runs_of(config) == 1
    assert "give --kubeconfig or --context too" in run("get", "ns", "--user", "x",
                                                       code=2).output


def test_token_file_errors_name_the_line(isolated_env: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOMPY_HOME", str(tmp_path / "home"))
    tokens = tmp_path / "tokens.csv"
    tokens.write_text("good,alice,u1\nbad,bob\n")
    output = run("cluster", "start", "--token-auth-file", str(tokens), code=2).output
    assert output.startswith(f"error: {tokens}:2: a token line needs at least 3 columns")


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_stock_kubectl_runs_the_same_plugin(cluster: Path, tmp_path: Path) -> None:
    """The same kubeconfig works for kubectl (client-go's plugin runner): the test's plugin
    and the server's token file speak the real protocol."""
    config = plugin_kubeconfig(tmp_path, answer("tok-alice-1"))
    done = subprocess.run(["kubectl", "--kubeconfig", str(config), "get", "ns", "-o", "name"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "namespace/kube-system" in done.stdout.split()
    assert runs_of(config) >= 1
