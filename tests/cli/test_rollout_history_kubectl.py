"""``kompy rollout history`` as stock kubectl prints it (1.27 and 1.33), for Deployments,
StatefulSets and DaemonSets with no history and with revisions, ``--revision N`` of one that
exists and of one that does not. A real daemon serves the API alone (no controllers), so
the test decides what history there is: ReplicaSets and ControllerRevisions owned as the
controllers own them."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kompy.cli import main
from kompy.client.revisions import revision_data

SDK = Path("/usr/lib/google-cloud-sdk/bin")
VERSIONS = [v for v in ("1.27", "1.33") if (SDK / f"kubectl.{v}").exists()]
NS = "hist"
pytestmark = pytest.mark.skipif(not VERSIONS, reason="no stock kubectl 1.27/1.33 here")


def kompy(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), prog_name="kompy")
    return result.exit_code, result.stdout, result.stderr


def template(app: str, image: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": app}}, "spec": {"containers": [{
        "name": app, "image": image, "ports": [{"containerPort": 80}],
        "resources": {"requests": {"cpu": 0.5, "memory": "64Mi"}}}]}}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    home = tmp_path_factory.mktemp("history")
    saved = dict(os.environ)
    os.environ.update(KOMPY_HOME=str(home / "kompy"), KOMPY_CLUSTER_NO_RUNTIME="1",
                      HOME=str(home), KOMPY_CLUSTER="history")
    for key in ("KUBECONFIG", "KOMPY_KUBECONFIG"):
        os.environ.pop(key, None)
    try:
        code, text, _ = kompy("cluster", "kubeconfig")
        assert code == 0
        config = home / "kubeconfig"
        config.write_text(text)
        from kompy.cluster.daemon.process import running_client

        client = running_client()
        client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        for kind, name in (("Deployment", "web"), ("StatefulSet", "db"), ("DaemonSet", "agent"),
                           ("Deployment", "empty"), ("DaemonSet", "none")):
            spec: dict[str, Any] = {"selector": {"matchLabels": {"app": name}},
                                    "template": template(name, "kompy/busybox:1")}
            if kind == "StatefulSet":
                spec["serviceName"] = name
            client.create({"apiVersion": "apps/v1", "kind": kind, "metadata": {
                "name": name, "namespace": NS}, "spec": spec})
        yield client, config
    finally:
        CliRunner().invoke(main, ["cluster", "stop"])
        os.environ.clear()
        os.environ.update(saved)


def owner(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"apiVersion": "apps/v1", "kind": obj["kind"], "name": obj["metadata"]["name"],
             "uid": obj["metadata"]["uid"], "controller": True}]


def add_history(client: Any) -> None:
    """Two revisions of each of web, db and agent, the second with a change cause; a
    ReplicaSet of another owner that must not count."""
    web = client.get("deployments", "web", NS)
    for number, image in ((1, "kompy/busybox:1"), (2, "kompy/python:3")):
        annotations = {"deployment.kubernetes.io/revision": str(number)}
        if number == 2:
            annotations["kubernetes.io/change-cause"] = "kubectl set image web"
        tmpl = template("web", image)
        tmpl["metadata"]["labels"]["pod-template-hash"] = f"h{number}"
        client.create({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {
            "name": f"web-h{number}", "namespace": NS, "labels": tmpl["metadata"]["labels"],
            "annotations": annotations, "ownerReferences": owner(web)}, "spec": {
            "replicas": 0, "template": tmpl, "selector": {"matchLabels": tmpl["metadata"][
                "labels"]}}})
    for plural, name in (("statefulsets", "db"), ("daemonsets", "agent")):
        obj = client.get(plural, name, NS)
        for number, image in ((1, "kompy/busybox:1"), (2, "kompy/python:3")):
            annotations = {"kubernetes.io/change-cause": "set image"} if number == 2 else {}
            # From the stored (defaulted) template, as the controllers write revisions.
            tmpl = json.loads(json.dumps(obj["spec"]["template"]))
            tmpl["spec"]["containers"][0]["image"] = image
            client.create({"apiVersion": "apps/v1", "kind": "ControllerRevision",
                           "metadata": {"name": f"{name}-r{number}", "namespace": NS,
                                        "labels": {"app": name}, "annotations": annotations,
                                        "ownerReferences": owner(obj)},
                           "revision": number, "data": revision_data(tmpl)})


def kubectl(version: str, config: Path, *args: str) -> tuple[int, str, str]:
    done = subprocess.run([str(SDK / f"kubectl.{version}"), "--kubeconfig", str(config),
                           "-n", NS, *args], capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout, done.stderr


def same(config: Path, *args: str, versions: list[str] = VERSIONS) -> str:
    """kompy's output, checked against each kubectl's: the same text and exit status 0."""
    code, ours, err = kompy("rollout", *args, "-n", NS)
    assert (code, err) == (0, ""), err
    for version in versions:
        assert kubectl(version, config, "rollout", *args) == (0, ours, ""), version
    return ours


def test_no_history_then_revisions_as_kubectl_prints_them(cluster: tuple[Any, Path]) -> None:
    client, config = cluster
    for ref in ("deployment.apps/web", "statefulset.apps/db", "daemonset.apps/agent"):
        assert same(config, "history", ref) == f"{ref} \nNo rollout history found.\n"
        # A revision asked for: still no history, and not an error (kubectl's viewers).
        assert same(config, "history", ref, "--revision", "3") == (
            f"{ref} with revision #3\nNo rollout history found.\n")

    add_history(client)
    assert same(config, "history", "deploy/web") == (
        "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n"
        "2         kubectl set image web\n\n")
    for ref in ("statefulset.apps/db", "daemonset.apps/agent"):
        assert same(config, "history", ref) == (
            f"{ref} \nREVISION  CHANGE-CAUSE\n1         <none>\n2         set image\n\n")
    # kubectl describes the pod template as 1.33 does (1.27 printed less, and kompy
    # describe follows 1.33): tabs as they are, the quantities as the server stores them.
    shown = same(config, "history", "deploy/web", "--revision", "2", versions=["1.33"])
    assert shown.startswith("deployment.apps/web with revision #2\nPod Template:\n")
    assert "  Annotations:\tkubernetes.io/change-cause: kubectl set image web\n" in shown
    assert "      cpu:\t500m\n" in shown
    for ref in ("sts/db", "ds/agent"):
        shown = same(config, "history", ref, "--revision", "1", versions=["1.33"])
        assert "Image:\tkompy/busybox:1\n" in shown and "Annotations" not in shown


def test_a_missing_revision_is_kubectls_error(cluster: tuple[Any, Path]) -> None:
    client, config = cluster
    if not client.list("controllerrevisions", NS)["items"]:
        add_history(client)
    for ref in ("deploy/web", "sts/db", "ds/agent"):
        code, out, err = kompy("rollout", "history", ref, "--revision", "9", "-n", NS)
        # kubectl exits 1 for every error; kompy exits 2 for what the user can fix.
        assert (code, out) == (2, "")
        assert err.splitlines()[0] == "error: unable to find the specified revision"
        for version in VERSIONS:
            assert kubectl(version, config, "rollout", "history", ref, "--revision", "9") == (
                1, "", "error: unable to find the specified revision\n")
