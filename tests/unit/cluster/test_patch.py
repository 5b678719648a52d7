from __future__ import annotations

from typing import Any

import pytest

from kompy.client.errors import ApiError
from kompy.cluster.apiserver.patch import json_patch, merge_patch, strategic_merge_patch

POD: dict[str, Any] = {"spec": {"containers": [
    {"name": "web", "image": "a:1", "command": ["x"], "ports": [{"containerPort": 80}],
     "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
    {"name": "side", "image": "s:1"}]}}


def test_merge_patch_rfc7386() -> None:
    assert merge_patch({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": None, "e": 4}, "f": [1]}) \
        == {"a": 1, "b": {"d": 3, "e": 4}, "f": [1]}


def test_strategic_merge_keeps_other_container_fields() -> None:
    patch = {"spec": {"$setElementOrder/containers": [{"name": "web"}, {"name": "side"}],
                      "containers": [{"name": "web", "image": "a:2",
                                      "env": [{"name": "B", "value": "3"}]}]}}
    out = strategic_merge_patch(POD, patch)
    web = out["spec"]["containers"][0]
    assert web["image"] == "a:2" and web["command"] == ["x"]
    assert web["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}]
    assert out["spec"]["containers"][1] == {"name": "side", "image": "s:1"}


def test_strategic_directives() -> None:
    delete = {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}
    assert [c["name"] for c in strategic_merge_patch(POD, delete)["spec"]["containers"]] == \
        ["web"]
    order = {"spec": {"$setElementOrder/containers": [{"name": "side"}, {"name": "web"}]}}
    assert [c["name"] for c in strategic_merge_patch(POD, order)["spec"]["containers"]] == \
        ["side", "web"]
    primitive = strategic_merge_patch({"finalizers": ["a", "b"]},
                                      {"$deleteFromPrimitiveList/finalizers": ["a"]})
    assert primitive == {"finalizers": ["b"]}
    retained = strategic_merge_patch({"strategy": {"type": "RollingUpdate",
                                                   "rollingUpdate": {"maxSurge": 1}}},
                                     {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}})
    assert retained == {"strategy": {"type": "Recreate"}}
    # Lists without a merge key are replaced, as in a merge patch.
    assert strategic_merge_patch({"args": ["a"]}, {"args": ["b"]}) == {"args": ["b"]}


def test_service_ports_merge_by_port() -> None:
    svc = {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    out = strategic_merge_patch(svc, {"ports": [{"port": 80, "targetPort": 9090}]})
    assert out == {"ports": [{"name": "http", "port": 80, "targetPort": 9090}]}


def test_json_patch() -> None:
    doc = {"a": {"b": [1, 2]}}
    assert json_patch(doc, [{"op": "add", "path": "/a/b/-", "value": 3},
                            {"op": "replace", "path": "/a/c", "value": 0}
                            ][:1]) == {"a": {"b": [1, 2, 3]}}
    with pytest.raises(ApiError):
        json_patch(doc, [{"op": "replace", "path": "/a/missing", "value": 1}])
    with pytest.raises(ApiError):
        json_patch(doc, [{"op": "test", "path": "/a/b/0", "value": 9}])
