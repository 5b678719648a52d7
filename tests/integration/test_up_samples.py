"""``kompy up`` / ``kompy down`` on the bundled samples, on a real Docker engine (no mocks).

Each session runs its own built-in cluster (a temp KOMPY_HOME and a unique cluster name),
reset in a finalizer. Samples are copied to a temp folder with their published port changed to
a free one, so that a sample running elsewhere on the machine cannot answer in its place.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from enginekit import eventually, kompy, own_cluster, sample

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment for kompy: a cluster of this session's own, reset (with volumes) at the end."""
    with own_cluster(tmp_path_factory.mktemp("kompy-home"), "up") as env:
        yield env


def _docker(*args: str, check: bool = True) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {result.stderr}")
    return result.stdout


def _labelled(kind: str, env: dict[str, str], namespace: str) -> list[str]:
    """Names of the cluster's containers / networks / volumes of one namespace."""
    command = {"container": ["ps", "-a"], "network": ["network", "ls"],
               "volume": ["volume", "ls"]}[kind]
    out = _docker(*command, "--format", "{{.Name}}" if kind != "container" else "{{.Names}}",
                  "--filter", f"label=kompy.cluster={env['KOMPY_CLUSTER']}",
                  "--filter", f"label=kompy.namespace={namespace}")
    return out.split()


def http(port: int, path: str, body: bytes | None = None) -> Any:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                     method="POST" if body is not None else "GET")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def up(env: dict[str, str], folder: Path) -> str:
    result = kompy(env, "up", "--wait-timeout", "180s", cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def down(env: dict[str, str], folder: Path, *flags: str) -> str:
    result = kompy(env, "down", *flags, cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_webapp_serves_reaches_its_cache_and_spreads_over_replicas(
    cluster: dict[str, str], tmp_path: Path
) -> None:
    folder, port = sample("webapp", tmp_path)
    output = up(cluster, folder)
    assert f"web: http://127.0.0.1:{port}" in output
    first = http(port, "/")
    second = http(port, "/")
    assert second["hits"] == first["hits"] + 1  # the app reached redis at `cache:6379`
    served = {first["served_by"], second["served_by"]}
    for _ in range(40):
        if len(served) == 2:
            break
        served.add(http(port, "/")["served_by"])
    assert len(served) == 2, f"requests reached only {served}"  # deploy.replicas: 2

    job = f"job-{uuid.uuid4().hex[:6]}".encode()
    assert http(port, "/jobs", job)["queued"] >= 1
    eventually("the worker to record the job",
               lambda: True if any(job.decode() in d for d in http(port, "/jobs")["done"])
               else None)

    down(cluster, folder)
    assert _labelled("container", cluster, "webapp") == []
    assert _labelled("network", cluster, "webapp") == []


def test_database_data_survives_a_deleted_pod_and_down_keeps_volumes(
    cluster: dict[str, str], tmp_path: Path
) -> None:
    folder, port = sample("database", tmp_path)
    up(cluster, folder)
    note = f"note-{uuid.uuid4().hex[:6]}"
    assert http(port, "/notes", note.encode())["count"] >= 1
    assert note in http(port, "/notes")["notes"]  # notes reached db by its service name

    pods = json.loads(kompy(cluster, "get", "pods", "-n", "notes", "-o", "json").stdout)
    (db_pod,) = [p["metadata"]["name"] for p in pods["items"]
                 if p["metadata"]["labels"].get("app.kubernetes.io/name") == "db"]
    deleted = kompy(cluster, "delete", "pod", db_pod, "-n", "notes")
    assert deleted.returncode == 0, deleted.stderr
    eventually("a new db pod and the note back",
               lambda: True if note in http(port, "/notes")["notes"] else None, timeout=120)

    down(cluster, folder)
    assert _labelled("container", cluster, "notes") == []
    assert _labelled("network", cluster, "notes") == []
    assert _labelled("volume", cluster, "notes"), "down without --volumes keeps the data"

    up(cluster, folder)  # the same claim: the data is still there
    eventually("the note after down and up",
               lambda: True if note in http(port, "/notes")["notes"] else None)
    down(cluster, folder, "--volumes")
    assert _labelled("container", cluster, "notes") == []
    assert _labelled("network", cluster, "notes") == []
    assert _labelled("volume", cluster, "notes") == []


def test_secrets_arrive_as_files_never_in_env_inspect_or_logs(
    cluster: dict[str, str], tmp_path: Path
) -> None:
    folder, port = sample("configs-secrets", tmp_path)
    up(cluster, folder)
    token = (folder / "secrets" / "api_token.txt").read_bytes().strip()
    password = b"sample-db-password-do-not-use"
    assert password.decode() in (folder / ".env").read_text()
    facts = http(port, "/secrets")
    for name, value in (("api_token", token), ("db_password", password)):
        assert facts[name] == {"length": len(value),
                               "sha256": hashlib.sha256(value).hexdigest()[:12]}, facts
    config = http(port, "/config")
    assert config["mode"] and config["settings"] and "Welcome to secure-api" in config["motd"]

    containers = _labelled("container", cluster, "secure-api")
    assert containers
    inspected = _docker("inspect", *containers)
    logs = "".join(subprocess.run(["docker", "logs", c], capture_output=True, text=True
                                  ).stdout for c in containers)
    pods = json.loads(kompy(cluster, "get", "pods", "-n", "secure-api", "-o", "json").stdout)
    kompy_logs = "".join(kompy(cluster, "logs", p["metadata"]["name"], "-n", "secure-api").stdout
                         for p in pods["items"])
    daemon_log = "".join(p.read_text(errors="replace")
                         for p in Path(cluster["KOMPY_HOME"]).glob("*/daemon.log"))
    for secret in (token.decode(), password.decode()):
        assert secret not in inspected
        assert secret not in logs
        assert secret not in kompy_logs
        assert secret not in daemon_log
    down(cluster, folder, "--volumes")
    assert _labelled("container", cluster, "secure-api") == []
    assert _labelled("network", cluster, "secure-api") == []
    assert _labelled("volume", cluster, "secure-api") == []


def test_build_error_names_the_service_and_shows_the_log_tail(
    cluster: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "Dockerfile").write_text(
        "FROM kompy/busybox:1\nRUN echo step-one-output && exit 3\n")
    (tmp_path / "compose.yaml").write_text(
        f"name: broken-{uuid.uuid4().hex[:6]}\n"
        "services:\n  broken:\n    build: ./broken\n")
    result = kompy(cluster, "up", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "error: service 'broken': building image" in result.stderr
    assert "returned a non-zero code: 3" in result.stderr
    assert "step-one-output" in result.stderr  # the last lines of the build log
    assert "Traceback" not in result.stderr
