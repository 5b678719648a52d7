"""One Compose service -> one Kubernetes container: image, command, env, ports, probes, resources.

Mappings follow the Compose Specification (https://github.com/compose-spec/compose-spec/
blob/main/05-services.md) and the Kubernetes Container API; where the two differ, a warning
says so and the report records "approximated".
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from kompy.convert.context import ConvertContext, k8s_name
from kompy.convert.gpus import gpu_limits
from kompy.convert.hooks import lifecycle
from kompy.convert.images import image_of, local_image, pull_policy, report_build
from kompy.convert.settings import ProbeSettings
from kompy.convert.specs import ContainerSpec
from kompy.errors import KeyPath
from kompy.model import ByteSize, Duration, Healthcheck, Service
from kompy.model.ports import expose_ports as model_expose_ports

if TYPE_CHECKING:
    from kompy.client.objects import Obj

# Kubernetes port names: IANA_SVC_NAME, at most 15 characters.
_PORT_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?")


def command_and_args(ctx: ConvertContext, service: Service,
                     base: KeyPath) -> tuple[list[str] | None, list[str] | None]:
    """Docker semantics: `entrypoint` replaces the image ENTRYPOINT (Kubernetes `command`) and
    also drops the image CMD; `command` replaces the image CMD (Kubernetes `args`). In
    Kubernetes, a `command` without `args` likewise ignores the image CMD, so no args are
    emitted then (https://kubernetes.io/docs/tasks/inject-data-application/
    define-command-argument-container/#notes)."""
    entrypoint, command = service.entrypoint, service.command
    if entrypoint == ():
        # An explicitly empty entrypoint: Docker runs the command itself as the executable.
        if command:
            ctx.mapped((*base, "entrypoint"), "container command")
            ctx.mapped((*base, "command"), "container command")
            return list(command), None
        ctx.dropped((*base, "entrypoint"),
                    "an empty entrypoint cannot clear the image's ENTRYPOINT in Kubernetes",
                    hint="set entrypoint to the program to run")
        return None, None
    if command == ():
        ctx.approximated((*base, "command"), None,
                         "an empty command keeps the image CMD in Kubernetes")
        command = None
    if entrypoint is not None:
        ctx.mapped((*base, "entrypoint"), "container command")
    if command is not None:
        ctx.mapped((*base, "command"), "container args")
    return (list(entrypoint) if entrypoint else None, list(command) if command else None)


def environment(ctx: ConvertContext, service: Service, base: KeyPath) -> list[Obj]:
    """`environment` as env entries, in the model's (stable) order; values are strings."""
    env: list[Obj] = []
    for key, value in service.environment.items():
        if value is None:
            # "KEY" with no value and none in the shell: Compose leaves it unset too.
            ctx.dropped((*base, "environment", key),
                        f"environment variable {key} has no value and is left unset",
                        hint=f"give it a value: {key}=... (or set it in the shell or .env)")
            continue
        env.append({"name": key, "value": str(value)})
    if env:
        ctx.mapped((*base, "environment"), "container env")
    return env


def container_ports(ctx: ConvertContext, service: Service, base: KeyPath) -> list[Obj]:
    """containerPort entries from `ports` and `expose`, one per (port, protocol)."""
    host_ports = ctx.settings(service).host_ports
    seen: dict[tuple[int, str], Obj] = {}
    for index, port in enumerate(service.ports):
        protocol = port.protocol.upper()
        entry: Obj = {"containerPort": port.target, "protocol": protocol}
        if port.name and _PORT_NAME.fullmatch(port.name):
            entry["name"] = port.name
        if host_ports and port.published and port.published.isdigit():
            entry["hostPort"] = int(port.published)
        seen.setdefault((port.target, protocol), entry)
        ctx.mapped((*base, "ports", index), "container ports")
    for index, (number, protocol) in enumerate(expose_ports(ctx, service)):
        seen.setdefault((number, protocol), {"containerPort": number, "protocol": protocol})
        ctx.mapped((*base, "expose", index), "container ports")
    return list(seen.values())


def expose_ports(ctx: ConvertContext, service: Service) -> list[tuple[int, str]]:
    """`expose` entries ("80", "8000-8002", "53/udp") as (port, PROTOCOL) pairs (the loader
    has checked them; one that does not read is reported, never guessed at)."""
    out: list[tuple[int, str]] = []
    for index, text in enumerate(service.expose):
        pairs = model_expose_ports(str(text))
        if not pairs:
            ctx.dropped(("services", service.name, "expose", index),
                        f"cannot read expose entry {text!r}", hint='use "80" or "8000-8010/tcp"')
        out.extend(pairs)
    return out


def resources(ctx: ConvertContext, service: Service, base: KeyPath) -> Obj | None:
    """deploy.resources (and the service-level mem_limit, cpus, mem_reservation) as limits and
    requests; deploy.resources wins when both are given, as in Docker Compose."""
    # 0 means "no limit" in Docker, so zero values are left out.
    limits: dict[str, str] = {}
    requests: dict[str, str] = {}
    res = service.deploy.resources if service.deploy else None
    if res is not None:
        _put_cpu(limits, res.limits.cpus)
        _put_memory(limits, res.limits.memory)
        _put_cpu(requests, res.reservations.cpus)
        _put_memory(requests, res.reservations.memory)
        if res.limits.pids is not None:
            ctx.dropped((*base, "deploy", "resources", "limits", "pids"),
                        "a pids limit is a node setting in Kubernetes (kubelet podPidsLimit)")
    if service.cpus is not None:
        _put_cpu(limits, service.cpus)
        ctx.mapped((*base, "cpus"), "resources.limits.cpu")
    if service.mem_limit is not None:
        _put_memory(limits, service.mem_limit)
        ctx.mapped((*base, "mem_limit"), "resources.limits.memory")
    if service.mem_reservation is not None:
        _put_memory(requests, service.mem_reservation)
        ctx.mapped((*base, "mem_reservation"), "resources.requests.memory")
    limits.update(gpu_limits(ctx, service, base))
    settings = ctx.settings(service)
    if settings.ephemeral_storage_limit:
        limits["ephemeral-storage"] = settings.ephemeral_storage_limit
    if settings.ephemeral_storage_request:
        requests["ephemeral-storage"] = settings.ephemeral_storage_request
    for key in ("pids_limit", "cpu_shares", "memswap_limit"):
        if getattr(service, key) is not None:
            ctx.dropped((*base, key), f"{key} has no Kubernetes container equivalent")
    if res is not None:
        ctx.mapped((*base, "deploy", "resources"), "container resources")
    out: Obj = {}
    if limits:
        out["limits"] = limits
    if requests:
        out["requests"] = requests
    return out or None


def _put_cpu(target: dict[str, str], cpus: float | None) -> None:
    """Set target["cpu"] unless already set (deploy.resources wins) or zero."""
    if cpus and "cpu" not in target:
        target["cpu"] = cpu_quantity(cpus)


def _put_memory(target: dict[str, str], size: ByteSize | None) -> None:
    if size is not None and size.bytes > 0 and "memory" not in target:
        target["memory"] = size.to_kubernetes()


def cpu_quantity(cpus: float) -> str:
    """0.5 -> "500m", 2 -> "2"."""
    millis = round(cpus * 1000)
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def probes(ctx: ConvertContext, service: Service,
           base: KeyPath) -> tuple[Obj | None, Obj | None, Obj | None]:
    """(liveness, readiness, startup) probes.

    A Compose healthcheck makes the container "unhealthy" (Docker does not restart it) and
    gates `depends_on: service_healthy`; Kubernetes splits this into liveness (restart) and
    readiness (traffic). Both get the check; `start_period` becomes a startupProbe so a slow
    start is not killed. kompose.service.healthcheck.* labels override each kind.
    """
    settings = ctx.settings(service)
    liveness = readiness = startup = None
    check = service.healthcheck
    # The healthcheck's timing applies to every probe, whatever gives its action (the test,
    # or a kompose.service.healthcheck.* label); a label's own timing wins per field.
    timing: Obj = {}
    if check is not None and not check.disable and check.test != ("NONE",):
        timing = {**_DOCKER_DEFAULTS, **_timing(check)}
        if check.test is None:
            if settings.liveness is None and settings.readiness is None:
                ctx.dropped((*base, "healthcheck"),
                            "healthcheck without a test relies on the image's HEALTHCHECK, "
                            "which Kubernetes ignores; no probe is generated",
                            hint="add `test:` to the healthcheck")
        else:
            action = {"exec": {"command": _exec_command(check.test)}}
            liveness = {**action, **timing}
            readiness = {**action, **dict(timing)}
    elif check is not None:
        check = None
        ctx.mapped((*base, "healthcheck"), "no probe (healthcheck disabled)")
    else:
        check = None
    if settings.liveness is not None:
        liveness = _probe_from_settings(settings.liveness, liveness, timing)
    if settings.readiness is not None:
        readiness = _probe_from_settings(settings.readiness, readiness, timing)
    first = liveness or readiness
    if (check is not None and first is not None and check.start_period is not None
            and check.start_period.nanoseconds > 0):
        startup = _startup(_action(first), check)
    if check is not None and (liveness or readiness):
        ctx.mapped((*base, "healthcheck"), ", ".join(
            kind for kind, probe in (("livenessProbe", liveness), ("readinessProbe", readiness),
                                     ("startupProbe", startup)) if probe))
    return liveness, readiness, startup


def _action(probe: Obj) -> Obj:
    return {k: v for k, v in probe.items() if k in ("exec", "httpGet", "tcpSocket")}


def _exec_command(test: tuple[str, ...]) -> list[str]:
    # compose-spec healthcheck.test: ["CMD", args...] runs directly, ["CMD-SHELL", "cmd"] (and
    # the plain string form) runs through the container's shell.
    if test[0] == "CMD":
        return list(test[1:])
    if test[0] == "CMD-SHELL":
        return ["sh", "-c", " ".join(test[1:])]
    return ["sh", "-c", " ".join(test)]


def _seconds(duration: Duration | None) -> int | None:
    # 0 means "Docker's default" in a healthcheck, not "never".
    if duration is None or duration.nanoseconds == 0:
        return None
    return duration.whole_seconds(minimum=1)


# Docker's healthcheck defaults (interval 30s, timeout 30s, retries 3), applied where the
# Compose file leaves them out: Kubernetes' own (10s, 1s, 3) would fail a check that takes
# two seconds, which Docker accepts (https://docs.docker.com/reference/dockerfile/#healthcheck).
_DOCKER_DEFAULTS: Obj = {"periodSeconds": 30, "timeoutSeconds": 30, "failureThreshold": 3}


def _timing(check: Healthcheck | ProbeSettings) -> Obj:
    out: Obj = {}
    period = _seconds(check.interval)
    timeout = _seconds(check.timeout)
    if period is not None:
        out["periodSeconds"] = period
    if timeout is not None:
        out["timeoutSeconds"] = timeout
    if check.retries is not None and check.retries > 0:
        out["failureThreshold"] = check.retries
    return out


def _startup(action: Obj, check: Healthcheck) -> Obj:
    """Probe as often as start_interval (default 5s, as Docker) for start_period, plus the
    usual `retries` allowance: Docker ignores failures during the start period and only
    then starts counting, so a container is given up on no sooner than that."""
    assert check.start_period is not None
    period = _seconds(check.start_interval) or 5
    budget = check.start_period.whole_seconds(minimum=1)
    timeout = _seconds(check.timeout) or 30
    return {**action, "periodSeconds": period, "timeoutSeconds": timeout,
            "failureThreshold": -(-budget // period) + (check.retries or 3)}


def _probe_from_settings(settings: ProbeSettings, fallback: Obj | None, timing: Obj
                         ) -> Obj | None:
    if settings.disable:
        return None
    action: Obj
    if settings.http_get_path or settings.http_get_port:
        http: Obj = {"path": settings.http_get_path or "/"}
        http["port"] = settings.http_get_port or 80
        action = {"httpGet": http}
    elif settings.tcp_port:
        action = {"tcpSocket": {"port": settings.tcp_port}}
    elif settings.test:
        action = {"exec": {"command": _exec_command(settings.test)}}
    elif fallback is not None:
        action = _action(fallback)
    else:
        return None
    probe: Obj = {**action, **timing, **_timing(settings)}
    if settings.start_period is not None:
        probe["initialDelaySeconds"] = settings.start_period.whole_seconds()
    return probe


def user_ids(ctx: ConvertContext, service: Service, base: KeyPath) -> tuple[int | None, int | None]:
    """`user: "1000"` / `"1000:1000"` -> (runAsUser, runAsGroup); names cannot be mapped."""
    if not service.user:
        return None, None
    user, _, group = service.user.partition(":")
    if not user.isdigit() or (group and not group.isdigit()):
        ctx.dropped((*base, "user"),
                    f"user {service.user!r} is not numeric; Kubernetes needs a UID "
                    "(runAsUser), so the image's default user is used",
                    hint='use numeric ids, for example user: "1000:1000"')
        return None, None
    ctx.mapped((*base, "user"), "securityContext.runAsUser"
               + (", runAsGroup" if group else ""))
    return int(user), int(group) if group else None


def build_container(ctx: ConvertContext, service: Service) -> ContainerSpec:
    """The container of ``service`` (volume mounts and env_from are added by the pod builder)."""
    base: KeyPath = ("services", service.name)
    command, args = command_and_args(ctx, service, base)
    liveness, readiness, startup = probes(ctx, service, base)
    spec = ContainerSpec(
        name=k8s_name(service.container_name or service.name),
        image=image_of(ctx, service),
        image_pull_policy=pull_policy(ctx, service, base),
        command=command,
        args=args,
        working_dir=service.working_dir,
        env=environment(ctx, service, base),
        ports=container_ports(ctx, service, base),
        resources=resources(ctx, service, base),
        liveness_probe=liveness,
        readiness_probe=readiness,
        startup_probe=startup,
        lifecycle=lifecycle(ctx, service, base),
        stdin=service.stdin_open,
        tty=service.tty,
        service=service.name,
    )
    for key in ("working_dir", "image", "container_name", "stdin_open", "tty"):
        if getattr(service, key):
            ctx.mapped((*base, key), f"container {key}")
    report_build(ctx, service, local_image(ctx, service))
    return spec

