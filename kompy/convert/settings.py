"""Per-service conversion settings, from Kompose's ``kompose.*`` labels and the typed ``x-kompy``
extension block.

Kompose reads its settings from service labels (https://kompose.io/user-guide/#labels); kompy
honours every one of them unchanged, and also accepts the same settings, typed, in an
``x-kompy`` block on the service (and on top-level volumes). ``x-kompy`` wins over a label
when both are given. Every value is validated once, when it is read
(kompy.convert.settings_parse): a wrong value is a ConvertError naming the file, line and
key; the builders only ever see the typed values defined here.

Example::

    services:
      web:
        x-kompy:
          controller: statefulset        # deployment|statefulset|daemonset|job|cronjob
          replicas: 3
          service: {type: nodeport, node_port: 30080, external_traffic_policy: local}
          # or, for a service that runs outside the cluster (a managed database):
          # service: {external_name: db.example.com}
          ingress: {hosts: [example.com/api], tls_secret: web-tls, class: nginx}
          hpa: {min: 2, max: 10, cpu: 70, memory: 512Mi,
                behavior: {scaleDown: {stabilizationWindowSeconds: 300}}}
          volume: {size: 1Gi, storage_class: fast, access_mode: ReadWriteOnce}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kompy.errors import KeyPath
from kompy.model import Duration

# "replicationcontroller" is accepted for Kompose files and becomes a Deployment (its
# successor); workloads.py says so in a warning.
CONTROLLER_TYPES = ("deployment", "statefulset", "daemonset", "job", "cronjob",
                    "replicationcontroller")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
SERVICE_TYPES = ("clusterip", "nodeport", "loadbalancer", "headless")
TRAFFIC_POLICIES = ("cluster", "local")
CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
VOLUME_TYPES = ("persistentVolumeClaim", "emptyDir", "hostPath", "configMap")
ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")


@dataclass(frozen=True)
class ProbeSettings:
    """A probe asked for by labels (kompose.service.healthcheck.<kind>.*) or x-kompy.

    Exactly one action applies, in this order: http_get_path, tcp_port, test.
    """

    test: tuple[str, ...] | None = None  # ("CMD", ...) / ("CMD-SHELL", "...")
    http_get_path: str | None = None
    http_get_port: int | None = None
    tcp_port: int | None = None
    interval: Duration | None = None
    timeout: Duration | None = None
    retries: int | None = None
    start_period: Duration | None = None
    disable: bool = False


@dataclass(frozen=True)
class IngressRule:
    host: str | None  # None: any host (kompose.service.expose: "true")
    path: str = "/"


@dataclass(frozen=True)
class IngressSettings:
    rules: tuple[IngressRule, ...]
    tls_secret: str | None = None
    ingress_class: str | None = None
    port: int | None = None  # container port to route to; None: the first port


@dataclass(frozen=True)
class VolumeSettings:
    """PVC/volume settings; on a service they apply to each of its volumes."""

    size: str | None = None
    storage_class: str | None = None
    type: str | None = None  # persistentVolumeClaim|emptyDir|hostPath|configMap
    subpath: str | None = None
    selector: str | None = None  # a name, or "key=value,key2=value2"
    access_mode: str | None = None

    def merged_over(self, base: VolumeSettings) -> VolumeSettings:
        """These settings, with unset fields taken from ``base``."""
        return VolumeSettings(
            **{name: getattr(self, name) or getattr(base, name) for name in _VOLUME_FIELDS}
        )


_VOLUME_FIELDS = ("size", "storage_class", "type", "subpath", "selector", "access_mode")


@dataclass(frozen=True)
class InitContainerSettings:
    name: str
    image: str
    command: tuple[str, ...] = ()


@dataclass(frozen=True)
class CronJobSettings:
    schedule: str
    concurrency_policy: str | None = None
    backoff_limit: int | None = None


@dataclass(frozen=True)
class HpaSettings:
    min_replicas: int | None = None
    max_replicas: int | None = None
    cpu: int | None = None  # target average utilisation, percent
    memory: str | None = None  # target average value, a quantity
    behavior: dict[str, Any] | None = None  # spec.behavior: scaleUp / scaleDown rules


@dataclass(frozen=True)
class ServiceSettings:
    controller: str | None = None
    replicas: int | None = None
    job: bool = False
    image: str | None = None  # image name for a `build:` service, overriding the derived one
    image_pull_policy: str | None = None
    image_pull_secret: str | None = None
    service_account: str | None = None
    fs_group: int | None = None
    init_containers: tuple[InitContainerSettings, ...] = ()
    liveness: ProbeSettings | None = None
    readiness: ProbeSettings | None = None
    cronjob: CronJobSettings | None = None
    volume: VolumeSettings = field(default_factory=VolumeSettings)
    ephemeral_storage_request: str | None = None
    ephemeral_storage_limit: str | None = None
    name_override: str | None = None
    group: str | None = None
    service_type: str | None = None  # one of SERVICE_TYPES (lower case)
    node_port: int | None = None
    external_traffic_policy: str | None = None  # "Cluster" | "Local"
    # The service runs outside the cluster at this host: an ExternalName Service, no workload.
    external_name: str | None = None
    ingress: IngressSettings | None = None
    hpa: HpaSettings | None = None
    host_ports: bool = False  # kompose.controller.port.expose: container ports as hostPort
    # Where each setting came from, for error messages and the report: setting -> key path.
    sources: dict[str, KeyPath] = field(default_factory=dict, compare=False)

