"""kompy rollout's logic against the real API server (no controllers, no Docker): the tests
play the Deployment controller by creating ReplicaSets and writing status themselves."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kompy.client import KubeClient, NotFound
from kompy.client.revisions import revision_data
from kompy.cluster.apiserver.server import ApiServer
from kompy.cluster.store.sqlite import Store
from kompy.errors import UserError
from kompy.kubectl import rollout as rollout_cmd
from kompy.kubectl.rollout_status import (
    RolloutFailed,
    daemonset_status,
    deployment_status,
    statefulset_status,
)

TOKEN = "test-token"
Obj = dict[str, Any]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[KubeClient]:
    srv = ApiServer(Store(tmp_path / "store.db", history=200), TOKEN).start()
    yield KubeClient.for_server(srv.url, TOKEN)
    srv.stop()


class Lines:
    """An ``out`` that keeps what was written."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.changed = threading.Condition()

    def __call__(self, text: str) -> None:
        with self.changed:
            self.parts.append(text)
            self.changed.notify_all()

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def wait_for(self, needle: str, timeout: float = 30.0) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: needle in self.text, timeout), \
                f"{needle!r} never written; got {self.text!r}"


def template(image: str, **env: str) -> Obj:
    container: Obj = {"name": "web", "image": image}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    return {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container]}}


def make_deployment(client: KubeClient, replicas: int = 3, **spec: Any) -> Obj:
    return client.create({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                 "template": template("kompy/busybox:1"), **spec}})


def make_rs(client: KubeClient, dep: Obj, revision: int, tmpl: Obj, cause: str = "") -> Obj:
    """A ReplicaSet as the Deployment controller makes it: hash label, revision, owner."""
    pod_hash = f"h{revision}"
    tmpl = {**tmpl, "metadata": {**tmpl["metadata"], "labels": {
        **tmpl["metadata"]["labels"], "pod-template-hash": pod_hash}}}
    annotations = {"deployment.kubernetes.io/revision": str(revision),
                   "deployment.kubernetes.io/desired-replicas": "3"}
    if cause:
        annotations["kubernetes.io/change-cause"] = cause
    return client.create({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": f"web-{pod_hash}", "namespace": "default",
                     "annotations": annotations,
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                          "name": "web", "uid": dep["metadata"]["uid"],
                                          "controller": True}]},
        "spec": {"replicas": 0, "template": tmpl,
                 "selector": {"matchLabels": {"app": "web", "pod-template-hash": pod_hash}}}})


def two_revisions(client: KubeClient) -> Obj:
    """web at revision 2 (image v2, env MODE=new) with revision 1 (busybox) kept."""
    dep = make_deployment(client)
    make_rs(client, dep, 1, template("kompy/busybox:1"))
    dep = client.patch("deployments", "web", "default",
                       {"spec": {"template": template("kompy/python:3", MODE="new")}})
    make_rs(client, dep, 2, template("kompy/python:3", MODE="new"), cause="set image v2")
    return dep


def set_status(client: KubeClient, kind: str, name: str, **status: Any) -> Obj:
    obj = client.get(kind, name, "default")
    status.setdefault("observedGeneration", obj["metadata"]["generation"])
    return client.replace_status({**obj, "status": status})


# -- history -----------------------------------------------------------------------------------

def test_history_lists_revisions_with_change_cause(client: KubeClient) -> None:
    two_revisions(client)
    out = Lines()
    assert rollout_cmd.history(client, "deploy/web", None, None, 0, out) == 0
    # kubectl's NamePrinter: the name, a space, then the (here empty) "with revision".
    assert out.text == ("deployment.apps/web \n"
                        "REVISION  CHANGE-CAUSE\n"
                        "1         <none>\n"
                        "2         set image v2\n\n")


@pytest.mark.parametrize("revision", [0, 4])
def test_no_history_is_kubectls_sentence_even_for_a_revision(client: KubeClient,
                                                             revision: int) -> None:
    """kubectl's history viewers say so before they look for a revision: exit 0."""
    make_deployment(client)
    client.create({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
                   "spec": {"selector": {"matchLabels": {"app": "web"}}, "serviceName": "db",
                            "template": template("kompy/busybox:1")}})
    for ref in ("deployment.apps/web", "statefulset.apps/db"):
        out = Lines()
        assert rollout_cmd.history(client, ref, None, None, revision, out) == 0
        asked = f"with revision #{revision}" if revision else ""
        assert out.text == f"{ref} {asked}\nNo rollout history found.\n"


def test_history_of_one_revision_shows_its_pod_template(client: KubeClient) -> None:
    two_revisions(client)
    out = Lines()
    rollout_cmd.history(client, "deployment", "web", "default", 2, out)
    text = out.text
    # kubectl's printTemplate: DescribePodTemplate with its tabs left as written.
    assert text.startswith("deployment.apps/web with revision #2\nPod Template:\n"
                           "  Labels:\tapp=web\n\tpod-template-hash=h2\n"
                           "  Annotations:\tkubernetes.io/change-cause: set image v2\n")
    assert "    Image:\tkompy/python:3\n" in text and "      MODE:\tnew\n" in text
    assert text.endswith("  Tolerations:\t<none>\n\n")
    with pytest.raises(UserError) as missing:
        rollout_cmd.history(client, "deploy/web", None, None, 7, out)
    assert missing.value.message == "unable to find the specified revision"


def test_a_replicaset_without_a_revision_is_revision_0(client: KubeClient) -> None:
    """kubectl's deploymentutil.Revision: no annotation is 0; one that is no number is
    skipped."""
    dep = make_deployment(client)
    for number in (1, 2):
        rs = make_rs(client, dep, number, template("kompy/busybox:1"))
        annotations = rs["metadata"]["annotations"]
        if number == 1:
            del annotations["deployment.kubernetes.io/revision"]
        else:
            annotations["deployment.kubernetes.io/revision"] = "two"
        client.replace(rs)
    out = Lines()
    rollout_cmd.history(client, "deploy/web", None, None, 0, out)
    assert out.text == "deployment.apps/web \nREVISION  CHANGE-CAUSE\n0         <none>\n\n"


def test_history_ignores_replicasets_of_other_owners(client: KubeClient) -> None:
    dep = two_revisions(client)
    other = {**dep, "metadata": {**dep["metadata"], "uid": "someone-else"}}
    make_rs(client, other, 9, template("x"))
    out = Lines()
    rollout_cmd.history(client, "deploy", "web", None, 0, out)
    assert "9 " not in out.text and "2         set image v2" in out.text


# -- undo ------------------------------------------------------------------------------------

def test_undo_puts_the_previous_template_back(client: KubeClient) -> None:
    two_revisions(client)
    client.patch("deployments", "web", "default",
                 {"metadata": {"annotations": {"keep": "me"}}})
    out = Lines()
    assert rollout_cmd.undo(client, "deploy/web", None, None, 0, out) == 0
    assert out.text == "deployment.apps/web rolled back\n"
    dep = client.get("deployments", "web", "default")
    assert dep["spec"]["template"]["metadata"]["labels"] == {"app": "web"}  # no hash label
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "kompy/busybox:1"
    assert "env" not in dep["spec"]["template"]["spec"]["containers"][0]
    # The Deployment's own annotations go (as kubectl's rollback replaces them); the
    # controller's bookkeeping ones of the ReplicaSet are not copied.
    assert "deployment.kubernetes.io/desired-replicas" not in (
        dep["metadata"].get("annotations") or {})


def test_undo_to_a_revision_and_its_refusals(client: KubeClient) -> None:
    two_revisions(client)
    out = Lines()
    rollout_cmd.undo(client, "deployment", "web", None, 2, out)
    assert out.text == ("deployment.apps/web skipped rollback (current template already "
                        "matches revision 2)\n")
    with pytest.raises(UserError, match="unable to find specified revision 5 in history"):
        rollout_cmd.undo(client, "deploy/web", None, None, 5, out)
    rollout_cmd.undo(client, "deploy/web", None, None, 1, out)
    assert client.get("deployments", "web", "default")["spec"]["template"]["spec"][
        "containers"][0]["image"] == "kompy/busybox:1"


def test_undo_without_history_or_when_paused(client: KubeClient) -> None:
    dep = make_deployment(client)
    make_rs(client, dep, 1, template("kompy/busybox:1"))
    with pytest.raises(UserError, match='no rollout history found for deployment "web"'):
        rollout_cmd.undo(client, "deploy/web", None, None, 0, Lines())
    client.patch("deployments", "web", "default", {"spec": {"paused": True}})
    with pytest.raises(UserError, match="cannot rollback a paused deployment"):
        rollout_cmd.undo(client, "deploy/web", None, None, 0, Lines())


# -- targets ---------------------------------------------------------------------------------

def test_targets_kinds_and_missing_objects(client: KubeClient) -> None:
    assert rollout_cmd.resolve("sts/db", None, "status")[0].kind == "StatefulSet"
    assert rollout_cmd.resolve("ds", "agent", "status")[0].kind == "DaemonSet"
    with pytest.raises(UserError, match="rollout status does not work on pods"):
        rollout_cmd.resolve("pod/x", None, "status")
    with pytest.raises(NotFound):
        rollout_cmd.undo(client, "sts/db", None, None, 0, Lines())
    with pytest.raises(UserError, match="no need to specify a resource type"):
        rollout_cmd.resolve("deploy/web", "web", "status")
    with pytest.raises(UserError, match="name the object"):
        rollout_cmd.resolve("deploy", None, "history")
    with pytest.raises(NotFound, match='"nope" not found'):
        rollout_cmd.history(client, "deploy/nope", None, None, 0, Lines())
    with pytest.raises(NotFound):
        rollout_cmd.resolve("gadgets/x", None, "status")


# -- restart, pause, resume ------------------------------------------------------------------

def test_restart_stamps_the_template(client: KubeClient) -> None:
    make_deployment(client)
    generation = client.get("deployments", "web", "default")["metadata"]["generation"]
    out = Lines()
    rollout_cmd.restart(client, "deploy/web", None, None, out)
    assert out.text == "deployment.apps/web restarted\n"
    dep = client.get("deployments", "web", "default")
    stamp = dep["spec"]["template"]["metadata"]["annotations"][rollout_cmd.RESTARTED_AT]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp)
    assert dep["metadata"]["generation"] == generation + 1  # a new template: a rollout
    client.patch("deployments", "web", "default", {"spec": {"paused": True}})
    with pytest.raises(UserError, match="can't restart paused deployment"):
        rollout_cmd.restart(client, "deploy/web", None, None, out)


def test_pause_and_resume(client: KubeClient) -> None:
    make_deployment(client)
    out = Lines()
    rollout_cmd.pause(client, "deploy/web", None, None, out)
    assert client.get("deployments", "web", "default")["spec"]["paused"] is True
    rollout_cmd.pause(client, "deploy/web", None, None, out)
    rollout_cmd.resume(client, "deploy/web", None, None, out)
    assert not client.get("deployments", "web", "default")["spec"].get("paused")
    assert out.text == ("deployment.apps/web paused\ndeployment.apps/web already paused\n"
                        "deployment.apps/web resumed\n")
    with pytest.raises(UserError, match="rollout pause does not work on daemonsets"):
        rollout_cmd.pause(client, "ds/x", None, None, out)


# -- status: the viewers ---------------------------------------------------------------------

def dep_obj(**status: Any) -> Obj:
    """web, 3 replicas wanted, at generation 2, with this status."""
    return {"metadata": {"name": "web", "generation": 2}, "spec": {"replicas": 3},
            "status": status}


def test_deployment_messages_follow_kubectl() -> None:
    assert deployment_status(dep_obj(observedGeneration=1)) == (
        "Waiting for deployment spec update to be observed...\n", False)
    assert deployment_status(dep_obj(observedGeneration=2, updatedReplicas=1, replicas=4)) == (
        'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been '
        "updated...\n", False)
    assert deployment_status(dep_obj(observedGeneration=2, updatedReplicas=3, replicas=4))[0] \
        == 'Waiting for deployment "web" rollout to finish: 1 old replicas are pending ' \
           "termination...\n"
    assert deployment_status(dep_obj(observedGeneration=2, updatedReplicas=3, replicas=3,
                                     availableReplicas=1))[0] == \
        'Waiting for deployment "web" rollout to finish: 1 of 3 updated replicas are ' \
        "available...\n"
    assert deployment_status(dep_obj(observedGeneration=2, updatedReplicas=3, replicas=3,
                                     availableReplicas=3)) == (
        'deployment "web" successfully rolled out\n', True)
    failed = dep_obj(observedGeneration=2, conditions=[
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}])
    with pytest.raises(RolloutFailed, match='deployment "web" exceeded its progress deadline'):
        deployment_status(failed)


def test_statefulset_and_daemonset_messages() -> None:
    sts: Obj = {"metadata": {"name": "db", "generation": 1},
           "spec": {"replicas": 3, "updateStrategy": {"type": "RollingUpdate",
                                                      "rollingUpdate": {"partition": 0}}},
           "status": {"observedGeneration": 1, "readyReplicas": 2, "updatedReplicas": 1}}
    assert statefulset_status(sts) == ("Waiting for 1 pods to be ready...\n", False)
    sts["status"]["readyReplicas"] = 3
    assert statefulset_status(sts) == ("Waiting for partitioned roll out to finish: 1 out of "
                                       "3 new pods have been updated...\n", False)
    sts["status"]["updatedReplicas"] = 3
    assert statefulset_status(sts)[1] is True
    sts["spec"]["updateStrategy"] = {"type": "OnDelete"}
    with pytest.raises(UserError, match="only available for RollingUpdate"):
        statefulset_status(sts)
    ds: Obj = {"metadata": {"name": "agent", "generation": 2}, "spec": {},
          "status": {"observedGeneration": 2, "desiredNumberScheduled": 1,
                     "updatedNumberScheduled": 0}}
    assert daemonset_status(ds)[0] == ('Waiting for daemon set "agent" rollout to finish: 0 '
                                       "out of 1 new pods have been updated...\n")
    ds["status"].update(updatedNumberScheduled=1, numberAvailable=1)
    assert daemonset_status(ds) == ('daemon set "agent" successfully rolled out\n', True)


# -- status: following the object by a watch --------------------------------------------------

def run_status(client: KubeClient, out: Lines, **kw: Any) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []

    def target() -> None:
        try:
            result.append(rollout_cmd.rollout_status(client, "deploy/web", None, None, out=out,
                                                     **kw))
        except Exception as error:  # noqa: BLE001 - handed to the test thread
            result.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, result


def test_status_follows_the_rollout_to_its_end(client: KubeClient) -> None:
    make_deployment(client)
    out = Lines()
    thread, result = run_status(client, out, watch=True, timeout=30)
    out.wait_for("Waiting for deployment spec update to be observed...")
    set_status(client, "deployments", "web", replicas=3, updatedReplicas=1,
               availableReplicas=0)
    out.wait_for("1 out of 3 new replicas have been updated")
    set_status(client, "deployments", "web", replicas=3, updatedReplicas=3,
               availableReplicas=1)
    out.wait_for("1 of 3 updated replicas are available")
    assert thread.is_alive()
    set_status(client, "deployments", "web", replicas=3, updatedReplicas=3,
               availableReplicas=3)
    thread.join(10)
    assert result == [0]
    assert out.parts[-1] == 'deployment "web" successfully rolled out\n'
    assert len(out.parts) == 4, out.parts  # each state once


def test_status_fails_on_the_progress_deadline(client: KubeClient) -> None:
    make_deployment(client)
    out = Lines()
    thread, result = run_status(client, out, watch=True, timeout=30)
    out.wait_for("spec update to be observed")
    set_status(client, "deployments", "web", conditions=[
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}])
    thread.join(10)
    assert isinstance(result[0], RolloutFailed) and result[0].exit_code == 1


def test_status_times_out_and_notices_deletion(client: KubeClient) -> None:
    make_deployment(client)
    with pytest.raises(RolloutFailed, match="timed out waiting for the condition"):
        rollout_cmd.rollout_status(client, "deploy/web", None, None, watch=True, timeout=1,
                                   out=Lines())
    out = Lines()
    thread, result = run_status(client, out, watch=True, timeout=30)
    out.wait_for("observed")
    client.delete("deployments", "web", "default")
    thread.join(10)
    assert isinstance(result[0], RolloutFailed)
    assert "object has been deleted" in str(result[0])


def test_status_without_watch_prints_once(client: KubeClient) -> None:
    make_deployment(client)
    out = Lines()
    assert rollout_cmd.rollout_status(client, "deploy", "web", None, watch=False, timeout=0,
                                      out=out) == 0
    assert out.parts == ["Waiting for deployment spec update to be observed...\n"]


def test_status_pinned_to_a_revision(client: KubeClient) -> None:
    """``--revision N``: a Deployment must be at revision N (its revision annotation), as
    kubectl's viewer checks before any rule; a StatefulSet ignores it, as kubectl's."""
    make_deployment(client)
    with pytest.raises(RolloutFailed,
                       match=re.escape("desired revision (2) is different from the running "
                                       "revision (0)")):
        rollout_cmd.rollout_status(client, "deploy/web", None, None, watch=False, timeout=0,
                                   out=Lines(), revision=2)
    client.patch("deployments", "web", "default",
                 {"metadata": {"annotations": {"deployment.kubernetes.io/revision": "2"}}})
    out = Lines()
    assert rollout_cmd.rollout_status(client, "deploy/web", None, None, watch=False, timeout=0,
                                      out=out, revision=2) == 0
    assert out.parts == ["Waiting for deployment spec update to be observed...\n"]
    client.create({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
                   "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "web"}},
                            "template": template("kompy/busybox:1")}})
    assert rollout_cmd.rollout_status(client, "sts/db", None, None, watch=False, timeout=0,
                                      out=Lines(), revision=7) == 0


# -- StatefulSet and DaemonSet history: ControllerRevisions -----------------------------------

def make_set_history(client: KubeClient) -> Obj:
    """A StatefulSet at template v2 with revisions 1 (v1) and 2 (v2), as its controller
    writes them."""
    sts = client.create({
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "web"}},
                 "template": template("kompy/busybox:2", V="2")}})
    owner = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db",
             "uid": sts["metadata"]["uid"], "controller": True}
    for number, tmpl in ((1, client.get("statefulsets", "db", "default")["spec"]["template"]),
                         (2, None)):
        if tmpl is not None:
            tmpl = {**tmpl, "spec": {**tmpl["spec"], "containers": [
                {**tmpl["spec"]["containers"][0], "image": "kompy/busybox:1", "env": []}]}}
        body = tmpl or sts["spec"]["template"]
        client.create({"apiVersion": "apps/v1", "kind": "ControllerRevision",
                       "metadata": {"name": f"db-r{number}", "ownerReferences": [owner],
                                    "annotations": {"kubernetes.io/change-cause":
                                                    f"cause {number}"}},
                       "data": revision_data(body), "revision": number})
    return sts


def test_statefulset_history_and_undo(client: KubeClient) -> None:
    make_set_history(client)
    out = Lines()
    rollout_cmd.history(client, "sts/db", None, None, 0, out)
    assert out.text == ("statefulset.apps/db \nREVISION  CHANGE-CAUSE\n1         cause 1\n"
                        "2         cause 2\n\n")
    out = Lines()
    rollout_cmd.history(client, "sts/db", None, None, 1, out)
    assert out.text.startswith("statefulset.apps/db with revision #1\nPod Template:")
    assert "kompy/busybox:1" in out.text
    out = Lines()
    rollout_cmd.undo(client, "sts/db", None, None, 2, out)
    assert out.text == ("statefulset.apps/db skipped rollback (current template already "
                        "matches revision 2)\n")
    out = Lines()
    assert rollout_cmd.undo(client, "sts/db", None, None, 0, out) == 0
    assert out.text == "statefulset.apps/db rolled back\n"
    container = client.get("statefulsets", "db", "default")["spec"]["template"]["spec"][
        "containers"][0]
    assert container["image"] == "kompy/busybox:1" and not container.get("env")


def test_undo_without_a_last_revision(client: KubeClient) -> None:
    client.create({
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": template("kompy/busybox:1")}})
    with pytest.raises(UserError, match="no last revision to roll back to"):
        rollout_cmd.undo(client, "ds/agent", None, None, 0, Lines())
