"""Reading ``kompose.*`` labels and ``x-kompy`` blocks into the typed settings of
kompy.convert.settings: converters for each kind of value, the label and key tables, and a
reader that collects every error before raising them together."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from kompy.convert.settings import (
    ACCESS_MODES,
    CONCURRENCY_POLICIES,
    CONTROLLER_TYPES,
    PULL_POLICIES,
    SERVICE_TYPES,
    TRAFFIC_POLICIES,
    VOLUME_TYPES,
    CronJobSettings,
    HpaSettings,
    IngressRule,
    IngressSettings,
    InitContainerSettings,
    ProbeSettings,
    ServiceSettings,
    VolumeSettings,
)
from kompy.errors import ConvertError, KeyPath, MultiError, UserError
from kompy.model import Duration, Locator, Project, Service, VolumeDef

T = TypeVar("T")
_QUANTITY = re.compile(r"[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


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


# -- scalar converters: each raises ValueError/TypeError with a short reason -------------------

def _int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise TypeError("")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and re.fullmatch(r"\s*-?\d+\s*", raw):
        return int(raw)
    raise ValueError("")


def _nonneg_int(raw: Any) -> int:
    value = _int(raw)
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _port(raw: Any) -> int:
    value = _int(raw)
    if not 1 <= value <= 65535:
        raise ValueError("must be between 1 and 65535")
    return value


def _bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false", "yes", "no", "1", "0"):
        return raw.strip().lower() in ("true", "yes", "1")
    raise ValueError("")


def _str(raw: Any) -> str:
    if isinstance(raw, bool) or raw is None or isinstance(raw, (dict, list)):
        raise TypeError("")
    text = str(raw).strip()
    if not text:
        raise ValueError("must not be empty")
    return text


def _choice(choices: tuple[str, ...], fold: bool = True) -> Callable[[Any], str]:
    def convert(raw: Any) -> str:
        text = _str(raw)
        for choice in choices:
            if (choice.lower() == text.lower()) if fold else choice == text:
                return choice
        raise ValueError(f"one of {', '.join(choices)}")

    return convert


def _quantity(raw: Any) -> str:
    text = _str(raw)
    if not _QUANTITY.fullmatch(text):
        raise ValueError('a Kubernetes quantity such as "1Gi" or "500M"')
    return text


def _duration(raw: Any) -> Duration:
    from kompy.model import NullLocator

    try:
        return Duration.parse(raw, NullLocator(), ())
    except UserError as exc:
        raise ValueError(exc.message) from None


def _percent(raw: Any) -> int:
    text = str(raw).strip().rstrip("%") if not isinstance(raw, bool) else ""
    value = _int(text)
    if not 1 <= value <= 100:
        raise ValueError("a percentage between 1 and 100")
    return value


def _dns_name(raw: Any) -> str:
    text = _str(raw)
    if len(text) > 63 or not _DNS_LABEL.fullmatch(text):
        raise ValueError("a DNS label: lower case letters, digits and '-', at most 63")
    return text


def _command(raw: Any) -> tuple[str, ...]:
    """A command: a YAML list, a JSON array in a string (as Kompose labels), or shell words."""
    if isinstance(raw, (list, tuple)):
        return tuple(str(part) for part in raw)
    text = _str(raw)
    if text.startswith("["):
        parsed = json.loads(text)
        if not isinstance(parsed, list):
            raise ValueError("a list of strings")
        return tuple(str(part) for part in parsed)
    return tuple(shlex.split(text))


def _healthcheck_test(raw: Any) -> tuple[str, ...]:
    words = _command(raw)
    if not words:
        raise ValueError("an empty test")
    if words[0] not in ("CMD", "CMD-SHELL", "NONE"):
        # A bare string is a shell command, as the Compose `test:` string form.
        text = raw.strip() if isinstance(raw, str) else shlex.join(words)
        return ("CMD-SHELL", text)
    return words


def _ingress_rules(raw: Any) -> tuple[IngressRule, ...]:
    """kompose.service.expose: "true" or comma-separated hosts, each optionally with a path."""
    items = raw if isinstance(raw, (list, tuple)) else _str(raw).split(",")
    rules: list[IngressRule] = []
    for item in items:
        text = _str(item)
        if text.lower() == "true":
            rules.append(IngressRule(host=None))
            continue
        host, slash, path = text.partition("/")
        rules.append(IngressRule(host=host or None, path="/" + path if slash else "/"))
    return tuple(rules)


# -- label and x-kompy tables ------------------------------------------------------------------

# label -> (setting name, kind description, converter)
_SERVICE_LABELS: dict[str, tuple[str, str, Callable[[Any], Any]]] = {
    "kompose.controller.type": ("controller", "a controller type", _choice(CONTROLLER_TYPES)),
    "kompose.controller.port.expose": ("host_ports", "a boolean", _bool),
    "kompose.image-pull-policy": ("image_pull_policy", "a pull policy", _choice(PULL_POLICIES)),
    "kompose.image-pull-secret": ("image_pull_secret", "a secret name", _str),
    "kompose.serviceaccount-name": ("service_account", "a service account name", _str),
    "kompose.security-context.fsgroup": ("fs_group", "a group id", _nonneg_int),
    "kompose.service.group": ("group", "a group name", _str),
    "kompose.service.type": ("service_type", "a service type", _choice(SERVICE_TYPES)),
    "kompose.service.nodeport.port": ("node_port", "a port", _port),
    "kompose.service.external-traffic-policy": (
        "external_traffic_policy", "cluster or local", _choice(TRAFFIC_POLICIES)),
    "kompose.ephemeral-storage.request": ("ephemeral_storage_request", "a quantity", _quantity),
    "kompose.ephemeral-storage.limit": ("ephemeral_storage_limit", "a quantity", _quantity),
    "kompose.service.name_override": ("name_override", "a DNS label", _dns_name),
}

_VOLUME_LABELS: dict[str, tuple[str, str, Callable[[Any], Any]]] = {
    "kompose.volume.size": ("size", "a quantity", _quantity),
    "kompose.volume.storage-class-name": ("storage_class", "a storage class", _str),
    "kompose.volume.type": ("type", "a volume type", _choice(VOLUME_TYPES)),
    "kompose.volume.subpath": ("subpath", "a path", _str),
    "kompose.volume.sub-path": ("subpath", "a path", _str),
    "kompose.volume.selector": ("selector", "a selector", _str),
    "kompose.volume.access-mode": ("access_mode", "an access mode", _choice(ACCESS_MODES)),
}

_PROBE_LABEL_FIELDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "test": ("a command", _healthcheck_test),
    "http_get_path": ("a path", _str),
    "http_get_port": ("a port", _port),
    "tcp_port": ("a port", _port),
    "interval": ("a duration", _duration),
    "timeout": ("a duration", _duration),
    "retries": ("a count", _nonneg_int),
    "start_period": ("a duration", _duration),
    "disable": ("a boolean", _bool),
}

# x-kompy keys that map 1:1 onto a setting; the nested ones are read by dedicated functions.
_XKOMPY_SCALARS: dict[str, tuple[str, str, Callable[[Any], Any]]] = {
    "controller": ("controller", "a controller type", _choice(CONTROLLER_TYPES)),
    "replicas": ("replicas", "a count", _nonneg_int),
    "job": ("job", "a boolean", _bool),
    "image": ("image", "an image name", _str),
    "image_pull_policy": ("image_pull_policy", "a pull policy", _choice(PULL_POLICIES)),
    "image_pull_secret": ("image_pull_secret", "a secret name", _str),
    "service_account": ("service_account", "a service account name", _str),
    "fs_group": ("fs_group", "a group id", _nonneg_int),
    "name": ("name_override", "a DNS label", _dns_name),
    "group": ("group", "a group name", _str),
    "host_ports": ("host_ports", "a boolean", _bool),
}
_XKOMPY_NESTED = ("service", "ingress", "hpa", "volume", "cronjob", "schedule",
                  "healthcheck", "init_containers", "ephemeral_storage")
XKOMPY_SERVICE_KEYS = tuple(sorted((*_XKOMPY_SCALARS, *_XKOMPY_NESTED)))
XKOMPY_VOLUME_KEYS = ("access_mode", "selector", "size", "storage_class", "subpath", "type")


def read_service_settings(project: Project, service: Service) -> ServiceSettings:
    """All settings of one service; raises every problem found at once."""
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


def read_volume_settings(project: Project, volume: VolumeDef) -> VolumeSettings:
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
            rules = reader.typed(raw, path, "true or host names", _ingress_rules)
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
                                      "Allow, Forbid or Replace", _concurrency),
            backoff_limit=_label(reader, labels, "kompose.cronjob.backoff_limit", "a count",
                                 _nonneg_int),
        )
        reader.sources["cronjob"] = (*base, "labels", "kompose.cronjob.schedule")
    hpa = HpaSettings(
        min_replicas=_label(reader, labels, "kompose.hpa.replicas.min", "a count", _nonneg_int),
        max_replicas=_label(reader, labels, "kompose.hpa.replicas.max", "a count", _nonneg_int),
        cpu=_label(reader, labels, "kompose.hpa.cpu", "a percentage", _percent),
        memory=_label(reader, labels, "kompose.hpa.memory", "a quantity", _quantity),
    )
    if hpa != HpaSettings():
        values["hpa"] = hpa
        reader.sources["hpa"] = (*base, "labels")
    if "kompose.init.containers.image" in labels:
        image = _label(reader, labels, "kompose.init.containers.image", "an image", _str)
        name = _label(reader, labels, "kompose.init.containers.name", "a name", _dns_name)
        command = _label(reader, labels, "kompose.init.containers.command", "a command", _command)
        if image:
            values["init_containers"] = (
                InitContainerSettings(name=name or "init", image=image, command=command or ()),
            )
            reader.sources["init_containers"] = (*base, "labels", "kompose.init.containers.image")


def _concurrency(raw: Any) -> str:
    # Kompose documents "Never" as a value; Kubernetes knows Allow/Forbid/Replace.
    text = _str(raw)
    if text.lower() == "never":
        return "Forbid"
    return _choice(CONCURRENCY_POLICIES)(text)


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
        "type": ("a service type", _choice(SERVICE_TYPES), "service_type"),
        "node_port": ("a port", _port, "node_port"),
        "external_traffic_policy": ("cluster or local", _choice(TRAFFIC_POLICIES),
                                    "external_traffic_policy"),
    },
    "ingress": {
        "hosts": ("host names", _ingress_rules, "rules"),
        "tls_secret": ("a secret name", _str, "tls_secret"),
        "class": ("an ingress class", _str, "ingress_class"),
        "port": ("a port", _port, "port"),
    },
    "hpa": {
        "min": ("a count", _nonneg_int, "min_replicas"),
        "max": ("a count", _nonneg_int, "max_replicas"),
        "cpu": ("a percentage", _percent, "cpu"),
        "memory": ("a quantity", _quantity, "memory"),
    },
    "cronjob": {
        "schedule": ("a cron schedule", _str, "schedule"),
        "concurrency_policy": ("Allow, Forbid or Replace", _concurrency, "concurrency_policy"),
        "backoff_limit": ("a count", _nonneg_int, "backoff_limit"),
    },
    "ephemeral_storage": {
        "request": ("a quantity", _quantity, "request"),
        "limit": ("a quantity", _quantity, "limit"),
    },
    "volume": {
        "size": ("a quantity", _quantity, "size"),
        "storage_class": ("a storage class", _str, "storage_class"),
        "type": ("a volume type", _choice(VOLUME_TYPES), "type"),
        "subpath": ("a path", _str, "subpath"),
        "selector": ("a selector", _str, "selector"),
        "access_mode": ("an access mode", _choice(ACCESS_MODES), "access_mode"),
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
    spec = {"name": ("a DNS label", _dns_name, "name"), "image": ("an image", _str, "image"),
            "command": ("a command", _command, "command")}
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
