"""The state one conversion shares between builders: options, project, warnings and the report.

Builders (workloads, networking, config, autoscaling) receive a :class:`ConvertContext` and
use it to name objects, label them, look up a service's settings, warn (once per message and
key) and record what became of each Compose key for ``--report``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kompy.convert.options import ConvertOptions
from kompy.convert.render import Renderer
from kompy.convert.settings import ServiceSettings, VolumeSettings
from kompy.convert.settings_parse import service_settings, volume_settings
from kompy.convert.specs import ProjectInfo, ServicePlan
from kompy.convert.validate import resolve_version
from kompy.errors import Diagnostic, KeyPath, SourceLocation, format_key_path
from kompy.model import Project, Service

MANAGED_BY = "kompy"
LABEL_NAME = "app.kubernetes.io/name"
LABEL_PART_OF = "app.kubernetes.io/part-of"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"

REPORT_STATUSES = ("mapped", "approximated", "dropped")

_INVALID = re.compile(r"[^a-z0-9-]+")


def k8s_name(text: str, max_length: int = 63) -> str:
    """A DNS-1123 label from a Compose name: lower case, "_" and "." become "-" (as Kompose)."""
    name = _INVALID.sub("-", text.lower().replace("_", "-").replace(".", "-")).strip("-")
    return (name[:max_length].rstrip("-")) or "x"


def label_value(text: str) -> str:
    """A valid label value (63 characters, alphanumeric at both ends)."""
    value = re.sub(r"[^A-Za-z0-9._-]+", "-", text)[:63]
    return value.strip("-_.")


@dataclass(frozen=True)
class KeyReport:
    """What became of one Compose key: for ``--report FILE.json``."""

    key: str  # "services.web.ports[0]"
    status: str  # mapped | approximated | dropped
    target: str | None = None  # "Deployment/web spec.template.spec.containers[0].ports"
    note: str | None = None
    location: SourceLocation | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "status": self.status}
        if self.target:
            out["target"] = self.target
        if self.note:
            out["note"] = self.note
        if self.location is not None:
            out["file"] = self.location.file
            out["line"] = self.location.line
        return out


class ConvertContext:
    """Everything a builder needs besides the service it builds."""

    def __init__(self, project: Project, options: ConvertOptions) -> None:
        self.project = project
        self.options = options
        self.diagnostics: list[Diagnostic] = []
        self.report: list[KeyReport] = []
        self._seen: set[tuple[str, KeyPath]] = set()
        self._settings: dict[str, ServiceSettings] = {}
        self._volume_settings: dict[str, VolumeSettings] = {}
        self._volume_users: dict[str, list[str]] | None = None
        # Compose service -> name of the pod (workload) it runs in; services merged by
        # `network_mode: service:x` or a service group share one pod. Filled by the planner.
        self.pod_of: dict[str, str] = {}
        # Compose service -> the headless Service its StatefulSet names in serviceName, when
        # that is not the service's own Service (so the Service builder adds it). Filled by
        # the workload builder, which runs first.
        self.governing: dict[str, str] = {}
        # id(object) -> template it was rendered from, for validation error messages.
        self.sources: dict[int, str] = {}
        # What builders work out once per conversion, so that they warn and report once, and
        # agree (each comment names the module that fills it).
        # Object "Kind/name" -> what it was emitted for (shared.claim).
        self.object_owners: dict[str, str] = {}
        # Compose service -> the Kubernetes name of its group, grouped services only (groups).
        self.service_groups: dict[str, str] | None = None
        # Compose service -> its Service, None when it has none (services.plan_service).
        self.service_plans: dict[str, ServicePlan | None] = {}
        # Compose service -> the aliases other services' links give it, with where (services).
        self.link_aliases: dict[str, list[tuple[str, KeyPath]]] | None = None
        # Service name made from an alias -> the Compose service that has it (services).
        self.alias_owners: dict[str, str] = {}
        # Whether every service is on the default network only (services).
        self.one_network: bool | None = None
        # Compose service -> the Secret of its secret-looking environment values (envsecret).
        self.env_secret_names: dict[str, str] | None = None
        self._renderer: Renderer | None = None
        self.kube_version = resolve_version(options.kube_version)

    # -- rendering ---------------------------------------------------------------------------

    @property
    def renderer(self) -> Renderer:
        if self._renderer is None:
            self._renderer = Renderer(self.options.templates_dir, self.options.cache_dir)
        return self._renderer

    def project_info(self) -> ProjectInfo:
        return ProjectInfo(self.project.name, self.options.namespace, self.kube_version,
                           self.project.working_dir)

    def render(self, template: str, **context: Any) -> list[dict[str, Any]]:
        """Render ``template`` (with ``project`` added to ``context``) into objects."""
        objects = self.renderer.render(template, {"project": self.project_info(), **context})
        for obj in objects:
            self.sources[id(obj)] = template
        return objects

    # -- positions, warnings and the report --------------------------------------------------

    def locate(self, path: KeyPath) -> SourceLocation | None:
        return self.project.locate(path)

    def warn(self, path: KeyPath, message: str, hint: str | None = None) -> None:
        """One warning per (message, key), with the file and line of the key."""
        if (message, path) in self._seen:
            return
        self._seen.add((message, path))
        self.diagnostics.append(
            Diagnostic(message, location=self.locate(path), key_path=path, hint=hint)
        )

    def record(self, path: KeyPath, status: str, target: str | None = None,
               note: str | None = None) -> None:
        """Note what a Compose key became (``status``: mapped, approximated or dropped)."""
        self.report.append(
            KeyReport(format_key_path(path), status, target, note, self.locate(path))
        )

    def mapped(self, path: KeyPath, target: str, note: str | None = None) -> None:
        self.record(path, "mapped", target, note)

    def approximated(self, path: KeyPath, target: str | None, note: str) -> None:
        self.record(path, "approximated", target, note)

    def dropped(self, path: KeyPath, message: str, hint: str | None = None) -> None:
        """A key with no Kubernetes meaning: a warning plus a "dropped" report entry."""
        self.warn(path, message, hint)
        self.record(path, "dropped", None, message)

    # -- settings and naming -----------------------------------------------------------------

    def settings(self, service: Service | str) -> ServiceSettings:
        name = service if isinstance(service, str) else service.name
        if name not in self._settings:
            self._settings[name] = service_settings(self.project, self.project.services[name])
        return self._settings[name]

    def volume_settings(self, volume: str) -> VolumeSettings:
        """Settings of a top-level volume (empty for a volume not declared at top level)."""
        if volume not in self._volume_settings:
            definition = self.project.volumes.get(volume)
            self._volume_settings[volume] = (
                volume_settings(self.project, definition) if definition else VolumeSettings()
            )
        return self._volume_settings[volume]

    def volume_users(self, volume: str) -> list[str]:
        """The services mounting named volume ``volume``, sorted (computed once)."""
        if self._volume_users is None:
            users: dict[str, list[str]] = {}
            for name in sorted(self.project.services):
                for mount in self.project.services[name].volumes:
                    if mount.type == "volume" and mount.source:
                        names = users.setdefault(mount.source, [])
                        if name not in names:
                            names.append(name)
            self._volume_users = users
        return self._volume_users.get(volume, [])

    def name(self, service: Service | str) -> str:
        """The Kubernetes name of a service's objects (x-kompy.name / name_override wins)."""
        svc = self.project.services[service] if isinstance(service, str) else service
        return self.settings(svc).name_override or k8s_name(svc.name)

    def labels(self, service: Service | str) -> dict[str, str]:
        """Kubernetes recommended labels for a service's objects."""
        return {
            LABEL_NAME: label_value(self.name(service)),
            LABEL_PART_OF: label_value(self.project.name),
            LABEL_MANAGED_BY: MANAGED_BY,
        }

    def pod_name(self, service: Service | str) -> str:
        """The name of the pod (workload) a service's containers run in."""
        name = service if isinstance(service, str) else service.name
        return self.pod_of.get(name) or self.name(name)

    def selector(self, service: Service | str) -> dict[str, str]:
        """Selects the pods a service runs in (its group's pod when it is merged into one)."""
        return {
            LABEL_NAME: label_value(self.pod_name(service)),
            LABEL_PART_OF: label_value(self.project.name),
        }

    def metadata(self, name: str, labels: dict[str, str] | None = None,
                 annotations: dict[str, str] | None = None) -> dict[str, Any]:
        """``metadata`` for an object: name, namespace (when asked), labels, annotations."""
        meta: dict[str, Any] = {"name": name}
        if self.options.namespace:
            meta["namespace"] = self.options.namespace
        if labels:
            meta["labels"] = dict(labels)
        if annotations:
            meta["annotations"] = dict(annotations)
        return meta

    def project_labels(self) -> dict[str, str]:
        """Labels for objects that belong to the project rather than one service."""
        return {LABEL_PART_OF: label_value(self.project.name), LABEL_MANAGED_BY: MANAGED_BY}
