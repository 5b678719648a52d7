"""Service volumes and tmpfs: short syntax, long form, path resolution, errors."""

from __future__ import annotations

import os

import pytest

from kompy.errors import ComposeError
from kompy.model import ByteSize, NullLocator, ServiceVolume

from .helpers import rendered, service, service_errors


def vol(spec: object, base: str = "/proj") -> ServiceVolume:
    return ServiceVolume.parse(spec, NullLocator(), ("v",), base)


def test_anonymous_volume() -> None:
    assert vol("/data").to_compose() == {"target": "/data", "type": "volume", "volume": {}}


def test_named_volume() -> None:
    assert vol("data:/data").to_compose() == {
        "source": "data", "target": "/data", "type": "volume", "volume": {}}


def test_undeclared_name_is_still_a_named_volume() -> None:
    s = service("""
        image: x
        volumes: ["cache:/cache"]
    """)
    assert s.volumes[0].type == "volume" and s.volumes[0].source == "cache"


def test_relative_bind_is_resolved_and_created() -> None:
    assert vol("./src:/src:ro").to_compose() == {
        "bind": {"create_host_path": True}, "read_only": True, "source": "/proj/src",
        "target": "/src", "type": "bind"}


def test_dot_and_parent_are_cleaned() -> None:
    assert vol(".:/code").source == "/proj"
    assert vol("../up/./x:/x").source == "/up/x"


def test_home_is_expanded(isolated_env: object) -> None:
    assert vol("~/configs:/etc/configs:ro").source == os.path.join(
        os.environ["HOME"], "configs")


def test_options() -> None:
    v = vol("./a:/a:rw,z,rshared,nocopy")
    assert (v.read_only, v.bind_selinux, v.bind_propagation) == (False, "z", "rshared")
    assert vol("data:/a:nocopy").volume_nocopy
    assert vol("./a:/a:Z").bind_selinux == "Z"
    assert vol("./a:/a:cached").consistency is None  # ignored, as compose-go does


def test_target_is_cleaned() -> None:
    assert vol("data:/var/lib/../data/").target == "/var/data"


def test_long_bind() -> None:
    v = vol({"type": "bind", "source": "./opt", "target": "/opt", "consistency": "cached",
             "bind": {"propagation": "rprivate", "selinux": "z"}})
    assert v.to_compose() == {
        "bind": {"propagation": "rprivate", "selinux": "z"}, "consistency": "cached",
        "source": "/proj/opt", "target": "/opt", "type": "bind"}


def test_long_bind_without_create_host_path_does_not_create() -> None:
    # compose-spec: create_host_path is implied by the short syntax only.
    v = vol({"type": "bind", "source": "/x", "target": "/x"})
    assert not v.bind_create_host_path
    assert "bind" not in v.to_compose()


def test_long_volume_and_tmpfs() -> None:
    v = vol({"type": "volume", "source": "db", "target": "/db", "read_only": True,
             "volume": {"nocopy": True, "subpath": "sub"}})
    assert v.to_compose() == {"read_only": True, "source": "db", "target": "/db",
                              "type": "volume", "volume": {"nocopy": True, "subpath": "sub"}}
    t = vol({"type": "tmpfs", "target": "/t", "tmpfs": {"size": "64m", "mode": "1777"}})
    assert t.tmpfs_size == ByteSize(64 << 20) and t.tmpfs_mode == 0o1777
    assert t.to_compose() == {"target": "/t", "tmpfs": {"mode": 1023, "size": 67108864},
                              "type": "tmpfs"}


def test_untyped_sub_keys_are_kept() -> None:
    v = vol({"type": "bind", "source": "/x", "target": "/x",
             "bind": {"create_host_path": True, "recursive": "enabled"}})
    assert v.to_compose()["bind"] == {"create_host_path": True, "recursive": "enabled"}


def test_service_tmpfs_string_or_list() -> None:
    assert service("image: x\ntmpfs: /run").tmpfs == ("/run",)
    assert rendered("image: x\ntmpfs: [/run, '/tmp:size=64m']")["tmpfs"] == [
        "/run", "/tmp:size=64m"]


@pytest.mark.parametrize("spec, message", [
    ("/a:/b:ro:x", "too many colons"),
    ("data::/x", "empty section"),
    ("data:relative", "not an absolute path"),
    ("./a:/a:bogus", "unknown volume option"),
])
def test_short_errors(spec: str, message: str) -> None:
    (err,) = service_errors(f"image: x\nvolumes: [{spec!r}]")
    assert message in err.message
    assert err.key_path == ("services", "s", "volumes", 0)


@pytest.mark.parametrize("body, message", [
    ({"target": "/x"}, "needs a type"),
    ({"type": "disk", "target": "/x"}, "unknown volume type"),
    ({"type": "volume"}, "needs a target"),
    ({"type": "bind", "target": "/x"}, "needs a source"),
    ({"type": "tmpfs", "target": "/x", "tmpfs": {"size": "lots"}}, "invalid byte size"),
    ({"type": "volume", "target": "/x", "color": "red"}, "unknown key"),
])
def test_long_errors(body: dict[str, object], message: str) -> None:
    with pytest.raises(ComposeError) as info:
        vol(body)
    assert message in str(info.value)
