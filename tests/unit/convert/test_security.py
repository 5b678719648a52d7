"""--security levels (issue #9 class 3): default behaves as `docker compose up`; baseline and
restricted are the Pod Security Standards, honest about what they cannot prove."""

from __future__ import annotations

import pytest

from kompy.engine.imageinfo import ImageInfo
from kompy.errors import KompyError, MultiError
from kompy.model import Service, ServiceVolume

from .helpers import container, find, pod_spec, run


def test_default_is_what_docker_does() -> None:
    spec = pod_spec(find(run(Service(name="a", image="x")), "Deployment", "a"))
    # Docker applies its default seccomp profile and does not set no_new_privs.
    assert spec["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
    assert "securityContext" not in spec["containers"][0]


def test_no_new_privileges_is_honoured_when_asked() -> None:
    for option in ("no-new-privileges:true", "no-new-privileges=true", "no-new-privileges"):
        c = container(find(run(Service(name="a", image="x", security_opt=(option,))),
                           "Deployment", "a"))
        assert c["securityContext"]["allowPrivilegeEscalation"] is False, option


def _errors(*services: Service, **options: object) -> set[tuple[str | int, ...]]:
    with pytest.raises(KompyError) as info:
        run(*services, **options)  # type: ignore[arg-type]
    errors = info.value.errors if isinstance(info.value, MultiError) else [info.value]
    return {e.key_path for e in errors}


def test_baseline_refuses_host_access_but_not_root() -> None:
    ok = run(Service(name="a", image="x", cap_add=("CHOWN", "NET_BIND_SERVICE")),
             security="baseline")
    c = container(find(ok, "Deployment", "a"))
    assert "allowPrivilegeEscalation" not in c["securityContext"]  # baseline does not ask it
    bad = Service(name="a", image="x", privileged=True, cap_add=("SYS_ADMIN",), pid="host",
                  volumes=(ServiceVolume(type="bind", source="/srv", target="/srv"),))
    paths = _errors(bad, security="baseline", volumes="hostPath")
    assert {("services", "a", "privileged"), ("services", "a", "cap_add", 0),
            ("services", "a", "pid"), ("services", "a", "volumes")} <= paths


def test_restricted_fails_when_the_image_user_is_unknown() -> None:
    with pytest.raises(MultiError) as info:
        run(Service(name="a", image="x"), Service(name="b", image="y"), security="restricted")
    messages = [e.format() for e in info.value.errors]
    assert len(messages) == 2
    assert all("unknown" in m and 'user: "<uid>"' in m for m in messages)


@pytest.mark.parametrize(("user", "passes"), [
    ("1000", True), ("1000:1000", True), ("", False), ("0", False), ("root", False),
    ("nginx", False)])
def test_restricted_reads_the_local_image_user(user: str, passes: bool) -> None:
    images = {"x:1": ImageInfo("x:1", (), user)}
    service = Service(name="a", image="x:1")
    if passes:
        spec = pod_spec(find(run(service, security="restricted", images=images),
                             "Deployment", "a"))
        assert spec["securityContext"]["runAsNonRoot"] is True
    else:
        assert _errors(service, security="restricted", images=images) == {("services", "a")}


def test_restricted_with_a_numeric_compose_user_needs_no_image() -> None:
    run(Service(name="a", image="x", user="1000"), security="restricted")
    assert _errors(Service(name="a", image="x", user="app"), security="restricted") == {
        ("services", "a", "user")}
