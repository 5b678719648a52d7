"""Reading ``kompose.*`` labels and ``x-kompy`` blocks into the typed settings of
kompy.convert.settings: the label and key tables (each value read by its converter in
kompy.convert.settings_values), and a reader that collects every error before raising them
together."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from kompy.convert.settings import (
    ACCESS_MODES,
    CONTROLLER_TYPES,
    PULL_POLICIES,
    SERVICE_TYPES,
    TRAFFIC_POLICIES,
    VOLUME_TYPES,
    CronJobSettings,
    HpaSettings,
    IngressSettings,
    InitContainerSettings,
    ProbeSettings,
    ServiceSettings,
    VolumeSettings,
)
from kompy.convert.settings_values import (
    boolean,
    choice,
    command,
    concurrency,
    count,
    dns_label,
    dns_name,
    duration,
    healthcheck_test,
    hpa_behavior,
    ingress_rules,
    percent,
    port,
    quantity,
    string,
)
from kompy.errors import ConvertError, KeyPath, MultiError, UserError
from kompy.model import Locator, Project, Service, VolumeDef

T = TypeVar("T")


class _Reader:
    """Reads typed values out of labels and an x-kompy block, collecting every error."""

    def __init__(self, at: Locator, base: KeyPath) -> None:
        self.at = at
        self.base = base
        self.errors: list[UserError] = []
        self.sources: dict[str, KeyPath] = {}

    def error(self, path: KeyPath, message: str, hint: str | None = None) -> None:
        self.errors.append(
            ConvertError(message, location=self.at.locate(path), key_path=path, hint=hint)
        )

    def typed(self, raw: Any, path: KeyPath, kind: str, convert: Callable[[Any], T]) -> T | None:
        try:
            return convert(raw)
        except (ValueError, TypeError) as exc:
            detail = f": {exc}" if str(exc) else ""
            self.error(path, f"invalid value {raw!r} for {path[-1]} (expected {kind}){detail}")
            return None


# -- label and x-kompy tables ------------------------------------------------------------------

# label -> (setting name, kind description, converter)
_SERVICE_LABELS: dict[str, tuple[str, str, Callable[[Any], Any]]] = {
    "kompose.controller.type": ("controller", "a controller type", choice(CONTROLLER_TYPES)),
    "kompose.controller.port.expose": ("host_ports", "a boolean", boolean),
    "kompose.image-pull-policy": ("image_pull_policy", "a pull policy", choice(PULL_POLICIES)),
    "kompose.image-pull-secret": ("image_pull_secret", "a secret name", string),
    "kompose.serviceaccount-name": ("service_account", "a service account name", string),
    "kompose.security-context.fsgroup": ("fs_group", "a group id", count),
    "kompose.service.group": ("group", "a group name", string),
    "kompose.service.type": ("service_type", "a service type", choice(SERVICE_TYPES)),
    "kompose.service.nodeport.port": ("node_port", "a port", port),
    "kompose.service.external-traffic-policy": (
        "external_traffic_policy", "cluster or local", choice(TRAFFIC_POLICIES)),
    "kompose.ephemeral-storage.request": ("ephemeral_storage_request", "a quantity", quantity),
    "kompose.ephemeral-storage.limit": ("ephemeral_storage_limit", "a quantity", quantity),
    "kompose.service.name_override": ("name_override", "a DNS label", dns_label),
}

_VOLUME_LABELS: dict[str, tuple[str, str, Callable[[Any], Any]]] = {
    "kompose.volume.size": ("size", "a quantity", quantity),
    "kompose.volume.storage-class-name": ("storage_class", "a storage class", string),
    "kompose.volume.type": ("type", "a volume type", choice(VOLUME_TYPES)),
    "kompose.volume.subpath": ("subpath", "a path", string),
    "kompose.volume.sub-path": ("subpath", "a path", string),
    "kompose.volume.selector": ("selector", "a selector", string),
    "kompose.volume.access-mode": ("access_mode", "an access mode", choice(ACCESS_MODES)),
}

_PROBE_LABEL_FIELDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "test": ("a command", healthcheck_test),
    "http_get_path": ("a path", string),
    "http_get_port": ("a port", port),
    "tcp_port": ("a port", port),
    "interval": ("a duration", duration),
    "timeout": ("a duration", duration),
    "retries": ("a count", count),
    "start_period": ("a duration", duration),
    "disable": ("a boolean", boolean),
}

# x-kompy keys that map 1:1 onto a setting; the nested ones are read by dedicated functions.
_XKOMPY_SCALARS: dict[str, tuple[str, str, Callable[[Any], Any]]] = {
    "controller": ("controller", "a controller type", choice(CONTROLLER_TYPES)),
    "replicas": ("replicas", "a count", count),
    "job": ("job", "a boolean", boolean),
    "image": ("image", "an image name", string),
    "image_pull_policy": ("image_pull_policy", "a pull policy", choice(PULL_POLICIES)),
    "image_pull_secret": ("image_pull_secret", "a secret name", string),
    "service_account": ("service_account", "a service account name", string),
    "fs_group": ("fs_group", "a group id", count),
    "name": ("name_override", "a DNS label", dns_label),
    "group": ("group", "a group name", string),
    "host_ports": ("host_ports", "a boolean", boolean),
}
_XKOMPY_NESTED = ("service", "ingress", "hpa", "volume", "cronjob", "schedule",
                  "healthcheck", "init_containers", "ephemeral_storage")
XKOMPY_SERVICE_KEYS = tuple(sorted((*_XKOMPY_SCALARS, *_XKOMPY_NESTED)))


def service_settings(project: Project, service: Service) -> ServiceSettings:
    """All settings of one service; raises every problem found at once (ConvertError, or a
    MultiError of them), each naming file, line and key."""
    base: KeyPath = ("services", service.name)
    reader = _Reader(project.locator, base)
    values: dict[str, Any] = {}
    _read_labels(reader, service, values)
    block = service.extensions.get("x-kompy")
    if block is not None:
        _read_xkompy(reader, block, (*base, "x-kompy"), values)
    if reader.errors:
        if len(reader.errors) == 1:
            raise reader.errors[0]
        raise MultiError(reader.errors)
    return ServiceSettings(**values, sources=reader.sources)


def volume_settings(project: Project, volume: VolumeDef) -> VolumeSettings:
    """Settings of a top-level volume, from its labels and its x-kompy block."""
    base: KeyPath = ("volumes", volume.name)
    reader = _Reader(project.locator, base)
    values: dict[str, Any] = {}
    for label, (name, kind, convert) in _VOLUME_LABELS.items():
        if label in volume.labels:
            value = reader.typed(volume.labels[label], (*base, "labels", label), kind, convert)
            if value is not None:
                values[name] = value
    block = volume.extensions.get("x-kompy")
    if block is not None:
        values.update(_read_volume_block(reader, block, (*base, "x-kompy")))
    if reader.errors:
        raise reader.errors[0] if len(reader.errors) == 1 else MultiError(reader.errors)
    return VolumeSettings(**values)


def _read_labels(reader: _Reader, service: Service, values: dict[str, Any]) -> None:
    base = reader.base
    labels = service.labels
    # Kompose reads a few settings from deploy.labels too (ephemeral storage); service labels win.
    deploy_labels = service.deploy.labels if service.deploy else {}
    for source, prefix in ((deploy_labels, "deploy"), (labels, "labels")):
        for label, (name, kind, convert) in _SERVICE_LABELS.items():
            if label in source:
                path: KeyPath = (*base, "deploy", "labels", label) if prefix == "deploy" else (
                    *base, "labels", label)
                value = reader.typed(source[label], path, kind, convert)
                if value is not None:
                    values[name] = value
                    reader.sources[name] = path
    volume: dict[str, Any] = {}
    for label, (name, kind, convert) in _VOLUME_LABELS.items():
        if label in labels:
            value = reader.typed(labels[label], (*base, "labels", label), kind, convert)
            if value is not None:
                volume[name] = value
    if volume:
        values["volume"] = VolumeSettings(**volume)
    for kind in ("liveness", "readiness"):
        probe = _probe_from_labels(reader, labels, kind)
        if probe is not None:
            values[kind] = probe
    _read_label_groups(reader, labels, values)


def _probe_from_labels(
    reader: _Reader, labels: Mapping[str, str], kind: str
) -> ProbeSettings | None:
    prefix = f"kompose.service.healthcheck.{kind}."
    fields: dict[str, Any] = {}
    for key, (what, convert) in _PROBE_LABEL_FIELDS.items():
        label = prefix + key
        if label in labels:
            value = reader.typed(labels[label], (*reader.base, "labels", label), what, convert)
            if value is not None:
                fields[key] = value
    if not fields:
        return None
    reader.sources[kind] = (*reader.base, "labels")
    return ProbeSettings(**fields)


def _read_label_groups(reader: _Reader, labels: Mapping[str, str], values: dict[str, Any]) -> None:
    base = reader.base
    if "kompose.service.expose" in labels:
        path: KeyPath = (*base, "labels", "kompose.service.expose")
        raw = labels["kompose.service.expose"]
        if str(raw).strip().lower() != "false":
            rules = reader.typed(raw, path, "true or host names", ingress_rules)
            if rules:
                values["ingress"] = IngressSettings(
                    rules=rules,
                    tls_secret=labels.get("kompose.service.expose.tls-secret") or None,
                    ingress_class=labels.get("kompose.service.expose.ingress-class-name") or None,
                )
                reader.sources["ingress"] = path
    if "kompose.cronjob.schedule" in labels:
        values["cronjob"] = CronJobSettings(
            schedule=str(labels["kompose.cronjob.schedule"]).strip(),
            concurrency_policy=_label(reader, labels, "kompose.cronjob.concurrency_policy",
                                      "Allow, Forbid or Replace", concurrency),
            backoff_limit=_label(reader, labels, "kompose.cronjob.backoff_limit", "a count",
                                 count),
        )
        reader.sources["cronjob"] = (*base, "labels", "kompose.cronjob.schedule")
    hpa = HpaSettings(
        min_replicas=_label(reader, labels, "kompose.hpa.replicas.min", "a count", count),
        max_replicas=_label(reader, labels, "kompose.hpa.replicas.max", "a count", count),
        cpu=_label(reader, labels, "kompose.hpa.cpu", "a percentage", percent),
        memory=_label(reader, labels, "kompose.hpa.memory", "a quantity", quantity),
    )
    if hpa != HpaSettings():
        values["hpa"] = hpa
        reader.sources["hpa"] = (*base, "labels")
    if "kompose.init.containers.image" in labels:
        image = _label(reader, labels, "kompose.init.containers.image", "an image", string)
        name = _label(reader, labels, "kompose.init.containers.name", "a name", dns_label)
        init_command = _label(reader, labels, "kompose.init.containers.command", "a command",
                              command)
        if image:
            values["init_containers"] = (
                InitContainerSettings(name=name or "init", image=image, command=init_command or ()),
            )
            reader.sources["init_containers"] = (*base, "labels", "kompose.init.containers.image")


def _label(reader: _Reader, labels: Mapping[str, str], label: str, kind: str,
           convert: Callable[[Any], T]) -> T | None:
    if label not in labels:
        return None
    return reader.typed(labels[label], (*reader.base, "labels", label), kind, convert)


def _read_xkompy(reader: _Reader, block: Any, base: KeyPath, values: dict[str, Any]) -> None:
    if not isinstance(block, dict):
        reader.error(base, "x-kompy must be a mapping", hint="see README: x-kompy keys")
        return
    for key in sorted(block, key=str):
        path: KeyPath = (*base, key)
        raw = block[key]
        if key in _XKOMPY_SCALARS:
            name, kind, convert = _XKOMPY_SCALARS[key]
            value = reader.typed(raw, path, kind, convert)
            if value is not None:
                values[name] = value
                reader.sources[name] = path
        elif key in _XKOMPY_NESTED:
            _read_xkompy_nested(reader, key, raw, path, values)
        else:
            reader.error(path, f"unknown x-kompy key {key!r}",
                         hint="known keys: " + ", ".join(XKOMPY_SERVICE_KEYS))


def _read_xkompy_nested(reader: _Reader, key: str, raw: Any, path: KeyPath,
                        values: dict[str, Any]) -> None:
    if key == "schedule":
        raw = {"schedule": raw}
        key = "cronjob"
    if key == "init_containers":
        value: Any = _read_init_containers(reader, raw, path)
        if value is not None:
            values["init_containers"] = value
            reader.sources["init_containers"] = path
        return
    fields = _mapping(reader, raw, path)
    if fields is None:
        return
    if key == "volume":
        values["volume"] = VolumeSettings(**_read_volume_block(reader, raw, path))
        return
    if key == "healthcheck":
        for kind in sorted(fields):
            if kind not in ("liveness", "readiness"):
                reader.error((*path, kind), f"unknown healthcheck kind {kind!r}",
                             hint="use liveness or readiness")
                continue
            probe = _read_fields(reader, fields[kind], (*path, kind),
                                 {k: (v[0], v[1], k) for k, v in _PROBE_LABEL_FIELDS.items()})
            if probe is not None:
                values[kind] = ProbeSettings(**probe)
                reader.sources[kind] = (*path, kind)
        return
    spec = _NESTED_SPECS[key]
    read = _read_fields(reader, raw, path, spec)
    if read is None:
        return
    if key == "service":
        values.update(read)
        for name in read:
            reader.sources[name] = path
    elif key == "ephemeral_storage":
        values.update({f"ephemeral_storage_{k}": v for k, v in read.items()})
    elif key == "ingress":
        if "rules" not in read:
            reader.error(path, "x-kompy.ingress needs hosts", hint='hosts: ["example.com/"]')
            return
        values["ingress"] = IngressSettings(**read)
        reader.sources["ingress"] = path
    elif key == "hpa":
        values["hpa"] = HpaSettings(**read)
        reader.sources["hpa"] = path
    elif key == "cronjob":
        if "schedule" not in read:
            reader.error(path, "x-kompy.cronjob needs a schedule", hint='schedule: "*/5 * * * *"')
            return
        values["cronjob"] = CronJobSettings(**read)
        reader.sources["cronjob"] = path


# nested block -> key -> (kind, converter, setting field)
_NESTED_SPECS: dict[str, dict[str, tuple[str, Callable[[Any], Any], str]]] = {
    "service": {
        "type": ("a service type", choice(SERVICE_TYPES), "service_type"),
        "node_port": ("a port", port, "node_port"),
        "external_traffic_policy": ("cluster or local", choice(TRAFFIC_POLICIES),
                                    "external_traffic_policy"),
        "external_name": ("a host name", dns_name, "external_name"),
    },
    "ingress": {
        "hosts": ("host names", ingress_rules, "rules"),
        "tls_secret": ("a secret name", string, "tls_secret"),
        "class": ("an ingress class", string, "ingress_class"),
        "port": ("a port", port, "port"),
    },
    "hpa": {
        "min": ("a count", count, "min_replicas"),
        "max": ("a count", count, "max_replicas"),
        "cpu": ("a percentage", percent, "cpu"),
        "memory": ("a quantity", quantity, "memory"),
        "behavior": ("an autoscaling behavior", hpa_behavior, "behavior"),
    },
    "cronjob": {
        "schedule": ("a cron schedule", string, "schedule"),
        "concurrency_policy": ("Allow, Forbid or Replace", concurrency, "concurrency_policy"),
        "backoff_limit": ("a count", count, "backoff_limit"),
    },
    "ephemeral_storage": {
        "request": ("a quantity", quantity, "request"),
        "limit": ("a quantity", quantity, "limit"),
    },
    "volume": {
        "size": ("a quantity", quantity, "size"),
        "storage_class": ("a storage class", string, "storage_class"),
        "type": ("a volume type", choice(VOLUME_TYPES), "type"),
        "subpath": ("a path", string, "subpath"),
        "selector": ("a selector", string, "selector"),
        "access_mode": ("an access mode", choice(ACCESS_MODES), "access_mode"),
    },
}


def _mapping(reader: _Reader, raw: Any, path: KeyPath) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        reader.error(path, f"x-kompy.{path[-1]} must be a mapping")
        return None
    return raw


def _read_fields(
    reader: _Reader, raw: Any, path: KeyPath,
    spec: Mapping[str, tuple[str, Callable[[Any], Any], str]],
) -> dict[str, Any] | None:
    fields = _mapping(reader, raw, path)
    if fields is None:
        return None
    out: dict[str, Any] = {}
    for key in sorted(fields, key=str):
        if key not in spec:
            reader.error((*path, key), f"unknown key {key!r} in x-kompy.{path[-1]}",
                         hint="known keys: " + ", ".join(sorted(spec)))
            continue
        kind, convert, name = spec[key]
        value = reader.typed(fields[key], (*path, key), kind, convert)
        if value is not None:
            out[name] = value
    return out


def _read_volume_block(reader: _Reader, raw: Any, path: KeyPath) -> dict[str, Any]:
    return _read_fields(reader, raw, path, _NESTED_SPECS["volume"]) or {}


def _read_init_containers(reader: _Reader, raw: Any,
                          path: KeyPath) -> tuple[InitContainerSettings, ...] | None:
    if not isinstance(raw, list):
        reader.error(path, "x-kompy.init_containers must be a list of {name, image, command}")
        return None
    spec = {"name": ("a DNS label", dns_label, "name"), "image": ("an image", string, "image"),
            "command": ("a command", command, "command")}
    out: list[InitContainerSettings] = []
    for index, item in enumerate(raw):
        fields = _read_fields(reader, item, (*path, index), spec)
        if fields is None:
            continue
        if "image" not in fields:
            reader.error((*path, index), "an init container needs an image")
            continue
        fields.setdefault("name", f"init-{index}")
        out.append(InitContainerSettings(**fields))
    return tuple(out)
