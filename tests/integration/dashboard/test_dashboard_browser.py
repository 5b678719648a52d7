"""``kompy dashboard`` in a real browser: Debian's headless chromium driven through its
chromedriver (Selenium), against a built-in cluster on the real Docker engine that ``kompy up``
filled with the webapp sample (a Deployment of two replicas, a worker, a cache), and a Secret
and a ConfigMap applied as a user applies them.

Every HTTP response the browser received is scanned for the Secret's values (the bodies
through the DevTools protocol, and every server-sent event's data), and the views are fetched
once more outside the browser for the same scan. ``KOMPY_DASHBOARD_SCREENSHOTS=DIR`` saves a
screenshot of each view there (docs/dashboard/ holds the committed ones).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from enginekit import eventually as _eventually
from enginekit import kompy, own_cluster, sample

REPO = Path(__file__).resolve().parents[3]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
DB_PASSWORD = f"db-pw-{uuid.uuid4().hex}"          # the Secret's values, searched for
API_TOKEN = f"api-token-{uuid.uuid4().hex}"
CONFIG = f"""
apiVersion: v1
kind: Secret
metadata: {{name: credentials, namespace: webapp}}
stringData: {{db_password: {DB_PASSWORD}, api_token: {API_TOKEN}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings, namespace: webapp}}
data: {{API_MODE: production}}
"""
T = TypeVar("T")


def eventually(what: str, probe: Callable[[], T | None], timeout: float = 90) -> T:
    """enginekit's, retrying whatever the browser raises meanwhile (a stale element)."""
    return _eventually(what, probe, timeout, retry_on=(Exception,))

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip("chromium and chromium-driver are not installed (tests/run.sh installs them)")
    with own_cluster(tmp_path_factory.mktemp("kompy-home"), "dash") as env:
        yield env


@pytest.fixture(scope="module")
def samples(cluster: dict[str, str], tmp_path_factory: pytest.TempPathFactory
            ) -> dict[str, tuple[Path, int]]:
    """Each sample's folder and published port, once `kompy up` started it."""
    tmp = tmp_path_factory.mktemp("samples")
    found = {}
    for name in ("webapp",):
        folder, port = found[name] = sample(name, tmp)
        result = kompy(cluster, "up", cwd=folder)
        assert result.returncode == 0, result.stdout + result.stderr
    applied = kompy(cluster, "apply", "-f", "-", input=CONFIG)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    return found


class Server:
    def __init__(self, process: subprocess.Popen[str], base: str, login: str) -> None:
        self.process, self.base, self.login = process, base, login


@pytest.fixture(scope="module")
def server(cluster: dict[str, str], samples: dict[str, tuple[Path, int]]
           ) -> Iterator[Server]:
    compose = samples["webapp"][0] / "compose.yaml"
    process = subprocess.Popen([sys.executable, "-m", "kompy", "dashboard", "--no-open",
                                "--port", "0", "-f", str(compose)], env=cluster,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    login = ""
    deadline = time.monotonic() + 60
    lines = []
    while not login and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        found = re.search(r"(http://127\.0\.0\.1:\d+)/login\?token=\S+", line)
        if found:
            login = found.group(0)
    assert login, "no login URL printed:\n" + "".join(lines)
    yield Server(process, login.split("/login")[0], login)
    process.terminate()
    process.wait(timeout=30)


def chrome(profile: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--window-size=1400,900", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    # The DevTools network log: every response the page received, read back for the scan.
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    os.environ.setdefault("SE_OFFLINE", "true")   # Selenium Manager downloads nothing
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


class Browser:
    """The driver and everything its network log has shown so far."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self.bodies: list[tuple[str, str]] = []     # (url, body)
        self.statuses: dict[str, int] = {}

    def get(self, url: str) -> None:
        """Navigate, after reading what the page so far received (a page's bodies are gone
        from DevTools once it is left)."""
        self.collect()
        self.driver.get(url)

    def collect(self) -> None:
        responses: dict[str, str] = {}
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            method, params = message.get("method"), message.get("params") or {}
            if method == "Network.responseReceived":
                responses[params["requestId"]] = params["response"]["url"]
                self.statuses[params["response"]["url"]] = params["response"]["status"]
            elif method == "Network.eventSourceMessageReceived":
                self.bodies.append((f"sse:{params.get('eventName')}", params.get("data", "")))
            elif method == "Network.loadingFinished" and params["requestId"] in responses:
                try:
                    body = self.driver.execute_cdp_cmd("Network.getResponseBody",
                                                       {"requestId": params["requestId"]})
                except Exception:  # noqa: BLE001 - an evicted body; the direct scan covers it
                    continue
                self.bodies.append((responses[params["requestId"]], body.get("body", "")))


@pytest.fixture(scope="module")
def browser(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    driver = chrome(tmp_path_factory.mktemp("chromium-profile"))
    driver.set_page_load_timeout(60)
    found = Browser(driver)
    driver.get(server.login)
    yield found
    driver.quit()


def pod_names(env: dict[str, str], namespace: str, prefix: str) -> list[str]:
    result = kompy(env, "get", "pods", "-n", namespace, "-o", "name")
    assert result.returncode == 0, result.stderr
    return sorted(n.split("/", 1)[1] for n in result.stdout.split()
                  if n.split("/", 1)[1].startswith(prefix + "-"))


def running_pods(env: dict[str, str], namespace: str, prefix: str) -> list[str]:
    """Names of the pods `kompy get pods` shows Running and ready (READY n/n)."""
    result = kompy(env, "get", "pods", "-n", namespace)
    assert result.returncode == 0, result.stderr
    names = []
    for line in result.stdout.splitlines()[1:]:
        name, ready, status = line.split()[:3]
        have, want = ready.split("/")
        if name.startswith(prefix + "-") and status == "Running" and have == want:
            names.append(name)
    return sorted(names)


def screenshot(driver: Any, name: str) -> None:
    folder = os.environ.get("KOMPY_DASHBOARD_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))


def accept_confirmation(driver: Any) -> str:
    from selenium.webdriver.support.ui import WebDriverWait

    alert = WebDriverWait(driver, 10).until(lambda d: d.switch_to.alert)
    text = str(alert.text)
    alert.accept()
    return text


def rows_of(driver: Any, prefix: str) -> list[str]:
    from selenium.webdriver.common.by import By

    return sorted(str(r.get_attribute("data-pod")) for r in
                  driver.find_elements(By.CSS_SELECTOR, "tr[data-pod]")
                  if str(r.get_attribute("data-pod")).startswith(prefix + "-"))


# -- the tests, in the order a user goes ---------------------------------------------------

def test_the_pods_page_lists_the_pods_of_the_sample(browser: Browser, server: Server,
                                                    cluster: dict[str, str]) -> None:
    driver = browser.driver
    browser.get(f"{server.base}/pods?ns=webapp")
    expected = eventually("two ready web pods", lambda: running_pods(cluster, "webapp", "web")
                          if len(running_pods(cluster, "webapp", "web")) == 2 else None)
    eventually("the web pods on the page", lambda: rows_of(driver, "web") == expected)
    assert driver.title.startswith("Pods")
    assert "worker-" in driver.page_source and "cache-" in driver.page_source
    screenshot(driver, "pods")


def test_scaling_from_the_page_changes_what_get_pods_shows(
        browser: Browser, server: Server, cluster: dict[str, str]) -> None:
    from selenium.webdriver.common.by import By

    driver = browser.driver
    browser.get(f"{server.base}/workloads?ns=webapp")
    field = driver.find_element(By.CSS_SELECTOR, 'input[name="replicas"][id$="deployment-web"]')
    field.clear()
    field.send_keys("3")
    driver.find_element(By.CSS_SELECTOR, 'tr[data-workload="deployment/web"] form.scale '
                                         'button').click()
    assert "Scale deployment/web" in accept_confirmation(driver)
    eventually("the flash message", lambda: "scaled" in driver.find_element(By.ID, "flash").text)
    eventually("three web pods in `kompy get pods`",
               lambda: len(pod_names(cluster, "webapp", "web")) == 3)
    # The page follows the watch: the workload's row says 3 replicas without a reload.
    eventually("3/3 on the page", lambda: "3/3" in driver.find_element(
        By.CSS_SELECTOR, 'tr[data-workload="deployment/web"]').text, timeout=240)
    screenshot(driver, "workloads")


def test_a_rollout_restart_from_the_page_replaces_every_pod(
        browser: Browser, server: Server, cluster: dict[str, str]) -> None:
    from selenium.webdriver.common.by import By

    driver = browser.driver
    before = eventually("3 ready web pods", lambda: running_pods(cluster, "webapp", "web")
                        if len(running_pods(cluster, "webapp", "web")) == 3 else None,
                        timeout=240)
    browser.get(f"{server.base}/workloads?ns=webapp")
    restart = [b for b in driver.find_elements(
        By.CSS_SELECTOR, 'tr[data-workload="deployment/web"] button') if
        b.text.startswith("Restart")][0]
    restart.click()
    assert "Restart the rollout of deployment/web" in accept_confirmation(driver)
    eventually("restarted", lambda: "restarted" in driver.find_element(By.ID, "flash").text)

    def rolled() -> list[str] | None:
        now = running_pods(cluster, "webapp", "web")
        return now if len(now) == 3 and not set(now) & set(before) else None
    after = eventually("three new web pods", rolled, timeout=300)
    browser.get(f"{server.base}/pods?ns=webapp")
    eventually("the new pods on the page", lambda: set(after) <= set(rows_of(driver, "web")))


def test_a_pods_log_streams_into_the_page(browser: Browser, server: Server,
                                          cluster: dict[str, str],
                                          samples: dict[str, tuple[Path, int]]) -> None:
    from selenium.webdriver.common.by import By

    driver = browser.driver
    pod = eventually("a web pod", lambda: (running_pods(cluster, "webapp", "web")
                                           or [None])[0])
    browser.get(f"{server.base}/logs?ns=webapp&pod={pod}")
    log = driver.find_element(By.ID, "log")
    eventually("the log's first lines", lambda: "web listening" in log.text)
    marker = f"/marker-{uuid.uuid4().hex[:8]}"

    def request_and_look() -> bool:
        """One request through the Service (it picks a replica: this pod, sooner or later)."""
        if marker in log.text:
            return True
        with contextlib.suppress(urllib.error.URLError):  # a 404 is logged all the same
            urllib.request.urlopen(f"http://127.0.0.1:{samples['webapp'][1]}{marker}",
                                   timeout=10)
        return False
    eventually("the new line, streamed", request_and_look)
    search = driver.find_element(By.ID, "log-search")
    search.send_keys("marker-")
    visible = [line.text for line in log.find_elements(By.CSS_SELECTOR, ".line")
               if line.is_displayed()]
    assert visible and all("marker-" in line for line in visible)
    screenshot(driver, "logs")


def test_the_other_views_show_their_objects(browser: Browser, server: Server,
                                            cluster: dict[str, str]) -> None:
    from selenium.webdriver.common.by import By

    from kompy.dev.status import DevStatus, status_file, write_status

    # What a `kompy dev` session of the project writes (tests/integration/test_dev.py has
    # the loop write it for real): a rebuild of web that failed.
    write_status(DevStatus("webapp", "webapp", state="watching", watched=("web", "worker"))
                 .with_change("rebuild", ["web"], 3.21, False, "error: web: build failed: "
                              "COPY failed: no source files were specified"),
                 status_file(Path(cluster["KOMPY_HOME"]), "webapp"))
    driver = browser.driver
    for view, expected in (("services", "webapp"), ("events", "Scaled"),
                           ("configmaps", "API_MODE"), ("secrets", "db_password"),
                           ("namespaces", "webapp"), ("graph", "service_healthy"),
                           ("dev", "rebuild of web")):
        browser.get(f"{server.base}/{view}")
        main = driver.find_element(By.ID, "main")
        eventually(f"{expected!r} on the {view} view", lambda m=main, e=expected: e in m.text)
        screenshot(driver, view)
    # Dark, as a system that prefers it shows the page (prefers-color-scheme).
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
        "features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    browser.get(f"{server.base}/workloads?ns=webapp")
    background = driver.execute_script(
        "return getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(13, 17, 23)", background
    screenshot(driver, "workloads-dark")
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    browser.collect()


def test_no_response_ever_carries_a_secret_value(browser: Browser, server: Server) -> None:
    browser.collect()
    assert len(browser.bodies) > 10, "the network log recorded too little to prove anything"
    assert any("secrets" in url for url, _ in browser.bodies)
    cookie = browser.driver.get_cookie("kompy_dashboard")["value"]
    for path in ("/pods", "/workloads", "/services", "/events", "/configmaps", "/secrets",
                 "/namespaces", "/fragment/secrets", "/fragment/configmaps"):
        request = urllib.request.Request(server.base + path,
                                         headers={"Cookie": f"kompy_dashboard={cookie}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            browser.bodies.append((path, response.read().decode()))
    for value in (DB_PASSWORD, API_TOKEN):
        leaked = [url for url, body in browser.bodies if value in body]
        assert not leaked, f"a secret value was served by {leaked}"
    keys = next(body for url, body in browser.bodies if url == "/fragment/secrets")
    assert "db_password" in keys and "api_token" in keys   # the keys are there, by name


def test_a_request_without_the_session_is_refused(server: Server) -> None:
    for path in ("/pods", "/fragment/pods", "/stream", "/static/dashboard.js", "/secrets"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.base + path, timeout=10)
        assert refused.value.code == 401, path
    # The login link works once.
    with pytest.raises(urllib.error.HTTPError) as spent:
        urllib.request.urlopen(server.login, timeout=10)
    assert spent.value.code == 403
    # Another site's name for this address (DNS rebinding) is refused too.
    request = urllib.request.Request(server.base + "/pods", headers={"Host": "evil.example"})
    with pytest.raises(urllib.error.HTTPError) as rebound:
        urllib.request.urlopen(request, timeout=10)
    assert rebound.value.code == 421


def test_a_post_without_the_csrf_token_is_refused(browser: Browser, server: Server,
                                                  cluster: dict[str, str]) -> None:
    cookie = browser.driver.get_cookie("kompy_dashboard")["value"]
    for token in ("", "wrong"):
        body = f"ns=webapp&ref=deployment/web&replicas=1&csrf={token}".encode()
        request = urllib.request.Request(server.base + "/actions/scale", data=body, headers={
            "Cookie": f"kompy_dashboard={cookie}",
            "Content-Type": "application/x-www-form-urlencoded"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403
    got = kompy(cluster, "get", "deploy", "web", "-n", "webapp", "-o", "json")
    assert json.loads(got.stdout)["spec"]["replicas"] == 3   # still what the page set
