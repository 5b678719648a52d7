"""Shared storage (kompy.convert.sharedstorage), volumes_from and grouping by volume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kompy.convert import Conversion, convert
from kompy.convert.options import ConvertOptions
from kompy.model import Deploy, Project, Service, ServiceVolume, VolumeDef

from .helpers import container, find, messages, pod_spec, project, run


def named(volume: str, target: str, read_only: bool = False) -> ServiceVolume:
    return ServiceVolume(type="volume", source=volume, target=target, read_only=read_only)


def affinity(conversion: Conversion, kind: str, name: str) -> Any:
    return pod_spec(find(conversion, kind, name)).get("affinity")


TERM = {"labelSelector": {"matchLabels": {"claim.kompy.dev/data": "true"}},
        "topologyKey": "kubernetes.io/hostname"}


def test_a_claim_shared_by_two_services_keeps_their_pods_on_one_node() -> None:
    conversion = run(Service(name="a", image="a", volumes=(named("data", "/d"),)),
                     Service(name="b", image="b", volumes=(named("data", "/d"),)),
                     named_volumes=("data",))
    for name in ("a", "b"):
        deployment = find(conversion, "Deployment", name)
        assert deployment["spec"]["template"]["metadata"]["labels"][
            "claim.kompy.dev/data"] == "true"
        assert affinity(conversion, "Deployment", name) == {
            "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [TERM]}}
    assert find(conversion, "PersistentVolumeClaim", "data")["spec"]["accessModes"] == [
        "ReadWriteOnce"]
    [warning] = [m for m in messages(conversion) if "claim data" in m]
    assert "shared by a, b" in warning and "Multi-Attach" in warning


def test_replicas_sharing_a_claim_are_kept_together() -> None:
    conversion = run(Service(name="a", image="a", deploy=Deploy(replicas=3),
                             volumes=(named("data", "/d"),)), named_volumes=("data",))
    assert affinity(conversion, "Deployment", "a") == {
        "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [TERM]}}
    assert [m for m in messages(conversion) if "a (3 replicas)" in m]


def test_a_single_pod_or_a_readwritemany_claim_needs_nothing() -> None:
    alone = run(Service(name="a", image="a", volumes=(named("data", "/d"),)),
                named_volumes=("data",))
    assert affinity(alone, "Deployment", "a") is None
    assert not [m for m in messages(alone) if "claim data" in m]
    shared = Project(name="demo", working_dir="/p", services={
        s: Service(name=s, image=s, volumes=(named("data", "/d"),)) for s in ("a", "b")},
        volumes={"data": VolumeDef(name="data", extensions={
            "x-kompy": {"access_mode": "ReadWriteMany"}})})
    conversion = convert(shared, ConvertOptions())
    assert affinity(conversion, "Deployment", "a") is None
    assert find(conversion, "PersistentVolumeClaim", "data")["spec"]["accessModes"] == [
        "ReadWriteMany"]
    assert not [m for m in messages(conversion) if "claim data" in m]


def test_a_daemonset_on_a_readwriteonce_claim_names_the_multi_attach_failure() -> None:
    conversion = run(Service(name="agent", image="a", deploy=Deploy(mode="global"),
                             volumes=(named("logs", "/logs"),)), named_volumes=("logs",))
    [warning] = [m for m in messages(conversion) if "claim logs" in m]
    assert "DaemonSet agent" in warning and "Multi-Attach error for volume" in warning
    assert affinity(conversion, "DaemonSet", "agent") is None


def test_pods_linked_through_two_claims_share_one_affinity_term() -> None:
    """a-b share x, b-c share y: one label for all three, or c could land apart from a."""
    conversion = run(Service(name="a", image="a", volumes=(named("x", "/x"),)),
                     Service(name="b", image="b", volumes=(named("x", "/x"), named("y", "/y"))),
                     Service(name="c", image="c", volumes=(named("y", "/y"),)),
                     named_volumes=("x", "y"))
    for name in ("a", "b", "c"):
        terms = affinity(conversion, "Deployment", name)["podAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"]
        assert terms == [{"labelSelector": {"matchLabels": {"claim.kompy.dev/x": "true"}},
                          "topologyKey": "kubernetes.io/hostname"}]


def test_services_bind_mounting_one_missing_folder_share_one_claim(tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    services = [Service(name=n, image=n, volumes=(
        ServiceVolume(type="bind", source=cache, target="/cache"),)) for n in ("web", "worker")]
    conversion = convert(project(*services, working_dir=str(tmp_path)), ConvertOptions())
    claims = [o for o in conversion.objects if o["kind"] == "PersistentVolumeClaim"]
    assert [c["metadata"]["name"] for c in claims] == ["web-claim0"]
    for name in ("web", "worker"):
        assert pod_spec(find(conversion, "Deployment", name))["volumes"] == [
            {"name": "web-claim0", "persistentVolumeClaim": {"claimName": "web-claim0"}}]


def test_volumes_from_mounts_the_other_services_volumes_on_the_same_claims() -> None:
    conversion = run(
        Service(name="db", image="db", volumes=(named("data", "/var/lib/db"),
                                                ServiceVolume(type="volume", target="/tmp/x"))),
        Service(name="backup", image="b", other={"volumes_from": ["db:ro"]},
                volumes=(named("dumps", "/tmp/x"),)),
        named_volumes=("data", "dumps"))
    mounts = container(find(conversion, "Deployment", "backup"))["volumeMounts"]
    # /tmp/x is the backup service's own mount: it wins over the lent anonymous volume.
    assert mounts == [{"name": "dumps", "mountPath": "/tmp/x"},
                      {"name": "data", "mountPath": "/var/lib/db", "readOnly": True}]
    report = [r for r in conversion.report if r.key == "services.backup.volumes_from[0]"]
    assert [r.status for r in report] == ["mapped"]
    assert not [r for r in conversion.report if "volumes_from" in r.key and
                r.status == "dropped"]


def test_volumes_from_a_container_is_dropped_with_a_warning() -> None:
    conversion = run(Service(name="a", image="a", other={"volumes_from": ["container:x"]}))
    assert [m for m in messages(conversion) if "volumes_from container:x" in m]


def test_group_mode_volume_groups_services_sharing_a_bind_mounted_path(tmp_path: Path) -> None:
    shared = str(tmp_path / "shared")
    services = [Service(name=n, image=n, volumes=(
        ServiceVolume(type="bind", source=shared, target="/s"),)) for n in ("app", "side")]
    conversion = convert(project(*services, Service(name="other", image="o"),
                                 working_dir=str(tmp_path)),
                         ConvertOptions(service_group_mode="volume"))
    workloads = sorted(o["metadata"]["name"] for o in conversion.objects
                       if o["kind"] == "Deployment")
    assert workloads == ["app-side", "other"]
    names = [c["name"] for c in pod_spec(find(conversion, "Deployment", "app-side"))[
        "containers"]]
    assert names == ["app", "side"]
