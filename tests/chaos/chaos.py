"""Chaos for the built-in cluster: ``kill -9`` of the daemon at random moments of ``kompy
apply``, a rollout, ``kompy scale``, ``kompy delete`` and ``kompy rollout undo``, then a
check that the cluster converges.

Each round runs one operation as a user would (the CLI, in its own process) on a Deployment
of ``kompy/busybox:1`` pods with a readiness probe, kills the daemon with SIGKILL at a random
moment (seeded) while the operation or the pods' start or stop is under way, starts the
daemon again and times until the cluster has converged:

- the operation took effect (re-run once the daemon is back, as a user would, when the
  kill failed the command);
- the Deployment's status matches its spec (observedGeneration, replicas, updated, ready and
  available) and exactly ``spec.replicas`` pods exist, all Running and Ready, none
  terminating;
- on the Docker engine, exactly one running container per pod and none left of pods that no
  longer exist.

Anomalies: a round that does not converge within ``--bound`` seconds (with the state that
failed the check), a pod Pending for longer than ``PENDING_GRACE`` seconds with no reason
(no waiting reason, no PodScheduled=False condition), two running containers for one pod
container, or containers of pods that are gone. Also counted from the daemon's log:
"already in use" conflicts and tracebacks.

Run: ``python3 tests/chaos/chaos.py --rounds 40 --seed 1`` (writes
``benchmarks/results/chaos.json``); ``tests/chaos/test_chaos.py`` runs a few rounds in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker

from kompy.client import NotFound

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "benchmarks" / "results" / "chaos.json"
NAMESPACE = "chaos"
IMAGE = "kompy/busybox:1"
OPS = ("apply", "rollout", "scale", "delete", "undo")
# A pod may be Pending without a reason this long (the scheduler and kubelet need a moment).
PENDING_GRACE = 10.0


def deployment(replicas: int, version: int) -> dict[str, Any]:
    labels = {"app": "web"}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": NAMESPACE},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "terminationGracePeriodSeconds": 1,
                         "containers": [{
                             "name": "web", "image": IMAGE,
                             "command": ["httpd", "-f", "-p", "8080"],
                             "env": [{"name": "VERSION", "value": str(version)}],
                             "readinessProbe": {"tcpSocket": {"port": 8080},
                                                "periodSeconds": 1}}]}}}}


def template_version(obj: dict[str, Any]) -> int | None:
    spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    for c in spec.get("containers") or []:
        for env in c.get("env") or []:
            if env.get("name") == "VERSION":
                return int(env["value"])
    return None


@dataclass
class Round:
    number: int
    op: str
    detail: str
    kill_after: float
    killed_during_command: bool = False
    command_failed: bool = False
    converged: bool = False
    convergence_s: float = 0.0
    anomalies: list[str] = field(default_factory=list)


class Chaos:
    def __init__(self, seed: int, bound: float, home: Path,
                 kill_window: tuple[float, float] = (0.2, 4.0)) -> None:
        self.rng = random.Random(seed)
        self.bound = bound
        self.kill_window = kill_window
        self.home = home
        self.name = f"chaos{uuid.uuid4().hex[:6]}"
        self.env = {**os.environ, "KOMPY_HOME": str(home), "KOMPY_CLUSTER": self.name}
        self.old_home = os.environ.get("KOMPY_HOME")
        os.environ["KOMPY_HOME"] = str(home)  # for the daemon functions called in process
        from kompy.cluster.daemon import process as daemon

        self.daemon = daemon
        self.client = daemon.ensure_cluster(self.name)
        self.docker = docker.from_env(timeout=60)
        self.exists = False
        self.replicas = 0
        self.applied = 0  # the replicas of the last applied manifest
        self.version = 0
        self.rounds: list[Round] = []
        self.manifest = home / "web.yaml"

    # -- the operations, as a user runs them ------------------------------------------------
    def choose(self, op: str | None) -> tuple[str, list[str], str]:
        """The next operation (``op``, else a random one that makes sense now): its name,
        its command line, and what it asks for."""
        if not self.exists:
            op = "apply"
        elif op is None:
            choices = ["apply", "rollout", "scale", "scale", "delete"]
            if self._revisions() >= 2:
                choices.append("undo")
            op = self.rng.choice(choices)
        elif op == "undo" and self._revisions() < 2:
            op = "rollout"
        if op == "apply":
            # kubectl's three-way merge leaves a field alone when the manifest's value is the
            # one applied last time (a `scale` since then stands): ask for a new one.
            created = not self.exists
            self.replicas = self.rng.choice([n for n in range(2, 9)
                                             if created or n != self.applied])
            self.exists = True
            return op, self._apply(), f"replicas={self.replicas}"
        if op == "rollout":
            self.version += 1
            return op, self._apply(), f"version={self.version}"
        if op == "scale":
            self.replicas = self.rng.choice([n for n in range(1, 16) if n != self.replicas])
            return op, ["scale", "deploy/web", "--replicas", str(self.replicas), "-n",
                        NAMESPACE], f"replicas={self.replicas}"
        if op == "delete":
            self.exists = False
            return op, ["delete", "deployment", "web", "-n", NAMESPACE], ""
        self.version = self._previous_version()
        return op, ["rollout", "undo", "deploy/web", "-n", NAMESPACE], f"to version={self.version}"

    def _apply(self) -> list[str]:
        self.applied = self.replicas
        self.manifest.write_text(json.dumps(deployment(self.replicas, self.version)))
        return ["apply", "-f", str(self.manifest)]

    def _replicasets(self) -> list[dict[str, Any]]:
        items = self.client.list("replicasets", NAMESPACE).get("items") or []
        return sorted(items, key=lambda rs: int(
            (rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision",
                                                          0)))

    def _revisions(self) -> int:
        return len(self._replicasets())

    def _previous_version(self) -> int:
        sets = self._replicasets()
        return template_version(sets[-2]) or 0

    def achieved(self, op: str) -> bool:
        """Whether the operation's change is in the store (a killed command may not be)."""
        try:
            dep = self.client.get("deployments", "web", NAMESPACE)
        except NotFound:
            return not self.exists
        if not self.exists:
            return bool(dep["metadata"].get("deletionTimestamp"))
        return bool(dep["spec"].get("replicas") == self.replicas
                    and template_version(dep) == self.version)

    # -- one round ---------------------------------------------------------------------------
    def round(self, number: int, op: str | None = None) -> Round:
        name, args, detail = self.choose(op)
        kill_after = round(self.rng.uniform(*self.kill_window), 2)
        r = Round(number, name, detail, kill_after)
        command = subprocess.Popen([sys.executable, "-m", "kompy", *args], env=self.env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(kill_after)
        r.killed_during_command = command.poll() is None
        self.kill()
        command.communicate(timeout=120)
        r.command_failed = command.returncode != 0
        restart = time.monotonic()
        self.client = self.daemon.ensure_cluster(self.name)
        if not self.achieved(name):
            # The kill failed the command before its change was stored: run it again.
            again = subprocess.run([sys.executable, "-m", "kompy", *args], env=self.env,
                                   capture_output=True, text=True, timeout=120)
            if again.returncode != 0:
                r.anomalies.append(f"the command failed again after the restart: "
                                   f"{again.stderr.strip()[-300:]}")
        r.converged, failure = self.converge(restart + self.bound, r)
        r.convergence_s = round(time.monotonic() - restart, 2)
        if not r.converged:
            r.anomalies.append(f"not converged {self.bound:.0f} s after the restart: {failure}")
        return r

    def kill(self) -> None:
        pid = int((self.home / self.name / "daemon.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                break
            if state in ("Z", "X"):
                break
            time.sleep(0.02)

    # -- convergence -------------------------------------------------------------------------
    def converge(self, deadline: float, r: Round) -> tuple[bool, str]:
        pending_since: dict[str, float] = {}
        failure = ""
        while time.monotonic() < deadline:
            try:
                failure = self.check(pending_since, r)
            except Exception as error:  # noqa: BLE001 - the daemon may still be starting
                failure = f"{type(error).__name__}: {error}"
            if not failure:
                return True, ""
            time.sleep(0.25)
        return False, failure

    def check(self, pending_since: dict[str, float], r: Round) -> str:
        """'' when converged, else what is not there yet."""
        pods = self.client.list("pods", NAMESPACE).get("items") or []
        self._pending_without_reason(pods, pending_since, r)
        want = self.replicas if self.exists else 0
        if self.exists:
            dep = self.client.get("deployments", "web", NAMESPACE)
            if template_version(dep) != self.version or dep["spec"]["replicas"] != want:
                return f"deployment spec is {template_version(dep)}/{dep['spec']['replicas']}"
            st = dep.get("status") or {}
            if st.get("observedGeneration") != dep["metadata"].get("generation"):
                return "status not observed yet"
            counts = [st.get(k, 0) for k in ("replicas", "updatedReplicas", "readyReplicas",
                                             "availableReplicas")]
            if counts != [want] * 4:
                return f"deployment replicas/updated/ready/available {counts}, want {want}"
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        if len(pods) != want or len(live) != want:
            return f"{len(pods)} pods ({len(pods) - len(live)} terminating), want {want}"
        for p in pods:
            st = p.get("status") or {}
            ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                        for c in st.get("conditions") or [])
            if st.get("phase") != "Running" or not ready:
                return f"pod {p['metadata']['name']} {st.get('phase')} ready={ready}"
        return self._containers({p["metadata"]["uid"] for p in pods}, r)

    def _containers(self, uids: set[str], r: Round) -> str:
        found = self.docker.api.containers(all=True, filters={
            "label": [f"kompy.cluster={self.name}", f"kompy.namespace={NAMESPACE}"]})
        running: dict[tuple[str, str], int] = {}
        orphans = []
        for c in found:
            labels = c.get("Labels") or {}
            pod_uid = labels.get("kompy.pod-uid")
            if not pod_uid:
                continue
            if pod_uid not in uids:
                orphans.append(c["Names"][0])
                continue
            if c.get("State") == "running":
                key = (pod_uid, labels.get("kompy.container", ""))
                running[key] = running.get(key, 0) + 1
        if orphans:
            return f"containers of pods that are gone: {sorted(orphans)[:3]}"
        twice = [k for k, n in running.items() if n > 1]
        if twice:
            return f"two running containers for {twice[:3]}"
        missing = [u for u in uids if not any(k[0] == u for k in running)]
        if missing:
            return f"pods without a running container: {missing[:3]}"
        return ""

    def _pending_without_reason(self, pods: list[dict[str, Any]],
                                pending_since: dict[str, float], r: Round) -> None:
        now = time.monotonic()
        for p in pods:
            key = p["metadata"]["uid"]
            st = p.get("status") or {}
            if st.get("phase", "Pending") != "Pending" or p["metadata"].get(
                    "deletionTimestamp") or _reason(st):
                pending_since.pop(key, None)
                continue
            first = pending_since.setdefault(key, now)
            note = f"pod {p['metadata']['name']} Pending without a reason for " \
                   f"{PENDING_GRACE:.0f} s"
            if now - first > PENDING_GRACE and note not in r.anomalies:
                r.anomalies.append(note)

    # -- the end -----------------------------------------------------------------------------
    def log_counts(self) -> dict[str, int]:
        text = ""
        for path in sorted((self.home / self.name).glob("daemon.log*")):
            text += path.read_text(errors="replace")
        return {"already_in_use": text.count("already in use"),
                "tracebacks": text.count("Traceback (most recent call last)")}

    def close(self) -> None:
        try:
            self.daemon.reset(self.name)
        finally:
            self.docker.close()
            if self.old_home is None:
                os.environ.pop("KOMPY_HOME", None)
            else:
                os.environ["KOMPY_HOME"] = self.old_home


def _reason(status: dict[str, Any]) -> str:
    """Why a Pending pod is not running yet, as `kubectl describe` would show it."""
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return str(cond.get("reason") or "")
    reasons = [((cs.get("state") or {}).get("waiting") or {}).get("reason")
               for cs in (status.get("initContainerStatuses") or [])
               + (status.get("containerStatuses") or [])]
    return ",".join(r for r in reasons if r)


def summary(rounds: list[Round], logs: dict[str, int]) -> dict[str, Any]:
    times = sorted(r.convergence_s for r in rounds if r.converged)
    return {
        "rounds": len(rounds),
        "kills": len(rounds),
        "kills_during_the_command": sum(r.killed_during_command for r in rounds),
        "commands_failed_by_the_kill": sum(r.command_failed for r in rounds),
        "ops": {op: sum(r.op == op for r in rounds) for op in OPS},
        "converged": len(times),
        "convergence_p50_s": round(statistics.median(times), 2) if times else None,
        "convergence_p90_s": round(times[int(0.9 * (len(times) - 1))], 2) if times else None,
        "convergence_max_s": max(times) if times else None,
        "anomalies": sum(len(r.anomalies) for r in rounds),
        "daemon_log": logs,
    }


def run(rounds: int, seed: int, bound: float, ops: list[str] | None = None,
        echo: bool = True, kill_window: tuple[float, float] = (0.2, 4.0)) -> dict[str, Any]:
    """``rounds`` rounds (operations from ``ops`` in turn, else random ones); the kill comes
    a random number of seconds in ``kill_window`` after the command starts."""
    with tempfile.TemporaryDirectory(prefix="kompy-chaos-") as tmp:
        chaos = Chaos(seed, bound, Path(tmp), kill_window)
        try:
            chaos.client.create({"apiVersion": "v1", "kind": "Namespace",
                                 "metadata": {"name": NAMESPACE}})
            for i in range(rounds):
                r = chaos.round(i + 1, ops[i % len(ops)] if ops else None)
                chaos.rounds.append(r)
                if echo:
                    print(f"round {r.number:3d} {r.op:8s} {r.detail:14s} kill at "
                          f"{r.kill_after:4.2f}s -> {'converged' if r.converged else 'STUCK'} "
                          f"in {r.convergence_s:5.2f}s"
                          + "".join(f"\n    anomaly: {a}" for a in r.anomalies), flush=True)
            logs = chaos.log_counts()
        finally:
            chaos.close()
    return {"summary": summary(chaos.rounds, logs), "seed": seed, "bound_s": bound,
            "rounds": [r.__dict__ for r in chaos.rounds]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bound", type=float, default=90.0,
                        help="seconds after the restart by which the cluster must converge")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "benchmarks"))
    from machine import machine, save

    started = time.time()
    result = run(args.rounds, args.seed, args.bound)
    result["machine"] = machine()
    result["wall_s"] = round(time.time() - started, 1)
    result["load_average"] = os.getloadavg()
    save(args.out, result)


if __name__ == "__main__":
    main()
