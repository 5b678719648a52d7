"""Pods on the real Docker engine through the built-in cluster's API (no mock of Docker)."""

from __future__ import annotations

import base64
import json
import subprocess
from typing import Any

import leakkit
import pytest
from clusterkit import container, events, phase, pod, running, sh, wait_for

pytestmark = pytest.mark.integration


def docker_inspect(client: Any, pod_name: str, ns: str) -> list[dict[str, Any]]:
    uid = client.get("pods", pod_name, ns)["metadata"]["uid"]
    ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=kompy.pod-uid={uid}"],
                         check=True, capture_output=True, text=True).stdout.split()
    out = subprocess.run(["docker", "inspect", *ids], check=True, capture_output=True,
                         text=True).stdout
    return list(json.loads(out))


def test_containers_of_a_pod_share_localhost(client: Any, namespace: str) -> None:
    client.create(pod("two", namespace,
                      container("web", "echo hello-from-web > /tmp/index.html; "
                                "exec httpd -f -p 8080 -h /tmp"),
                      container("side", "exec sleep 3600")))
    running(client, "two", namespace)
    out = wait_for("the side container reaching the web container on localhost",
                   lambda: sh(client, "two", namespace,
                              "wget -qO- http://127.0.0.1:8080/index.html", "side"))
    assert out.strip() == "hello-from-web"
    status = client.get("pods", "two", namespace)["status"]
    assert status["podIP"] and status["hostIP"]
    assert {c["name"] for c in status["containerStatuses"]} == {"web", "side"}
    assert sh(client, "two", namespace, "hostname", "side").strip() == "two"


def test_env_envfrom_and_valuefrom(client: Any, namespace: str) -> None:
    client.create({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "cfg", "namespace": namespace},
                   "data": {"MODE": "fast", "LEVEL": "3"}})
    client.create({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "sec", "namespace": namespace},
                   "data": {"TOKEN": base64.b64encode(b"s3cret").decode()}})
    client.create(pod("envy", namespace, container(
        "c", "exec sleep 3600",
        envFrom=[{"configMapRef": {"name": "cfg"}, "prefix": "CM_"}],
        env=[{"name": "FROM_CM", "valueFrom": {"configMapKeyRef": {"name": "cfg",
                                                                    "key": "MODE"}}},
             {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "sec",
                                                                     "key": "TOKEN"}}},
             {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
             {"name": "POD_NS",
              "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
             {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
             {"name": "COMBINED", "value": "$(FROM_CM)-$(POD_NAME)"}])))
    status = running(client, "envy", namespace)["status"]
    env = dict(line.split("=", 1) for line in
               sh(client, "envy", namespace, "env").splitlines() if "=" in line)
    assert env["CM_MODE"] == "fast" and env["CM_LEVEL"] == "3"
    assert env["FROM_CM"] == "fast"
    assert env["FROM_SECRET"] == "s3cret"
    assert env["POD_NAME"] == "envy" and env["POD_NS"] == namespace
    assert env["POD_IP"] == status["podIP"]
    assert env["COMBINED"] == "fast-envy"


def test_missing_configmap_key_is_reported(client: Any, namespace: str) -> None:
    client.create(pod("nokey", namespace, container(
        "c", "sleep 1", env=[{"name": "X", "valueFrom": {"configMapKeyRef": {
            "name": "absent", "key": "k"}}}])))

    def waiting() -> str | None:
        cs = (client.get("pods", "nokey", namespace).get("status") or {}).get(
            "containerStatuses") or [{}]
        return ((cs[0].get("state") or {}).get("waiting") or {}).get("reason")

    assert wait_for("CreateContainerConfigError", lambda: waiting() ==
                    "CreateContainerConfigError" and "yes", 30)


def test_secret_files_are_private_and_never_in_docker_env_or_logs(
        client: Any, namespace: str, cluster: dict[str, Any]) -> None:
    value = "file-only-secret-7f3a9"
    client.create({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "db", "namespace": namespace},
                   "data": {"password": base64.b64encode(value.encode()).decode()}})
    client.create({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "conf", "namespace": namespace},
                   "data": {"app.conf": "port=80\n", "other": "x"}})
    spec = pod("files", namespace, container(
        "c", "exec sleep 3600", volumeMounts=[
            {"name": "secret", "mountPath": "/run/secrets/db"},
            {"name": "conf", "mountPath": "/etc/app"},
            {"name": "conf", "mountPath": "/etc/single.conf", "subPath": "app.conf"}]))
    spec["spec"]["volumes"] = [
        {"name": "secret", "secret": {"secretName": "db"}},
        {"name": "conf", "configMap": {"name": "conf",
                                       "items": [{"key": "app.conf", "path": "app.conf"}]}}]
    client.create(spec)
    running(client, "files", namespace)
    assert sh(client, "files", namespace, "cat /run/secrets/db/password") == value
    assert sh(client, "files", namespace, "stat -c %a /run/secrets/db/password").strip() == "600"
    assert sh(client, "files", namespace, "ls /etc/app").split() == ["app.conf"]
    assert sh(client, "files", namespace, "cat /etc/single.conf") == "port=80\n"
    inspected = json.dumps(docker_inspect(client, "files", namespace))
    assert value not in inspected
    log_text = (cluster["dir"] / "daemon.log").read_text(errors="replace")
    assert value not in log_text
    # The host copy is private too.
    uid = client.get("pods", "files", namespace)["metadata"]["uid"]
    folder = cluster["dir"] / "pods" / uid / "volumes" / "secret"
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert oct((folder / "password").stat().st_mode & 0o777) == "0o600"


def test_an_image_that_runs_as_a_user_reads_its_secret_file(
        client: Any, namespace: str) -> None:
    """On Kubernetes the file is root's and 0644, so the image's USER reads it; here it is
    0600 and that user's."""
    image = f"{leakkit.image_name('user')}:1"
    subprocess.run(["docker", "build", "-q", "-t", image, "-"], check=True, capture_output=True,
                   input=b"FROM kompy/busybox:1\nUSER 1000:1000\n")
    try:
        client.create({"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": "token", "namespace": namespace},
                       "data": {"token": base64.b64encode(b"t0ken").decode()}})
        spec = pod("reader", namespace, {
            "name": "c", "image": image, "command": ["sh", "-c", "exec sleep 3600"],
            "volumeMounts": [{"name": "s", "mountPath": "/run/secrets/app"}]})
        spec["spec"]["volumes"] = [{"name": "s", "secret": {"secretName": "token"}}]
        client.create(spec)
        running(client, "reader", namespace)
        assert sh(client, "reader", namespace, "id -u").strip() == "1000"
        assert sh(client, "reader", namespace, "cat /run/secrets/app/token") == "t0ken"
        assert sh(client, "reader", namespace,
                  "stat -c '%a %u' /run/secrets/app/token").strip() == "600 1000"
    finally:
        client.delete("pods", "reader", namespace, grace_period_seconds=0)
        wait_for("the reader's containers gone", lambda: not subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"ancestor={image}"], capture_output=True,
            text=True).stdout.strip(), 60)
        subprocess.run(["docker", "rmi", image], capture_output=True)


def test_claim_data_survives_the_pod(client: Any, namespace: str) -> None:
    client.create({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                   "metadata": {"name": "data", "namespace": namespace},
                   "spec": {"accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "10Mi"}}}})

    def make(name: str) -> dict[str, Any]:
        spec = pod(name, namespace, container("c", "exec sleep 3600", volumeMounts=[
            {"name": "d", "mountPath": "/data"}]))
        spec["spec"]["volumes"] = [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]
        return spec

    client.create(make("writer"))
    running(client, "writer", namespace)
    sh(client, "writer", namespace, "echo kept > /data/file")
    client.delete("pods", "writer", namespace)
    wait_for("the writer pod to be gone", lambda: not any(
        p["metadata"]["name"] == "writer" for p in client.list("pods", namespace)["items"]))
    client.create(make("reader"))
    running(client, "reader", namespace)
    assert sh(client, "reader", namespace, "cat /data/file").strip() == "kept"


def test_emptydir_is_shared_and_memory_medium_is_tmpfs(client: Any, namespace: str) -> None:
    spec = pod("scratch", namespace,
               container("a", "echo from-a > /shared/a; exec sleep 3600",
                         volumeMounts=[{"name": "s", "mountPath": "/shared"},
                                       {"name": "m", "mountPath": "/mem"}]),
               container("b", "exec sleep 3600",
                         volumeMounts=[{"name": "s", "mountPath": "/shared"}]))
    spec["spec"]["volumes"] = [{"name": "s", "emptyDir": {}},
                               {"name": "m", "emptyDir": {"medium": "Memory"}}]
    client.create(spec)
    running(client, "scratch", namespace)
    assert wait_for("file written by a seen by b", lambda: sh(
        client, "scratch", namespace, "cat /shared/a 2>/dev/null || true", "b").strip()) \
        == "from-a"
    mounts = sh(client, "scratch", namespace, "grep ' /mem ' /proc/mounts", "a")
    assert "tmpfs" in mounts


def test_volumes_start_empty_as_upstream(client: Any, namespace: str) -> None:
    # Docker copies an image's files into an empty volume mounted over them; Kubernetes
    # never does. An emptyDir is an empty 0777 folder any user writes to; a new claim is
    # empty too (/var holds www/ in the image).
    client.create({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                   "metadata": {"name": "fresh", "namespace": namespace},
                   "spec": {"accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "10Mi"}}}})
    spec = pod("fresh", namespace,
               container("a", "exec sleep 3600", securityContext={"runAsUser": 65534},
                         volumeMounts=[{"name": "e", "mountPath": "/var"}]),
               container("b", "exec sleep 3600",
                         volumeMounts=[{"name": "c", "mountPath": "/var"}]))
    spec["spec"]["volumes"] = [{"name": "e", "emptyDir": {}},
                               {"name": "c", "persistentVolumeClaim": {"claimName": "fresh"}}]
    # No token volume: mounted at /var/run/secrets/..., it would put run/ into the /var
    # volume (as on any cluster: a nested mount point is made in the volume).
    spec["spec"]["automountServiceAccountToken"] = False
    client.create(spec)
    running(client, "fresh", namespace)
    assert sh(client, "fresh", namespace, "ls -A /var; stat -c %a /var", "a").split() == ["777"]
    sh(client, "fresh", namespace, "touch /var/written-by-nobody", "a")
    assert sh(client, "fresh", namespace, "ls -A /var", "b").split() == []


def test_init_containers_run_first_in_order(client: Any, namespace: str) -> None:
    spec = pod("inits", namespace, container(
        "main", "cat /work/log; exec sleep 3600",
        volumeMounts=[{"name": "w", "mountPath": "/work"}]))
    spec["spec"]["initContainers"] = [
        container("first", "echo one >> /work/log", volumeMounts=[
            {"name": "w", "mountPath": "/work"}]),
        container("second", "echo two >> /work/log", volumeMounts=[
            {"name": "w", "mountPath": "/work"}])]
    spec["spec"]["volumes"] = [{"name": "w", "emptyDir": {}}]
    client.create(spec)
    status = running(client, "inits", namespace)["status"]
    assert [c["state"]["terminated"]["exitCode"] for c in status["initContainerStatuses"]] \
        == [0, 0]
    assert sh(client, "inits", namespace, "cat /work/log").split() == ["one", "two"]


def test_image_that_does_not_exist_is_err_image_pull(client: Any, namespace: str) -> None:
    client.create(pod("ghost", namespace, {"name": "c", "image": "kompy/no-such-image:9"}))

    def reason() -> str | None:
        cs = (client.get("pods", "ghost", namespace).get("status") or {}).get(
            "containerStatuses") or [{}]
        return ((cs[0].get("state") or {}).get("waiting") or {}).get("reason")

    assert wait_for("ErrImagePull", lambda: reason() in ("ErrImagePull", "ImagePullBackOff")
                    and reason(), 60)
    assert phase(client, "ghost", namespace) == "Pending"
    failed = wait_for("a Failed event", lambda: [
        e for e in events(client, namespace, "ghost") if e["reason"] == "Failed"])
    assert "kompy/no-such-image:9" in failed[0]["message"]
    assert "could not be pulled" in failed[0]["message"]


def test_crash_looping_container_restarts_with_growing_count(
        client: Any, namespace: str) -> None:
    client.create(pod("crash", namespace, container("c", "echo dying; exit 3")))

    def restarts() -> int:
        cs = (client.get("pods", "crash", namespace).get("status") or {}).get(
            "containerStatuses") or [{}]
        return int(cs[0].get("restartCount") or 0)

    wait_for("restartCount >= 2", lambda: restarts() >= 2, 60)
    cs = client.get("pods", "crash", namespace)["status"]["containerStatuses"][0]
    last = cs["lastState"].get("terminated") or cs["state"].get("terminated")
    assert last["exitCode"] == 3
    assert b"dying" in b"".join(client.logs("crash", namespace, previous=True))
    assert wait_for("a BackOff event", lambda: [
        e for e in events(client, namespace, "crash") if e["reason"] == "BackOff"])


def test_restart_policy_never_ends_in_failed(client: Any, namespace: str) -> None:
    client.create(pod("once", namespace, container("c", "exit 4"), restartPolicy="Never"))
    wait_for("phase Failed", lambda: phase(client, "once", namespace) == "Failed", 30)
    client.create(pod("ok", namespace, container("c", "exit 0"), restartPolicy="OnFailure"))
    wait_for("phase Succeeded", lambda: phase(client, "ok", namespace) == "Succeeded", 30)


def test_liveness_probe_failure_restarts(client: Any, namespace: str) -> None:
    client.create(pod("sick", namespace, container(
        "c", "touch /tmp/alive; exec sleep 3600",
        livenessProbe={"exec": {"command": ["sh", "-c", "rm /tmp/alive"]},
                       "periodSeconds": 1, "failureThreshold": 2})))

    def restarts() -> int:
        cs = (client.get("pods", "sick", namespace).get("status") or {}).get(
            "containerStatuses") or [{}]
        return int(cs[0].get("restartCount") or 0)

    wait_for("a liveness restart", lambda: restarts() >= 1, 60)
    assert wait_for("an Unhealthy event", lambda: [
        e for e in events(client, namespace, "sick") if e["reason"] == "Unhealthy"])


def test_limits_and_security_context_reach_docker(client: Any, namespace: str) -> None:
    client.create(pod("tight", namespace, container(
        "c", "exec sleep 3600",
        resources={"limits": {"cpu": "500m", "memory": "64Mi"}},
        securityContext={"runAsUser": 1000, "runAsGroup": 1000, "readOnlyRootFilesystem": True,
                         "allowPrivilegeEscalation": False,
                         "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}})))
    running(client, "tight", namespace)
    app = next(c for c in docker_inspect(client, "tight", namespace)
               if c["Config"]["Labels"].get("kompy.role") == "app")
    host = app["HostConfig"]
    assert host["NanoCpus"] == 500_000_000
    assert host["Memory"] == 64 * 2**20
    assert host["ReadonlyRootfs"] is True
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert host["CapDrop"] == ["CAP_ALL"] or host["CapDrop"] == ["ALL"]
    assert app["Config"]["User"] == "1000:1000"
    assert sh(client, "tight", namespace, "id -u").strip() == "1000"


def test_unschedulable_pod_stays_pending_with_reason(client: Any, namespace: str) -> None:
    client.create(pod("huge", namespace, container(
        "c", "sleep 1", resources={"requests": {"cpu": "500"}})))
    found = wait_for("a FailedScheduling event", lambda: [
        e for e in events(client, namespace, "huge") if e["reason"] == "FailedScheduling"])
    assert "Insufficient cpu" in found[0]["message"]
    got = client.get("pods", "huge", namespace)
    assert not got["spec"].get("nodeName")
    assert got["status"]["phase"] == "Pending"


def test_deleting_a_pod_removes_its_containers(client: Any, namespace: str) -> None:
    client.create(pod("brief", namespace, container("c", "exec sleep 3600")))
    uid = running(client, "brief", namespace)["metadata"]["uid"]
    client.delete("pods", "brief", namespace)

    def containers() -> list[str]:
        return subprocess.run(["docker", "ps", "-aq", "--filter", f"label=kompy.pod-uid={uid}"],
                              check=True, capture_output=True, text=True).stdout.split()

    wait_for("containers removed", lambda: not containers(), 30)
    wait_for("pod object removed", lambda: not any(
        p["metadata"]["name"] == "brief" for p in client.list("pods", namespace)["items"]))


def test_a_finished_pod_releases_its_sandbox(client: Any, namespace: str) -> None:
    client.create(pod("done", namespace, container("c", "echo bye"), restartPolicy="Never"))
    wait_for("phase Succeeded", lambda: phase(client, "done", namespace) == "Succeeded", 30)
    uid = client.get("pods", "done", namespace)["metadata"]["uid"]

    def running_containers() -> list[str]:
        return subprocess.run(["docker", "ps", "-q", "--filter", f"label=kompy.pod-uid={uid}"],
                              check=True, capture_output=True, text=True).stdout.split()

    wait_for("no running container left", lambda: not running_containers(), 30)
    assert b"bye" in b"".join(client.logs("done", namespace))


def test_log_timestamps_and_since_time(client: Any, namespace: str) -> None:
    """kubectl's --timestamps and --since-time: each line carries its RFC 3339 time, and a
    sinceTime (with its fraction of a second) leaves out what came before it."""
    from kompy.client.objects import parse_time

    client.create(pod("talk", namespace, container(
        "c", "echo one; sleep 1.2; echo two; exec sleep 3600")))
    wait_for("both lines", lambda: b"two" in b"".join(client.logs("talk", namespace)), 30)
    lines = b"".join(client.logs("talk", namespace, timestamps=True)).decode().splitlines()
    stamps = [parse_time(line.split(" ", 1)[0]) for line in lines]
    assert [line.split(" ", 1)[1] for line in lines] == ["one", "two"]
    assert all(stamps) and stamps[1] - stamps[0] > 1.0  # type: ignore[operator]
    after_one = stamps[0] + 0.5  # type: ignore[operator]
    assert b"".join(client.logs("talk", namespace, since_time=after_one)) == b"two\n"
