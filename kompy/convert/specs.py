"""The typed context templates receive (documented in templates/README.md).

Builders compute these values from the Compose model; templates only lay them out. Field
names are the Kubernetes field names in snake_case; ``None`` (or an empty collection) means
"leave the field out". Values that are already Kubernetes structures (probes, resources,
volume sources...) are plain dicts in Kubernetes' own shape, ready for ``| value``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # kompy's one alias for a Kubernetes object. Imported for the type checker only, as in
    # every module of kompy.convert: loading kompy.client would add the HTTP stack to every
    # conversion's start-up (~0.2 s) for a name that only annotations use.
    from kompy.client.objects import Obj


@dataclass
class ProjectInfo:
    name: str  # the Compose project name
    namespace: str | None  # --namespace, or None
    kube_version: str  # "1.37"
    working_dir: str


@dataclass
class ContainerSpec:
    name: str
    image: str
    image_pull_policy: str | None = None
    command: list[str] | None = None  # Compose `entrypoint`
    args: list[str] | None = None  # Compose `command`
    working_dir: str | None = None
    # [{name, value}] in Compose order; secret-looking ones {name, valueFrom: {secretKeyRef}}
    env: list[Obj] = field(default_factory=list)
    env_from: list[Obj] = field(default_factory=list)
    ports: list[Obj] = field(default_factory=list)  # [{containerPort, protocol, name?}]
    resources: Obj | None = None  # {limits: {...}, requests: {...}}
    liveness_probe: Obj | None = None
    readiness_probe: Obj | None = None
    startup_probe: Obj | None = None
    security_context: Obj | None = None
    lifecycle: Obj | None = None  # {postStart: {exec: ...}, preStop: {exec: ...}}
    volume_mounts: list[Obj] = field(default_factory=list)
    stdin: bool = False
    tty: bool = False
    service: str = ""  # the Compose service this container comes from


@dataclass
class PodSpec:
    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)
    containers: list[ContainerSpec] = field(default_factory=list)
    init_containers: list[ContainerSpec] = field(default_factory=list)
    volumes: list[Obj] = field(default_factory=list)
    restart_policy: str | None = None
    termination_grace_period_seconds: int | None = None
    hostname: str | None = None
    subdomain: str | None = None
    host_aliases: list[Obj] = field(default_factory=list)
    dns_policy: str | None = None
    dns_config: Obj | None = None
    host_network: bool = False
    host_pid: bool = False
    host_ipc: bool = False
    share_process_namespace: bool = False
    node_selector: dict[str, str] = field(default_factory=dict)
    affinity: Obj | None = None
    service_account_name: str | None = None
    automount_service_account_token: bool | None = None
    image_pull_secrets: list[Obj] = field(default_factory=list)
    security_context: Obj | None = None


@dataclass
class ClaimSpec:
    """A PersistentVolumeClaim (pvc.yaml.j2) or a StatefulSet volumeClaimTemplate."""

    name: str
    labels: dict[str, str]
    access_modes: list[str]
    storage: str
    storage_class: str | None = None
    selector: Obj | None = None  # {matchLabels: {...}}
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass
class WorkloadSpec:
    """One workload: Deployment, StatefulSet, DaemonSet, Job or CronJob."""

    kind: str
    name: str
    labels: dict[str, str]
    selector: dict[str, str]
    pod: PodSpec
    annotations: dict[str, str] = field(default_factory=dict)
    replicas: int | None = None  # Deployment, StatefulSet
    strategy: Obj | None = None  # Deployment .spec.strategy / DaemonSet .spec.updateStrategy
    min_ready_seconds: int | None = None
    service_name: str | None = None  # StatefulSet governing Service
    volume_claim_templates: list[ClaimSpec] = field(default_factory=list)
    backoff_limit: int | None = None  # Job, CronJob
    completions: int | None = None  # Job
    parallelism: int | None = None  # Job
    schedule: str | None = None  # CronJob
    concurrency_policy: str | None = None  # CronJob
    services: list[str] = field(default_factory=list)  # Compose services in this pod


@dataclass(frozen=True)
class ServicePort:
    """One entry of a Service's ``spec.ports``."""

    name: str
    port: int
    target_port: int
    protocol: str  # TCP | UDP | SCTP
    app_protocol: str | None = None
    node_port: int | None = None


@dataclass(frozen=True)
class ServicePlan:
    """What build_services renders: also used by the Ingress and NetworkPolicy builders."""

    name: str
    kind: str  # clusterip | nodeport | loadbalancer | headless
    ports: tuple[ServicePort, ...]
    host_ports: tuple[str, ...]  # "8080:80/tcp"
    external_traffic_policy: str | None = None
