"""Server-side tables carry what ``includeObject`` asks for: ``kubectl get --sort-by`` asks
for whole objects and sorts on them (it printed "No resources found" when the rows held
only metadata: ``kubectl get events --sort-by=.lastTimestamp``)."""

from __future__ import annotations

import pytest
import requests

from kompy.cluster.apiserver.server import ApiServer

TOKEN = "test-token"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


@pytest.mark.parametrize(("include", "kind"), [
    ("", "PartialObjectMetadata"), ("?includeObject=Metadata", "PartialObjectMetadata"),
    ("?includeObject=Object", "PriorityClass"), ("?includeObject=None", None)])
def test_rows_carry_the_object_asked_for(server: ApiServer, include: str,
                                         kind: str | None) -> None:
    answer = requests.get(f"{server.url}/apis/scheduling.k8s.io/v1/priorityclasses{include}",
                          headers={"Authorization": f"Bearer {TOKEN}", "Accept": TABLE},
                          timeout=10)
    rows = answer.json()["rows"]
    assert len(rows) == 2
    objects = [row["object"] for row in rows]
    assert [o and o["kind"] for o in objects] == [kind, kind]
    if kind == "PriorityClass":
        assert objects[0]["value"] == 2000000000
