"""The ``kompy describe`` layouts of pods and of the kinds that run them, each kubectl's
(kubectl/pkg/describe/describe.go as kubectl 1.33 lays them out: describePod,
describeDeployment, describeReplicaSet, describeStatefulSet, describeDaemonSet, describeJob,
describeCronJob)."""

from __future__ import annotations

from kompy.client import KubeClient
from kompy.client.errors import ApiError
from kompy.client.objects import Obj
from kompy.client.qos import qos_class
from kompy.kubectl.describe_common import (
    Writer,
    annotations_block,
    containers_block,
    controller_of,
    events_block,
    go,
    labels_block,
    pod_template_block,
    selector_text,
    tolerations_block,
    volumes_block,
    when,
)

Events = list[Obj] | None


def pod(client: KubeClient, obj: Obj, events: Events) -> str:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, \
        obj.get("status") or {}
    w = Writer()
    w(0, f"Name:\t{meta.get('name')}\n")
    w(0, f"Namespace:\t{meta.get('namespace')}\n")
    if spec.get("priority") is not None:
        w(0, f"Priority:\t{spec['priority']}\n")
    if spec.get("priorityClassName"):
        w(0, f"Priority Class Name:\t{spec['priorityClassName']}\n")
    if spec.get("serviceAccountName"):
        w(0, f"Service Account:\t{spec['serviceAccountName']}\n")
    node = spec.get("nodeName")
    w(0, f"Node:\t{node}/{status.get('hostIP') or ''}\n" if node else "Node:\t<none>\n")
    if status.get("startTime"):
        w(0, f"Start Time:\t{when(status['startTime'])}\n")
    labels_block(w, "Labels", meta.get("labels"))
    annotations_block(w, "Annotations", meta.get("annotations"))
    if meta.get("deletionTimestamp") and status.get("phase") not in ("Failed", "Succeeded"):
        from kompy.client import tables

        w(0, f"Status:\tTerminating (lasts {tables.age(meta['deletionTimestamp'])})\n")
        w(0, f"Termination Grace Period:\t{meta.get('deletionGracePeriodSeconds') or 0}s\n")
    else:
        w(0, f"Status:\t{status.get('phase') or ''}\n")
    for key, title in (("reason", "Reason"), ("message", "Message")):
        if status.get(key):
            w(0, f"{title}:\t{status[key]}\n")
    profile = (spec.get("securityContext") or {}).get("seccompProfile") or {}
    if profile:
        w(0, f"SeccompProfile:\t{profile.get('type')}\n")
        if profile.get("type") == "Localhost":
            w(0, f"LocalhostProfile:\t{profile.get('localhostProfile')}\n")
    w(0, f"IP:\t{status.get('podIP') or ''}\n")
    ips = status.get("podIPs") or []
    if ips:
        w(0, "IPs:\n")
        for ip in ips:
            w(1, f"IP:\t{ip.get('ip')}\n")
    else:
        w(0, "IPs:\t<none>\n")
    if controller_of(obj):
        w(0, f"Controlled By:\t{controller_of(obj)}\n")
    if spec.get("initContainers"):
        containers_block(w, "Init Containers", spec["initContainers"],
                         status.get("initContainerStatuses") or [], pod=obj)
    containers_block(w, "Containers", spec.get("containers") or [],
                     status.get("containerStatuses") or [], pod=obj)
    if status.get("conditions"):
        w(0, "Conditions:\n  Type\tStatus\n")
        for c in status["conditions"]:
            w(1, f"{c.get('type')} \t{c.get('status')} \n")
    volumes_block(w, spec.get("volumes") or [])
    w(0, f"QoS Class:\t{status.get('qosClass') or qos_class(spec)}\n")
    labels_block(w, "Node-Selectors", spec.get("nodeSelector"))
    tolerations_block(w, spec.get("tolerations") or [])
    events_block(w, events)
    return w.text()


def _meta_head(w: Writer, obj: Obj, *, created: bool = False) -> None:
    meta = obj.get("metadata") or {}
    w(0, f"Name:\t{meta.get('name')}\n")
    w(0, f"Namespace:\t{meta.get('namespace')}\n")
    if created:
        w(0, f"CreationTimestamp:\t{when(meta.get('creationTimestamp'))}\n")


def deployment(client: KubeClient, obj: Obj, events: Events) -> str:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, \
        obj.get("status") or {}
    w = Writer()
    _meta_head(w, obj, created=True)
    labels_block(w, "Labels", meta.get("labels"))
    annotations_block(w, "Annotations", meta.get("annotations"))
    w(0, f"Selector:\t{selector_text(spec.get('selector'))}\n")
    w(0, f"Replicas:\t{spec.get('replicas', 1)} desired | {status.get('updatedReplicas', 0)} "
         f"updated | {status.get('replicas', 0)} total | {status.get('availableReplicas', 0)} "
         f"available | {status.get('unavailableReplicas', 0)} unavailable\n")
    strategy = spec.get("strategy") or {}
    w(0, f"StrategyType:\t{strategy.get('type') or 'RollingUpdate'}\n")
    w(0, f"MinReadySeconds:\t{spec.get('minReadySeconds') or 0}\n")
    rolling = strategy.get("rollingUpdate")
    if rolling is not None:
        w(0, f"RollingUpdateStrategy:\t{rolling.get('maxUnavailable', '25%')} max unavailable, "
             f"{rolling.get('maxSurge', '25%')} max surge\n")
    pod_template_block(w, spec.get("template"))
    _conditions(w, status.get("conditions"))
    olds, new = _replica_sets(client, obj)
    if olds or new:
        w(0, f"OldReplicaSets:\t{_sets_text(olds)}\n")
        w(0, f"NewReplicaSet:\t{_sets_text(new)}\n")
    events_block(w, events)
    return w.text()


def _conditions(w: Writer, conditions: list[Obj] | None) -> None:
    if conditions:
        w(0, "Conditions:\n  Type\tStatus\tReason\n")
        w(1, "----\t------\t------\n")
        for c in conditions:
            w(1, f"{c.get('type')} \t{c.get('status')}\t{c.get('reason') or ''}\n")


def _replica_sets(client: KubeClient, dep: Obj) -> tuple[list[Obj], list[Obj]]:
    """(old, [new]) ReplicaSets of a Deployment: the new one carries its revision."""
    meta = dep.get("metadata") or {}
    try:
        items = client.list("replicasets", meta.get("namespace"))["items"]
    except ApiError:
        return [], []
    mine = [rs for rs in items if any(ref.get("uid") == meta.get("uid") for ref in
                                      (rs.get("metadata") or {}).get("ownerReferences") or ())]
    revision = (meta.get("annotations") or {}).get("deployment.kubernetes.io/revision")
    new = [rs for rs in mine if ((rs.get("metadata") or {}).get("annotations") or {}).get(
        "deployment.kubernetes.io/revision") == revision]
    olds = [rs for rs in mine if rs not in new and int(
        (rs.get("spec") or {}).get("replicas") or 0) + int(
        (rs.get("status") or {}).get("replicas") or 0) > 0]
    return olds, new[:1]


def _sets_text(sets: list[Obj]) -> str:
    return ", ".join(f"{rs['metadata']['name']} ({(rs.get('status') or {}).get('replicas', 0)}/"
                     f"{(rs.get('spec') or {}).get('replicas', 0)} replicas created)"
                     for rs in sets) or "<none>"


def _pod_counts(client: KubeClient, obj: Obj) -> str:
    """``1 Running / 0 Waiting / 0 Succeeded / 0 Failed`` of the pods it controls."""
    meta = obj.get("metadata") or {}
    try:
        pods = client.list("pods", meta.get("namespace"))["items"]
    except ApiError as error:
        return f"error in fetching pods: {error.message}"
    counts = {"Running": 0, "Pending": 0, "Succeeded": 0, "Failed": 0}
    for p in pods:
        refs = (p.get("metadata") or {}).get("ownerReferences") or ()
        if any(r.get("controller") and r.get("uid") == meta.get("uid") for r in refs):
            phase = str((p.get("status") or {}).get("phase") or "Pending")
            counts[phase] = counts.get(phase, 0) + 1
    return (f"{counts['Running']} Running / {counts['Pending']} Waiting / "
            f"{counts['Succeeded']} Succeeded / {counts['Failed']} Failed")


def replicaset(client: KubeClient, obj: Obj, events: Events) -> str:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, \
        obj.get("status") or {}
    w = Writer()
    _meta_head(w, obj)
    w(0, f"Selector:\t{selector_text(spec.get('selector'), '<none>')}\n")
    labels_block(w, "Labels", meta.get("labels"))
    annotations_block(w, "Annotations", meta.get("annotations"))
    if controller_of(obj):
        w(0, f"Controlled By:\t{controller_of(obj)}\n")
    w(0, f"Replicas:\t{status.get('replicas', 0)} current / {spec.get('replicas', 1)} desired\n")
    w(0, f"Pods Status:\t{_pod_counts(client, obj)}\n")
    pod_template_block(w, spec.get("template"))
    _conditions(w, status.get("conditions"))
    events_block(w, events)
    return w.text()


def statefulset(client: KubeClient, obj: Obj, events: Events) -> str:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, \
        obj.get("status") or {}
    w = Writer()
    _meta_head(w, obj, created=True)
    w(0, f"Selector:\t{selector_text(spec.get('selector'))}\n")
    labels_block(w, "Labels", meta.get("labels"))
    annotations_block(w, "Annotations", meta.get("annotations"))
    w(0, f"Replicas:\t{spec.get('replicas', 1)} desired | {status.get('replicas', 0)} total\n")
    strategy = spec.get("updateStrategy") or {}
    w(0, f"Update Strategy:\t{strategy.get('type') or 'RollingUpdate'}\n")
    rolling = strategy.get("rollingUpdate") or {}
    if rolling.get("partition") is not None:
        w(1, f"Partition:\t{rolling['partition']}\n")
    w(0, f"Pods Status:\t{_pod_counts(client, obj)}\n")
    pod_template_block(w, spec.get("template"))
    claims = spec.get("volumeClaimTemplates") or []
    if not claims:
        w(0, "Volume Claims:\t<none>\n")
    else:
        w(0, "Volume Claims:\n")
        for claim in claims:
            cmeta, cspec = claim.get("metadata") or {}, claim.get("spec") or {}
            w(1, f"Name:\t{cmeta.get('name')}\n")
            w(1, f"StorageClass:\t{cspec.get('storageClassName') or ''}\n")
            labels_block(w, "Labels", cmeta.get("labels"), indent="  ")
            labels_block(w, "Annotations", cmeta.get("annotations"), indent="  ")
            storage = ((cspec.get("resources") or {}).get("requests") or {}).get("storage")
            w(1, f"Capacity:\t{storage or '<default>'}\n")
            w(1, f"Access Modes:\t[{' '.join(cspec.get('accessModes') or [])}]\n")
    events_block(w, events)
    return w.text()


def daemonset(client: KubeClient, obj: Obj, events: Events) -> str:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, \
        obj.get("status") or {}
    w = Writer()
    _meta_head(w, obj)
    w(0, f"Selector:\t{selector_text(spec.get('selector'))}\n")
    node_selector = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
    w(0, f"Node-Selector:\t{','.join(f'{k}={v}' for k, v in sorted(node_selector.items())) or '<none>'}\n")  # noqa: E501
    labels_block(w, "Labels", meta.get("labels"))
    annotations_block(w, "Annotations", meta.get("annotations"))
    for key, title in (("desiredNumberScheduled", "Desired Number of Nodes Scheduled"),
                       ("currentNumberScheduled", "Current Number of Nodes Scheduled"),
                       ("updatedNumberScheduled",
                        "Number of Nodes Scheduled with Up-to-date Pods"),
                       ("numberAvailable", "Number of Nodes Scheduled with Available Pods"),
                       ("numberMisscheduled", "Number of Nodes Misscheduled")):
        w(0, f"{title}: {status.get(key, 0)}\n")
    w(0, f"Pods Status:\t{_pod_counts(client, obj)}\n")
    pod_template_block(w, spec.get("template"))
    events_block(w, events)
    return w.text()


def job(client: KubeClient, obj: Obj, events: Events) -> str:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, \
        obj.get("status") or {}
    w = Writer()
    _meta_head(w, obj)
    w(0, f"Selector:\t{selector_text(spec.get('selector'))}\n")
    labels_block(w, "Labels", meta.get("labels"))
    annotations_block(w, "Annotations", meta.get("annotations"))
    if controller_of(obj):
        w(0, f"Controlled By:\t{controller_of(obj)}\n")
    if spec.get("parallelism") is not None:
        w(0, f"Parallelism:\t{spec['parallelism']}\n")
    w(0, f"Completions:\t{spec.get('completions', '<unset>')}\n")
    if spec.get("completionMode"):
        w(0, f"Completion Mode:\t{spec['completionMode']}\n")
    if spec.get("suspend") is not None:
        w(0, f"Suspend:\t{go(spec['suspend'])}\n")
    if spec.get("backoffLimit") is not None:
        w(0, f"Backoff Limit:\t{spec['backoffLimit']}\n")
    if spec.get("ttlSecondsAfterFinished") is not None:
        w(0, f"TTL Seconds After Finished:\t{spec['ttlSecondsAfterFinished']}\n")
    if status.get("startTime"):
        w(0, f"Start Time:\t{when(status['startTime'])}\n")
    if status.get("completionTime"):
        w(0, f"Completed At:\t{when(status['completionTime'])}\n")
    if status.get("startTime") and status.get("completionTime"):
        w(0, f"Duration:\t{_span(status['startTime'], status['completionTime'])}\n")
    if spec.get("activeDeadlineSeconds") is not None:
        w(0, f"Active Deadline Seconds:\t{spec['activeDeadlineSeconds']}s\n")
    counts = f"{status.get('active', 0)} Active"
    if status.get("ready") is not None:
        counts += f" ({status['ready']} Ready)"
    w(0, f"Pods Statuses:\t{counts} / {status.get('succeeded', 0)} Succeeded / "
         f"{status.get('failed', 0)} Failed\n")
    pod_template_block(w, spec.get("template"))
    events_block(w, events)
    return w.text()


def _span(start: str, end: str) -> str:
    from kompy.client import tables
    from kompy.client.objects import parse_time

    a, b = parse_time(start), parse_time(end)
    if a is None or b is None:
        return "<unknown>"
    import datetime as dt

    return tables.age(start, dt.datetime.fromtimestamp(b, dt.UTC))


def cronjob(client: KubeClient, obj: Obj, events: Events) -> str:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, \
        obj.get("status") or {}
    w = Writer()
    _meta_head(w, obj)
    labels_block(w, "Labels", meta.get("labels"))
    annotations_block(w, "Annotations", meta.get("annotations"))
    w(0, f"Schedule:\t{spec.get('schedule') or ''}\n")
    w(0, f"Concurrency Policy:\t{spec.get('concurrencyPolicy') or ''}\n")
    suspend = spec.get("suspend")
    w(0, f"Suspend:\t{'<unset>' if suspend is None else 'True' if suspend else 'False'}\n")
    for key, title in (("successfulJobsHistoryLimit", "Successful Job History Limit"),
                       ("failedJobsHistoryLimit", "Failed Job History Limit")):
        w(0, f"{title}:\t{spec[key] if spec.get(key) is not None else '<unset>'}\n")
    deadline = spec.get("startingDeadlineSeconds")
    w(0, f"Starting Deadline Seconds:\t{'<unset>' if deadline is None else f'{deadline}s'}\n")
    job_spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    selector = job_spec.get("selector")
    w(0, f"Selector:\t{'<unset>' if selector is None else selector_text(selector)}\n")
    for key, title in (("parallelism", "Parallelism"), ("completions", "Completions")):
        w(0, f"{title}:\t{job_spec[key] if job_spec.get(key) is not None else '<unset>'}\n")
    if job_spec.get("activeDeadlineSeconds") is not None:
        w(0, f"Active Deadline Seconds:\t{job_spec['activeDeadlineSeconds']}s\n")
    pod_template_block(w, job_spec.get("template"))
    last = status.get("lastScheduleTime")
    w(0, f"Last Schedule Time:\t{when(last) if last else '<unset>'}\n")
    active = ", ".join(str(ref.get("name")) for ref in status.get("active") or [])
    w(0, f"Active Jobs:\t{active or '<none>'}\n")
    events_block(w, events)
    return w.text()
