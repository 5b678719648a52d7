"""``kompy convert --report / --kustomize / --chart / --secrets-as-files`` through the real
command line, and the secret scan over everything the command prints and writes."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from ruamel.yaml import YAML

from kompy.cli import main

REPO = Path(__file__).resolve().parents[2]
SECRET = "cli-scan-secret-0123456789"


@pytest.fixture
def project(tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the configs-secrets sample; its db_password secret comes from DB_PASSWORD."""
    root = tmp_path / "secure"
    shutil.copytree(REPO / "samples" / "configs-secrets", root)
    (root / "api.env").write_text((root / "api.env").read_text() + f"SESSION_SECRET={SECRET}\n")
    # A label that draws a warning, so that --strict has something to refuse.
    compose = (root / "compose.yaml").read_text()
    (root / "compose.yaml").write_text(compose.replace(
        "    image: secure-api:dev\n",
        "    image: secure-api:dev\n    labels:\n      kompose.service.expose.tls-secret: tls\n"))
    monkeypatch.chdir(root)
    monkeypatch.setenv("DB_PASSWORD", SECRET)
    return root


def kompy(*args: str) -> Result:
    return CliRunner().invoke(main, ["convert", *args])


def _docs(text: str) -> list[dict[str, object]]:
    return [d for d in YAML(typ="safe").load_all(text) if d]


def test_report_kustomize_and_chart(project: Path) -> None:
    result = kompy("-o", "k8s", "--kustomize", "--report", "report.json", "-n", "demo")
    assert result.exit_code == 0, result.output
    kustomization = YAML(typ="safe").load((project / "k8s" / "kustomization.yaml").read_text())
    files = sorted(p.name for p in (project / "k8s").iterdir() if p.name != "kustomization.yaml")
    assert kustomization["namespace"] == "demo"
    assert sorted(kustomization["resources"]) == files
    report = json.loads((project / "report.json").read_text())
    assert report["project"] == "secure-api" and report["summary"]["unaccounted"] == 0
    statuses = {e["key"]: e["status"] for e in report["services"]["api"]["keys"]}
    assert statuses["services.api.env_file[0]"] == "approximated"  # SESSION_SECRET split off
    assert statuses["services.api.secrets[0]"] == "mapped"

    result = kompy("--chart", "-o", "chart")
    assert result.exit_code == 0, result.output
    assert (project / "chart" / "Chart.yaml").is_file()
    values = YAML(typ="safe").load((project / "chart" / "values.yaml").read_text())
    assert values["api"]["image"] == {"repository": "secure-api", "tag": "dev"}


def test_secrets_as_files_mounts_regular_files(project: Path) -> None:
    result = kompy("--secrets-as-files")
    assert result.exit_code == 0, result.output
    (deployment,) = [d for d in _docs(result.stdout) if d["kind"] == "Deployment"]
    mounts = deployment["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]  # type: ignore[index]
    secret_mounts = {m["mountPath"]: m.get("subPath") for m in mounts
                     if str(m["mountPath"]).startswith("/run/secrets")}
    assert secret_mounts == {"/run/secrets/api_token": "api_token",
                             "/run/secrets/db_password": "db_password"}


def test_secret_values_only_in_secret_data(project: Path) -> None:
    """stdout, stderr, every written file (report, kustomization, chart) except Secret data."""
    outputs = [kompy("--report", "r.json", "--network-policies"),
               kompy("-o", "k8s", "--kustomize"), kompy("--chart", "-o", "chart"),
               kompy("--strict")]
    assert outputs[-1].exit_code == 2  # --strict: a warning is an error, also printed
    assert "tls-secret is ignored" in outputs[-1].output
    encoded = base64.b64encode(SECRET.encode()).decode()
    secret_values = 0
    texts = [r.stdout + r.stderr for r in outputs]
    texts += [p.read_text() for p in sorted(project.rglob("*")) if p.is_file()
              and p.suffix in (".yaml", ".json", ".txt") and "secrets" not in p.parts
              and p.name != "api.env"]
    assert len(texts) > 10  # four runs plus the report, manifests and chart files
    for text in texts:
        for doc in text.split("\n---"):
            if "kind: Secret" in doc or '"kind": "Secret"' in doc:
                secret_values += doc.count(encoded)
                continue
            assert SECRET not in doc and encoded not in doc, doc[:500]
    assert secret_values >= 4
