"""``deploy:`` of a service (compose-spec "Compose Deploy Specification")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kompy.errors import KeyPath
from kompy.model.base import Locator, fail
from kompy.model.scalars import (
    check_keys,
    expect_float,
    expect_int,
    expect_list,
    expect_mapping,
    expect_str,
    str_list,
    str_mapping,
)
from kompy.model.values import ByteSize, Duration

DEPLOY_MODES = frozenset({"replicated", "global", "replicated-job", "global-job"})
RESTART_CONDITIONS = frozenset({"none", "on-failure", "any"})
FAILURE_ACTIONS = frozenset({"continue", "rollback", "pause"})
UPDATE_ORDERS = frozenset({"stop-first", "start-first"})
_RESTART_KEYS = frozenset({"condition", "delay", "max_attempts", "window"})
_UPDATE_KEYS = frozenset({"parallelism", "delay", "failure_action", "monitor",
                          "max_failure_ratio", "order"})


def cpus_to_compose(value: float) -> int | float:
    """Go renders a float32 without a fraction as an integer: cpus: 2, cpus: 0.5."""
    return int(value) if value.is_integer() else value


def parse_cpus(raw: object, at: Locator, path: KeyPath) -> float:
    """The service-level ``cpus``: a number of CPUs, not negative."""
    value = expect_float(raw, at, path)
    if value < 0:
        raise fail(at, path, f"cannot be negative, got {raw!r}")
    return value


def _choice(raw: object, allowed: frozenset[str], at: Locator, path: KeyPath, what: str) -> str:
    value = expect_str(raw, at, path)
    if value not in allowed:
        raise fail(at, path, f"unknown {what} {value!r}", hint="use " + ", ".join(sorted(allowed)))
    return value


def _duration(raw: dict[str, Any], key: str, at: Locator, path: KeyPath) -> Duration | None:
    value = raw.get(key)
    return None if value is None else Duration.parse(value, at, (*path, key))


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    cpus: float | None = None
    memory: ByteSize | None = None
    pids: int | None = None
    # devices (GPUs), generic_resources: as written.
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: object, at: Locator, path: KeyPath) -> ResourceSpec:
        if raw is None:
            return cls()
        body = expect_mapping(raw, at, path)
        cpus = body.get("cpus")
        memory = body.get("memory")
        pids = body.get("pids")
        value = expect_float(cpus, at, (*path, "cpus")) if cpus is not None else None
        if value is not None and value < 0:
            raise fail(at, (*path, "cpus"), f"cpus cannot be negative, got {cpus!r}")
        return cls(
            cpus=value,
            memory=ByteSize.parse(memory, at, (*path, "memory")) if memory is not None else None,
            pids=expect_int(pids, at, (*path, "pids")) if pids is not None else None,
            extra={k: body[k] for k in sorted(body) if k not in ("cpus", "memory", "pids")},
        )

    def is_empty(self) -> bool:
        return (self.cpus is None and self.memory is None and self.pids is None
                and not self.extra)

    def to_compose(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        if self.cpus is not None:
            out["cpus"] = cpus_to_compose(self.cpus)
        if self.memory is not None:
            out["memory"] = self.memory.to_compose()
        if self.pids is not None:
            out["pids"] = self.pids
        return dict(sorted(out.items()))


@dataclass(frozen=True, slots=True)
class Resources:
    limits: ResourceSpec = field(default_factory=ResourceSpec)
    reservations: ResourceSpec = field(default_factory=ResourceSpec)

    @classmethod
    def parse(cls, raw: object, at: Locator, path: KeyPath) -> Resources:
        if raw is None:
            return cls()
        body = expect_mapping(raw, at, path)
        check_keys(body, frozenset({"limits", "reservations"}), at, path)
        return cls(
            limits=ResourceSpec.parse(body.get("limits"), at, (*path, "limits")),
            reservations=ResourceSpec.parse(body.get("reservations"), at,
                                            (*path, "reservations")),
        )

    def to_compose(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if not self.limits.is_empty():
            out["limits"] = self.limits.to_compose()
        if not self.reservations.is_empty():
            out["reservations"] = self.reservations.to_compose()
        return out


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    condition: str = "any"  # none | on-failure | any
    delay: Duration | None = None
    max_attempts: int | None = None
    window: Duration | None = None

    @classmethod
    def parse(cls, raw: object, at: Locator, path: KeyPath) -> RestartPolicy:
        body = expect_mapping(raw, at, path)
        check_keys(body, _RESTART_KEYS, at, path)
        attempts = body.get("max_attempts")
        return cls(
            condition=_choice(body.get("condition", "any"), RESTART_CONDITIONS, at,
                              (*path, "condition"), "restart condition"),
            delay=_duration(body, "delay", at, path),
            max_attempts=(expect_int(attempts, at, (*path, "max_attempts"), minimum=0)
                          if attempts is not None else None),
            window=_duration(body, "window", at, path),
        )

    def to_compose(self) -> dict[str, Any]:
        out: dict[str, Any] = {"condition": self.condition}
        if self.delay is not None:
            out["delay"] = self.delay.to_compose()
        if self.max_attempts is not None:
            out["max_attempts"] = self.max_attempts
        if self.window is not None:
            out["window"] = self.window.to_compose()
        return out


@dataclass(frozen=True, slots=True)
class UpdateConfig:
    parallelism: int | None = None
    delay: Duration | None = None
    failure_action: str | None = None
    monitor: Duration | None = None
    max_failure_ratio: float | None = None
    order: str | None = None  # stop-first | start-first

    @classmethod
    def parse(cls, raw: object, at: Locator, path: KeyPath) -> UpdateConfig:
        body = expect_mapping(raw, at, path)
        check_keys(body, _UPDATE_KEYS, at, path)
        par = body.get("parallelism")
        ratio = body.get("max_failure_ratio")
        action = body.get("failure_action")
        order = body.get("order")
        return cls(
            parallelism=expect_int(par, at, (*path, "parallelism"), minimum=0)
            if par is not None else None,
            delay=_duration(body, "delay", at, path),
            failure_action=_choice(action, FAILURE_ACTIONS, at, (*path, "failure_action"),
                                   "failure action") if action is not None else None,
            monitor=_duration(body, "monitor", at, path),
            max_failure_ratio=expect_float(ratio, at, (*path, "max_failure_ratio"))
            if ratio is not None else None,
            order=_choice(order, UPDATE_ORDERS, at, (*path, "order"), "update order")
            if order is not None else None,
        )

    def to_compose(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.parallelism is not None:
            out["parallelism"] = self.parallelism
        if self.delay is not None:
            out["delay"] = self.delay.to_compose()
        if self.failure_action is not None:
            out["failure_action"] = self.failure_action
        if self.monitor is not None:
            out["monitor"] = self.monitor.to_compose()
        if self.max_failure_ratio is not None:
            out["max_failure_ratio"] = self.max_failure_ratio
        if self.order is not None:
            out["order"] = self.order
        return dict(sorted(out.items()))


_DEPLOY_TYPED = frozenset({"mode", "replicas", "labels", "resources", "restart_policy",
                           "update_config", "rollback_config", "placement", "endpoint_mode"})


@dataclass(frozen=True, slots=True)
class Deploy:
    mode: str = "replicated"  # replicated | global | replicated-job | global-job
    replicas: int | None = None
    labels: dict[str, str] = field(default_factory=dict)
    resources: Resources = field(default_factory=Resources)
    restart_policy: RestartPolicy | None = None
    update_config: UpdateConfig | None = None
    rollback_config: UpdateConfig | None = None
    placement_constraints: tuple[str, ...] = ()
    placement_preferences: tuple[str, ...] = ()  # spread expressions
    endpoint_mode: str | None = None
    placement_max_replicas_per_node: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # other keys (x-*, ...), as written

    @classmethod
    def parse(cls, raw: object, at: Locator, path: KeyPath) -> Deploy:
        body = expect_mapping(raw, at, path)
        placement = expect_mapping(body.get("placement") or {}, at, (*path, "placement"))
        pp = (*path, "placement")
        check_keys(placement, frozenset({"constraints", "preferences", "max_replicas_per_node"}),
                   at, pp)
        preferences = []
        for i, pref in enumerate(expect_list(placement.get("preferences") or [], at,
                                             (*pp, "preferences"))):
            item = expect_mapping(pref, at, (*pp, "preferences", i))
            check_keys(item, frozenset({"spread"}), at, (*pp, "preferences", i))
            preferences.append(expect_str(item.get("spread"), at, (*pp, "preferences", i)))
        replicas = body.get("replicas")
        max_per_node = placement.get("max_replicas_per_node")
        endpoint = body.get("endpoint_mode")
        return cls(
            mode=_choice(body.get("mode", "replicated"), DEPLOY_MODES, at, (*path, "mode"),
                         "deploy mode"),
            replicas=expect_int(replicas, at, (*path, "replicas"), minimum=0)
            if replicas is not None else None,
            labels=str_mapping(body.get("labels"), at, (*path, "labels")),
            resources=Resources.parse(body.get("resources"), at, (*path, "resources")),
            restart_policy=RestartPolicy.parse(body["restart_policy"], at,
                                               (*path, "restart_policy"))
            if body.get("restart_policy") is not None else None,
            update_config=UpdateConfig.parse(body["update_config"], at, (*path, "update_config"))
            if body.get("update_config") is not None else None,
            rollback_config=UpdateConfig.parse(body["rollback_config"], at,
                                               (*path, "rollback_config"))
            if body.get("rollback_config") is not None else None,
            placement_constraints=str_list(placement.get("constraints"), at,
                                           (*pp, "constraints"), single=False),
            placement_preferences=tuple(preferences),
            endpoint_mode=_choice(endpoint, frozenset({"vip", "dnsrr"}), at,
                                  (*path, "endpoint_mode"), "endpoint mode")
            if endpoint is not None else None,
            placement_max_replicas_per_node=expect_int(
                max_per_node, at, (*pp, "max_replicas_per_node"), minimum=0)
            if max_per_node is not None else None,
            extra={k: body[k] for k in sorted(body) if k not in _DEPLOY_TYPED},
        )

    def to_compose(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        if self.mode != "replicated":
            # The default is left out, as compose-go prints a deploy without a mode.
            out["mode"] = self.mode
        if self.replicas is not None:
            out["replicas"] = self.replicas
        if self.labels:
            out["labels"] = dict(self.labels)
        resources = self.resources.to_compose()
        if resources:
            out["resources"] = resources
        if self.restart_policy is not None:
            out["restart_policy"] = self.restart_policy.to_compose()
        if self.update_config is not None:
            out["update_config"] = self.update_config.to_compose()
        if self.rollback_config is not None:
            out["rollback_config"] = self.rollback_config.to_compose()
        placement: dict[str, Any] = {}
        if self.placement_constraints:
            placement["constraints"] = list(self.placement_constraints)
        if self.placement_max_replicas_per_node is not None:
            placement["max_replicas_per_node"] = self.placement_max_replicas_per_node
        if self.placement_preferences:
            placement["preferences"] = [{"spread": s} for s in self.placement_preferences]
        if placement:
            out["placement"] = placement
        if self.endpoint_mode is not None:
            out["endpoint_mode"] = self.endpoint_mode
        return dict(sorted(out.items()))
