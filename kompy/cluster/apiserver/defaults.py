"""Defaulting, as the Kubernetes API server fills in fields a manifest leaves out.

The values are Kubernetes' own defaults (the ``SetDefaults_*`` functions of k8s.io/api,
documented field by field in https://kubernetes.io/docs/reference/kubernetes-api/), so
objects read back from kompy look like objects read back from a real cluster and
controllers can rely on the fields being present.
"""

from __future__ import annotations

import base64

from kompy.client.objects import Obj
from kompy.client.qos import qos_class
from kompy.cluster.apiserver.limitranger import limit_range_spec
from kompy.cluster.scheduler.taints import default_tolerations


def initial_status(kind: str, obj: Obj) -> None:
    """A created object's status, in place, as kube-apiserver's PrepareForCreate sets it:
    what the client sent is dropped (status is written by controllers and kubelets through
    the status subresource), a Pod starts Pending with its QoS class, a Namespace Active.
    A Node keeps what it was sent: the kubelet registers its node with its status."""
    if kind == "Node":
        return
    obj.pop("status", None)
    if kind == "Pod":
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj.get("spec") or {})}
    elif kind == "Namespace":
        obj["status"] = {"phase": "Active"}


def apply_defaults(kind: str, obj: Obj) -> None:
    """Fill in defaults for ``kind`` in place."""
    spec = obj.get("spec")
    if kind == "Secret":
        secret(obj)
        return
    if kind == "Pod":
        if obj.get("spec") is None:
            obj["spec"] = {}
        pod_spec(obj["spec"])
        _requests_from_limits(obj["spec"])
        # The DefaultTolerationSeconds admission plugin: 300 s on a not-ready or unreachable
        # node before the pod is evicted (docs/cluster.md, "Several nodes").
        given = obj["spec"].get("tolerations") or []
        if isinstance(given, list) and all(isinstance(t, dict) for t in given):
            obj["spec"]["tolerations"] = default_tolerations(given)
        obj.setdefault("status", {}).setdefault("phase", "Pending")
        return
    if kind == "StorageClass":
        obj.setdefault("reclaimPolicy", "Delete")
        obj.setdefault("volumeBindingMode", "Immediate")
        return
    if kind == "Namespace":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
        return
    if not isinstance(spec, dict):
        return
    if kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job"):
        template = spec.setdefault("template", {})
        pod_spec(template.setdefault("spec", {}), job=kind == "Job")
    handler = _BY_KIND.get(kind)
    if handler:
        handler(spec)


def secret(obj: Obj) -> None:
    """``stringData`` is write-only: merged into ``data`` (base64, replacing a key of the
    same name) and dropped, so the plain text is never stored; ``type`` defaults to Opaque.
    https://kubernetes.io/docs/reference/kubernetes-api/config-and-storage-resources/secret-v1/
    """
    plain = obj.pop("stringData", None)
    if isinstance(plain, dict) and plain:
        data = obj.get("data")
        if not isinstance(data, dict):
            data = obj["data"] = {}
        for key, value in plain.items():
            data[key] = base64.b64encode(str(value or "").encode()).decode()
    if not obj.get("type"):
        obj["type"] = "Opaque"


def pod_spec(spec: Obj, job: bool = False) -> None:
    spec.setdefault("restartPolicy", "OnFailure" if job else "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("enableServiceLinks", True)
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        if isinstance(container, dict):
            _container(container)


def _container(c: Obj) -> None:
    image = str(c.get("image") or "")
    tail = image.rsplit("/", 1)[-1]
    latest = "@" not in image and (":" not in tail or tail.endswith(":latest"))
    # https://kubernetes.io/docs/concepts/containers/images/#imagepullpolicy-defaulting
    c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for port in c.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")


def _requests_from_limits(spec: Obj) -> None:
    """A pod's container that states a limit and no request requests its limit
    (SetDefaults_Pod; pod templates are left as written)."""
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        if not isinstance(container, dict) or not isinstance(container.get("resources"), dict):
            continue
        limits = container["resources"].get("limits")
        if not isinstance(limits, dict) or not limits:
            continue
        requests = container["resources"].setdefault("requests", {})
        if isinstance(requests, dict):
            for name, value in limits.items():
                requests.setdefault(name, value)


def _deployment(spec: Obj) -> None:
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")


def _replicaset(spec: Obj) -> None:
    spec.setdefault("replicas", 1)


def _statefulset(spec: Obj) -> None:
    """SetDefaults_StatefulSet (pkg/apis/apps/v1/defaults.go). A rollingUpdate is made
    (and its partition defaulted) only when the type was empty or a rollingUpdate was
    given: ``type: RollingUpdate`` alone keeps no rollingUpdate, and kubectl's status then
    waits on currentRevision. maxUnavailable is behind the MaxUnavailableStatefulSet gate
    (off in 1.27-1.33); the claim retention policy is defaulted (StatefulSetAutoDeletePVC,
    on since 1.27). minReadySeconds has no default (0 is omitted)."""
    if not spec.get("podManagementPolicy"):
        spec["podManagementPolicy"] = "OrderedReady"
    strategy = _mapping(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        if strategy.get("rollingUpdate") is None:
            strategy["rollingUpdate"] = {}
    rolling = strategy.get("rollingUpdate")
    if (strategy["type"] == "RollingUpdate" and isinstance(rolling, dict)
            and rolling.get("partition") is None):
        rolling["partition"] = 0
    retention = _mapping(spec, "persistentVolumeClaimRetentionPolicy")
    for when in ("whenDeleted", "whenScaled"):
        if not retention.get(when):
            retention[when] = "Retain"
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10


def _daemonset(spec: Obj) -> None:
    """SetDefaults_DaemonSet: RollingUpdate, each missing rollingUpdate field filled in
    (maxUnavailable 1, maxSurge 0), and a history of 10."""
    strategy = _mapping(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        rolling = _mapping(strategy, "rollingUpdate")
        if rolling.get("maxUnavailable") is None:
            rolling["maxUnavailable"] = 1
        if rolling.get("maxSurge") is None:
            rolling["maxSurge"] = 0
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10


def _mapping(parent: Obj, key: str) -> Obj:
    """``parent[key]`` as a mapping, made when missing or null (a Go struct or a nil
    pointer the defaulting fills); a wrong type is left for validation to report."""
    value = parent.get(key)
    if value is None:
        value = parent[key] = {}
    return value if isinstance(value, dict) else {}


def _job(spec: Obj) -> None:
    spec.setdefault("parallelism", 1)
    spec.setdefault("completions", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)


def _cronjob(spec: Obj) -> None:
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    job = spec.setdefault("jobTemplate", {}).setdefault("spec", {})
    _job(job)
    pod_spec(job.setdefault("template", {}).setdefault("spec", {}), job=True)


def _service(spec: Obj) -> None:
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")


def _pvc(spec: Obj) -> None:
    spec.setdefault("volumeMode", "Filesystem")


def _pv(spec: Obj) -> None:
    spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
    spec.setdefault("volumeMode", "Filesystem")


def _scaling_rules(given: Obj, window: int, policies: list[Obj]) -> None:
    given.setdefault("stabilizationWindowSeconds", window)
    given.setdefault("selectPolicy", "Max")
    if not given.get("policies"):
        given["policies"] = [dict(p) for p in policies]


def _hpa(spec: Obj) -> None:
    """autoscaling/v2 defaults (SetDefaults_HorizontalPodAutoscaler): one pod at least, 80%
    of the CPU request without metrics, and a behavior's missing rules filled in."""
    spec.setdefault("minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": 80}}}]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        _scaling_rules(behavior.setdefault("scaleUp", {}), 0, [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15}])
        _scaling_rules(behavior.setdefault("scaleDown", {}), 300, [
            {"type": "Percent", "value": 100, "periodSeconds": 15}])


_BY_KIND = {
    "Deployment": _deployment, "ReplicaSet": _replicaset, "StatefulSet": _statefulset,
    "DaemonSet": _daemonset, "Job": _job, "CronJob": _cronjob, "Service": _service,
    "PersistentVolumeClaim": _pvc, "PersistentVolume": _pv,
    "LimitRange": limit_range_spec, "HorizontalPodAutoscaler": _hpa,
}
