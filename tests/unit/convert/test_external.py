"""Services outside the cluster: x-kompy.service.external_name and external_links
(kompy/convert/external.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kompy.compose.loader import LoadOptions, load_project
from kompy.convert import convert
from kompy.convert.external import external_host
from kompy.convert.options import ConvertOptions
from kompy.errors import KompyError


def _convert(tmp_path: Path, text: str, **options: Any) -> Any:
    (tmp_path / "compose.yaml").write_text(text)
    project = load_project(LoadOptions(files=(str(tmp_path / "compose.yaml"),), environ={},
                                       cwd=str(tmp_path)))
    return convert(project, ConvertOptions(**options))


def _by_name(conversion: Any) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in conversion.objects}


def test_an_external_service_is_an_externalname_service_without_workload(
        tmp_path: Path) -> None:
    done = _convert(tmp_path, """
name: shop
services:
  web: {image: nginx, depends_on: [db]}
  db:
    image: postgres:16
    environment: {POSTGRES_PASSWORD: s3cret}
    volumes: [data:/var/lib/postgresql/data]
    x-kompy: {service: {external_name: db.prod.example.com}}
volumes: {data: {}}
""", network_policies=True)
    objects = _by_name(done)
    assert objects[("Service", "db")]["spec"] == {"type": "ExternalName",
                                                  "externalName": "db.prod.example.com"}
    kinds = {kind for kind, name in objects if name == "db"}
    assert kinds == {"Service"}  # no Deployment, no claim, no Secret for its password
    assert not [o for o in done.objects if o["kind"] in ("Secret", "PersistentVolumeClaim")]
    assert "s3cret" not in str(done.objects) + str(done.diagnostics)
    (warning,) = [d for d in done.diagnostics if "outside the cluster" in d.message]
    assert "environment, image, volumes are not converted" in warning.message
    report = {r.key: r.status for r in done.report if r.key.startswith("services.db")}
    assert report["services.db.image"] == "dropped"
    assert report["services.db.x-kompy.service"] == "mapped"


@pytest.mark.parametrize("value", ["10.0.0.5", "Not_A_Host", ""])
def test_an_external_name_must_be_a_host_name(tmp_path: Path, value: str) -> None:
    with pytest.raises(KompyError) as caught:
        _convert(tmp_path, f"""
services:
  db:
    image: postgres
    x-kompy: {{service: {{external_name: "{value}"}}}}
""")
    assert "external_name" in str(caught.value)
    assert "compose.yaml:" in caught.value.format()


def test_external_links_become_externalname_services(tmp_path: Path) -> None:
    done = _convert(tmp_path, """
name: shop
services:
  web:
    image: nginx
    external_links: ["billing_api_1:billing", "legacy-cache", "other_cache_1:web"]
""")
    objects = _by_name(done)
    assert objects[("Service", "billing")]["spec"]["externalName"] == (
        "api.billing.svc.cluster.local")
    assert objects[("Service", "legacy-cache")]["spec"]["externalName"] == "legacy-cache"
    assert ("Service", "web") not in objects or objects[("Service", "web")]["spec"].get(
        "type") != "ExternalName"  # a service's own name is kept for the service
    messages = " | ".join(d.message for d in done.diagnostics)
    assert "'legacy-cache' names a container outside the project" in messages
    assert "is also a service's name" in messages


def test_container_names_of_other_compose_projects() -> None:
    assert external_host("billing_api_1") == ("api.billing.svc.cluster.local", True)
    assert external_host("billing_job_runner_2") == ("job-runner.billing.svc.cluster.local",
                                                     True)
    assert external_host("billing-api-1") == ("api.billing.svc.cluster.local", True)
    assert external_host("my-old-cache-1") == ("my-old-cache-1", False)  # ambiguous
    assert external_host("Cache.Corp") == ("cache.corp", False)
