"""``kompy dashboard`` over HTTP, against a real daemon serving the API only
(KOMPY_CLUSTER_NO_RUNTIME: no Docker): the actions the browser test does not take (run a
CronJob now, delete a pod, undo without history, bad input), the watch-fed event stream, and
Secrets by key. The browser test (tests/integration/dashboard) covers the rest on the engine.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kompy.cli import main

SECRET_VALUE = "s3cr3t-value-never-served"
OBJECTS = f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec: {{containers: [{{name: web, image: "kompy/busybox:1"}}]}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {{name: nightly}}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    metadata: {{labels: {{team: data}}}}
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{{name: c, image: "kompy/busybox:1"}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: lone}}
spec: {{containers: [{{name: c, image: "kompy/busybox:1"}}]}}
---
apiVersion: v1
kind: Secret
metadata: {{name: db}}
stringData: {{password: {SECRET_VALUE}}}
"""


class Dash:
    def __init__(self, base: str, cookie: str, csrf: str, client: Any) -> None:
        self.base, self.cookie, self.csrf, self.client = base, cookie, csrf, client

    def get(self, path: str) -> str:
        request = urllib.request.Request(self.base + path,
                                         headers={"Cookie": f"kompy_dashboard={self.cookie}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return str(response.read().decode())

    def post(self, verb: str, **form: str) -> tuple[int, str]:
        body = "&".join(f"{k}={urllib.request.quote(v)}" for k, v in form.items()).encode()
        request = urllib.request.Request(self.base + f"/actions/{verb}", data=body, headers={
            "Cookie": f"kompy_dashboard={self.cookie}", "X-CSRF-Token": self.csrf,
            "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@pytest.fixture
def dash(cluster: Path, tmp_path: Path) -> Iterator[Dash]:
    """A dashboard on the CLI tests' API-only cluster (conftest.py), logged in."""
    applied = CliRunner().invoke(main, ["apply", "-f", "-"], input=OBJECTS)
    assert applied.exit_code == 0, applied.output
    from kompy.cluster.daemon.process import connect_client

    process = subprocess.Popen([sys.executable, "-m", "kompy", "dashboard", "--no-open",
                                "--port", "0"], cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        login = ""
        for _ in range(20):
            found = re.search(r"http://127\.0\.0\.1:\d+/login\?token=\S+",
                              process.stdout.readline())
            if found:
                login = found.group(0)
                break
        assert login, "no login URL"
        opener = urllib.request.build_opener(NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as redirect:
            opener.open(login, timeout=30)
        assert redirect.value.code == 303
        cookie = re.search(r"kompy_dashboard=([^;]+)",
                           redirect.value.headers["set-cookie"]).group(1)  # type: ignore[union-attr]
        base = login.split("/login")[0]
        page = Dash(base, cookie, "", None).get("/pods")
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        yield Dash(base, cookie, csrf, connect_client())
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_run_a_cronjob_now(dash: Dash) -> None:
    status, text = dash.post("trigger", ns="default", ref="cronjob/nightly")
    assert status == 200, text
    name = re.search(r"job\.batch/(nightly-manual-[a-z0-9]+) created", text).group(1)  # type: ignore[union-attr]
    job = dash.client.get("jobs", name, "default")
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert job["metadata"]["labels"] == {"team": "data"}
    assert job["metadata"]["ownerReferences"][0]["name"] == "nightly"


def test_delete_a_pod_and_the_errors_of_bad_requests(dash: Dash) -> None:
    status, text = dash.post("delete", ns="default", ref="pod/lone")
    assert status == 200 and "pod &#34;lone&#34; deleted" in text
    status, text = dash.post("delete", ns="default", ref="pod/lone")
    assert status == 422 and "not found" in text
    status, text = dash.post("scale", ns="default", ref="deployment/web", replicas="many")
    assert status == 422 and "whole number" in text
    status, text = dash.post("undo", ns="default", ref="deployment/web")
    assert status == 422 and "no rollout history" in text
    status, text = dash.post("explode", ns="default", ref="deployment/web")
    assert status == 422 and "no action" in text
    status, text = dash.post("delete", ns="default", ref="deployment/web")   # pods only
    assert status == 422
    assert dash.client.get("deployments", "web", "default")


def test_the_event_stream_follows_the_watch(dash: Dash) -> None:
    request = urllib.request.Request(dash.base + "/stream?ns=default",
                                     headers={"Cookie": f"kompy_dashboard={dash.cookie}"})
    with urllib.request.urlopen(request, timeout=30) as stream:
        assert stream.readline().startswith(b": watching")
        dash.client.create({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": "fresh", "namespace": "default"}})
        deadline = time.monotonic() + 20
        seen = b""
        while b"event: configmaps" not in seen and time.monotonic() < deadline:
            seen += stream.readline()
        assert b"event: configmaps" in seen
    assert "fresh" in dash.get("/fragment/configmaps?ns=default")


def test_secrets_by_key_only(dash: Dash) -> None:
    for path in ("/secrets", "/fragment/secrets", "/secrets?ns=default"):
        body = dash.get(path)
        assert "password" in body and SECRET_VALUE not in body
