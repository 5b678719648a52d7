"""The fidelity suite: what works under Compose works after conversion (issue #9).

Each folder beside this file is one case: a Compose project built on the local base images
(``kompy/busybox:1``, ``kompy/python:3``; no registry) and an ``expect.yaml`` listing HTTP
requests. Each case runs twice on the real Docker engine, in the same test:

1. under Debian's ``docker-compose`` (1.29, the behaviour reference): ``up -d --build``,
   wait until every request gets its expected status, record the answers, ``down -v``;
2. converted with the real CLI, ``kompy convert -n NS -o DIR``, applied with the stock
   ``kubectl apply -f DIR`` (kubeconfig from ``kompy cluster kubeconfig``) to the built-in
   cluster, waited for (every workload's ``kubectl rollout status``, then the requests), and
   asked the same requests: status, body and the listed headers must be identical.

How the requests reach the pods on the cluster: through the Service the converter writes for
a service's published ports. Its ``kompy.dev/host-ports`` annotation (``"8080:80/tcp"``) is
answered by the built-in cluster's proxy at ``127.0.0.1:<host port>`` (see
``kompy/cluster/proxy.py``), so a request goes to the same address under both runtimes; on
another cluster the same Service is reached with ``kubectl port-forward svc/NAME``.

``expect.yaml``::

    what: one line saying what the case proves
    requests:
      - port: WEB_PORT             # a variable: the harness sets it to a free host port in
        path: /index.html          # the environment of docker-compose and of kompy convert,
        status: 200                # so compose.yaml publishes "${WEB_PORT}:80" (default 200)
        headers: [Content-Type]    # response headers compared too (default: none)
      - {port: WEB_PORT, path: /cgi-bin/echo, method: POST, body: "hello"}
    convert_args: []               # extra `kompy convert` options (default none)
    sample: webapp                 # the case is samples/webapp, not this folder (see below)
    publish: {"8080": WEB_PORT}    # with `sample`: its published host ports, made variables
    timeout: 120                   # seconds per wait (default 120)

Cases: ``shared-volume`` (a named volume shared by two services), ``no-ports`` (a service
without ports reached by its name: a headless Service), ``privileged-helper`` (setuid and
file-capability helpers run as a user: no forced no_new_privs), ``slow-start`` (a server
that listens after 10 s survives its healthcheck's ``start_period``: a startupProbe),
``loopback-port`` (``127.0.0.1:PORT:80`` with ``--service-type loadbalancer`` stays internal
and answers on 127.0.0.1), ``shared-env-file`` (one env_file's ConfigMap and Secret shared
by two services; ``*_FILE`` and ``ALLOW_*`` stay plain variables), ``volume-from-image``
(new volumes start with the image's files and owner: the volume seeds), and the bundled
samples ``sample-webapp``, ``sample-database``, ``sample-devloop`` (``samples/configs-secrets``
cannot be one: docker-compose 1.29 refuses its ``content:`` config and ``environment:``
secret). Every case is converted with ``-n NS`` and the default helper image, and applied to
a cluster without that namespace, so every case also proves the Namespace object comes first.

A case with ``sample: NAME`` runs ``samples/NAME`` (a copy): its ``publish`` host ports become
the case's variables (a range ``8080-8081`` becomes the variable's port and the next), its
built images get names of their own, and docker-compose runs ``compose.v1.yaml``, the same
file without the top-level ``name`` and the services' ``develop``, which 1.29 refuses.

Adding a case is adding a folder: answers must be deterministic (no container hostnames,
dates or addresses in bodies). A service with ``build:`` should also name its ``image:``, so
that both runtimes run the same tag; images the case builds are removed afterwards.

One built-in cluster serves every case (a session fixture; each case gets its own namespace
and Compose project name); everything is removed by label at the end. Measured on the
2-core development machine: 3.5-5 s per case (4 cases: 16 s), plus
under a second to start the cluster; the 13 cases of today take 2 to 3 minutes under load.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from enginekit import eventually, free_port
from ruamel.yaml import YAML

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
CASES = sorted(p.parent.name for p in HERE.glob("*/expect.yaml"))
T = TypeVar("T")

pytestmark = pytest.mark.integration


# -- the case description -----------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    port: str  # a variable name (set to a free port) or a literal port number
    path: str
    method: str = "GET"
    body: bytes | None = None
    status: int = 200
    headers: tuple[str, ...] = ()

    def label(self) -> str:
        return f"{self.method} :{self.port}{self.path}"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()

    def show(self) -> str:
        text = self.body.decode("utf-8", "replace")
        head = "".join(f"\n  {k}: {v}" for k, v in self.headers)
        return f"{self.status}{head}\n  body ({len(self.body)} bytes): {text[:2000]!r}"


@dataclass(frozen=True)
class Case:
    name: str
    folder: Path
    what: str
    requests: tuple[Request, ...]
    convert_args: tuple[str, ...] = ()
    timeout: float = 120.0
    port_vars: tuple[str, ...] = field(default=())
    sample: str | None = None
    publish: tuple[tuple[str, str], ...] = ()


def load_case(name: str) -> Case:
    raw: dict[str, Any] = YAML(typ="safe").load((HERE / name / "expect.yaml").read_text())
    requests = []
    for item in raw.get("requests") or []:
        body = item.get("body")
        requests.append(Request(
            port=str(item["port"]), path=str(item.get("path", "/")),
            method=str(item.get("method", "POST" if body is not None else "GET")).upper(),
            body=body.encode() if isinstance(body, str) else body,
            status=int(item.get("status", 200)),
            headers=tuple(str(h) for h in item.get("headers") or ())))
    assert requests, f"{name}/expect.yaml lists no requests"
    port_vars = tuple(sorted({r.port for r in requests if not r.port.isdigit()}))
    return Case(name=name, folder=HERE / name, what=str(raw.get("what", "")),
                requests=tuple(requests), convert_args=tuple(raw.get("convert_args") or ()),
                timeout=float(raw.get("timeout", 120)), port_vars=port_vars,
                sample=raw.get("sample"),
                publish=tuple((str(k), str(v)) for k, v in (raw.get("publish") or {}).items()))


# -- helpers ------------------------------------------------------------------------------------

def run(args: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"`{' '.join(args)}` exited {done.returncode}:\n"
                             f"{done.stdout}\n{done.stderr}")
    return done


def free_pair() -> int:
    """A free port whose next port is free too."""
    for _ in range(100):
        port = free_port()
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two free ports in a row")


def ask(request: Request, port: int) -> Answer:
    http = urllib.request.Request(f"http://127.0.0.1:{port}{request.path}", data=request.body,
                                  method=request.method)
    try:
        with urllib.request.urlopen(http, timeout=5) as response:
            status, body, headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, body, headers = error.code, error.read(), error.headers
    picked = tuple((h, str(headers.get(h, ""))) for h in request.headers)
    return Answer(status, body, picked)


def answers_when_ready(case: Case, ports: dict[str, int], runtime: str,
                       diagnose: Callable[[], str] = lambda: "") -> list[Answer]:
    """Every request's answer, once each gets its expected status."""
    out = []
    for request in case.requests:
        port = ports.get(request.port) or int(request.port)
        last: list[Answer] = []

        def probe(request: Request = request, port: int = port,
                  last: list[Answer] = last) -> Answer | None:
            answer = ask(request, port)
            last[:] = [answer]
            return answer if answer.status == request.status else None

        def details(last: list[Answer] = last) -> str:
            seen = last[0].show() if last else "no answer"
            return f"last answer: {seen}\n{diagnose()}"

        out.append(eventually(f"{runtime}: {request.label()} to answer {request.status}",
                              probe, case.timeout, details))
    return out


# -- the two runtimes ---------------------------------------------------------------------------

@pytest.fixture(scope="session")
def tools() -> dict[str, str]:
    found = {name: shutil.which(name) for name in ("docker", "docker-compose", "kubectl")}
    if found["docker"] is None or run(["docker", "info"], check=False,
                                      timeout=60).returncode != 0:
        pytest.skip("no Docker engine")
    if found["kubectl"] is None:
        pytest.skip("no kubectl on PATH")
    if found["docker-compose"] is None:
        pytest.fail("docker-compose is missing: `apt-get install docker-compose` "
                    "(tests/run.sh installs it)")
    # Cases are converted with the defaults, helper image included (depends_on waits, volume
    # seeds); nothing is pulled here, so the engine must have it under its default name.
    from kompy.convert.options import DEFAULT_WAIT_IMAGE

    if run(["docker", "image", "inspect", DEFAULT_WAIT_IMAGE], check=False).returncode != 0:
        pytest.fail(f"{DEFAULT_WAIT_IMAGE} is missing: samples/base-images/build.sh provides "
                    "it (tests/run.sh runs it)")
    return {k: str(v) for k, v in found.items()}


@pytest.fixture(scope="session")
def cluster(tools: dict[str, str], tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[dict[str, str]]:
    """One built-in cluster for every case: environment for kompy and kubectl."""
    home = tmp_path_factory.mktemp("fidelity-home")
    name = f"fid-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("COMPOSE_", "KOMPY_", "KUBECONFIG", "DOCKER_HOST"))}
    env.update(KOMPY_HOME=str(home), KOMPY_CLUSTER=name, HOME=str(home),
               KOMPY_CACHE_DIR=str(home / "cache"))
    kubeconfig = home / "kubeconfig"
    try:
        text = run([sys.executable, "-m", "kompy", "cluster", "kubeconfig"], env=env,
                   timeout=180).stdout
        kubeconfig.write_text(text)
        env["KUBECONFIG"] = str(kubeconfig)
        yield env
    finally:
        run([sys.executable, "-m", "kompy", "cluster", "reset", "--yes"], env=env,
            timeout=300, check=False)
        _remove_labelled("kompy.cluster", name)


def _remove_labelled(label: str, value: str) -> None:
    """Whatever is left of one test's Docker objects, found by their label only."""
    for listing, removal in ((["ps", "-aq"], ["rm", "-f"]),
                             (["network", "ls", "-q"], ["network", "rm"]),
                             (["volume", "ls", "-q"], ["volume", "rm", "-f"])):
        ids = run(["docker", *listing, "--filter", f"label={label}={value}"],
                  check=False).stdout.split()
        if ids:
            run(["docker", *removal, *ids], check=False)


def prepare_sample(case: Case, folder: Path) -> None:
    """A bundled sample as a case: a copy whose published host ports are the case's
    variables and whose built images have names of their own (the samples' ``:dev`` tags
    belong to whoever runs them), plus ``compose.v1.yaml`` for docker-compose 1.29, which
    refuses the top-level ``name`` and ``develop`` (neither changes what runs: the project
    name is given with ``-p``, ``develop`` is for ``kompy dev``)."""
    shutil.copytree(REPO / "samples" / str(case.sample), folder, symlinks=True)
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True  # "no" must stay a string for docker-compose (YAML 1.1)
    data = yaml.load(folder / "compose.yaml")
    ports = dict(case.publish)
    for name, service in (data.get("services") or {}).items():
        if service.get("build") and service.get("image"):
            service["image"] = f"kompy-fidelity/{case.sample}-{name}:{uuid.uuid4().hex[:8]}"
        for index, port in enumerate(service.get("ports") or []):
            host, sep, rest = str(port).partition(":")
            if sep and host in ports:
                # A range ("8080-8081") becomes the variable's port and the next one.
                end = f"-${{{ports[host]}_NEXT}}" if "-" in host else ""
                service["ports"][index] = f"${{{ports[host]}}}{end}:{rest}"
    yaml.dump(data, folder / "compose.yaml")
    data.pop("name", None)
    for service in (data.get("services") or {}).values():
        service.pop("develop", None)
    yaml.dump(data, folder / "compose.v1.yaml")


def _built_images(folder: Path) -> list[str]:
    """The ``image:`` names of the case's services that have ``build:``."""
    compose = YAML(typ="safe").load((folder / "compose.yaml").read_text())
    return [str(s["image"]) for s in (compose.get("services") or {}).values()
            if isinstance(s, dict) and s.get("build") and s.get("image")]


def under_compose(case: Case, folder: Path, env: dict[str, str], ports: dict[str, int]
                  ) -> list[Answer]:
    project = f"fid{case.name.replace('-', '')}{uuid.uuid4().hex[:6]}"
    file = "compose.v1.yaml" if (folder / "compose.v1.yaml").exists() else "compose.yaml"
    compose = ["docker-compose", "-p", project, "-f", file]

    def diagnose() -> str:
        return (run([*compose, "ps"], cwd=folder, env=env, check=False).stdout
                + run([*compose, "logs", "--no-color", "--tail", "40"], cwd=folder, env=env,
                      check=False).stdout)

    try:
        run([*compose, "up", "-d", "--build"], cwd=folder, env=env, timeout=600)
        return answers_when_ready(case, ports, "docker-compose", diagnose)
    finally:
        run([*compose, "down", "-v", "--remove-orphans", "-t", "5"], cwd=folder, env=env,
            timeout=300, check=False)
        _remove_labelled("com.docker.compose.project", project)


def on_cluster(case: Case, folder: Path, env: dict[str, str], ports: dict[str, int],
               out: Path) -> list[Answer]:
    namespace = f"fid-{case.name}-{uuid.uuid4().hex[:6]}"[:63].rstrip("-")
    convert = run([sys.executable, "-m", "kompy", "convert", "-n", namespace, "-o", str(out),
                   *case.convert_args], cwd=folder, env=env)
    sys.stderr.write(convert.stderr)  # the warnings, shown by pytest on failure
    files = sorted(out.glob("*.yaml"))
    kubectl = ["kubectl", "-n", namespace]

    def diagnose() -> str:
        parts = [run([*kubectl, "get", "all,pvc,configmap", "-o", "wide"], env=env,
                     check=False).stdout,
                 run([*kubectl, "describe", "pods"], env=env, check=False).stdout[-6000:],
                 run([*kubectl, "get", "events"], env=env, check=False).stdout[-4000:]]
        pods = run([*kubectl, "get", "pods", "-o", "name"], env=env, check=False).stdout
        for pod in pods.split():
            parts.append(f"--- logs {pod}\n" + run(
                [*kubectl, "logs", pod, "--all-containers", "--tail", "40"], env=env,
                check=False).stdout)
        return "\n".join(parts)

    # `-n NS` must bring its Namespace, first in apply order (issue #9, class 5): the stock
    # `kubectl apply -f DIR` below is the proof, on a cluster that does not have it.
    assert files and "\nkind: Namespace\n" in f"\n{files[0].read_text()}", \
        f"the first file of `kompy convert -n {namespace} -o DIR` is not its Namespace"
    try:
        run(["kubectl", "apply", "-f", str(out)], env=env)
        for path in files:
            text = path.read_text()
            for kind in ("Deployment", "StatefulSet", "DaemonSet"):
                if f"\nkind: {kind}\n" in f"\n{text}":
                    workload = f"{kind.lower()}/{path.name.rsplit('-', 1)[0]}"
                    done = run([*kubectl, "rollout", "status", workload,
                                f"--timeout={int(case.timeout)}s"], env=env,
                               timeout=case.timeout + 30, check=False)
                    if done.returncode != 0:
                        raise AssertionError(f"waiting for {workload} to roll out: "
                                             f"{done.stdout}{done.stderr}\n{diagnose()}")
        return answers_when_ready(case, ports, "kompy convert + kubectl apply", diagnose)
    finally:
        run(["kubectl", "delete", "namespace", namespace, "--wait=true", "--timeout=120s"],
            env=env, timeout=180, check=False)


@pytest.mark.parametrize("name", CASES)
def test_fidelity(name: str, cluster: dict[str, str], tmp_path: Path) -> None:
    case = load_case(name)
    folder = tmp_path / name
    if case.sample:
        prepare_sample(case, folder)
    else:
        shutil.copytree(case.folder, folder, symlinks=True)  # the repo stays clean
        (folder / "expect.yaml").unlink()
    ports = {var: free_port() for var in case.port_vars}
    for host, var in case.publish:
        if "-" in host:  # a published range: two free ports in a row
            ports[var] = free_pair()
            ports[f"{var}_NEXT"] = ports[var] + 1
    env = {**cluster, **{var: str(port) for var, port in ports.items()}}
    try:
        reference = under_compose(case, folder, env, ports)
        converted = on_cluster(case, folder, env, ports, tmp_path / "k8s")
    finally:
        for image in _built_images(folder):
            run(["docker", "image", "rm", "-f", image], check=False)
    for request, want, got in zip(case.requests, reference, converted, strict=True):
        assert got == want, (f"{case.name}: {request.label()} answered differently after "
                             f"conversion ({case.what})\n"
                             f"docker-compose: {want.show()}\nconverted: {got.show()}")
