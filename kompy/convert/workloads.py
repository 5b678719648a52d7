"""The workload of each pod: which controller, replicas, update strategy, restart policy.

Controller choice, first match wins: a cron schedule (CronJob); the service's own setting
(``x-kompy.controller``, label ``kompose.controller.type``); ``x-kompy.job`` (Job);
``deploy.mode`` (global: DaemonSet, *-job: Job); ``--controller`` (``auto``: StatefulSet for
services that own named volumes); Deployment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kompy.convert.context import ConvertContext
from kompy.convert.pod import BuiltPod, PodUnit, build_pod
from kompy.convert.services import governing_service, plan_service
from kompy.convert.shared import tool_annotations
from kompy.convert.specs import WorkloadSpec
from kompy.errors import KeyPath
from kompy.model import Service

if TYPE_CHECKING:
    from kompy.client.objects import Obj

TEMPLATES = {
    "Deployment": "deployment.yaml.j2",
    "StatefulSet": "statefulset.yaml.j2",
    "DaemonSet": "daemonset.yaml.j2",
    "Job": "job.yaml.j2",
    "CronJob": "cronjob.yaml.j2",
}
_KINDS = {"deployment": "Deployment", "statefulset": "StatefulSet", "daemonset": "DaemonSet",
          "job": "Job", "cronjob": "CronJob"}


def workload_kind(ctx: ConvertContext, service: Service) -> str:
    settings = ctx.settings(service)
    if settings.cronjob is not None:
        return "CronJob"
    if settings.controller == "replicationcontroller":
        path = settings.sources.get("controller", ("services", service.name))
        ctx.warn(path, f"{service.name} asks for a ReplicationController; kompy writes a "
                 "Deployment, its successor (same pods, with rolling updates)",
                 hint="say kompose.controller.type: deployment to silence this")
        ctx.approximated(path, "Deployment", "ReplicationControllers are superseded by "
                         "Deployments")
        return "Deployment"
    if settings.controller:
        return _KINDS[settings.controller]
    if settings.job:
        return "Job"
    mode = service.deploy.mode if service.deploy else "replicated"
    if mode == "global":
        return "DaemonSet"
    if mode in ("replicated-job", "global-job"):
        if mode == "global-job":
            ctx.approximated(("services", service.name, "deploy", "mode"), "Job",
                             "one Job, not one per node")
        return "Job"
    chosen = ctx.options.controller
    if chosen == "auto":
        owns = any(v.type == "volume" and v.source for v in service.volumes)
        return "StatefulSet" if owns else "Deployment"
    if chosen:
        return _KINDS.get(chosen.lower(), "Deployment")
    return "Deployment"


def replicas(ctx: ConvertContext, service: Service) -> int:
    base: KeyPath = ("services", service.name)
    settings = ctx.settings(service)
    if settings.replicas is not None:
        return settings.replicas
    if service.deploy and service.deploy.replicas is not None:
        ctx.mapped((*base, "deploy", "replicas"), "replicas")
        return service.deploy.replicas
    if service.scale is not None:
        ctx.mapped((*base, "scale"), "replicas")
        return service.scale
    return ctx.options.replicas if ctx.options.replicas is not None else 1


def _restart(ctx: ConvertContext, service: Service, kind: str) -> tuple[str, int | None]:
    """(restartPolicy, backoffLimit). Long-running controllers only allow Always."""
    base: KeyPath = ("services", service.name)
    restart = service.restart or ""
    policy = service.deploy.restart_policy if service.deploy else None
    condition = policy.condition if policy else None
    attempts = policy.max_attempts if policy else None
    if restart.startswith("on-failure"):
        condition = condition or "on-failure"
        count = restart.partition(":")[2]
        if count.isdigit() and attempts is None:
            attempts = int(count)
    elif restart == "no":
        condition = condition or "none"
    if kind in ("Job", "CronJob"):
        if restart:
            ctx.mapped((*base, "restart"), "restartPolicy")
        return ("OnFailure" if condition in ("on-failure", "any") else "Never"), attempts
    if condition in ("none", "on-failure"):
        key = (*base, "deploy", "restart_policy") if policy else (*base, "restart")
        ctx.warn(key, f"a {kind} always restarts its containers; restart {condition} is "
                 "not kept", hint="for a one-shot service set `x-kompy: {job: true}`")
        ctx.record(key, "approximated", "restartPolicy Always", "long-running controller")
    elif restart:
        ctx.mapped((*base, "restart"), "restartPolicy Always")
    if policy is not None:
        for field_name in ("delay", "window"):
            if getattr(policy, field_name) is not None:
                ctx.dropped((*base, "deploy", "restart_policy", field_name),
                            f"restart_policy.{field_name} has no Kubernetes equivalent")
    return "Always", None


def _strategy(ctx: ConvertContext, service: Service, kind: str, built: BuiltPod
              ) -> tuple[Obj | None, int | None]:
    """deploy.update_config -> RollingUpdate: parallelism is how many pods change at a time;
    stop-first (Compose's default) takes old pods down first (maxUnavailable), start-first
    starts new ones first (maxSurge)."""
    base: KeyPath = ("services", service.name, "deploy", "update_config")
    update = service.deploy.update_config if service.deploy else None
    if update is None:
        if kind == "Deployment" and any("persistentVolumeClaim" in v for v in built.pod.volumes):
            # Two pods cannot mount one ReadWriteOnce claim on different nodes while rolling.
            return {"type": "Recreate"}, None
        return None, None
    if kind not in ("Deployment", "DaemonSet"):
        ctx.dropped(base, f"update_config is not mapped for a {kind}")
        return None, None
    step = update.parallelism or 1
    if update.order == "start-first":
        rolling: Obj = {"maxSurge": step, "maxUnavailable": 0}
    else:
        rolling = {"maxSurge": 0, "maxUnavailable": step}
    if kind == "DaemonSet" and update.order != "start-first":
        del rolling["maxSurge"]
    ctx.mapped(base, "strategy.rollingUpdate")
    min_ready = None
    if update.delay is not None and update.delay.nanoseconds:
        min_ready = update.delay.whole_seconds()
        ctx.approximated((*base, "delay"), "minReadySeconds",
                         "a new pod must be ready this long before the rollout continues")
    for key in ("failure_action", "monitor", "max_failure_ratio"):
        if getattr(update, key) is not None:
            ctx.dropped((*base, key), f"update_config.{key} has no Kubernetes equivalent")
    return {"type": "RollingUpdate", "rollingUpdate": rolling}, min_ready


def build_workload(ctx: ConvertContext, unit: PodUnit) -> tuple[WorkloadSpec, BuiltPod]:
    primary = unit.primary
    kind = workload_kind(ctx, primary)
    built = build_pod(ctx, unit, statefulset=kind == "StatefulSet")
    restart, backoff = _restart(ctx, primary, kind)
    built.pod.restart_policy = restart
    labels = {**ctx.labels(primary), **ctx.selector(primary)}
    annotations: dict[str, str] = tool_annotations(ctx)
    for service in unit.services:
        _labels_and_annotations(ctx, service, labels, annotations)
    spec = WorkloadSpec(kind=kind, name=unit.name, labels=labels, selector=ctx.selector(primary),
                        pod=built.pod, annotations=annotations,
                        services=[s.name for s in unit.services])
    if kind in ("Deployment", "StatefulSet"):
        spec.replicas = replicas(ctx, primary)
    if kind in ("Deployment", "DaemonSet"):
        spec.strategy, spec.min_ready_seconds = _strategy(ctx, primary, kind, built)
    if primary.deploy is not None and primary.deploy.rollback_config is not None:
        ctx.dropped(("services", primary.name, "deploy", "rollback_config"),
                    "rollback_config has no Kubernetes equivalent",
                    hint="roll back with `kubectl rollout undo`")
    if kind == "StatefulSet":
        own = ctx.pod_name(primary) == ctx.name(primary)
        spec.service_name = (own and governing_service(ctx, primary)) or unit.name
        spec.volume_claim_templates = built.claim_templates
        if plan_service(ctx, primary) is None:
            ctx.warn(("services", primary.name), f"StatefulSet {unit.name} has no Service "
                     "(the service has no ports), so its pods get no stable DNS names",
                     hint='add `expose: ["<port>"]` to the service')
    if kind in ("Job", "CronJob"):
        spec.backoff_limit = backoff
    if kind == "Job":
        count = replicas(ctx, primary)
        if count > 1:
            spec.completions = spec.parallelism = count
    if kind == "CronJob":
        cron = ctx.settings(primary).cronjob
        assert cron is not None
        spec.schedule = cron.schedule
        spec.concurrency_policy = cron.concurrency_policy
        if cron.backoff_limit is not None:
            spec.backoff_limit = cron.backoff_limit
    return spec, built


def _labels_and_annotations(ctx: ConvertContext, service: Service, labels: dict[str, str],
                            annotations: dict[str, str]) -> None:
    """deploy.labels become workload labels (annotations when not valid label values);
    Compose service labels, which are container metadata, become workload annotations."""
    base: KeyPath = ("services", service.name)
    deploy_labels = service.deploy.labels if service.deploy else {}
    for key, value in deploy_labels.items():
        if _valid_label(key, value):
            labels.setdefault(key, value)
        else:
            annotations.setdefault(key, value)
    if deploy_labels:
        ctx.mapped((*base, "deploy", "labels"), "workload labels")
    for key, value in service.labels.items():
        if not key.startswith("kompose."):
            annotations.setdefault(key, value)
    if service.labels:
        ctx.mapped((*base, "labels"), "workload annotations (kompose.* labels are settings)")


def _valid_label(key: str, value: str) -> bool:
    import re

    name = key.rpartition("/")[2]
    ok_name = re.fullmatch(r"([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]", name) is not None
    ok_value = value == "" or re.fullmatch(
        r"([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]", value) is not None
    return ok_name and ok_value and not key.startswith("kompose.")


def render_workload(ctx: ConvertContext, spec: WorkloadSpec) -> list[Obj]:
    return ctx.render(TEMPLATES[spec.kind], workload=spec)
