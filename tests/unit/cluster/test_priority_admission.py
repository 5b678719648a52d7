"""PriorityClasses and the Priority admission plugin, through the real API server: each rule
with kube-apiserver's code and message (plugin/pkg/admission/priority,
pkg/apis/scheduling/validation)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from kompy.client import KubeClient
from kompy.client.errors import ApiError
from kompy.client.tables import table_rows
from kompy.cluster.apiserver import kubeproto
from kompy.cluster.apiserver.protobuf import message_classes
from kompy.cluster.apiserver.server import ApiServer
from kompy.kubectl.describe import describe

TOKEN = "test-token"


@pytest.fixture
def client(server: ApiServer) -> KubeClient:
    return KubeClient.for_server(server.url, TOKEN)


def klass(name: str, value: int, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value, **fields}


def pod(name: str = "p", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "kompy/busybox:1"}], **spec}}


def refusal(call: Any) -> tuple[int, str]:
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value.status, caught.value.message


def test_the_system_classes_exist_from_the_start_and_cannot_be_deleted(
        client: KubeClient) -> None:
    found = {c["metadata"]["name"]: (c["value"], c["globalDefault"], c["preemptionPolicy"])
             for c in client.list("priorityclasses")["items"]}
    assert found == {"system-cluster-critical": (2000000000, False, "PreemptLowerPriority"),
                     "system-node-critical": (2000001000, False, "PreemptLowerPriority")}
    assert refusal(lambda: client.delete("priorityclasses", "system-node-critical")) == (
        403, 'priorityclasses.scheduling.k8s.io "system-node-critical" is forbidden: this is '
             "a system priority class and cannot be deleted")


@pytest.mark.parametrize(("body", "status", "message"), [
    (klass("system-mine", 10), 422,
     'PriorityClass.scheduling.k8s.io "system-mine" is invalid: metadata.name: Forbidden: '
     "priority class names with 'system-' prefix are reserved for system use only. error: "
     "system-mine is not a known system priority class"),
    (klass("too-high", 1000000001), 422,
     'PriorityClass.scheduling.k8s.io "too-high" is invalid: value: Forbidden: maximum '
     "allowed value of a user defined priority is 1000000000"),
    (klass("odd-policy", 5, preemptionPolicy="Sometimes"), 422,
     'PriorityClass.scheduling.k8s.io "odd-policy" is invalid: preemptionPolicy: Unsupported '
     'value: "Sometimes": supported values: "Never", "PreemptLowerPriority"'),
])
def test_classes_are_validated_as_upstream(client: KubeClient, body: dict[str, Any],
                                           status: int, message: str) -> None:
    assert refusal(lambda: client.create(body)) == (status, message)


def test_a_user_class_may_take_the_highest_user_value(client: KubeClient) -> None:
    made = client.create(klass("top", 1000000000))
    assert made["preemptionPolicy"] == "PreemptLowerPriority"   # defaulted


def test_value_and_policy_are_immutable(client: KubeClient) -> None:
    client.create(klass("high", 1000))
    assert refusal(lambda: client.patch("priorityclasses", "high", None, {"value": 5})) == (
        422, 'PriorityClass.scheduling.k8s.io "high" is invalid: value: Forbidden: may not be '
             "changed in an update.")
    assert refusal(lambda: client.patch("priorityclasses", "high", None,
                                        {"preemptionPolicy": "Never"}))[0] == 422
    changed = client.patch("priorityclasses", "high", None, {"description": "now described"})
    assert changed["description"] == "now described"


def test_only_one_class_is_the_global_default(client: KubeClient) -> None:
    client.create(klass("first", 10, globalDefault=True))
    assert refusal(lambda: client.create(klass("second", 20, globalDefault=True))) == (
        403, 'priorityclasses.scheduling.k8s.io "second" is forbidden: PriorityClass first is '
             "already marked as default. Only one default can exist")
    client.create(klass("third", 30))
    assert refusal(lambda: client.patch("priorityclasses", "third", None,
                                        {"globalDefault": True}))[0] == 403
    # The default itself may be updated while it stays the default.
    client.patch("priorityclasses", "first", None, {"description": "still default"})


def test_a_pod_gets_its_class_value_and_policy(client: KubeClient) -> None:
    client.create(klass("polite", 500, preemptionPolicy="Never"))
    made = client.create(pod(priorityClassName="polite"))
    assert (made["spec"]["priority"], made["spec"]["preemptionPolicy"]) == (500, "Never")
    critical = client.create(pod("crit", priorityClassName="system-node-critical"))
    assert critical["spec"]["priority"] == 2000001000


def test_a_pod_without_a_class_gets_zero_or_the_global_default(client: KubeClient) -> None:
    plain = client.create(pod("plain"))
    assert (plain["spec"]["priority"], plain["spec"]["preemptionPolicy"]) == (
        0, "PreemptLowerPriority")
    assert "priorityClassName" not in plain["spec"]
    client.create(klass("everyone", 7, globalDefault=True, preemptionPolicy="Never"))
    defaulted = client.create(pod("defaulted"))
    assert (defaulted["spec"]["priorityClassName"], defaulted["spec"]["priority"],
            defaulted["spec"]["preemptionPolicy"]) == ("everyone", 7, "Never")


@pytest.mark.parametrize(("spec", "message"), [
    ({"priorityClassName": "missing"},
     'pods "p" is forbidden: no PriorityClass with name missing was found'),
    ({"priorityClassName": "high", "priority": 3},
     'pods "p" is forbidden: the integer value of priority (3) must not be provided in pod '
     "spec; priority admission controller computed 1000 from the given PriorityClass name"),
    ({"priority": 3},
     'pods "p" is forbidden: the integer value of priority (3) must not be provided in pod '
     "spec; priority admission controller computed 0 from the given PriorityClass name"),
    ({"priorityClassName": "high", "preemptionPolicy": "Never"},
     'pods "p" is forbidden: the string value of PreemptionPolicy (Never) must not be '
     "provided in pod spec; priority admission controller computed PreemptLowerPriority from "
     "the given PriorityClass name"),
])
def test_a_pod_is_refused_as_upstream(client: KubeClient, spec: dict[str, Any],
                                      message: str) -> None:
    client.create(klass("high", 1000))
    assert refusal(lambda: client.create(pod(**spec))) == (403, message)


def test_a_pod_that_states_its_class_priority_is_admitted(client: KubeClient) -> None:
    client.create(klass("high", 1000))
    made = client.create(pod(priorityClassName="high", priority=1000,
                             preemptionPolicy="PreemptLowerPriority"))
    assert made["spec"]["priority"] == 1000


def test_an_update_that_leaves_the_priority_out_keeps_it(client: KubeClient) -> None:
    client.create(klass("high", 1000))
    made = client.create(pod(priorityClassName="high"))
    made["spec"].pop("priority")
    made["spec"].pop("preemptionPolicy")
    made["spec"]["activeDeadlineSeconds"] = 600
    kept = client.replace(made)
    assert (kept["spec"]["priority"], kept["spec"]["preemptionPolicy"]) == (
        1000, "PreemptLowerPriority")


def test_get_priorityclass_columns_are_upstreams(client: KubeClient) -> None:
    rows = table_rows("priorityclasses", client.list("priorityclasses")["items"])
    assert rows[0] == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    assert rows[1][:3] == ["system-cluster-critical", "2000000000", "false"]
    assert rows[1][4] == "PreemptLowerPriority"


def test_kompy_describe_lays_a_class_out_as_kubectl(client: KubeClient) -> None:
    client.create(klass("batch", -10, description="may be preempted"))
    assert describe(client, "pc", "batch", None) == (
        "Name:              batch\n"
        "Value:             -10\n"
        "GlobalDefault:     false\n"
        "PreemptionPolicy:  PreemptLowerPriority\n"
        "Description:       may be preempted\n"
        "Annotations:       <none>\n"
        "Events:            <none>\n")


def test_kubectl_create_priorityclass_protobuf_body(client: KubeClient) -> None:
    """kubectl 1.33's create priorityclass sends protobuf; gogo writes value 0 and
    globalDefault false, which JSON keeps and drops respectively."""
    classes = message_classes("test.pc", {**kubeproto.TABLE, **kubeproto.ENVELOPE},
                              syntax="proto2")
    made = classes["PriorityClass"]()
    made.metadata.name = "zero"
    made.value, made.globalDefault, made.description = 0, False, "nothing special"
    envelope = classes["Unknown"]()
    envelope.typeMeta.apiVersion, envelope.typeMeta.kind = "scheduling.k8s.io/v1", \
        "PriorityClass"
    envelope.raw = made.SerializeToString()
    answer = requests.post(f"{client.server}/apis/scheduling.k8s.io/v1/priorityclasses",
                           data=kubeproto.MAGIC + envelope.SerializeToString(),
                           headers={"Authorization": f"Bearer {TOKEN}",
                                    "Content-Type": kubeproto.MEDIA_TYPE}, timeout=10)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["value"], body.get("globalDefault"), body["preemptionPolicy"]) == (
        0, None, "PreemptLowerPriority")
