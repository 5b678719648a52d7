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


# -- who can read mounted secrets and configs: fsGroup -----------------------------------------

def _secret_pod(ref: object, user: str | None = None, **options: object) -> dict[str, object]:
    from kompy.model import SecretDef, ServiceFileRef

    from .helpers import project

    assert isinstance(ref, ServiceFileRef)
    svc = Service(name="api", image="api:1", user=user, secrets=(ref,))
    proj = project(svc, secrets={"token": SecretDef("token", file="/p/t", content=b"s3cret")})
    from kompy.convert import convert
    from kompy.convert.options import ConvertOptions

    conversion = convert(proj, ConvertOptions(**options))  # type: ignore[arg-type]
    sc: dict[str, object] = pod_spec(find(conversion, "Deployment", "api"))["securityContext"]
    return sc


@pytest.mark.parametrize(("ref", "user", "images", "fs_group"), [
    # mode 0400 closes a root-owned file to a user: its group opens it (the sample's case)
    ({"mode": 0o400}, "1000:1000", {}, 1000),
    ({"mode": 0o400}, "1000", {}, 1000),
    ({"mode": 0o440}, "1000:2000", {}, 2000),
    # Compose's uid/gid say who reads it: that id, whatever the user
    ({"mode": 0o400, "uid": "103", "gid": "104"}, None, {}, 104),
    ({"uid": "103"}, None, {}, 103),
    # the local image's USER when the Compose file sets none
    ({"mode": 0o400}, None, {"api:1": "1000:1000"}, 1000),
    # no fsGroup: root reads every file; a world-readable mode; an unknown user
    ({"mode": 0o400}, "0", {}, None),
    ({"mode": 0o400}, None, {"api:1": ""}, None),
    ({"mode": 0o444}, "1000", {}, None),
    ({}, "1000", {}, None),
    ({"mode": 0o400}, None, {}, None),
    ({"mode": 0o400}, None, {"api:1": "node"}, None),
])
def test_fs_group_lets_the_user_read_its_secret(ref: dict[str, object], user: str | None,
                                                images: dict[str, str],
                                                fs_group: int | None) -> None:
    from kompy.model import ServiceFileRef

    sc = _secret_pod(ServiceFileRef("token", **ref), user,  # type: ignore[arg-type]
                     images={k: ImageInfo(k, (), v) for k, v in images.items()})
    assert sc.get("fsGroup") == fs_group


def test_explicit_fs_group_wins_and_configs_count_too() -> None:
    from kompy.model import ConfigDef, ServiceFileRef

    from .helpers import project

    svc = Service(name="api", image="api:1", user="1000",
                  configs=(ServiceFileRef("conf", target="/etc/c", mode=0o400),))
    proj = project(svc, configs={"conf": ConfigDef("conf", content_inline="x")})
    from kompy.convert import convert
    from kompy.convert.options import ConvertOptions

    sc = pod_spec(find(convert(proj, ConvertOptions()), "Deployment", "api"))["securityContext"]
    assert sc["fsGroup"] == 1000
    labelled = Service(name="api", image="api:1", user="1000", labels={},
                       configs=(ServiceFileRef("conf", target="/etc/c", mode=0o400),),
                       extensions={"x-kompy": {"fs_group": 3000}})
    proj = project(labelled, configs={"conf": ConfigDef("conf", content_inline="x")})
    sc = pod_spec(find(convert(proj, ConvertOptions()), "Deployment", "api"))["securityContext"]
    assert sc["fsGroup"] == 3000
