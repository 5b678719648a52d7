"""``kompy up``/``dev``/``down`` on "any cluster", proven on the built-in one reached only the
way a remote cluster is: a kubeconfig whose user is an exec credential plugin (its token in
the API server's token file), images through Debian's docker-registry on 127.0.0.1
(``--default-repo``), and the built-in cluster's extras off (no host ports, no in-place
restarts): published ports through kompy's port-forward, syncs through the API's exec.

Also: Ctrl-C removes a session within 5 s even when its container ignores SIGTERM, a second
Ctrl-C forces; an unchanged service is neither rebuilt, pushed nor rolled; initial_sync and
the exec block's options."""

from __future__ import annotations

import http.client
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import leakkit
import pytest
from enginekit import Session, cluster_env, wait_said
from registrykit import free_port

from kompy.client import KubeClient
from kompy.engine.connection import connect
from kompy.yaml import plain

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "devloop"
TOKEN = f"tok-{uuid.uuid4().hex}"
V1 = "client.authentication.k8s.io/v1"


def kompy(*args: str, env: dict[str, str], cwd: Path, code: int = 0) -> str:
    done = subprocess.run([sys.executable, "-m", "kompy", *args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == code, f"kompy {' '.join(args)} exited {done.returncode}:\n{output}"
    return output


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A built-in cluster of this module's own (runtime on) that knows the plugin's token,
    and a kubeconfig reaching it through the plugin: context "remote"."""
    try:
        connect(timeout=5).close()
    except Exception:  # noqa: BLE001 - any failure means: no engine to test against
        pytest.skip("no Docker engine")
    folder = tmp_path_factory.mktemp("any-cluster")
    env = cluster_env(folder / "home", "any", PYTHONUNBUFFERED="1")
    tokens = folder / "tokens.csv"
    # system:masters: RBAC lets this user (authenticated by the exec plugin) do everything.
    tokens.write_text(f'{TOKEN},dev,uid-dev,"developers,system:masters"\n')
    mark = leakkit.made_mark()
    try:
        kompy("cluster", "start", "--token-auth-file", str(tokens), env=env, cwd=folder)
        plugin = folder / "get-token"
        runs = folder / "plugin.runs"
        plugin.write_text(f"#!/bin/sh\necho run >> {runs}\n"
                          f"printf '%s' '{{\"apiVersion\":\"{V1}\",\"kind\":\"ExecCredential\","
                          f"\"status\":{{\"token\":\"{TOKEN}\"}}}}'\n")
        plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
        config = plain.load(kompy("cluster", "kubeconfig", env=env, cwd=folder))
        config["users"] = [{"name": "dev", "user": {"exec": {
            "apiVersion": V1, "command": str(plugin), "interactiveMode": "Never"}}}]
        config["contexts"] = [{"name": "remote", "context": {
            "cluster": config["clusters"][0]["name"], "user": "dev"}}]
        config["current-context"] = "remote"
        kubeconfig = folder / "kubeconfig"
        kubeconfig.write_text(plain.dump(config))
        yield {"env": env, "kubeconfig": str(kubeconfig), "runs": runs, "folder": folder,
               "client": KubeClient.from_kubeconfig(str(kubeconfig), "remote")}
    finally:
        subprocess.run([sys.executable, "-m", "kompy", "cluster", "reset", "--yes"], env=env,
                       capture_output=True, timeout=180)
        leakkit.remove_repositories(leakkit.made_since(mark))   # the projects' builds


def get(port: int, path: str) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as answer:
            return str(answer.read().decode().strip())
    except (urllib.error.URLError, OSError, http.client.HTTPException):
        return None


def devloop(folder: Path, port: int) -> Path:
    project = folder / f"devloop-{uuid.uuid4().hex[:6]}"
    shutil.copytree(SAMPLE, project)
    compose = project / "compose.yaml"
    compose.write_text(compose.read_text().replace('"8090:8000"', f'"{port}:8000"')
                       .replace("name: devloop", f"name: {project.name}"))
    leakkit.own_images(compose)   # the site fixture removes them
    return project


def web_repo(project: Path) -> str:
    """The repository the project's web image is built under (leakkit.own_images named it)."""
    return str(plain.load((project / "compose.yaml").read_text())["services"]["web"]["image"]
               ).rsplit(":", 1)[0]


def namespace_gone(client: KubeClient, namespace: str) -> bool:
    return not any(ns["metadata"]["name"] == namespace
                   for ns in client.list("namespaces")["items"])


def test_dev_on_any_cluster_through_an_exec_plugin(site: dict[str, Any], registry: Any) -> None:
    """The issue's proof: nothing of the loop depends on a private shortcut."""
    port = free_port()
    project = devloop(site["folder"], port)
    namespace = project.name
    client: KubeClient = site["client"]
    session = Session(project, site["env"], "--kubeconfig", site["kubeconfig"], "--context",
                      "remote", "--default-repo", registry.prefix)
    seen = session.output
    try:
        wait_said("the first deploy", lambda: get(port, "/index.html") == "v1", 240, seen)
        wait_said("watching", lambda: session.said("watching"), 30, seen)
        assert session.said(f"web: http://127.0.0.1:{port} (port-forward to service web:8000)")
        # No host port: the built-in cluster's proxy was not asked to serve one.
        service = client.get("services", "web", namespace)
        annotations = service["metadata"].get("annotations") or {}
        assert "kompy.dev/host-ports" not in annotations
        assert annotations["kompy.dev/published-ports"] == f"{port}:8000/tcp"
        # The pods run the image under the default repo, which the registry holds.
        pod = client.list("pods", namespace)["items"][0]
        image = pod["spec"]["containers"][0]["image"]
        repo, tag = image.rsplit(":", 1)
        assert repo == f"{registry.prefix}/{web_repo(project)}" and tag in registry.tags(repo)

        # The image really comes from the registry: without its local name, a new pod pulls.
        engine = connect()
        try:
            engine.api.remove_image(image, noprune=True)
        finally:
            engine.close()
        client.delete("pods", pod["metadata"]["name"], namespace)
        wait_said("a pod that pulled the image", lambda: any(
            e.get("reason") == "Pulled" and "Successfully pulled" in str(e.get("message"))
            and image in str(e.get("message"))
            for e in client.list("events", namespace)["items"]), 60, seen)
        wait_said("served again", lambda: get(port, "/index.html") == "v1", 60, seen)

        # sync: through the API's exec, served through the port-forward
        (project / "web" / "www" / "index.html").write_text("v2\n")
        wait_said("the synced page", lambda: get(port, "/index.html") == "v2", 30, seen)
        # sync+restart without in-place restarts: a rebuild (the image has the file)
        (project / "web" / "conf" / "greeting").write_text("bonjour\n")
        wait_said("the new greeting", lambda: get(port, "/greeting.txt") == "bonjour", 120, seen)
        assert session.said("no in-place restarts on this cluster: rebuilding")
        # rebuild: a new tag, pushed, rolled, served through the same forward
        dockerfile = project / "web" / "Dockerfile"
        dockerfile.write_text(dockerfile.read_text().replace("echo 1 >", "echo 2 >"))
        wait_said("the rebuilt image", lambda: get(port, "/build.txt") == "2", 180, seen)
        assert len(registry.tags(repo)) >= 3
        assert site["runs"].read_text().count("run") >= 1   # the plugin gave the token
    finally:
        code, took = session.interrupt()
    assert code == 0, "".join(seen[-40:])
    assert namespace_gone(client, namespace)


TERM_IGNORED = """\
name: {name}
services:
  web:
    image: kompy/busybox:1
    command: ["sh", "-c", "trap '' TERM; while true; do sleep 1; done"]
    stop_grace_period: 1m
"""


@pytest.mark.parametrize("remote", [False, True], ids=["built-in", "context"])
def test_ctrl_c_removes_the_session_in_its_grace_even_when_sigterm_is_ignored(
        site: dict[str, Any], tmp_path: Path, remote: bool) -> None:
    """On the built-in cluster as kompy dev uses it, and through the kubeconfig's context
    (the extras off: the same clean-up through the API only). kompy dev's grace period (2 s)
    caps the service's stop_grace_period (1 minute): about 2 s on a quiet machine; the bound
    only has to stay far from the minute, as a loaded machine stretches the rest."""
    name = f"stubborn-{uuid.uuid4().hex[:6]}"
    (tmp_path / "compose.yaml").write_text(TERM_IGNORED.format(name=name))
    client: KubeClient = site["client"]
    through = ("--kubeconfig", site["kubeconfig"], "--context", "remote") if remote else ()
    session = Session(tmp_path, site["env"], "--no-logs", *through)
    wait_said("watching", lambda: session.said("watching"), 240, session.output)
    code, took = session.interrupt()
    assert code == 0, "".join(session.output[-30:])
    assert took < 30.0, f"the clean-up took {took:.1f} s:\n" + "".join(session.output[-20:])
    assert namespace_gone(client, name)
    left = subprocess.run(["docker", "ps", "-aq", "--filter",
                           f"label=kompy.cluster={site['env']['KOMPY_CLUSTER']}", "--filter",
                           f"label=kompy.namespace={name}"],
                          capture_output=True, text=True, check=True).stdout.split()
    assert left == []


def test_a_second_ctrl_c_forces_the_clean_up(site: dict[str, Any], tmp_path: Path) -> None:
    name = f"forced-{uuid.uuid4().hex[:6]}"
    (tmp_path / "compose.yaml").write_text(TERM_IGNORED.format(name=name))
    client: KubeClient = site["client"]
    # A long grace period: without the second Ctrl-C the clean-up would wait it out.
    session = Session(tmp_path, site["env"], "--no-logs", "--grace-period", "60s")
    wait_said("watching", lambda: session.said("watching"), 240, session.output)
    began = time.monotonic()
    session.proc.send_signal(signal.SIGINT)
    wait_said("the clean-up", lambda: session.said("removing the project"), 30, session.output)
    session.proc.send_signal(signal.SIGINT)
    code = session.proc.wait(timeout=60)
    took = time.monotonic() - began
    session.reader.join(5)
    assert code == 0, "".join(session.output[-30:])
    assert took < 30.0, f"forcing took {took:.1f} s"   # not the 60 s grace period
    assert session.said("forcing: deleting the pods at once")
    wait_said("the pods gone", lambda: not client.list("pods", name)["items"], 10,
              session.output)


def test_an_unchanged_service_is_not_rebuilt_pushed_or_rolled(site: dict[str, Any],
                                                             registry: Any) -> None:
    project = devloop(site["folder"], free_port())
    env, client = site["env"], site["client"]
    first = kompy("up", "--default-repo", registry.prefix, env=env, cwd=project)
    assert "pushing web" in first or "is in the registry already" in first
    pods = sorted(p["metadata"]["name"] for p in client.list("pods", project.name)["items"])
    again = kompy("up", "--default-repo", registry.prefix, env=env, cwd=project)
    assert "building" not in again and "pushing" not in again, again
    assert "is up to date" in again and "is in the registry already" in again
    assert "deployment/web configured" not in again      # the same template: nothing rolled
    assert sorted(p["metadata"]["name"]
                  for p in client.list("pods", project.name)["items"]) == pods
    kompy("down", env=env, cwd=project)


def test_up_and_down_through_a_context(site: dict[str, Any], registry: Any) -> None:
    port = free_port()
    project = devloop(site["folder"], port)
    env, client = site["env"], site["client"]
    args = ("--kubeconfig", site["kubeconfig"], "--context", "remote")
    output = kompy("up", *args, "--default-repo", registry.prefix, env=env, cwd=project)
    assert f"web: port {port} is published through port-forward" in output
    assert get(port, "/index.html") is None   # no host port on this path
    ready = [p for p in client.list("pods", project.name)["items"]
             if (p.get("status") or {}).get("phase") == "Running"]
    assert ready and ready[0]["spec"]["containers"][0]["image"].startswith(registry.prefix)
    output = kompy("down", *args, env=env, cwd=project)
    assert f"namespace {project.name} deleted" in output
    assert namespace_gone(client, project.name)


INITIAL = """\
name: {name}
services:
  web:
    build: ./web
    image: {name}-web:dev
    develop:
      watch:
        - path: ./extra
          action: sync+exec
          target: /srv/extra
          initial_sync: true
          exec:
            command:
              - sh
              - -c
              - 'echo "$$GREETING from $$(pwd) as $$(id -un): $$(cat extra/a.txt)" > /tmp/exec.txt'
            user: app
            working_dir: /srv
            environment:
              GREETING: hello
        - path: ./extra
          action: sync+exec
          target: /srv/extra
          initial_sync: true
          exec:
            command: ["sh", "-c", "grep CapEff /proc/self/status > /tmp/caps.txt"]
            privileged: true
"""
# Docker's default capabilities (CapEff of an unprivileged root process), and with all of
# them (privileged): bounded by what the kernel has, so only "not the default" is checked.
DEFAULT_CAPS = "00000000a80425fb"


@pytest.mark.parametrize("extras", [True, False], ids=["extras", "no-extras"])
def test_initial_sync_and_the_exec_blocks_options(site: dict[str, Any], tmp_path: Path,
                                                  extras: bool) -> None:
    """With the extras a privileged command runs privileged (through the engine); without
    them, through the API's exec, which cannot grant it: unprivileged, and said so."""
    name = f"initial-{uuid.uuid4().hex[:6]}"
    (tmp_path / "compose.yaml").write_text(INITIAL.format(name=name))
    leakkit.own_images(tmp_path / "compose.yaml")
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "Dockerfile").write_text(
        'FROM kompy/busybox:1\nRUN mkdir -p /srv/extra && chmod 777 /srv/extra\n'
        'CMD ["sh", "-c", "trap \'exit 0\' TERM; while true; do sleep 1; done"]\n')
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "a.txt").write_text("outside the build context\n")
    client: KubeClient = site["client"]
    flag = "--builtin-extras" if extras else "--no-builtin-extras"
    session = Session(tmp_path, site["env"], "--no-logs", flag)
    try:
        wait_said("watching", lambda: session.said("watching"), 240, session.output)
        assert session.said("web: initial sync of 1 file")
        pod = client.list("pods", name)["items"][0]["metadata"]["name"]
        code, out = client.exec(pod, name, ["cat", "/tmp/exec.txt"])
        assert code == 0, out
        assert out.decode().strip() == "hello from /srv as app: outside the build context"
        warned = session.said("cannot be granted through the Kubernetes exec API")
        assert warned != extras, "".join(session.output)
        if extras and session.said("unable to apply caps"):
            # An engine that may not grant capabilities itself (a Docker daemon in a
            # container: `docker exec --privileged` fails the same way) refuses; kompy
            # passed the request on and reports the refusal in one line.
            refusal = [line for line in session.output if "unable to apply caps" in line]
            assert refusal[0].startswith(f"error: pod {pod}: `sh -c grep CapEff"), refusal
            return
        code, out = client.exec(pod, name, ["cat", "/tmp/caps.txt"])
        assert code == 0, out
        caps = out.decode().split()[-1]
        assert (caps != DEFAULT_CAPS) == extras, (caps, "".join(session.output))
    finally:
        code, _ = session.interrupt()
    assert code == 0


def test_a_namespace_kompy_did_not_make_is_kept_with_what_others_put_in_it(
        site: dict[str, Any], registry: Any) -> None:
    """A shared cluster's team namespace, made by its admin before ``up``: ``down`` removes
    kompy's objects (applied server-side under the field manager kompy) and nothing else."""
    project = devloop(site["folder"], free_port())
    env, client = site["env"], site["client"]
    namespace = project.name
    client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": namespace, "labels": {"team": "web"}}})
    client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "theirs", "namespace": namespace}, "data": {"a": "b"}})
    args = ("--kubeconfig", site["kubeconfig"], "--context", "remote")
    kompy("up", *args, "--default-repo", registry.prefix, env=env, cwd=project)
    deployment = client.get("deployments", "web", namespace)
    managers = {(m["manager"], m["operation"]) for m in deployment["metadata"]["managedFields"]}
    assert ("kompy", "Apply") in managers, managers
    labels = client.get("namespaces", namespace)["metadata"]["labels"]
    assert labels["team"] == "web" and "app.kubernetes.io/managed-by" not in labels
    output = kompy("down", *args, env=env, cwd=project)
    assert f"namespace {namespace} kept (kompy did not create it)" in output, output
    assert client.get("configmaps", "theirs", namespace)["data"] == {"a": "b"}
    assert not client.list("deployments", namespace)["items"]
    assert not client.list("services", namespace)["items"]
    assert not client.list("pods", namespace)["items"]
    client.delete("namespaces", namespace)


WITH_VOLUME = """\
name: {name}
services:
  db:
    image: kompy/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    volumes: ["data:/data"]
volumes:
  data: {{}}
"""


def test_down_on_another_cluster_keeps_the_volume_claims_unless_volumes(
        site: dict[str, Any], tmp_path: Path) -> None:
    """A claim's data goes with the claim there: kept, with its namespace, as docker compose
    down keeps named volumes; --volumes removes them."""
    name = f"claims-{uuid.uuid4().hex[:6]}"
    (tmp_path / "compose.yaml").write_text(WITH_VOLUME.format(name=name))
    env, client = site["env"], site["client"]
    args = ("--kubeconfig", site["kubeconfig"], "--context", "remote")
    kompy("up", *args, env=env, cwd=tmp_path)
    claims = [c["metadata"]["name"] for c in client.list("persistentvolumeclaims", name)["items"]]
    assert claims, "the project has a claim"
    output = kompy("down", *args, env=env, cwd=tmp_path)
    assert f"namespace {name} kept: it holds the volume claims {', '.join(sorted(claims))}" \
        in output, output
    assert not client.list("pods", name)["items"]
    assert not client.list("deployments", name)["items"]
    assert [c["metadata"]["name"] for c in
            client.list("persistentvolumeclaims", name)["items"]] == claims
    output = kompy("down", "--volumes", *args, env=env, cwd=tmp_path)
    assert f"namespace {name} deleted" in output, output
    assert namespace_gone(client, name)


def test_up_dev_and_down_as_a_user_limited_to_one_namespace(site: dict[str, Any],
                                                             registry: Any) -> None:
    """A shared cluster's usual grant: a user who may edit the team's namespace, made by the
    admin, and may not read namespaces at all (RBAC). up applies there (-n: not the
    project's name), dev syncs and forwards there, the clean-up removes kompy's objects and
    keeps the namespace."""
    port = free_port()
    project = devloop(site["folder"], port)
    env, client = site["env"], site["client"]
    namespace = f"team-{uuid.uuid4().hex[:6]}"
    client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    minted = subprocess.run([sys.executable, "-m", "kompy", "cluster", "kubeconfig", "--user",
                             "alice", "--namespace", namespace, "--role", "edit"],
                            cwd=project, env=env, text=True, capture_output=True, timeout=120)
    assert minted.returncode == 0, minted.stderr
    config = site["folder"] / f"{namespace}.kubeconfig"
    config.write_text(minted.stdout)
    config.chmod(0o600)
    args = ("--kubeconfig", str(config), "-n", namespace)
    output = kompy("up", *args, "--default-repo", registry.prefix, env=env, cwd=project)
    assert "deployment/web created" in output, output
    session = Session(project, env, *args, "--default-repo", registry.prefix, "--no-logs")
    try:
        wait_said("served through the forward", lambda: get(port, "/index.html") == "v1", 120,
                  session.output)
        wait_said("watching", lambda: session.said("watching"), 30, session.output)
        (project / "web" / "www" / "index.html").write_text("v2\n")
        wait_said("the synced page", lambda: get(port, "/index.html") == "v2", 30,
                  session.output)
    finally:
        code, _ = session.interrupt()
    assert code == 0, "".join(session.output[-30:])
    assert session.said(f"namespace {namespace} kept (kompy did not create it)")
    assert not client.list("deployments", namespace)["items"]
    assert not client.list("pods", namespace)["items"]
    client.delete("namespaces", namespace)
