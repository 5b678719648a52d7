"""Settings from kompose.* labels and the typed x-kompy block."""

from __future__ import annotations

import pytest

from kompy.convert.settings import (
    CronJobSettings,
    HpaSettings,
    IngressRule,
    InitContainerSettings,
    VolumeSettings,
)
from kompy.convert.settings_parse import service_settings, volume_settings
from kompy.errors import ConvertError, MultiError
from kompy.model import Deploy, Duration, Project, Service, VolumeDef


def _settings(**kwargs: object):  # type: ignore[no-untyped-def]
    service = Service(name="web", **kwargs)  # type: ignore[arg-type]
    return service_settings(Project(name="p", working_dir="/p", services={"web": service}), service)


def test_no_labels_gives_defaults() -> None:
    settings = _settings()
    assert settings.controller is None
    assert settings.ingress is None
    assert settings.volume == VolumeSettings()


def test_kompose_labels_are_typed() -> None:
    settings = _settings(labels={
        "kompose.controller.type": "StatefulSet",
        "kompose.service.type": "NodePort",
        "kompose.service.nodeport.port": "30080",
        "kompose.service.external-traffic-policy": "local",
        "kompose.service.expose": "example.com,api.example.com/v1",
        "kompose.service.expose.tls-secret": "tls",
        "kompose.service.expose.ingress-class-name": "nginx",
        "kompose.image-pull-policy": "Never",
        "kompose.security-context.fsgroup": "1001",
        "kompose.volume.size": "1Gi",
        "kompose.volume.sub-path": "data",
        "kompose.cronjob.schedule": "*/5 * * * *",
        "kompose.cronjob.concurrency_policy": "Never",
        "kompose.cronjob.backoff_limit": "3",
        "kompose.hpa.cpu": "50%",
        "kompose.hpa.replicas.max": "10",
        "kompose.init.containers.image": "busybox",
        "kompose.init.containers.command": '["echo", "hi"]',
        "kompose.service.healthcheck.liveness.http_get_path": "/health",
        "kompose.service.healthcheck.liveness.http_get_port": "8080",
        "kompose.service.healthcheck.readiness.test": "CMD curl -f http://localhost/",
        "kompose.service.healthcheck.readiness.interval": "10s",
    })
    assert settings.controller == "statefulset"
    assert settings.service_type == "nodeport"
    assert settings.node_port == 30080
    assert settings.external_traffic_policy == "local"
    assert settings.ingress is not None
    assert settings.ingress.rules == (
        IngressRule("example.com"), IngressRule("api.example.com", "/v1"))
    assert settings.ingress.tls_secret == "tls" and settings.ingress.ingress_class == "nginx"
    assert settings.image_pull_policy == "Never"
    assert settings.fs_group == 1001
    assert settings.volume == VolumeSettings(size="1Gi", subpath="data")
    assert settings.cronjob == CronJobSettings("*/5 * * * *", "Forbid", 3)
    assert settings.hpa == HpaSettings(max_replicas=10, cpu=50)
    assert settings.init_containers == (InitContainerSettings("init", "busybox", ("echo", "hi")),)
    assert settings.liveness is not None and settings.liveness.http_get_port == 8080
    assert settings.readiness is not None
    assert settings.readiness.test == ("CMD", "curl", "-f", "http://localhost/")
    assert settings.readiness.interval == Duration(10 * 10**9)


def test_ephemeral_storage_from_deploy_labels() -> None:
    settings = _settings(deploy=Deploy(labels={"kompose.ephemeral-storage.limit": "1Gi"}))
    assert settings.ephemeral_storage_limit == "1Gi"


def test_xkompy_block_wins_over_labels() -> None:
    settings = _settings(
        labels={"kompose.controller.type": "daemonset"},
        extensions={"x-kompy": {
            "controller": "statefulset", "replicas": 3, "name": "frontend",
            "service": {"type": "loadbalancer"},
            "ingress": {"hosts": ["a.example"], "class": "nginx"},
            "hpa": {"min": 2, "max": 4, "memory": "512Mi"},
            "volume": {"size": "2Gi", "access_mode": "readwritemany"},
            "schedule": "0 * * * *",
            "healthcheck": {"readiness": {"tcp_port": 5432}},
            "init_containers": [{"image": "busybox", "command": "echo hi"}],
        }},
    )
    assert settings.controller == "statefulset"
    assert settings.replicas == 3
    assert settings.name_override == "frontend"
    assert settings.service_type == "loadbalancer"
    assert settings.ingress is not None and settings.ingress.rules == (IngressRule("a.example"),)
    assert settings.hpa == HpaSettings(min_replicas=2, max_replicas=4, memory="512Mi")
    assert settings.volume == VolumeSettings(size="2Gi", access_mode="ReadWriteMany")
    assert settings.cronjob == CronJobSettings("0 * * * *")
    assert settings.readiness is not None and settings.readiness.tcp_port == 5432
    assert settings.init_containers == (InitContainerSettings("init-0", "busybox", ("echo", "hi")),)


def test_every_bad_value_is_reported_at_once() -> None:
    with pytest.raises(MultiError) as info:
        _settings(
            labels={"kompose.service.type": "bogus", "kompose.service.nodeport.port": "99999"},
            extensions={"x-kompy": {"replicas": "many", "nonsense": 1}},
        )
    messages = sorted(e.message for e in info.value.errors)
    assert len(messages) == 4
    assert any("unknown x-kompy key 'nonsense'" in m for m in messages)
    assert any("'bogus'" in m for m in messages)


def test_single_error_names_the_key() -> None:
    with pytest.raises(ConvertError) as info:
        _settings(extensions={"x-kompy": {"hpa": {"cpu": 150}}})
    assert info.value.key_path == ("services", "web", "x-kompy", "hpa", "cpu")


def test_volume_settings_from_top_level_labels() -> None:
    volume = VolumeDef(name="data", labels={"kompose.volume.size": "5Gi"},
                       extensions={"x-kompy": {"storage_class": "fast"}})
    project = Project(name="p", working_dir="/p", volumes={"data": volume})
    assert volume_settings(project, volume) == VolumeSettings(size="5Gi", storage_class="fast")
