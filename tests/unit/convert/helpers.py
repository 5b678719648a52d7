"""Build projects in code and convert them, for the converter's unit tests."""

from __future__ import annotations

from typing import Any

from kompy.convert import Conversion, convert
from kompy.convert.options import ConvertOptions
from kompy.model import Project, Service, VolumeDef


def project(*services: Service, named_volumes: tuple[str, ...] = (), working_dir: str = "/p",
            **kwargs: Any) -> Project:
    return Project(name="demo", working_dir=working_dir,
                   services={s.name: s for s in services},
                   volumes={v: VolumeDef(name=v) for v in named_volumes}, **kwargs)


def run(*services: Service, named_volumes: tuple[str, ...] = (), **options: Any) -> Conversion:
    return convert(project(*services, named_volumes=named_volumes), ConvertOptions(**options))


def find(conversion: Conversion, kind: str, name: str) -> dict[str, Any]:
    for obj in conversion.objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise AssertionError(f"no {kind}/{name} in {[o['kind'] for o in conversion.objects]}")


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj["spec"]
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    result: dict[str, Any] = spec["template"]["spec"]
    return result


def container(obj: dict[str, Any], index: int = 0) -> dict[str, Any]:
    result: dict[str, Any] = pod_spec(obj)["containers"][index]
    return result


def messages(conversion: Conversion) -> list[str]:
    return [d.message for d in conversion.diagnostics]
