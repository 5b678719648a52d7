from __future__ import annotations

import pytest

from kompy.client.errors import NotFound
from kompy.client.resources import RESOURCES, for_object, lookup


@pytest.mark.parametrize("spelling", ["Deployment", "deployments", "deployment", "deploy",
                                      "DEPLOY", "deployments.apps"])
def test_lookup_spellings(spelling: str) -> None:
    assert lookup(spelling).kind == "Deployment"


def test_paths() -> None:
    assert lookup("po").path("ns", "p", "log") == "/api/v1/namespaces/ns/pods/p/log"
    assert lookup("svc").path() == "/api/v1/services"
    assert lookup("ing").path("x") == "/apis/networking.k8s.io/v1/namespaces/x/ingresses"
    assert lookup("ns").path("ignored", "a") == "/api/v1/namespaces/a"
    assert lookup("hpa").api_version == "autoscaling/v2"
    assert lookup("deploy").qualified == "deployment.apps" and lookup("cm").qualified == "configmap"


def test_every_kind_is_unique() -> None:
    assert len({r.kind for r in RESOURCES}) == len({r.plural for r in RESOURCES}) == len(RESOURCES)


def test_for_object_checks_api_version() -> None:
    assert for_object({"apiVersion": "batch/v1", "kind": "Job"}).plural == "jobs"
    with pytest.raises(NotFound, match="no matches for kind"):
        for_object({"apiVersion": "extensions/v1beta1", "kind": "Deployment"})
    with pytest.raises(NotFound):
        lookup("widgets")
