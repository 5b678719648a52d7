"""Templates (values arrive exactly, user overrides, errors with file and line), strict schema
validation, YAML output quoting, bind mounts as ConfigMaps."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from kompy.convert import Conversion
from kompy.convert.options import ConvertOptions
from kompy.convert.output import dump_yaml, render_files, render_stream
from kompy.convert.render import Renderer
from kompy.convert.validate import resolve_version, supported_versions, validate_object
from kompy.errors import ConvertError, InternalError
from kompy.model import Service, ServiceVolume

from .helpers import find, pod_spec, project, run


def test_value_filter_keeps_values_exact(tmp_path: Path) -> None:
    (tmp_path / "t.yaml.j2").write_text(
        "a: {{ x | value }}\nb: {{ y | value }}\nc: 'id-{{ z | value }}'\nd: {{ w | value }}\n")
    renderer = Renderer(str(tmp_path))
    tricky = "yes: no # not a comment\n- [list]"
    objs = renderer.render("t.yaml.j2", {"x": tricky, "y": ["0755", 1, None],
                                         "z": 7, "w": {"k": "on"}})
    assert objs == [{"a": tricky, "b": ["0755", 1, None], "c": "id-7", "d": {"k": "on"}}]


def test_strict_undefined_names_template_and_line(tmp_path: Path) -> None:
    (tmp_path / "t.yaml.j2").write_text("a: 1\nb: {{ missing | value }}\n")
    with pytest.raises(ConvertError) as info:
        Renderer(str(tmp_path)).render("t.yaml.j2", {})
    assert info.value.location is not None
    assert info.value.location.file == str(tmp_path / "t.yaml.j2")
    assert info.value.location.line == 2
    assert "missing" in info.value.message


def test_user_template_rendering_invalid_yaml(tmp_path: Path) -> None:
    (tmp_path / "t.yaml.j2").write_text("a: [1, 2\n")
    with pytest.raises(ConvertError, match="invalid YAML"):
        Renderer(str(tmp_path)).render("t.yaml.j2", {})


def test_missing_templates_folder_is_user_error(tmp_path: Path) -> None:
    with pytest.raises(ConvertError, match="does not exist"):
        Renderer(str(tmp_path / "nope"))


def test_builtin_templates_are_found() -> None:
    assert (Renderer().builtin_dir / "deployment.yaml.j2").is_file()


def test_validation_rejects_unknown_fields_naming_object_and_template() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "dat": {}}
    with pytest.raises(InternalError) as info:
        validate_object(obj, supported_versions()[-1], "configmap.yaml.j2")
    assert "ConfigMap/c" in info.value.message and "configmap.yaml.j2" in info.value.message
    assert "dat" in info.value.message
    validate_object({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                     "data": {"a": "b"}}, supported_versions()[-1])


def test_validation_checks_types_deep_in_the_pod() -> None:
    deployment = find(run(Service(name="a", image="x")), "Deployment", "a")
    pod_spec(deployment)["containers"][0]["ports"] = [{"containerPort": "80"}]
    with pytest.raises(InternalError, match="containerPort"):
        validate_object(deployment, supported_versions()[-1])


def test_kube_versions() -> None:
    versions = supported_versions()
    assert resolve_version(None) == versions[-1]
    assert resolve_version(f"v{versions[0]}.3") == versions[0]
    with pytest.raises(ConvertError):
        resolve_version("1.10")


def test_yaml_output_quotes_what_yaml_1_1_would_misread() -> None:
    text = dump_yaml([{"a": "on", "b": "0755", "c": "12:30", "d": "1e3", "e": "plain",
                       "f": "two\nlines\n", "g": True, "h": 3}])
    assert text == ("---\na: 'on'\nb: '0755'\nc: '12:30'\nd: '1e3'\ne: plain\n"
                    "f: |\n  two\n  lines\ng: true\nh: 3\n")
    assert YAML(typ="safe").load(text)["f"] == "two\nlines\n"


def test_files_and_stream_hold_the_same_objects() -> None:
    conversion = run(Service(name="a", image="x"), Service(name="b", image="y"))
    files = render_files(conversion)
    assert list(files) == ["a-service.yaml", "b-service.yaml", "a-deployment.yaml",
                           "b-deployment.yaml"]
    assert render_stream(conversion) == "".join(files.values())
    assert render_stream(Conversion(objects=[]), "json").startswith('{\n  "apiVersion"')


def test_bind_mount_as_configmap_reads_the_file(tmp_path: Path) -> None:
    from kompy.convert import convert

    (tmp_path / "nginx.conf").write_text("server {}\n")
    service = Service(name="web", image="nginx", volumes=(
        ServiceVolume(type="bind", source=str(tmp_path / "nginx.conf"),
                      target="/etc/nginx/nginx.conf", read_only=True),))
    conversion = convert(project(service, working_dir=str(tmp_path)),
                         ConvertOptions(volumes="configMap"))
    cm = find(conversion, "ConfigMap", "web-cm0")
    assert cm["data"] == {"nginx.conf": "server {}\n"}
    mount = pod_spec(find(conversion, "Deployment", "web"))["containers"][0]["volumeMounts"][0]
    assert mount == {"name": "web-cm0", "mountPath": "/etc/nginx/nginx.conf",
                     "subPath": "nginx.conf", "readOnly": True}


def test_bind_mount_outside_the_project_is_refused(tmp_path: Path) -> None:
    from kompy.convert import convert

    inside = tmp_path / "project"
    inside.mkdir()
    (tmp_path / "secret.txt").write_text("x")
    service = Service(name="web", image="nginx", volumes=(
        ServiceVolume(type="bind", source=str(tmp_path / "secret.txt"), target="/s"),))
    with pytest.raises(ConvertError, match="outside the project"):
        convert(project(service, working_dir=str(inside)), ConvertOptions(volumes="configMap"))
    allowed = convert(project(service, working_dir=str(inside)),
                      ConvertOptions(volumes="configMap", allow_outside_project=True))
    assert find(allowed, "ConfigMap", "web-cm0")["data"] == {"secret.txt": "x"}


def test_strict_turns_warnings_into_errors() -> None:
    from kompy.errors import MultiError

    noisy = Service(name="a", image="x", stop_signal="SIGINT")
    assert run(noisy).diagnostics
    with pytest.raises(MultiError):
        run(noisy, strict=True)
