"""Stock kubectl's streaming verbs against the built-in cluster, on the real Docker engine:
exec (exit codes, standard input, a terminal), cp both ways, port-forward (two ports; pod,
deploy/ and svc/ targets), attach, logs -f --previous; for each kubectl version that speaks
them differently (1.27-1.29: SPDY; 1.30: WebSocket exec, SPDY port-forward; 1.31+: WebSocket
exec, SPDY tunnelled in a WebSocket for port-forward). Then the same with kompy's commands.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pty
import select
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clusterkit import BUSYBOX, running, wait_for
from enginekit import free_port

pytestmark = pytest.mark.integration

SDK = Path("/usr/lib/google-cloud-sdk/bin")
# The kubectl on the PATH is gcloud's dispatcher: it runs the versioned binary that matches
# the server's minor version, so each version is called by its own binary.
VERSIONS = {v: SDK / f"kubectl.1.{v}" for v in (27, 29, 30, 31, 33)}


def binary(version: int) -> Path:
    path = VERSIONS[version]
    if not path.exists():
        pytest.skip(f"kubectl 1.{version} is not installed at {path}")
    return path


@pytest.fixture(scope="module")
def pods(cluster: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[dict[str, Any]]:
    """A namespace with: ``box`` (a ticking loop, standard input open), ``echo`` (its main
    process answers its standard input), ``crash`` (crash-looping), and a Deployment ``web``
    (httpd on two ports) behind Service ``web``."""
    client = cluster["client"]
    ns = f"s{uuid.uuid4().hex[:8]}"
    client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})

    def pod(name: str, command: str, **extra: Any) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
                "spec": {"terminationGracePeriodSeconds": 1, "containers": [
                    {"name": "c", "image": BUSYBOX, "command": ["sh", "-c", command],
                     **extra}]}}
    client.create(pod("box", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done",
                      stdin=True))
    client.create(pod("echo", "while read line; do echo \"got $line\"; done; sleep 3600",
                      stdin=True))
    client.create(pod("crash", "echo run $(cat /proc/uptime); sleep 0.5; exit 1"))
    web = {"app": "web"}
    client.create({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "web", "namespace": ns},
                   "spec": {"selector": {"matchLabels": web}, "template": {
                       "metadata": {"labels": web},
                       "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                           "name": "c", "image": BUSYBOX,
                           "command": ["sh", "-c", "mkdir -p /a /b && echo A > /a/index.html "
                                       "&& echo B > /b/index.html && httpd -p 8080 -h /a "
                                       "&& exec httpd -f -p 9090 -h /b"],
                           "ports": [{"name": "http", "containerPort": 8080},
                                     {"containerPort": 9090}]}]}}}})
    client.create({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": "web", "namespace": ns},
                   "spec": {"selector": web, "ports": [{"name": "http", "port": 80,
                                                        "targetPort": "http"},
                                                       {"name": "b", "port": 90,
                                                        "targetPort": 9090}]}})
    for name in ("box", "echo"):
        running(client, name, ns)
    wait_for("the web pod", lambda: [p for p in client.list("pods", ns, "app=web")["items"]
                                     if (p.get("status") or {}).get("phase") == "Running"])
    home = tmp_path_factory.mktemp("kubectl-home")   # kubectl's discovery cache, not $HOME
    env = {**os.environ, "HOME": str(home), "KUBECONFIG": str(cluster["dir"] / "kubeconfig")}
    yield {"ns": ns, "env": env, "client": client, "home": home}
    with contextlib.suppress(Exception):
        client.delete("namespaces", ns)


def kubectl(pods: dict[str, Any], version: int, *args: str, input: bytes | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(binary(version)), "-n", pods["ns"], *args], input=input,
                          capture_output=True, env=pods["env"], timeout=timeout)


def kompy_argv(pods: dict[str, Any], command: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "kompy", command, "-n", pods["ns"], "--kubeconfig",
            pods["env"]["KUBECONFIG"], *args]


def kompy(pods: dict[str, Any], command: str, *args: str, input: bytes | None = None
          ) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(kompy_argv(pods, command, *args), input=input, capture_output=True,
                          env=pods["env"], timeout=60)


def in_pty(argv: list[str], env: dict[str, str], keys: bytes, until: bytes,
           timeout: float = 30) -> tuple[bytes, int]:
    """Run ``argv`` on a pseudo-terminal of 30 rows and 100 columns, type ``keys`` once
    ``until`` shows on the screen; (everything shown, exit code)."""
    import fcntl
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.execvpe(argv[0], argv, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    shown = b""
    typed = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            shown += data
        if not typed and until in shown:
            os.write(fd, keys)
            typed = True
    else:
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return shown, os.waitstatus_to_exitcode(status)


def readline(proc: subprocess.Popen[bytes], timeout: float = 30) -> bytes:
    """A line of the process's output; the process is killed (and the line empty) when none
    comes within ``timeout`` seconds, so a broken stream fails the test instead of hanging."""
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        return proc.stdout.readline()    # type: ignore[union-attr]
    finally:
        timer.cancel()


def get(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
        return str(answer.read().decode().strip())


def forwarding(argv: list[str], env: dict[str, str], ports: list[int]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    for port in ports:
        def listening(port: int = port) -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"{argv} exited: {proc.stdout.read()}")  # type: ignore[union-attr]
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", port)) == 0
        wait_for(f"{argv[0]} listening on {port}", listening, 30)
    return proc


@pytest.mark.parametrize("version", list(VERSIONS))
def test_kubectl_exec(pods: dict[str, Any], version: int) -> None:
    done = kubectl(pods, version, "exec", "box", "--", "sh", "-c", "echo out; echo err >&2; "
                                                                    "exit 3")
    assert done.returncode == 3, done.stderr
    assert done.stdout == b"out\n"
    assert b"err\n" in done.stderr and b"command terminated with exit code 3" in done.stderr
    data = os.urandom(300_000)
    done = kubectl(pods, version, "exec", "-i", "box", "--", "md5sum", input=data)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0].decode() == hashlib.md5(data).hexdigest()  # noqa: S324
    done = kubectl(pods, version, "exec", "box", "--", "nosuchcommand")
    assert done.returncode != 0


@pytest.mark.parametrize("version", [29, 30, 33])
def test_kubectl_exec_with_a_terminal(pods: dict[str, Any], version: int) -> None:
    shown, code = in_pty([str(binary(version)), "-n", pods["ns"], "exec", "-it", "box", "--",
                          "sh"], pods["env"], b"stty size; tty; exit 7\r", b"# ")
    assert code == 7, shown
    assert b"30 100" in shown and b"/dev/pts/" in shown


@pytest.mark.parametrize("version", [29, 30, 33])
def test_kubectl_cp_both_ways(pods: dict[str, Any], version: int, tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "a.txt").write_text("alpha\n")
    (source / "sub" / "b.bin").write_bytes(os.urandom(200_000))
    target = f"/tmp/cp{version}"
    done = kubectl(pods, version, "cp", str(source), f"box:{target}")
    assert done.returncode == 0, done.stderr
    listing = kubectl(pods, version, "exec", "box", "--", "sh", "-c",
                      f"cat {target}/a.txt; wc -c < {target}/sub/b.bin")
    assert listing.stdout.split() == [b"alpha", b"200000"]
    back = tmp_path / "back"
    done = kubectl(pods, version, "cp", f"box:{target}", str(back))
    assert done.returncode == 0, done.stderr
    assert (back / "a.txt").read_text() == "alpha\n"
    assert (back / "sub" / "b.bin").read_bytes() == (source / "sub" / "b.bin").read_bytes()


@pytest.mark.parametrize("version", [27, 30, 31, 33])
def test_kubectl_port_forward_two_ports(pods: dict[str, Any], version: int) -> None:
    for target, ports in (("deploy/web", ("8080", "9090")), ("svc/web", ("80", "90"))):
        first, second = free_port(), free_port()
        proc = forwarding([str(binary(version)), "-n", pods["ns"], "port-forward",
                           "--address", "127.0.0.1", target, f"{first}:{ports[0]}",
                           f"{second}:{ports[1]}"], pods["env"], [first, second])
        try:
            assert [get(first), get(second), get(first)] == ["A", "B", "A"]
        finally:
            proc.terminate()
            proc.wait(10)


@pytest.mark.parametrize("version", [29, 30, 33])
def test_kubectl_attach(pods: dict[str, Any], version: int) -> None:
    proc = subprocess.Popen([str(binary(version)), "-n", pods["ns"], "attach", "box"],
                            env=pods["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = readline(proc)
        assert line.startswith(b"tick "), line
    finally:
        proc.terminate()
        proc.wait(10)
    proc = subprocess.Popen([str(binary(version)), "-n", pods["ns"], "attach", "-i", "echo"],
                            env=pods["env"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        proc.stdin.write(b"hello %d\n" % version)   # type: ignore[union-attr]
        proc.stdin.flush()                          # type: ignore[union-attr]
        assert readline(proc) == b"got hello %d\n" % version
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("version", [27, 30, 33])
def test_kubectl_logs_follow_previous(pods: dict[str, Any], version: int) -> None:
    client = pods["client"]

    def restarted() -> bool:
        statuses = (client.get("pods", "crash", pods["ns"]).get("status") or {}).get(
            "containerStatuses") or [{}]
        return int(statuses[0].get("restartCount") or 0) >= 1
    wait_for("the crash pod restarted", restarted, 60)
    done = kubectl(pods, version, "logs", "-f", "--previous", "crash", timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"run "), done.stdout


def test_kompy_exec(pods: dict[str, Any]) -> None:
    done = kompy(pods, "exec", "box", "--", "sh", "-c", "echo out; echo err >&2; exit 4")
    assert (done.returncode, done.stdout, done.stderr) == (4, b"out\n", b"err\n")
    done = kompy(pods, "exec", "-i", "box", "--", "cat", input=b"through stdin")
    assert (done.returncode, done.stdout) == (0, b"through stdin")
    shown, code = in_pty(kompy_argv(pods, "exec", "-it", "box", "--", "sh"), pods["env"],
                         b"stty size; exit 6\r", b"# ")
    assert code == 6 and b"30 100" in shown, shown


def test_kompy_port_forward_and_attach(pods: dict[str, Any]) -> None:
    first, second = free_port(), free_port()
    proc = forwarding(kompy_argv(pods, "port-forward", "svc/web", f"{first}:http",
                                 f"{second}:90"), pods["env"], [first, second])
    try:
        assert [get(first), get(second), get(first)] == ["A", "B", "A"]
    finally:
        proc.terminate()
        proc.wait(10)
    proc = subprocess.Popen(kompy_argv(pods, "attach", "-i", "echo"), env=pods["env"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        proc.stdin.write(b"from kompy\n")   # type: ignore[union-attr]
        proc.stdin.flush()                  # type: ignore[union-attr]
        assert readline(proc) == b"got from kompy\n"
    finally:
        proc.terminate()
        proc.wait(10)


def test_kompy_cp_both_ways(pods: dict[str, Any], tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "a.txt").write_text("alpha\n")
    (source / "sub" / "b.bin").write_bytes(os.urandom(200_000))
    (source / "link").symlink_to("a.txt")
    done = kompy(pods, "cp", str(source), "box:/tmp/kompycp")
    assert done.returncode == 0, done.stderr
    back = tmp_path / "back"
    done = kompy(pods, "cp", "box:/tmp/kompycp", str(back))
    assert done.returncode == 0, done.stderr
    assert (back / "a.txt").read_text() == "alpha\n"
    assert (back / "sub" / "b.bin").read_bytes() == (source / "sub" / "b.bin").read_bytes()
    assert not (back / "link").exists() and b"skipping" in done.stderr   # links stay out
    done = kompy(pods, "cp", "box:/no/such/path", str(tmp_path / "x"))
    assert done.returncode == 2 and b"No such file" in done.stderr, done.stderr
