"""``kompy rollout`` on the real Docker engine: status follows a rolling update, history
lists the revisions, undo brings revision 1's pods back, restart replaces every pod."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from clusterkit import container, sh

from kompy.cli import main

pytestmark = pytest.mark.integration


def web(ns: str, version: str) -> dict[str, Any]:
    c = container("web", f"mkdir -p /www; echo {version} > /www/version; "
                         "exec httpd -f -p 8080 -h /www",
                  ports=[{"name": "http", "containerPort": 8080}],
                  env=[{"name": "VERSION", "value": version}])
    c["readinessProbe"] = {"httpGet": {"path": "/version", "port": "http"}, "periodSeconds": 1}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [c],
                                           "terminationGracePeriodSeconds": 1}}}}


def kompy(cluster: dict[str, Any], ns: str, *args: str) -> str:
    result = CliRunner().invoke(main, ["rollout", *args, "-n", ns, "--cluster",
                                       cluster["name"]])
    assert result.exit_code == 0, f"kompy rollout {' '.join(args)}: {result.output}"
    return result.output


def live_pods(client: Any, ns: str) -> list[dict[str, Any]]:
    return [p for p in client.list("pods", ns, label_selector="app=web")["items"]
            if not p["metadata"].get("deletionTimestamp")]


def versions(client: Any, ns: str) -> set[str]:
    """What each live pod serves: the rollout is done only if every one has the new one."""
    pods = live_pods(client, ns)
    assert len(pods) == 2, [p["metadata"]["name"] for p in pods]
    return {sh(client, p["metadata"]["name"], ns, "cat /www/version").strip() for p in pods}


def test_status_history_undo_restart(cluster: dict[str, Any], client: Any,
                                     namespace: str) -> None:
    ns = namespace
    client.apply(web(ns, "v1"))
    out = kompy(cluster, ns, "status", "deploy/web", "--timeout", "2m")
    assert out.endswith('deployment "web" successfully rolled out\n')
    assert versions(client, ns) == {"v1"}

    v2 = web(ns, "v2")
    v2["metadata"]["annotations"] = {"kubernetes.io/change-cause": "version 2"}
    client.apply(v2)
    out = kompy(cluster, ns, "status", "deployment", "web", "--timeout", "2m")
    assert "Waiting for deployment \"web\" rollout to finish" in out
    assert out.endswith('deployment "web" successfully rolled out\n')
    assert versions(client, ns) == {"v2"}
    history = kompy(cluster, ns, "history", "deploy/web").splitlines()
    assert [line.split()[0] for line in history[2:] if line] == ["1", "2"]
    # The controller copies the Deployment's change-cause onto the new ReplicaSet.
    rows = [line.split(None, 1) for line in history[2:] if line]
    assert rows[-1] == ["2", "version 2"], history
    # kubectl writes the template through a PrefixWriter with no tabwriter: raw tabs.
    assert "VERSION:\tv1" in kompy(cluster, ns, "history", "deploy/web", "--revision", "1")

    assert kompy(cluster, ns, "undo", "deploy/web") == "deployment.apps/web rolled back\n"
    kompy(cluster, ns, "status", "deploy/web", "--timeout", "2m")
    assert versions(client, ns) == {"v1"}
    # Revision 1's ReplicaSet serves again, as revision 3.
    history = kompy(cluster, ns, "history", "deploy/web").splitlines()
    assert [line.split()[0] for line in history[2:] if line] == ["2", "3"]

    before = {p["metadata"]["name"] for p in live_pods(client, ns)}
    assert kompy(cluster, ns, "restart", "deploy/web") == "deployment.apps/web restarted\n"
    kompy(cluster, ns, "status", "deploy/web", "--timeout", "2m")
    after = {p["metadata"]["name"] for p in live_pods(client, ns)}
    assert not before & after, (before, after)
    assert versions(client, ns) == {"v1"}


def workload(kind: str, ns: str) -> dict[str, Any]:
    c = container("app", "exec sleep 3600")
    c["readinessProbe"] = {"exec": {"command": ["true"]}, "periodSeconds": 1}
    spec: dict[str, Any] = {"selector": {"matchLabels": {"app": kind.lower()}},
                            "template": {"metadata": {"labels": {"app": kind.lower()}},
                                         "spec": {"containers": [c],
                                                  "terminationGracePeriodSeconds": 1}}}
    if kind == "StatefulSet":
        spec.update(replicas=2, serviceName="db")
    return {"apiVersion": "apps/v1", "kind": kind,
            "metadata": {"name": kind.lower(), "namespace": ns}, "spec": spec}


@pytest.mark.parametrize(("kind", "short", "done"), [
    ("StatefulSet", "sts", "partitioned roll out complete: 2 new pods have been updated...\n"),
    ("DaemonSet", "ds", 'daemon set "daemonset" successfully rolled out\n'),
])
def test_restart_and_status_of_statefulsets_and_daemonsets(
        cluster: dict[str, Any], client: Any, namespace: str, kind: str, short: str,
        done: str) -> None:
    ns, target = namespace, f"{short}/{kind.lower()}"
    client.apply(workload(kind, ns))
    assert kompy(cluster, ns, "status", target, "--timeout", "2m").endswith(done)
    selector = f"app={kind.lower()}"
    before = {p["metadata"]["uid"] for p in client.list("pods", ns, selector)["items"]}
    assert kompy(cluster, ns, "restart", target) == f"{kind.lower()}.apps/{kind.lower()} " \
                                                    "restarted\n"
    out = kompy(cluster, ns, "status", target, "--timeout", "2m")
    assert out.endswith(done) and out.count("\n") > 1, out  # it waited for the new pods
    after = [p for p in client.list("pods", ns, selector)["items"]
             if not p["metadata"].get("deletionTimestamp")]
    assert after and not before & {p["metadata"]["uid"] for p in after}
    assert all(p["metadata"]["annotations"].get("kubectl.kubernetes.io/restartedAt")
               for p in after)
