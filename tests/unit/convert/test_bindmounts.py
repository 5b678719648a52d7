"""Bind mounts (kompy.convert.bindmounts, bindcontent): what each kind of source becomes."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

from kompy.convert import Conversion, convert
from kompy.convert.options import ConvertOptions
from kompy.errors import ConvertError
from kompy.model import Build, Develop, Service, ServiceVolume, WatchRule

from .helpers import container, find, messages, pod_spec, project


def bind(source: Path | str, target: str, read_only: bool = True) -> ServiceVolume:
    return ServiceVolume(type="bind", source=str(source), target=target, read_only=read_only)


def run(root: Path, *volumes: ServiceVolume, **options: Any) -> Conversion:
    service = Service(name="web", image="nginx", volumes=volumes)
    return convert(project(service, working_dir=str(root)), ConvertOptions(**options))


def volume(conversion: Conversion, name: str) -> dict[str, Any]:
    spec = pod_spec(find(conversion, "Deployment", "web"))
    return next(v for v in spec["volumes"] if v["name"] == name)


def mount(conversion: Conversion, name: str) -> dict[str, Any]:
    mounts = container(find(conversion, "Deployment", "web"))["volumeMounts"]
    return next(m for m in mounts if m["name"] == name)


def test_an_existing_file_becomes_a_configmap_mounted_by_subpath(tmp_path: Path) -> None:
    (tmp_path / "nginx.conf").write_text("server {}\n")
    conversion = run(tmp_path, bind(tmp_path / "nginx.conf", "/etc/nginx/conf.d/default.conf"))
    assert find(conversion, "ConfigMap", "web-cm0")["data"] == {"nginx.conf": "server {}\n"}
    assert volume(conversion, "web-cm0") == {"name": "web-cm0", "configMap": {"name": "web-cm0"}}
    assert mount(conversion, "web-cm0") == {
        "name": "web-cm0", "mountPath": "/etc/nginx/conf.d/default.conf", "readOnly": True,
        "subPath": "nginx.conf"}
    assert messages(conversion) == []  # a read-only config file is mapped faithfully


def test_a_folder_keeps_subfolders_modes_and_binary_files(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "cgi-bin").mkdir(parents=True)
    (site / "index.html").write_text("hi\n")
    script = site / "cgi-bin" / "run"
    script.write_text("#!/bin/sh\necho ok\n")
    script.chmod(0o755)
    (site / "logo.bin").write_bytes(b"\x89PNG\xff\x00")
    (site / "odd name+.txt").write_text("odd\n")
    conversion = run(tmp_path, bind(site, "/www"))
    cm = find(conversion, "ConfigMap", "web-cm0")
    assert cm["data"] == {"index.html": "hi\n", "cgi-bin_run": "#!/bin/sh\necho ok\n",
                          "odd_name_.txt": "odd\n"}
    assert base64.b64decode(cm["binaryData"]["logo.bin"]) == b"\x89PNG\xff\x00"
    assert volume(conversion, "web-cm0")["configMap"]["items"] == [
        {"key": "cgi-bin_run", "path": "cgi-bin/run", "mode": 0o755},
        {"key": "index.html", "path": "index.html"},
        {"key": "logo.bin", "path": "logo.bin"},
        {"key": "odd_name_.txt", "path": "odd name+.txt"},
    ]
    assert mount(conversion, "web-cm0") == {"name": "web-cm0", "mountPath": "/www",
                                            "readOnly": True}


def test_a_flat_folder_of_plain_files_needs_no_items(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "a.ini").write_text("a=1\n")
    conversion = run(tmp_path, bind(tmp_path / "conf", "/etc/app"))
    assert volume(conversion, "web-cm0")["configMap"] == {"name": "web-cm0"}


def test_an_executable_file_keeps_its_mode(tmp_path: Path) -> None:
    script = tmp_path / "entry.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    conversion = run(tmp_path, bind(script, "/usr/local/bin/entry.sh"))
    assert volume(conversion, "web-cm0")["configMap"]["items"] == [
        {"key": "entry.sh", "path": "entry.sh", "mode": 0o755}]
    assert mount(conversion, "web-cm0")["subPath"] == "entry.sh"


def test_modes_follow_git_not_the_umask(tmp_path: Path) -> None:
    """Group-writable (umask 002) and 0600 files give the same output as 0644 ones."""
    (tmp_path / "conf").mkdir()
    for name, mode in (("a", 0o664), ("b", 0o600)):
        (tmp_path / "conf" / name).write_text(name)
        (tmp_path / "conf" / name).chmod(mode)
    conversion = run(tmp_path, bind(tmp_path / "conf", "/etc/app"))
    assert volume(conversion, "web-cm0")["configMap"] == {"name": "web-cm0"}


@pytest.mark.parametrize("state", ["missing", "empty"])
def test_a_missing_or_empty_source_becomes_a_claim(tmp_path: Path, state: str) -> None:
    if state == "empty":
        (tmp_path / "data").mkdir()
    conversion = run(tmp_path, bind(tmp_path / "data", "/data", read_only=False))
    assert volume(conversion, "web-claim0")["persistentVolumeClaim"] == {
        "claimName": "web-claim0"}
    find(conversion, "PersistentVolumeClaim", "web-claim0")
    assert [m for m in messages(conversion) if "web-claim0" in m and state in m]


@pytest.mark.parametrize("mode", ["persistentVolumeClaim", "emptyDir", "hostPath"])
def test_volumes_flag_overrides_the_content_rule(tmp_path: Path, mode: str) -> None:
    (tmp_path / "app.conf").write_text("x")
    conversion = run(tmp_path, bind(tmp_path / "app.conf", "/etc/app.conf"), volumes=mode)
    assert not [o for o in conversion.objects if o["kind"] == "ConfigMap"]
    spec = pod_spec(find(conversion, "Deployment", "web"))
    assert mode in spec["volumes"][0]


def test_kompose_volume_type_label_overrides_too(tmp_path: Path) -> None:
    (tmp_path / "app.conf").write_text("x")
    service = Service(name="web", image="nginx", labels={"kompose.volume.type": "emptyDir"},
                      volumes=(bind(tmp_path / "app.conf", "/etc/app.conf"),))
    conversion = convert(project(service, working_dir=str(tmp_path)), ConvertOptions())
    assert "emptyDir" in pod_spec(find(conversion, "Deployment", "web"))["volumes"][0]


def test_volumes_configmap_on_a_folder_keeps_its_subfolders(tmp_path: Path) -> None:
    """#9 class 11: --volumes configMap used to drop subfolders silently."""
    (tmp_path / "conf" / "sub").mkdir(parents=True)
    (tmp_path / "conf" / "sub" / "inner.ini").write_text("x=1\n")
    conversion = run(tmp_path, bind(tmp_path / "conf", "/etc/app"), volumes="configMap")
    assert find(conversion, "ConfigMap", "web-cm0")["data"] == {"sub_inner.ini": "x=1\n"}
    assert volume(conversion, "web-cm0")["configMap"]["items"] == [
        {"key": "sub_inner.ini", "path": "sub/inner.ini"}]


def test_the_docker_socket_is_a_socket_hostpath(tmp_path: Path) -> None:
    conversion = run(tmp_path, bind("/var/run/docker.sock", "/var/run/docker.sock"))
    assert volume(conversion, "web-claim0")["hostPath"] == {
        "path": "/var/run/docker.sock", "type": "Socket"}


def test_a_source_outside_the_project_is_not_read(tmp_path: Path) -> None:
    project_dir = tmp_path / "project"
    project_dir.mkdir()
    (tmp_path / "secret.txt").write_text("do not ship")
    conversion = run(project_dir, bind(tmp_path / "secret.txt", "/etc/secret.txt"))
    assert volume(conversion, "web-claim0")["hostPath"] == {"path": str(tmp_path / "secret.txt")}
    assert "do not ship" not in repr(conversion.objects)
    assert any("--allow-outside-project" in (d.hint or "") for d in conversion.diagnostics)
    with pytest.raises(ConvertError, match="outside the project"):
        run(project_dir, bind(tmp_path / "secret.txt", "/etc/secret.txt"), volumes="configMap")
    allowed = run(project_dir, bind(tmp_path / "secret.txt", "/etc/secret.txt"),
                  allow_outside_project=True)
    assert find(allowed, "ConfigMap", "web-cm0")["data"] == {"secret.txt": "do not ship"}


def test_a_symlink_out_of_the_project_is_left_out_with_a_warning(tmp_path: Path) -> None:
    project_dir = tmp_path / "project"
    (project_dir / "conf").mkdir(parents=True)
    (tmp_path / "outside.txt").write_text("do not ship")
    (project_dir / "conf" / "ok.txt").write_text("ok")
    os.symlink(tmp_path / "outside.txt", project_dir / "conf" / "link.txt")
    conversion = run(project_dir, bind(project_dir / "conf", "/etc/app"))
    assert find(conversion, "ConfigMap", "web-cm0")["data"] == {"ok.txt": "ok"}
    assert "do not ship" not in repr(conversion.objects)
    assert [m for m in messages(conversion) if "link.txt is left out" in m]


def test_too_big_a_source_is_an_error_naming_the_biggest_files(tmp_path: Path) -> None:
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / "huge.bin").write_bytes(b"\xff" * 900_000)
    (tmp_path / "big" / "large.txt").write_text("x" * 300_000)
    (tmp_path / "big" / "tiny.txt").write_text("x")
    with pytest.raises(ConvertError) as error:
        run(tmp_path, bind(tmp_path / "big", "/data"))
    assert "huge.bin (879 KiB), large.txt (293 KiB), tiny.txt (1 B)" in error.value.message
    assert error.value.hint and "kompose.volume.type" in error.value.hint


def test_a_configmap_kubectl_apply_would_refuse_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("x" * 300_000)
    conversion = run(tmp_path, bind(tmp_path / "data.txt", "/data.txt"))
    assert [m for m in messages(conversion) if "kubectl apply" in m and "256 KiB" in m]


def test_files_under_another_mount_are_left_out_and_get_a_mount_point(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "node_modules" / "lib").mkdir(parents=True)
    (app / "node_modules" / "lib" / "index.js").write_text("big")
    (app / "main.js").write_text("main")
    conversion = run(tmp_path, bind(app, "/app"),
                     ServiceVolume(type="volume", target="/app/node_modules"))
    cm = find(conversion, "ConfigMap", "web-cm0")
    assert cm["data"] == {"main.js": "main", "kompy-mountpoint-node_modules": ""}
    assert {"key": "kompy-mountpoint-node_modules",
            "path": "node_modules/.kompy-mountpoint"} in volume(
        conversion, "web-cm0")["configMap"]["items"]


def test_a_writable_mount_warns_that_writes_fail(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "a").write_text("a")
    conversion = run(tmp_path, bind(tmp_path / "conf", "/etc/app", read_only=False))
    assert [m for m in messages(conversion) if "writes to it fail" in m]


def test_a_source_code_mount_points_at_develop_watch(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.py").write_text("print(1)\n")
    service = Service(name="web", image="web", build=Build(context=str(tmp_path / "app")),
                      volumes=(bind(tmp_path / "app", "/app", read_only=False),))
    conversion = convert(project(service, working_dir=str(tmp_path)), ConvertOptions())
    [warning] = [d for d in conversion.diagnostics if "source code" in d.message]
    assert "ConfigMap web-cm0" in warning.message
    assert warning.hint and "develop" in warning.hint and "kompy dev" in warning.hint
    assert find(conversion, "ConfigMap", "web-cm0")["data"] == {"main.py": "print(1)\n"}
    watched = Service(name="web", image="web", build=Build(context=str(tmp_path / "app")),
                      volumes=service.volumes, develop=Develop(watch=(WatchRule(
                          path=str(tmp_path / "app"), action="sync", target="/app"),)))
    conversion = convert(project(watched, working_dir=str(tmp_path)), ConvertOptions())
    [warning] = [d for d in conversion.diagnostics if "source code" in d.message]
    assert warning.hint and "drop the bind mount" in warning.hint


def test_output_is_deterministic_whatever_the_listing_order(tmp_path: Path) -> None:
    (tmp_path / "c" / "z").mkdir(parents=True)
    for name in ("b", "a", "z/y", "z/x"):
        (tmp_path / "c" / name).write_text(name)
    first = run(tmp_path, bind(tmp_path / "c", "/c")).objects
    assert run(tmp_path, bind(tmp_path / "c", "/c")).objects == first
    items = volume(run(tmp_path, bind(tmp_path / "c", "/c")), "web-cm0")["configMap"]["items"]
    assert [i["path"] for i in items] == ["a", "b", "z/x", "z/y"]
