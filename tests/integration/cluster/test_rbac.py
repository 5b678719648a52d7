"""Identity and RBAC on the real engine: in-cluster clients, restricted kubeconfigs, can-i.

A pod's projected ServiceAccount token, with the official Python ``kubernetes`` client's
in-cluster configuration (KUBERNETES_SERVICE_HOST/PORT, the token and ca.crt under
/var/run/secrets/kubernetes.io/serviceaccount, TLS checked against the cluster's CA), lists
the pods of its namespace where a RoleBinding lets it and gets kubectl's 403 elsewhere. The
client is not in kompy/python:3: its wheels (downloaded with pip for the image's Python and
platform) are unpacked into a test image built on it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clusterkit import container, pod, running, wait_for

PYTHON_IMAGE = "kompy/python:3"
CLIENT_IMAGE = "kompy-test/kubernetes-client"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

IN_POD = """
import json, os
from kubernetes import client, config
config.load_incluster_config()
api = client.CoreV1Api()
own = open("{dir}/namespace").read()
print("OWN", len(api.list_namespaced_pod(own).items), flush=True)
try:
    api.list_namespaced_pod("default")
    print("OTHER allowed", flush=True)
except client.ApiException as error:
    print("OTHER", error.status, json.loads(error.body)["message"], flush=True)
print("HOST", os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"])
""".replace("{dir}", SA_DIR)


def _docker(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def client_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """kompy/python:3 with the ``kubernetes`` client unpacked on its PYTHONPATH (built once,
    kept by the tag of its inputs: the base image's id and the wheels)."""
    base = _docker("image", "inspect", "-f", "{{.Id}}", PYTHON_IMAGE)
    if base.returncode:
        pytest.skip(f"{PYTHON_IMAGE} is not built")
    tag = f"{CLIENT_IMAGE}:{hashlib.sha256(base.stdout.encode()).hexdigest()[:12]}"
    if _docker("image", "inspect", tag).returncode == 0:
        return tag
    context = tmp_path_factory.mktemp("client-image")
    wheels = context / "wheels"
    got = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "kubernetes",
                          "--only-binary=:all:", "--platform", "manylinux2014_x86_64",
                          "--python-version", "3.11", "--implementation", "cp", "-d",
                          str(wheels)], capture_output=True, text=True, timeout=600)
    if got.returncode:
        pytest.skip(f"the kubernetes client's wheels could not be downloaded: {got.stderr}")
    site = context / "site"
    for wheel in sorted(wheels.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(site)
    (context / "Dockerfile").write_text(f"FROM {PYTHON_IMAGE}\nCOPY site /opt/site\n"
                                        "ENV PYTHONPATH=/opt/site\n")
    built = _docker("build", "-q", "-t", tag, str(context), timeout=600)
    assert built.returncode == 0, built.stderr
    return tag


@pytest.fixture
def kube_env(cluster: dict[str, Any], tmp_path: Path) -> dict[str, str]:
    """kubectl's environment: the cluster's admin kubeconfig, a HOME of the test's own."""
    return {**os.environ, "HOME": str(tmp_path), "KUBECONFIG": str(cluster["dir"] /
                                                                   "kubeconfig")}


def _kubectl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def _bind(client: Any, ns: str, role: str, subject: dict[str, str], name: str = "b") -> None:
    client.create({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                   "metadata": {"name": name, "namespace": ns},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                               "name": role},
                   "subjects": [subject]})


def _logs(client: Any, name: str, ns: str) -> str:
    def done() -> bool:
        return (client.get("pods", name, ns).get("status") or {}).get("phase") in (
            "Succeeded", "Failed")
    wait_for(f"pod {name} to finish", done, 180,
             lambda: json.dumps(client.get("pods", name, ns).get("status")))
    return b"".join(client.logs(name, ns)).decode()


def test_a_pods_token_lists_its_namespace_and_is_refused_elsewhere(
        client: Any, namespace: str, client_image: str) -> None:
    wait_for("the default ServiceAccount", lambda: client.get("serviceaccounts", "default",
                                                              namespace))
    _bind(client, namespace, "view", {"kind": "ServiceAccount", "name": "default",
                                      "namespace": namespace})
    client.create(pod("lister", namespace, {"name": "py", "image": client_image,
                                            "command": ["python3", "-c", IN_POD]},
                      restartPolicy="Never"))
    out = _logs(client, "lister", namespace)
    assert "OWN 1" in out, out
    assert (f'OTHER 403 pods is forbidden: User "system:serviceaccount:{namespace}:default" '
            'cannot list resource "pods" in API group "" in the namespace "default"') in out, out
    service = client.get("services", "kubernetes", "default")
    assert f"HOST {service['spec']['clusterIP']} 443" in out, out
    spec = client.get("pods", "lister", namespace)["spec"]
    assert spec["serviceAccountName"] == "default"
    assert any(v["name"].startswith("kube-api-access-") for v in spec["volumes"])


def test_the_token_volume_is_there_unless_automount_is_off(client: Any, namespace: str) -> None:
    files = f"ls {SA_DIR}; cat {SA_DIR}/namespace; echo; head -c 27 {SA_DIR}/ca.crt"
    client.create(pod("mounted", namespace, container("c", files), restartPolicy="Never"))
    client.create(pod("bare", namespace, container("c", f"ls {SA_DIR} 2>&1; "
                                                        "echo host=$KUBERNETES_SERVICE_HOST"),
                      restartPolicy="Never", automountServiceAccountToken=False))
    mounted = _logs(client, "mounted", namespace)
    assert mounted.split()[:4] == ["ca.crt", "namespace", "token", namespace], mounted
    assert "-----BEGIN CERTIFICATE" in mounted
    bare = _logs(client, "bare", namespace)
    assert "No such file or directory" in bare and "host=10." in bare, bare


@pytest.fixture
def restricted(cluster: dict[str, Any], namespace: str, tmp_path: Path
               ) -> Iterator[dict[str, str]]:
    """alice's kubeconfig (view in the test's namespace), minted by the CLI."""
    made = subprocess.run([sys.executable, "-m", "kompy", "cluster", "kubeconfig", "--cluster",
                           cluster["name"], "--user", "alice", "--namespace", namespace,
                           "--role", "view"], capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    assert "its token expires at" in made.stderr
    config = tmp_path / "alice.kubeconfig"
    config.write_text(made.stdout)
    yield {**os.environ, "HOME": str(tmp_path), "KUBECONFIG": str(config)}
    with contextlib.suppress(Exception):
        config.unlink()


def test_a_restricted_kubeconfig_reads_but_cannot_delete(
        client: Any, namespace: str, restricted: dict[str, str]) -> None:
    client.create(pod("victim", namespace, container("c", "sleep 600")))
    got = _kubectl(restricted, "get", "pods", "-o", "name")
    assert got.returncode == 0 and "pod/victim" in got.stdout, got.stderr
    deleted = _kubectl(restricted, "delete", "pod", "victim", "--wait=false")
    assert deleted.returncode == 1
    assert deleted.stderr.strip() == (
        f'Error from server (Forbidden): pods "victim" is forbidden: User '
        f'"system:serviceaccount:{namespace}:alice" cannot delete resource "pods" in API group '
        f'"" in the namespace "{namespace}"'), deleted.stderr
    other = _kubectl(restricted, "get", "pods", "-n", "default")
    assert other.returncode == 1 and "cannot list resource" in other.stderr
    running(client, "victim", namespace)
    shell = _kubectl(restricted, "exec", "victim", "--", "true")
    assert shell.returncode == 1 and "cannot create resource \"pods/exec\"" in shell.stderr, \
        shell.stderr
    assert client.get("pods", "victim", namespace)


def test_auth_can_i_and_impersonation(client: Any, namespace: str,
                                      kube_env: dict[str, str]) -> None:
    _bind(client, namespace, "edit", {"kind": "User", "name": "bob"})
    _bind(client, namespace, "view", {"kind": "Group", "name": "auditors"}, name="auditors")

    def can_i(*args: str) -> tuple[int, str]:
        done = _kubectl(kube_env, "auth", "can-i", "-n", namespace, *args)
        return done.returncode, done.stdout.strip()
    assert can_i("delete", "pods", "--as", "bob") == (0, "yes")
    assert can_i("delete", "pods", "--as", "bob", "-n", "default") == (1, "no")
    assert can_i("create", "rolebindings", "--as", "bob") == (1, "no")
    assert can_i("list", "pods", "--as", "carol", "--as-group", "auditors") == (0, "yes")
    assert can_i("delete", "pods", "--as", "carol", "--as-group", "auditors") == (1, "no")
    assert can_i("create", "pods/exec", "--as", "bob") == (0, "yes")
    assert can_i("get", "pods", "--subresource", "log", "--as", "carol", "--as-group",
                 "auditors") == (0, "yes")
    denied = _kubectl(kube_env, "get", "secrets", "-n", namespace, "--as", "carol",
                      "--as-group", "auditors")
    assert denied.returncode == 1
    assert ('secrets is forbidden: User "carol" cannot list resource "secrets" in API group '
            f'"" in the namespace "{namespace}"') in denied.stderr
    listing = _kubectl(kube_env, "auth", "can-i", "--list", "-n", namespace, "--as", "bob")
    assert listing.returncode == 0 and "pods" in listing.stdout
    who = _kubectl(kube_env, "auth", "whoami", "--as", "bob", "-o", "json")
    assert json.loads(who.stdout)["status"]["userInfo"]["username"] == "bob"
    # edit may not touch RBAC; admin may, but grant only what it holds itself.
    refused = _kubectl(kube_env, "create", "rolebinding", "grab", "--clusterrole", "view",
                       "--user", "bob", "-n", namespace, "--as", "bob")
    assert refused.returncode == 1 and 'cannot create resource "rolebindings"' in \
        refused.stderr, refused.stderr
    _bind(client, namespace, "admin", {"kind": "User", "name": "dave"}, name="dave")
    granted = _kubectl(kube_env, "create", "rolebinding", "helper", "--clusterrole", "view",
                       "--user", "erin", "-n", namespace, "--as", "dave")
    assert granted.returncode == 0, granted.stderr
    escalate = _kubectl(kube_env, "create", "rolebinding", "grab", "--clusterrole",
                        "cluster-admin", "--user", "dave", "-n", namespace, "--as", "dave")
    assert escalate.returncode == 1
    assert ('rolebindings.rbac.authorization.k8s.io "grab" is forbidden: user "dave" '
            '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not '
            "currently held") in escalate.stderr, escalate.stderr


KUBECTL_133 = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33"


@pytest.mark.skipif(not os.path.exists(KUBECTL_133), reason="kubectl 1.33 is not installed")
def test_kubectl_133_creates_rbac_objects_and_tokens(namespace: str,
                                                     kube_env: dict[str, str]) -> None:
    """kubectl 1.33 sends these as protobuf: the RBAC kinds and TokenRequest."""
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([KUBECTL_133, "-n", namespace, *args], capture_output=True,
                              text=True, env=kube_env, timeout=120)
    for args in (("create", "serviceaccount", "ci"),
                 ("create", "role", "reader", "--verb=get,list", "--resource=pods,pods/log"),
                 ("create", "rolebinding", "ci-reads", "--role=reader",
                  f"--serviceaccount={namespace}:ci"),
                 ("create", "clusterrole", f"{namespace}-nodes", "--verb=get",
                  "--resource=nodes"),
                 ("create", "clusterrole", f"{namespace}-agg", "--aggregation-rule=x=y"),
                 ("create", "clusterrolebinding", f"{namespace}-ci", "--clusterrole=view",
                  f"--serviceaccount={namespace}:ci")):
        done = run(*args)
        assert done.returncode == 0, (args, done.stderr)
    role = json.loads(run("get", "role", "reader", "-o", "json").stdout)
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods", "pods/log"],
                              "verbs": ["get", "list"]}]
    token = run("create", "token", "ci", "--duration", "15m")
    assert token.returncode == 0, token.stderr
    as_ci = run("--token", token.stdout.strip(), "--kubeconfig", kube_env["KUBECONFIG"],
                "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    assert as_ci.stdout == f"system:serviceaccount:{namespace}:ci", as_ci.stderr
    wide = run("get", "rolebinding", "ci-reads", "-o", "wide")
    assert wide.stdout.split("\n")[1].split()[1:2] == ["Role/reader"], wide.stdout
    aggregated = json.loads(run("get", "clusterrole", f"{namespace}-agg", "-o", "json").stdout)
    assert aggregated["aggregationRule"] == {"clusterRoleSelectors": [{"matchLabels":
                                                                       {"x": "y"}}]}
    for kind, name in (("clusterrole", f"{namespace}-nodes"),
                       ("clusterrole", f"{namespace}-agg"),
                       ("clusterrolebinding", f"{namespace}-ci")):
        with contextlib.suppress(Exception):
            run("delete", kind, name)
