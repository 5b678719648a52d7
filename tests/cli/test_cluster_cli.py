"""The cluster commands through the real CLI, against a real daemon serving the API only
(KOMPY_CLUSTER_NO_RUNTIME: no Docker needed)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from clikit import run

MANIFESTS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "kompy/busybox:1"}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: conf}, data: {a: "1"}}
"""


def test_start_status_stop(cluster: Path) -> None:
    assert "started at https://127.0.0.1:" in run("cluster", "start").output
    assert "already running" in run("cluster", "start").output
    status = json.loads(run("cluster", "status", "-o", "json").output)
    assert status["running"] and status["url"].startswith("https://127.0.0.1:")
    assert oct((cluster / "api.json").stat().st_mode & 0o777) == "0o600"
    assert oct(cluster.stat().st_mode & 0o777) == "0o700"
    # The token is required: the same URL without it is refused.
    ca = str(cluster / "tls.crt")
    assert requests.get(f"{status['url']}/api/v1/pods", timeout=5, verify=ca).status_code == 401
    assert "stopped" in run("cluster", "stop").output
    assert "not running" in run("cluster", "stop").output
    run("cluster", "status", code=3)


def test_read_only_commands_never_start_the_cluster(cluster: Path) -> None:
    """As kubectl against an unreachable server, but saying what to do; exit 2 (kompy's
    code for what the user can fix; kubectl exits 1 for every error)."""
    for args in (("get", "pods"), ("describe", "pod", "web"), ("logs", "web"),
                 ("rollout", "status", "deploy/web"), ("exec", "web", "--", "true")):
        result = run(*args, code=2)
        assert result.stderr == ("error: the built-in cluster 'default' is not running\n"
                                 "  hint: start it with `kompy cluster start` (or `kompy up`)\n")
        assert result.stdout == ""
    assert not (cluster / "daemon.pid").exists()


def test_changing_commands_start_the_cluster_and_say_so(cluster: Path, tmp_path: Path
                                                        ) -> None:
    path = tmp_path / "cm.yaml"
    path.write_text("{apiVersion: v1, kind: ConfigMap, metadata: {name: conf}}\n")
    result = run("apply", "-f", str(path))
    assert result.stderr == "starting the built-in cluster 'default'...\n"
    assert result.stdout == "configmap/conf created\n"
    assert (cluster / "daemon.pid").exists()
    names = [line.split()[0] for line in run("get", "namespaces").output.splitlines()[1:]]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]
    assert run("delete", "cm", "conf").stderr == ""  # running: nothing to announce


def test_apply_get_describe_scale_delete(cluster: Path, tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(MANIFESTS)
    assert run("apply", "-f", str(path)).stdout == (
        "deployment.apps/web created\nservice/web created\nconfigmap/conf created\n")
    assert run("apply", "-f", str(path)).output.count("unchanged") == 3
    table = run("get", "deploy").output.splitlines()
    assert table[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert table[1].split()[:2] == ["web", "0/1"]
    svc = run("get", "svc", "web").output.splitlines()[1].split()
    assert svc[1] == "ClusterIP" and svc[4] == "80/TCP"
    assert run("get", "deploy,cm", "-o", "name").output == "deployment.apps/web\nconfigmap/conf\n"
    as_json = json.loads(run("get", "deploy", "web", "-o", "json").output)
    assert as_json["spec"]["replicas"] == 1
    assert run("scale", "deploy", "web", "--replicas", "3").output == \
        "deployment.apps/web scaled\n"
    assert "Replicas:               3 desired | 0 updated | 0 total" in run(
        "describe", "deployment", "web").output
    assert run("get", "deploy", "-l", "app=nope").output.strip() == \
        "No resources found in default namespace."
    assert run("delete", "-f", str(path)).output == (
        'deployment.apps "web" deleted\nservice "web" deleted\nconfigmap "conf" deleted\n')
    result = run("get", "deploy", "web", code=2)
    assert 'deployments.apps "web" not found' in result.output


def test_apply_from_stdin_and_namespaces(cluster: Path) -> None:
    run("apply", "-f", "-", input="apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n")
    run("apply", "-f", "-", "-n", "shop",
        input="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    assert run("get", "cm", "-A").output.splitlines()[1].split()[:2] == ["shop", "c"]
    assert run("get", "cm", "-n", "shop", "c", "-o", "name").output == "configmap/c\n"


def test_bad_manifests_are_clear_errors(cluster: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
                   "spec: {template: {spec: {containers: [{name: c, image: x}]}}}\n---\n"
                   "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    output = run("apply", "-f", str(bad), code=2).output
    assert "spec.selector: Required value" in output
    assert 'no matches for kind "Widget"' in output
    assert "Traceback" not in output
    assert 'the server doesn\'t have a resource type "widgets"' in run("get", "widgets",
                                                                      code=2).output


def test_kubeconfig_selects_a_cluster(cluster: Path, tmp_path: Path) -> None:
    text = run("cluster", "kubeconfig").stdout
    assert "current-context: kompy-default" in text
    config = tmp_path / "config"
    config.write_text(text)
    run("apply", "-f", "-", input="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: via}\n")
    assert "via" in run("get", "cm", "--kubeconfig", str(config)).output
    assert "no context named 'nope'" in run("get", "cm", "--kubeconfig", str(config),
                                            "--context", "nope", code=2).output


def test_unreachable_real_cluster_is_one_line(cluster: Path, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("current-context: c\nclusters: [{name: c, cluster: {server: "
                      "'http://127.0.0.1:9'}}]\nusers: [{name: u, user: {token: t}}]\n"
                      "contexts: [{name: c, context: {cluster: c, user: u}}]\n")
    output = run("get", "pods", "--kubeconfig", str(config), code=2).output
    assert output == ("error: no cluster answers at http://127.0.0.1:9 (connection refused)\n"
                      "  hint: for kompy's built-in cluster: `kompy cluster start`; else check "
                      "the kubeconfig's server address\n")
    assert not os.path.exists(cluster)


def test_describe_shows_events_and_pod_io_needs_the_runtime(cluster: Path) -> None:
    run("apply", "-f", "-", input=(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
        "spec: {containers: [{name: c, image: 'kompy/busybox:1'}]}\n"))
    uid = json.loads(run("get", "pod", "p", "-o", "json").output)["metadata"]["uid"]
    run("apply", "-f", "-", input=(
        "apiVersion: v1\nkind: Event\nmetadata: {name: p.1}\n"
        f"involvedObject: {{kind: Pod, name: p, namespace: default, uid: {uid}}}\n"
        "reason: Scheduled\nmessage: assigned to kompy\ntype: Normal\n"
        "source: {component: default-scheduler}\n"))
    text = run("describe", "pod", "p").output
    assert "Containers:" in text and "Image:" in text
    events = text.split("Events:")[1]
    assert "Scheduled" in events and "default-scheduler" in events
    assert "assigned to kompy" in run("get", "events").output
    for args in (("logs", "p"), ("exec", "p", "--", "true")):
        output = run(*args, code=2).output
        assert "the cluster runtime (kubelet) is not running" in output


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_works_with_the_printed_kubeconfig(cluster: Path, tmp_path: Path) -> None:
    """kubectl sends tokens only over TLS and asks for server-side tables: both served."""
    config = tmp_path / "kubeconfig"
    config.write_text(run("cluster", "kubeconfig").stdout)
    manifest = tmp_path / "app.yaml"
    # Without the v1/List document: kubectl validates Lists against OpenAPI v2 (protobuf),
    # which kompy does not serve.
    manifest.write_text(MANIFESTS.split("---\napiVersion: v1\nkind: List")[0])

    def kubectl(*args: str) -> str:
        done = subprocess.run(["kubectl", "--kubeconfig", str(config), *args],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "deployment.apps/web created" in kubectl("apply", "-f", str(manifest))
    assert "deployment.apps/web unchanged" in kubectl("apply", "-f", str(manifest))
    assert "deployment.apps/web scaled" in kubectl("scale", "deploy", "web", "--replicas=2")
    assert kubectl("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}") == "2"
    header = kubectl("get", "deploy").splitlines()[0].split()
    assert header == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert 'deployment.apps "web" deleted' in kubectl("delete", "deploy", "web")


def test_a_killed_daemon_is_restarted_with_its_objects(cluster: Path) -> None:
    run("apply", "-f", "-", input="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep}\n")
    pid = int((cluster / "daemon.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    assert "is not running" in run("get", "cm", code=2).stderr
    assert "starting the built-in cluster" in run("cluster", "start").output
    assert "keep" in run("get", "cm").output
    assert int((cluster / "daemon.pid").read_text()) != pid


def test_a_taken_api_port_is_a_user_error_and_api_port_moves_the_cluster(cluster: Path
                                                                         ) -> None:
    """The port is kept so that kubeconfigs handed out stay valid: another program holding
    it stops the start with the port and a way out (exit 2, no traceback), instead of the
    daemon's AttributeError of a failed bind; --api-port 0 then moves the cluster."""
    run("cluster", "start")
    port = json.loads((cluster / "api.json").read_text())["port"]
    run("cluster", "stop")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        result = run("cluster", "start", code=2)
        assert result.stdout == "starting the built-in cluster 'default'...\n"
        assert result.stderr == (
            f"error: the API port of cluster 'default', 127.0.0.1:{port}, is in use by "
            f"another program\n  hint: free it (`ss -ltnp 'sport = :{port}'` names the "
            "program), or move the cluster: `kompy cluster start --cluster default "
            "--api-port 0` picks a free port (kubeconfigs handed out before then name the "
            "old one; `kompy cluster kubeconfig` prints the new)\n")
        assert "started at" in run("cluster", "start", "--api-port", "0").output
    moved = json.loads((cluster / "api.json").read_text())["port"]
    assert moved != port
    assert f"server: https://127.0.0.1:{moved}\n" in run("cluster", "kubeconfig").output
    run("cluster", "stop")
    assert f"127.0.0.1:{moved} (pid" in run("cluster", "start").output  # kept


def test_a_damaged_store_is_a_user_error_naming_the_file(cluster: Path) -> None:
    run("cluster", "start")
    run("cluster", "stop")
    for leftover in cluster.glob("store.db-*"):
        leftover.unlink()
    (cluster / "store.db").write_bytes(b"not a database " * 100)
    result = run("cluster", "start", code=2)
    store = cluster / "store.db"
    assert result.stderr == (
        f"error: the store of cluster 'default', {store}, cannot be opened: file is not a "
        "database\n  hint: if the disk is fine, the file is damaged: `kompy cluster reset "
        "--cluster default -y` starts the cluster empty (move store.db away first to keep "
        "it)\n")


def test_concurrent_commands_share_one_daemon(cluster: Path) -> None:
    env = {**os.environ}
    procs = [subprocess.Popen([sys.executable, "-m", "kompy", "cluster", "kubeconfig"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
             for _ in range(4)]
    outputs = [p.communicate(timeout=60)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    assert all("current-context: kompy-default" in out for out in outputs)
    log = (cluster / "daemon.log").read_text()
    assert log.count("API server of cluster") == 1, log


def test_reset_shows_each_step(cluster: Path) -> None:
    run("cluster", "start")
    pid = int((cluster / "daemon.pid").read_text())
    lines = run("cluster", "reset", "--yes").stdout.splitlines()
    assert lines[0] == f"stopping the cluster daemon (pid {pid}) and its pods..."
    assert lines[1] == f"removing the state folder {cluster}..."
    assert lines[2].startswith("cluster 'default' reset in ") and lines[2].endswith(" s")
    assert not cluster.exists()
