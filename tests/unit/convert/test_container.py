"""Container mapping: command/entrypoint as Docker runs them, env, ports, probes, resources."""

from __future__ import annotations

from typing import Any

from kompy.model import (
    Build,
    ByteSize,
    Deploy,
    Duration,
    Healthcheck,
    PortMapping,
    Resources,
    ResourceSpec,
    Service,
)

from .helpers import container, find, messages, run

SECOND = 1_000_000_000


def _container(service: Service, **options: Any) -> dict[str, Any]:
    return container(find(run(service, **options), "Deployment",
                          service.name.replace("_", "-")))


def test_command_is_args_and_entrypoint_is_command() -> None:
    c = _container(Service(name="a", image="x", entrypoint=("/bin/sh", "-c"),
                           command=("echo hi",)))
    assert c["command"] == ["/bin/sh", "-c"]
    assert c["args"] == ["echo hi"]


def test_entrypoint_alone_drops_the_image_cmd() -> None:
    # Kubernetes: a command without args ignores the image's CMD, as Docker does for
    # a Compose entrypoint.
    c = _container(Service(name="a", image="x", entrypoint=("run",)))
    assert c["command"] == ["run"] and "args" not in c


def test_command_alone_keeps_the_image_entrypoint() -> None:
    c = _container(Service(name="a", image="x", command=("serve", "--port", "80")))
    assert "command" not in c and c["args"] == ["serve", "--port", "80"]


def test_empty_entrypoint_runs_the_command_itself() -> None:
    c = _container(Service(name="a", image="x", entrypoint=(), command=("httpd", "-f")))
    assert c["command"] == ["httpd", "-f"] and "args" not in c


def test_environment_values_are_strings_and_unset_ones_dropped() -> None:
    conversion = run(Service(name="a", image="x", environment={"A": "1", "B": None}))
    c = container(find(conversion, "Deployment", "a"))
    assert c["env"] == [{"name": "A", "value": "1"}]
    assert any("B has no value" in m for m in messages(conversion))


def test_build_only_service_gets_a_derived_image_not_pulled() -> None:
    c = _container(Service(name="web_app", build=Build(context="/p/web")),
                   image_registry="reg:5000/", image_tag="v1")
    assert c["image"] == "reg:5000/demo-web-app:v1"
    assert c["imagePullPolicy"] == "IfNotPresent"


def test_ports_and_expose_become_container_ports_once() -> None:
    c = _container(Service(name="a", image="x", ports=(
        PortMapping(target=80, published="8080"), PortMapping(target=80, published="8081"),
        PortMapping(target=53, protocol="udp")), expose=("80", "9000-9001/tcp")))
    assert c["ports"] == [
        {"containerPort": 80, "protocol": "TCP"}, {"containerPort": 53, "protocol": "UDP"},
        {"containerPort": 9000, "protocol": "TCP"}, {"containerPort": 9001, "protocol": "TCP"},
    ]


def test_healthcheck_becomes_probes_with_startup_probe() -> None:
    check = Healthcheck(test=("CMD-SHELL", "curl -f localhost || exit 1"),
                        interval=Duration(10 * SECOND), timeout=Duration(SECOND // 2),
                        retries=4, start_period=Duration(25 * SECOND))
    c = _container(Service(name="a", image="x", healthcheck=check))
    expected = {"exec": {"command": ["sh", "-c", "curl -f localhost || exit 1"]},
                "periodSeconds": 10, "timeoutSeconds": 1, "failureThreshold": 4}
    assert c["livenessProbe"] == expected == c["readinessProbe"]
    # 25 s of start period at 5 s, plus the 4 retries Docker counts after it.
    assert c["startupProbe"] == {"exec": expected["exec"], "periodSeconds": 5,
                                 "timeoutSeconds": 1, "failureThreshold": 9}


def test_docker_healthcheck_defaults_fill_the_gaps() -> None:
    c = _container(Service(name="a", image="x", healthcheck=Healthcheck(test=("CMD", "t"))))
    assert c["livenessProbe"] == {"exec": {"command": ["t"]}, "periodSeconds": 30,
                                  "timeoutSeconds": 30, "failureThreshold": 3}


def test_healthcheck_without_test_warns_and_gives_no_probe() -> None:
    conversion = run(Service(name="a", image="x",
                             healthcheck=Healthcheck(interval=Duration(SECOND))))
    c = container(find(conversion, "Deployment", "a"))
    assert "livenessProbe" not in c
    assert any("without a test" in m for m in messages(conversion))


def test_disabled_healthcheck_gives_no_probe() -> None:
    c = _container(Service(name="a", image="x",
                           healthcheck=Healthcheck(test=("CMD", "true"), disable=True)))
    assert "livenessProbe" not in c and "readinessProbe" not in c


def test_label_probes_keep_the_healthcheck_timing() -> None:
    # Issue #9 class 4: a kompose.service.healthcheck.* label picks the probe's kind; the
    # healthcheck's interval, timeout, retries and start_period still apply.
    check = Healthcheck(test=("CMD", "t"), interval=Duration(7 * SECOND),
                        timeout=Duration(3 * SECOND), retries=4,
                        start_period=Duration(20 * SECOND))
    labels = {"kompose.service.healthcheck.liveness.http_get_path": "/health",
              "kompose.service.healthcheck.liveness.http_get_port": "8080",
              "kompose.service.healthcheck.readiness.tcp_port": "8080",
              "kompose.service.healthcheck.readiness.timeout": "2s"}
    c = _container(Service(name="a", image="x", healthcheck=check, labels=labels))
    timing = {"periodSeconds": 7, "timeoutSeconds": 3, "failureThreshold": 4}
    assert c["livenessProbe"] == {"httpGet": {"path": "/health", "port": 8080}, **timing}
    assert c["readinessProbe"] == {"tcpSocket": {"port": 8080}, **timing, "timeoutSeconds": 2}
    # The start period protects the label's probe too: 20 s at 5 s, plus 4 retries.
    assert c["startupProbe"] == {"httpGet": {"path": "/health", "port": 8080},
                                 "periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 8}


def test_label_probe_with_a_test_less_healthcheck_keeps_its_timing() -> None:
    check = Healthcheck(interval=Duration(9 * SECOND), start_period=Duration(30 * SECOND))
    labels = {"kompose.service.healthcheck.liveness.tcp_port": "8080"}
    conversion = run(Service(name="a", image="x", healthcheck=check, labels=labels))
    c = container(find(conversion, "Deployment", "a"))
    assert c["livenessProbe"] == {"tcpSocket": {"port": 8080}, "periodSeconds": 9,
                                  "timeoutSeconds": 30, "failureThreshold": 3}
    assert c["startupProbe"]["tcpSocket"] == {"port": 8080}
    assert not any("without a test" in m for m in messages(conversion))


def test_resources_from_deploy_win_over_service_level() -> None:
    c = _container(Service(
        name="a", image="x", mem_limit=ByteSize(1 << 30), cpus=2.0,
        mem_reservation=ByteSize(64 << 20),
        deploy=Deploy(resources=Resources(limits=ResourceSpec(memory=ByteSize(512 << 20)),
                                          reservations=ResourceSpec(cpus=0.25)))))
    assert c["resources"] == {"limits": {"memory": "512Mi", "cpu": "2"},
                              "requests": {"cpu": "250m", "memory": "64Mi"}}


def test_numeric_user_maps_and_names_warn() -> None:
    c = _container(Service(name="a", image="x", user="1000:2000"))
    assert c["securityContext"]["runAsUser"] == 1000
    assert c["securityContext"]["runAsGroup"] == 2000
    conversion = run(Service(name="a", image="x", user="www-data"))
    assert any("not numeric" in m for m in messages(conversion))
    sc = container(find(conversion, "Deployment", "a")).get("securityContext", {})
    assert "runAsUser" not in sc


def test_zero_means_docker_default_not_zero() -> None:
    c = _container(Service(
        name="a", image="x", cpus=0.0, mem_limit=ByteSize(0),
        healthcheck=Healthcheck(test=("CMD", "t"), interval=Duration(0), timeout=Duration(0))))
    assert "resources" not in c
    assert c["livenessProbe"]["periodSeconds"] == 30
    assert c["livenessProbe"]["timeoutSeconds"] == 30
