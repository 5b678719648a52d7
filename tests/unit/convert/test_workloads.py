"""Controller choice, replicas, restart policy, update strategy, pod-level keys."""

from __future__ import annotations

import pytest

from kompy.errors import MultiError
from kompy.model import (
    Dependency,
    Deploy,
    Duration,
    PortMapping,
    RestartPolicy,
    Service,
    ServiceVolume,
    UpdateConfig,
)

from .helpers import container, find, messages, pod_spec, run

DATA = (ServiceVolume(type="volume", source="data", target="/data"),)


@pytest.mark.parametrize(("service", "options", "kind"), [
    (Service(name="a", image="x"), {}, "Deployment"),
    (Service(name="a", image="x", deploy=Deploy(mode="global")), {}, "DaemonSet"),
    (Service(name="a", image="x", deploy=Deploy(mode="replicated-job")), {}, "Job"),
    (Service(name="a", image="x", labels={"kompose.controller.type": "statefulset"}), {},
     "StatefulSet"),
    (Service(name="a", image="x", extensions={"x-kompy": {"controller": "daemonset"}}),
     {"controller": "statefulset"}, "DaemonSet"),
    (Service(name="a", image="x", restart="no", extensions={"x-kompy": {"job": True}}), {},
     "Job"),
    (Service(name="a", image="x", labels={"kompose.cronjob.schedule": "* * * * *"}), {},
     "CronJob"),
    (Service(name="a", image="x", volumes=DATA), {"controller": "auto"}, "StatefulSet"),
    (Service(name="a", image="x"), {"controller": "auto"}, "Deployment"),
    (Service(name="a", image="x"), {"controller": "daemonset"}, "DaemonSet"),
])
def test_controller_choice(service: Service, options: dict[str, object], kind: str) -> None:
    conversion = run(service, named_volumes=("data",), **options)
    assert find(conversion, kind, "a")["kind"] == kind


def test_statefulset_gets_claim_templates_instead_of_pvcs() -> None:
    conversion = run(Service(name="db", image="pg", volumes=DATA), named_volumes=("data",),
                     controller="auto")
    sts = find(conversion, "StatefulSet", "db")
    assert [t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]] == ["data"]
    assert not [o for o in conversion.objects if o["kind"] == "PersistentVolumeClaim"]
    # The claim is no pod volume; the only one is the volume seed's tools folder.
    assert [v["name"] for v in pod_spec(sts)["volumes"]] == ["kompy-tools"]


def test_replicas_precedence() -> None:
    assert find(run(Service(name="a", image="x"), replicas=3), "Deployment",
                "a")["spec"]["replicas"] == 3
    scaled = Service(name="a", image="x", scale=2, deploy=Deploy(replicas=5))
    assert find(run(scaled, replicas=3), "Deployment", "a")["spec"]["replicas"] == 5
    override = Service(name="a", image="x", deploy=Deploy(replicas=5),
                       extensions={"x-kompy": {"replicas": 7}})
    assert find(run(override), "Deployment", "a")["spec"]["replicas"] == 7


def test_one_shot_restart_on_a_deployment_warns() -> None:
    conversion = run(Service(name="a", image="x", restart="no"))
    assert pod_spec(find(conversion, "Deployment", "a"))["restartPolicy"] == "Always"
    assert any("always restarts" in m for m in messages(conversion))


def test_job_restart_policy_and_backoff() -> None:
    service = Service(name="a", image="x", restart="on-failure:4",
                      extensions={"x-kompy": {"job": True}})
    job = find(run(service), "Job", "a")
    assert pod_spec(job)["restartPolicy"] == "OnFailure"
    assert job["spec"]["backoffLimit"] == 4
    deploy_policy = Service(name="b", image="x", extensions={"x-kompy": {"job": True}},
                            deploy=Deploy(restart_policy=RestartPolicy(condition="none")))
    assert pod_spec(find(run(deploy_policy), "Job", "b"))["restartPolicy"] == "Never"


@pytest.mark.parametrize(("order", "rolling"), [
    ("start-first", {"maxSurge": 2, "maxUnavailable": 0}),
    ("stop-first", {"maxSurge": 0, "maxUnavailable": 2}),
])
def test_update_config_to_rolling_update(order: str, rolling: dict[str, int]) -> None:
    service = Service(name="a", image="x", deploy=Deploy(
        update_config=UpdateConfig(parallelism=2, order=order, delay=Duration(5 * 10**9))))
    spec = find(run(service), "Deployment", "a")["spec"]
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": rolling}
    assert spec["minReadySeconds"] == 5


def test_deployment_with_a_claim_recreates() -> None:
    conversion = run(Service(name="a", image="x", volumes=DATA), named_volumes=("data",))
    assert find(conversion, "Deployment", "a")["spec"]["strategy"] == {"type": "Recreate"}


def test_placement_constraints() -> None:
    service = Service(name="a", image="x", deploy=Deploy(placement_constraints=(
        "node.labels.disk==ssd", "node.hostname != n1", "node.role==manager")))
    conversion = run(service)
    spec = pod_spec(find(conversion, "Deployment", "a"))
    assert spec["nodeSelector"] == {"disk": "ssd"}
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"][0]["matchExpressions"] == [
        {"key": "kubernetes.io/hostname", "operator": "NotIn", "values": ["n1"]}]
    assert any("node.role==manager" in m for m in messages(conversion))


def test_depends_on_waits_for_the_dependency_service() -> None:
    web = Service(name="web", image="x",
                  depends_on={"db": Dependency(condition="service_healthy"),
                              "worker": Dependency()})
    db = Service(name="db", image="pg", expose=("5432",))
    worker = Service(name="worker", image="w")
    conversion = run(web, db, worker)
    inits = pod_spec(find(conversion, "Deployment", "web"))["initContainers"]
    assert [i["name"] for i in inits] == ["wait-for-db", "wait-for-worker"]
    assert "nc -w 2 db 5432" in inits[0]["command"][2]
    # worker has no ports: its headless Service's name resolves once a pod is ready.
    assert "nc -w 1 worker 1" in inits[1]["command"][2]
    assert "bad address" in inits[1]["command"][2]
    statuses = {r.key: r.status for r in conversion.report if ".depends_on." in r.key}
    assert statuses == {"services.web.depends_on.db": "mapped",
                        "services.web.depends_on.worker": "approximated"}
    host = Service(name="h", image="x", network_mode="host")
    alone = run(Service(name="web", image="x", depends_on={"h": Dependency()}), host)
    assert any("has no Service" in m for m in messages(alone))
    none = run(web, db, worker, wait_init=False)
    assert "initContainers" not in pod_spec(find(none, "Deployment", "web"))


def test_network_mode_service_merges_containers_into_one_pod() -> None:
    web = Service(name="web", image="nginx", ports=(PortMapping(target=80),))
    sidecar = Service(name="sidecar", image="envoy", network_mode="service:web")
    conversion = run(web, sidecar)
    deployments = [o for o in conversion.objects if o["kind"] == "Deployment"]
    assert [d["metadata"]["name"] for d in deployments] == ["web"]
    assert [c["name"] for c in pod_spec(deployments[0])["containers"]] == ["web", "sidecar"]


def test_pod_level_keys() -> None:
    service = Service(name="a", image="x", hostname="box", extra_hosts=(
        "one=10.0.0.1", "two=10.0.0.1", "gw=host-gateway"), dns=("1.1.1.1",), pid="host",
        shm_size=None, stop_grace_period=Duration(90 * 10**9), init=True,
        group_add=("100",), sysctls={"net.ipv4.tcp_syncookies": "1"})
    conversion = run(service)
    spec = pod_spec(find(conversion, "Deployment", "a"))
    assert spec["hostname"] == "box"
    assert spec["hostAliases"] == [{"ip": "10.0.0.1", "hostnames": ["one", "two"]}]
    assert spec["dnsConfig"] == {"nameservers": ["1.1.1.1"]}
    assert spec["hostPID"] is True and spec["shareProcessNamespace"] is True
    assert spec["terminationGracePeriodSeconds"] == 90
    assert spec["securityContext"]["supplementalGroups"] == [100]
    assert spec["securityContext"]["sysctls"] == [{"name": "net.ipv4.tcp_syncookies",
                                                   "value": "1"}]
    assert any("host-gateway" in m for m in messages(conversion))


def test_security_defaults_and_options() -> None:
    service = Service(name="a", image="x", cap_add=("CAP_NET_ADMIN",), cap_drop=("ALL",),
                      read_only=True, security_opt=("seccomp:unconfined",))
    sc = container(find(run(service), "Deployment", "a"))["securityContext"]
    # Docker does not set no-new-privileges unless asked (issue #9 class 3).
    assert "allowPrivilegeEscalation" not in sc
    asked = Service(name="a", image="x", security_opt=("no-new-privileges:true",))
    assert container(find(run(asked), "Deployment", "a"))["securityContext"] == {
        "allowPrivilegeEscalation": False}
    assert sc["capabilities"] == {"add": ["NET_ADMIN"], "drop": ["ALL"]}
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["seccompProfile"] == {"type": "Unconfined"}
    privileged = container(find(run(Service(name="b", image="x", privileged=True)),
                                "Deployment", "b"))["securityContext"]
    assert privileged == {"privileged": True}


def test_restricted_passes_or_names_every_blocking_key() -> None:
    ok = run(Service(name="a", image="x", user="1000"), security="restricted")
    spec = pod_spec(find(ok, "Deployment", "a"))
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["containers"][0]["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    bad = Service(name="a", image="x", privileged=True, user="0", network_mode="host",
                  volumes=(ServiceVolume(type="bind", source="/srv", target="/srv"),))
    with pytest.raises(MultiError) as info:
        run(bad, security="restricted", volumes="hostPath")
    paths = {e.key_path for e in info.value.errors}
    assert ("services", "a", "privileged") in paths
    assert ("services", "a", "user") in paths
    assert ("services", "a", "network_mode") in paths
    assert ("services", "a", "volumes") in paths


def test_colliding_kubernetes_names_are_an_error() -> None:
    from kompy.errors import ConvertError

    with pytest.raises(ConvertError, match="both become Kubernetes objects named 'web-app'"):
        run(Service(name="web_app", image="x"), Service(name="web-app", image="y"))


def test_merged_pod_has_unique_container_and_init_names() -> None:
    db = Service(name="db", image="pg", expose=("5432",))
    web = Service(name="web", image="x", container_name="app",
                  depends_on={"db": Dependency()})
    side = Service(name="side", image="y", container_name="app", network_mode="service:web",
                   depends_on={"db": Dependency(), "web": Dependency()})
    spec = pod_spec(find(run(db, web, side), "Deployment", "web"))
    assert [c["name"] for c in spec["containers"]] == ["app", "app-2"]
    assert [c["name"] for c in spec["initContainers"]] == ["wait-for-db"]


def test_wait_uses_the_service_port_of_a_nodeport_dependency() -> None:
    db = Service(name="db", image="pg", ports=(PortMapping(target=5432, published="15432"),),
                 labels={"kompose.service.type": "nodeport"})
    web = Service(name="web", image="x", depends_on={"db": Dependency()})
    inits = pod_spec(find(run(db, web), "Deployment", "web"))["initContainers"]
    assert "nc -w 2 db 15432" in inits[0]["command"][2]


def test_statefulset_sharing_a_volume_warns() -> None:
    a = Service(name="a", image="x", volumes=DATA)
    b = Service(name="b", image="y", volumes=DATA)
    conversion = run(a, b, named_volumes=("data",), controller="auto")
    assert any("shared with b" in m for m in messages(conversion))
