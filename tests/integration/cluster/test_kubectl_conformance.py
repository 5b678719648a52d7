"""Stock kubectl against the built-in cluster on the real Docker engine: one scripted session
per kubectl version, each in a namespace of its own, every verb's exit code and the key
parts of its output checked (create, apply client- and server-side with a conflict, get in
every output form, get -w, describe, diff, explain, api-resources, exec, cp, port-forward,
logs -f, rollout status/history/undo/restart, scale, wait, label, annotate, patch of the
three kinds, edit, auth can-i/whoami, top, get all, delete with each cascade).

CI runs kubectl 1.27, 1.30 and 1.33 (the protocol changes fall between them: SPDY before
1.30, WebSocket exec from 1.30, tunnelled port-forward from 1.31, protobuf review bodies in
1.33); ``KOMPY_KUBECTL_VERSIONS=all`` (or ``27,31``) runs others, as
``benchmarks/kubectl_conformance.sh`` does for all seven. A version not installed is
skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clusterkit import BUSYBOX, wait_for
from enginekit import free_port

pytestmark = pytest.mark.integration

SDK = Path("/usr/lib/google-cloud-sdk/bin")
CI_VERSIONS = (27, 30, 33)
ALL_VERSIONS = tuple(range(27, 34))


def _versions() -> tuple[int, ...]:
    wanted = os.environ.get("KOMPY_KUBECTL_VERSIONS", "")
    if wanted == "all":
        return ALL_VERSIONS
    if wanted:
        return tuple(int(v.strip().removeprefix("1.")) for v in wanted.split(","))
    return CI_VERSIONS


WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: IMAGE
        command: [sh, -c, "mkdir /w; echo hello > /w/index.html; exec httpd -f -p 8080 -h /w"]
        ports: [{containerPort: 8080}]
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
""".replace("IMAGE", BUSYBOX)
SETTINGS = """
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {color: COLOR}
"""
PRINTER = """
apiVersion: v1
kind: Pod
metadata: {name: printer}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: IMAGE
    command: [sh, -c, "for i in 1 2 3; do echo line $i; sleep 0.3; done"]
""".replace("IMAGE", BUSYBOX)


class Session:
    """One kubectl binary in one namespace; ``run`` checks the exit code and says what
    ran and what it printed when the check fails."""

    def __init__(self, binary: Path, namespace: str, env: dict[str, str], folder: Path
                 ) -> None:
        self.binary, self.namespace, self.env, self.folder = binary, namespace, env, folder

    def argv(self, *args: str) -> list[str]:
        return [str(self.binary), "-n", self.namespace, *args]

    def run(self, *args: str, code: int = 0, input: str | None = None,
            env: dict[str, str] | None = None, timeout: float = 90) -> str:
        done = subprocess.run(self.argv(*args), input=input, capture_output=True, text=True,
                              env={**self.env, **(env or {})}, timeout=timeout)
        output = done.stdout + done.stderr
        assert done.returncode == code, (
            f"kubectl {' '.join(args)} exited {done.returncode}, not {code}:\n{output}")
        return output

    def file(self, name: str, text: str) -> str:
        path = self.folder / name
        path.write_text(text)
        return str(path)


UNSERVED = """---
apiVersion: example.com/v1
kind: Widget
metadata: {name: gadget}
spec: {size: 3}
"""


@pytest.fixture(scope="module")
def kube_env(cluster: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
             ) -> dict[str, str]:
    home = tmp_path_factory.mktemp("kubectl-home")   # kubectl's caches, not $HOME
    return {**os.environ, "HOME": str(home), "KUBECONFIG": str(cluster["dir"] / "kubeconfig")}


@pytest.fixture
def session(request: pytest.FixtureRequest, cluster: dict[str, Any], kube_env: dict[str, str],
            tmp_path: Path) -> Iterator[Session]:
    version = request.param
    binary = SDK / f"kubectl.1.{version}"
    if not binary.exists():
        pytest.skip(f"kubectl 1.{version} is not installed at {binary}")
    client = cluster["client"]
    namespace = f"k{version}-{uuid.uuid4().hex[:6]}"
    client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    try:
        yield Session(binary, namespace, kube_env, tmp_path)
    finally:
        with contextlib.suppress(Exception):
            client.delete("namespaces", namespace)


@contextlib.contextmanager
def background(argv: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        yield proc
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        if proc.poll() is None:
            proc.kill()


def read_until(proc: subprocess.Popen[str], pattern: str, timeout: float = 30) -> str:
    """Lines of ``proc`` until one matches ``pattern`` (the whole output then)."""
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    os.set_blocking(proc.stdout.fileno(), False)
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            seen.append(line)
            if re.search(pattern, line):
                return "".join(seen)
        elif proc.poll() is not None:
            break
        else:
            time.sleep(0.05)
    raise AssertionError(f"{proc.args!r} printed no line matching {pattern!r} within "
                         f"{timeout} s:\n{''.join(seen)}")


@pytest.mark.parametrize("session", _versions(), indirect=True,
                         ids=[f"1.{v}" for v in _versions()])
def test_kubectl_session(session: Session) -> None:
    k = session
    # -- create, apply (client side), wait, rollout status -------------------------------
    out = k.run("create", "-f", k.file("web.yaml", WEB))
    assert "deployment.apps/web created" in out and "service/web created" in out
    out = k.run("apply", "-f", k.file("settings.yaml", SETTINGS.replace("COLOR", "red")))
    assert "configmap/settings created" in out
    assert "configmap/settings unchanged" in k.run("apply", "-f", str(k.folder / "settings.yaml"))
    out = k.run("apply", "-f", k.file("settings.yaml", SETTINGS.replace("COLOR", "blue")))
    assert "configmap/settings configured" in out
    out = k.run("wait", "--for=condition=Available", "deployment/web", "--timeout=90s")
    assert "deployment.apps/web condition met" in out
    assert 'deployment "web" successfully rolled out' in k.run(
        "rollout", "status", "deployment/web", "--timeout=90s")

    # A file holding a kind the server does not serve: kubectl validates the rest against
    # the OpenAPI (which must download), applies it, and names the missing kind.
    out = k.run("apply", "-f", k.file("mixed.yaml", SETTINGS.replace("settings", "mixed")
                                      .replace("COLOR", "grey") + UNSERVED), code=1)
    assert "configmap/mixed created" in out and "openapi" not in out.lower(), out
    assert 'no matches for kind "Widget" in version "example.com/v1"' in out, out

    # -- server-side apply: ownership, a conflict, forcing ----------------------------------
    out = k.run("apply", "--server-side", "-f", k.file("ssa.yaml", SETTINGS.replace(
        "settings", "owned").replace("COLOR", "green")))
    assert "configmap/owned serverside-applied" in out
    fields = json.loads(k.run("get", "configmap", "owned", "-o", "json",
                              "--show-managed-fields"))["metadata"]["managedFields"]
    assert [(f["manager"], f["operation"]) for f in fields] == [("kubectl", "Apply")]
    out = k.run("apply", "--server-side", "--field-manager=other", "-f",
                k.file("ssa2.yaml", SETTINGS.replace("settings", "owned").replace(
                    "COLOR", "yellow")), code=1)
    assert 'Apply failed with 1 conflict: conflict with "kubectl": .data.color' in out
    assert "--force-conflicts" in out
    k.run("apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f",
          str(k.folder / "ssa2.yaml"))
    assert k.run("get", "configmap", "owned", "-o", "jsonpath={.data.color}") == "yellow"

    # -- get in every output form, get -w ------------------------------------------------
    out = k.run("get", "pods", "-o", "wide", "-l", "app=web")
    assert re.search(r"NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE", out)
    assert len(re.findall(r"^web-\S+\s+1/1\s+Running", out, re.M)) == 2, out
    assert "kind: Deployment" in k.run("get", "deployment", "web", "-o", "yaml")
    assert json.loads(k.run("get", "deployment", "web", "-o", "json"))["spec"]["replicas"] == 2
    assert k.run("get", "deployment", "web", "-o", "jsonpath={.spec.replicas}") == "2"
    out = k.run("get", "deployment", "web", "-o",
                "custom-columns=NAME:.metadata.name,WANTED:.spec.replicas")
    assert re.search(r"^NAME\s+WANTED\n^web\s+2$", out, re.M), out
    assert k.run("get", "service", "web", "-o", "go-template={{.spec.ports}}").startswith(
        "[map[")
    with background(k.argv("get", "configmaps", "-w", "--output-watch-events"),
                    k.env) as watch:
        read_until(watch, r"ADDED\s+settings")
        # kubectl 1.33 sends what its typed clients create as protobuf.
        assert "configmap/watched created" in k.run("create", "configmap", "watched",
                                                    "--from-literal=a=1")
        read_until(watch, r"ADDED\s+watched")

    assert "secret/token created" in k.run("create", "secret", "generic", "token",
                                           "--from-literal=key=s3cr3t")
    assert k.run("get", "secret", "token", "-o", "jsonpath={.data.key}") == "czNjcjN0"
    out = k.run("create", "deployment", "side", f"--image={BUSYBOX}", "--replicas=0",
                "--", "sleep", "60")
    assert "deployment.apps/side created" in out
    side = json.loads(k.run("get", "deployment", "side", "-o", "json"))
    assert side["spec"]["replicas"] == 0                      # an explicit zero kept
    assert side["spec"]["template"]["spec"]["containers"][0]["command"] == ["sleep", "60"]
    assert "service/side created" in k.run("create", "service", "clusterip", "side",
                                           "--tcp=80:8080")

    # -- describe, diff, explain, discovery ----------------------------------------------
    out = k.run("describe", "deployment", "web")
    assert re.search(r"^Name:\s+web$", out, re.M) and "Replicas:" in out
    assert "Events:" in out
    assert k.run("diff", "-f", str(k.folder / "web.yaml")) == ""
    changed = k.file("web3.yaml", WEB.replace("replicas: 2", "replicas: 3"))
    out = k.run("diff", "-f", changed, code=1)
    assert "-  replicas: 2" in out and "+  replicas: 3" in out
    # replicas belongs to kubectl create's manager: server-side, that is a conflict.
    out = k.run("diff", "--server-side", "-f", changed, code=2)
    assert 'conflict with "kubectl-create" using apps/v1: .spec.replicas' in out
    out = k.run("diff", "--server-side", "--force-conflicts", "-f", changed, code=1)
    assert "+  replicas: 3" in out
    assert k.run("get", "deployment", "web", "-o", "jsonpath={.spec.replicas}") == "2"
    out = k.run("explain", "deployment.spec.replicas")
    assert "replicas" in out and "<integer>" in out and "Number of desired pods" in out
    out = k.run("api-resources")
    assert re.search(r"^deployments\s+deploy\s+apps/v1\s+true\s+Deployment$", out, re.M)
    assert "apps/v1" in k.run("api-versions")
    out = k.run("get", "all")
    assert "deployment.apps/web" in out and "service/web" in out and "service/side" in out
    assert re.search(r"^pod/web-", out, re.M) and "replicaset.apps/web-" in out

    # -- exec, cp, port-forward, logs -f -------------------------------------------------
    pod = k.run("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}")
    assert k.run("exec", pod, "--", "echo", "hi") == "hi\n"
    out = k.run("exec", pod, "--", "sh", "-c", "exit 3", code=3)
    assert "command terminated with exit code 3" in out
    (k.folder / "note.txt").write_text("copied\n")
    k.run("cp", str(k.folder / "note.txt"), f"{pod}:/tmp/note.txt")
    assert k.run("exec", pod, "--", "cat", "/tmp/note.txt") == "copied\n"
    port = free_port()
    with background(k.argv("port-forward", "deployment/web", f"{port}:8080"), k.env) as pf:
        read_until(pf, rf"Forwarding from 127\.0\.0\.1:{port}")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
            assert answer.read() == b"hello\n"
    k.run("create", "-f", k.file("printer.yaml", PRINTER))
    wait_for("the printer pod to start", lambda: k.run(
        "get", "pod", "printer", "-o", "jsonpath={.status.phase}") in ("Running", "Succeeded"))
    assert k.run("logs", "-f", "printer") == "line 1\nline 2\nline 3\n"

    # -- rollout, scale, wait --------------------------------------------------------------
    assert "deployment.apps/web restarted" in k.run("rollout", "restart", "deployment/web")
    k.run("rollout", "status", "deployment/web", "--timeout=90s")
    out = k.run("rollout", "history", "deployment/web")
    assert re.search(r"^1\s", out, re.M) and re.search(r"^2\s", out, re.M), out
    assert "deployment.apps/web rolled back" in k.run("rollout", "undo", "deployment/web")
    k.run("rollout", "status", "deployment/web", "--timeout=90s")
    assert "deployment.apps/web scaled" in k.run("scale", "deployment/web", "--replicas=3")
    out = k.run("wait", "--for=jsonpath={.status.readyReplicas}=3", "deployment/web",
                "--timeout=90s")
    assert "condition met" in out

    # -- label, annotate, patch (strategic, merge, json), edit -----------------------------
    assert "deployment.apps/web labeled" in k.run("label", "deployment", "web", "tier=front")
    # kubectl 1.27 prints "annotate" (its own wording; "annotated" from 1.28).
    assert re.search(r"^deployment.apps/web annotated?$", k.run(
        "annotate", "deployment", "web", "note=x"), re.M)
    assert "deployment.apps/web patched" in k.run(
        "patch", "deployment", "web", "-p", '{"spec":{"minReadySeconds":1}}')
    k.run("patch", "deployment", "web", "--type=merge", "-p",
          '{"metadata":{"labels":{"merged":"yes"}}}')
    k.run("patch", "deployment", "web", "--type=json", "-p",
          '[{"op":"replace","path":"/spec/replicas","value":2}]')
    obj = json.loads(k.run("get", "deployment", "web", "-o", "json"))
    assert obj["spec"]["minReadySeconds"] == 1 and obj["spec"]["replicas"] == 2
    assert obj["metadata"]["labels"] == {"app": "web", "tier": "front", "merged": "yes"}
    editor = k.file("editor.sh", "#!/bin/sh\nsed -i 's/note: x/note: edited/' \"$1\"\n")
    os.chmod(editor, 0o755)
    assert "deployment.apps/web edited" in k.run("edit", "deployment", "web",
                                                 env={"KUBE_EDITOR": editor})
    assert k.run("get", "deployment", "web", "-o",
                 "jsonpath={.metadata.annotations.note}") == "edited"

    # -- auth, top -----------------------------------------------------------------------
    assert k.run("auth", "can-i", "create", "pods") == "yes\n"
    assert re.search(r"^\*\.\*\s+\[\]\s+\[\]\s+\[\*\]", k.run("auth", "can-i", "--list"), re.M)
    assert re.search(r"^Username\s+kompy-admin$", k.run("auth", "whoami"), re.M)
    # The Metrics API (two samples of the collector, 15 s apart, before a pod has a rate).
    wait_for("kubectl top to list the web pods", lambda: re.search(
        r"^web-\S+\s+\d+m\s+\d+Mi", k.run("top", "pods"), re.M), timeout=60)

    # -- delete with each cascade -----------------------------------------------------------
    assert 'configmap "settings" deleted' in k.run("delete", "configmap", "settings")
    replicasets = k.run("get", "rs", "-l", "app=web", "-o", "name").split()
    assert replicasets
    k.run("delete", "deployment", "web", "--cascade=orphan")
    out = k.run("get", "rs", "-l", "app=web", "-o",
                "jsonpath={.items[*].metadata.ownerReferences}")
    assert out == "" and k.run("get", "rs", "-l", "app=web", "-o", "name").split() == \
        replicasets
    k.run("delete", "rs", "-l", "app=web", "--cascade=foreground")
    assert k.run("get", "rs", "-l", "app=web", "-o", "name") == ""
    k.run("delete", "service", "web", "--cascade=background")
    k.run("delete", "pod", "printer", "--wait=false")
    k.run("wait", "--for=delete", "pod/printer", "--timeout=60s")
    assert k.run("get", "pod", "printer", "--ignore-not-found") == ""
    wait_for("the web pods to go", lambda: k.run(
        "get", "pods", "-l", "app=web", "-o", "name") == "")
