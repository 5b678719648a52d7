"""Objects stored by a kompy before c3e3eb6 (quantities as they were written: ``0.5``,
``1.5Gi``) are rewritten canonically once, as the API server starts, so that they are served
as kube-apiserver would serve them and no Deployment or DaemonSet rolls for it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import pytest

from kompy.client import KubeClient
from kompy.client.loopback import attach
from kompy.client.resources import lookup
from kompy.cluster.apiserver import schemas, server
from kompy.cluster.apiserver.schemas import SchemaRegistry
from kompy.cluster.apiserver.server import ApiServer
from kompy.cluster.apiserver.storedforms import canonicalize_stored
from kompy.cluster.controllers.daemonset import DaemonSetController
from kompy.cluster.controllers.deployment import DeploymentController
from kompy.cluster.store.sqlite import Store

OLD = {"requests": {"cpu": "0.5", "memory": "1.5Gi"}, "limits": {"cpu": "1000m"}}
CANONICAL = {"requests": {"cpu": "500m", "memory": "1536Mi"}, "limits": {"cpu": "1"}}


def template(app: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": app}}, "spec": {"containers": [
        {"name": "app", "image": "kompy/busybox:1", "resources": OLD}]}}


def resources_of(obj: dict[str, Any]) -> Any:
    return obj["spec"]["template"]["spec"]["containers"][0]["resources"]


def test_an_upgraded_store_is_canonical_and_nothing_rolls(
        fake_node: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_node.server.stop()
    fake_node.store.close()
    path = fake_node.tmp_path / "upgraded.db"
    # Before c3e3eb6: the API server stored quantities as written, and had no migration.
    with monkeypatch.context() as old_kompy:
        old_kompy.setattr(schemas.Findings, "canonicalize", lambda self: None)
        old_kompy.setattr(server, "canonicalize_stored", lambda store, schemas: None)
        client = _daemon_api(fake_node, path)
        cluster = fake_node.start()
        client = cluster.client
        client.create({"apiVersion": "apps/v1", "kind": "Deployment",
                       "metadata": {"name": "web", "namespace": "default"},
                       "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                                "template": template("web")}})
        client.create({"apiVersion": "apps/v1", "kind": "DaemonSet",
                       "metadata": {"name": "agent", "namespace": "default"},
                       "spec": {"selector": {"matchLabels": {"app": "agent"}},
                                "template": template("agent")}})
        cluster.wait("both available", lambda: all(
            (client.get(kind, name, "default").get("status") or {}).get(field) == 1
            for kind, name, field in (("deployments", "web", "availableReplicas"),
                                      ("daemonsets", "agent", "numberAvailable"))))
        assert resources_of(client.get("deployments", "web", "default")) == OLD
        before = {kind: {p["metadata"]["name"]: p for p in client.list(kind, "default")["items"]}
                  for kind in ("replicasets", "pods", "controllerrevisions")}
        # The daemon stops (its runtime ends; the containers stay, as after kill -9).
        fake_node.crash()
        fake_node.server.stop()
        fake_node.store.close()

    # This kompy's daemon starts over the same store.
    synced: list[Hashable] = []
    for controller in (DeploymentController, DaemonSetController):
        monkeypatch.setattr(controller, "sync", _counted(controller.sync, synced))
    client = _daemon_api(fake_node, path)
    dep = client.get("deployments", "web", "default")
    assert resources_of(dep) == CANONICAL
    assert dep["metadata"]["generation"] == 1     # the same spec: not a new generation
    [rs] = client.list("replicasets", "default")["items"]
    assert resources_of(rs) == CANONICAL
    [revision] = client.list("controllerrevisions", "default")["items"]
    assert revision["data"]["spec"]["template"]["spec"]["containers"][0]["resources"] == \
        CANONICAL
    migrated = _versions(client)

    cluster = fake_node.start()
    cluster.wait("both controllers' first syncs", lambda: {
        ("default", "web"), ("default", "agent")} <= set(synced))
    after = {kind: {p["metadata"]["name"]: p for p in client.list(kind, "default")["items"]}
             for kind in ("replicasets", "pods", "controllerrevisions")}
    for kind in ("replicasets", "pods", "controllerrevisions"):   # no rollout: no new ones
        assert {name: o["metadata"]["uid"] for name, o in after[kind].items()} == \
            {name: o["metadata"]["uid"] for name, o in before[kind].items()}, kind
    assert int(next(iter(after["replicasets"].values()))["spec"]["replicas"]) == 1
    # The controllers wrote nothing over what the migration wrote.
    assert {key: rv for key, rv in _versions(client).items() if key[0] != "pods"} == \
        {key: rv for key, rv in migrated.items() if key[0] != "pods"}


def _daemon_api(node: Any, path: Path) -> KubeClient:
    """A daemon's start, up to its API: the store at ``path`` and the API server over it."""
    node.store = Store(path)
    node.server = ApiServer(node.store, "token").start()
    node.client = attach(KubeClient.for_server(node.server.url, "token"), node.server.router)
    return node.client  # type: ignore[no-any-return]


def _counted(sync: Callable[[Any, Hashable], None], synced: list[Hashable]
             ) -> Callable[[Any, Hashable], None]:
    def counted(self: Any, key: Hashable) -> None:
        sync(self, key)
        synced.append(key)
    return counted


def _versions(client: KubeClient) -> dict[tuple[str, str], str]:
    return {(kind, o["metadata"]["name"]): o["metadata"]["resourceVersion"]
            for kind in ("deployments", "replicasets", "daemonsets", "controllerrevisions",
                         "pods")
            for o in client.list(kind, "default")["items"]}


def _old_store(path: Path) -> None:
    """A store as a kompy before c3e3eb6 left it (the store keeps what it is given)."""
    store = Store(path)
    for i in range(3):
        store.create(lookup("deployments"), {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": f"web{i}", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": template("web")}})
    store.create(lookup("configmaps"), {"apiVersion": "v1", "kind": "ConfigMap",
                                        "metadata": {"name": "c", "namespace": "default"},
                                        "data": {"cpu": "0.5"}})    # not a quantity
    store.close()


KILLED_MIDWAY = """
import os, signal, sys
from kompy.cluster.apiserver.schemas import SchemaRegistry
from kompy.cluster.apiserver.storedforms import canonicalize_stored
from kompy.cluster.store.sqlite import Store

store = Store(sys.argv[1])
migrate = store.migrate

def dies_at_the_second(name, fix):
    done = []
    def fixing(plural, obj):
        if done:
            os.kill(os.getpid(), signal.SIGKILL)
        changed = fix(plural, obj)
        if changed:
            done.append(plural)
        return changed
    return migrate(name, fixing)

store.migrate = dies_at_the_second
canonicalize_stored(store, SchemaRegistry("1.30"))
"""


def test_a_migration_killed_midway_leaves_the_store_as_it_was_and_runs_again(
        tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    _old_store(path)
    killed = subprocess.run([sys.executable, "-c", KILLED_MIDWAY, str(path)], timeout=60,
                            capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    store = Store(path)
    try:
        res = lookup("deployments")
        objects, version = store.list(res)
        assert [resources_of(o) for o in objects] == [OLD] * 3
        assert version == 4
        assert canonicalize_stored(store, SchemaRegistry("1.30")) == 3
        objects, version = store.list(res)
        assert [resources_of(o) for o in objects] == [CANONICAL] * 3
        assert version == 7
        assert [o["metadata"]["generation"] for o in objects] == [1, 1, 1]
        assert store.get(lookup("configmaps"), "default", "c")["data"] == {"cpu": "0.5"}
        assert store.check() == []
        # A watcher from before sees each rewrite as a change.
        changes, _ = store.events_since(res, 4)
        assert [(c.type, json.loads(c.body)["metadata"]["name"]) for c in changes] == [
            ("MODIFIED", "web0"), ("MODIFIED", "web1"), ("MODIFIED", "web2")]
        assert canonicalize_stored(store, SchemaRegistry("1.30")) is None   # once
    finally:
        store.close()
    reopened = ApiServer(Store(path), "t")     # what the daemon's start does: nothing now
    objects, _ = reopened.api.store.list(lookup("deployments"))
    assert [o["metadata"]["resourceVersion"] for o in objects] == ["5", "6", "7"]
    reopened.api.store.close()
