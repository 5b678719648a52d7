"""postStart hooks on the real engine, as upstream's kubelet runs them: the hook runs right
after the container starts and before it counts as ready; a failing one is a
FailedPostStartHook event and the container is restarted. And a Compose post_start hook,
converted and applied, does what `docker compose up` does with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clusterkit import container, events, pod, running, sh, wait_for

from kompy.compose.loader import LoadOptions, load_project
from kompy.convert import convert
from kompy.convert.options import ConvertOptions

# The main process waits for the hook's file: it only goes on when the hook ran in it.
WAITS_FOR_HOOK = ("until [ -f /tmp/hooked ]; do sleep 0.1; done; echo saw-hook > /tmp/seen; "
                  "exec sleep 3600")


def test_the_post_start_hook_runs_before_the_container_is_ready(client: Any,
                                                                namespace: str) -> None:
    hooked = container("app", WAITS_FOR_HOOK, lifecycle={"postStart": {"exec": {"command": [
        "sh", "-c", "echo from-hook > /tmp/hooked"]}}}, readinessProbe={
            "exec": {"command": ["cat", "/tmp/hooked"]}, "periodSeconds": 1})
    client.create(pod("hooked", namespace, hooked))
    running(client, "hooked", namespace, timeout=120)
    assert sh(client, "hooked", namespace, "cat /tmp/hooked /tmp/seen") == "from-hook\nsaw-hook\n"


def test_a_failing_post_start_hook_restarts_the_container_with_an_event(
        client: Any, namespace: str) -> None:
    failing = container("app", "exec sleep 3600", lifecycle={"postStart": {"exec": {
        "command": ["sh", "-c", "exit 3"]}}})
    client.create(pod("failing", namespace, failing))
    found = wait_for("the FailedPostStartHook event", lambda: [
        e for e in events(client, namespace, "failing")
        if e.get("reason") == "FailedPostStartHook"], 120)
    assert found[0]["type"] == "Warning"
    wait_for("a restart", lambda: (client.get("pods", "failing", namespace).get("status") or {})
             .get("containerStatuses", [{}])[0].get("restartCount", 0) >= 1, 120)


def test_a_converted_compose_post_start_hook_runs(client: Any, namespace: str,
                                                   tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(f"""\
services:
  app:
    image: kompy/busybox:1
    command: ["sh", "-c", "{WAITS_FOR_HOOK}"]
    post_start:
      - command: mkdir -p /tmp/work
      - command: ["sh", "-c", "echo $$GREETING > /tmp/hooked"]
        working_dir: /tmp/work
        environment:
          GREETING: hello from compose
""")
    project = load_project(LoadOptions(files=(str(tmp_path / "compose.yaml"),),
                                       cwd=str(tmp_path)), [])
    conversion = convert(project, ConvertOptions(namespace=namespace))
    for obj in conversion.objects:
        if obj["kind"] != "Namespace":  # the test's namespace exists already
            client.create(obj)
    pods = wait_for("the app's pod Ready", lambda: [
        p for p in client.list("pods", namespace)["items"]
        if all(s.get("ready") for s in (p.get("status") or {}).get("containerStatuses") or
               [{}])], 120)
    name = pods[0]["metadata"]["name"]
    assert sh(client, name, namespace, "cat /tmp/hooked /tmp/seen") == (
        "hello from compose\nsaw-hook\n")


def test_a_liveness_kill_runs_the_pre_stop_hook_within_the_probes_grace(
        client: Any, namespace: str) -> None:
    """As upstream's killContainer: the preStop hook runs before the stop signal, and the
    probe's own terminationGracePeriodSeconds (2 s) overrides the pod's (120 s), so `sleep`
    (PID 1 ignores SIGTERM) is SIGKILLed seconds after the Killing event, not minutes."""
    sick = container(
        "app", "touch /tmp/alive; exec sleep 3600",
        livenessProbe={"exec": {"command": ["sh", "-c", "rm /tmp/alive"]}, "periodSeconds": 1,
                       "failureThreshold": 1, "terminationGracePeriodSeconds": 2},
        lifecycle={"preStop": {"exec": {"command": ["sh", "-c", "echo drained >> /data/log"]}}},
        volumeMounts=[{"name": "data", "mountPath": "/data"}])
    client.create(pod("sick", namespace, sick, terminationGracePeriodSeconds=120,
                      volumes=[{"name": "data", "emptyDir": {}}]))
    killing = wait_for("the Killing event", lambda: [
        e for e in events(client, namespace, "sick") if e.get("reason") == "Killing"], 120)
    assert killing[0]["type"] == "Normal"
    assert killing[0]["message"] == "Container app failed liveness probe, will be restarted"

    def restarted() -> dict[str, Any] | None:
        statuses = (client.get("pods", "sick", namespace).get("status") or {}).get(
            "containerStatuses") or [{}]
        return statuses[0] if statuses[0].get("restartCount", 0) >= 1 else None

    status = wait_for("the restart after the probe's grace period", restarted, 60)
    assert status["lastState"]["terminated"]["exitCode"] == 137  # SIGKILLed: sleep ignored TERM
    assert "drained" in sh(client, "sick", namespace, "cat /data/log")


def test_a_pod_deleted_while_its_post_start_hook_runs_is_gone_at_once(
        client: Any, namespace: str) -> None:
    """Upstream's pod worker stops a pod being deleted without waiting for its postStart
    hook; kompy's waited for the hook (up to its 300 s cut) before the pod could stop."""
    slow = container("app", "exec sleep 3600", lifecycle={"postStart": {"exec": {"command": [
        "sh", "-c", "touch /tmp/hooking; sleep 600"]}}})
    client.create(pod("slow", namespace, slow, terminationGracePeriodSeconds=1))
    wait_for("the hook running", lambda: sh(client, "slow", namespace, "ls /tmp/hooking"), 120)
    client.delete("pods", "slow", namespace)

    def gone() -> bool:
        return not [p for p in client.list("pods", namespace)["items"]
                    if p["metadata"]["name"] == "slow"]

    wait_for("the pod gone while its hook still ran", gone, 45)
    assert not [e for e in events(client, namespace, "slow")
                if e.get("reason") == "FailedPostStartHook"]
