"""Strict validation of rendered objects against the Kubernetes OpenAPI schemas.

The schemas are the JSON Schema files kubernetes-validate ships for each Kubernetes version
(``kubernetes_validate/kubernetes-json-schema/v<version>-local-strict``: one file per kind
plus ``_definitions.json``; "strict" means ``additionalProperties: false``, so an unknown
field is an error). Interpreting them with jsonschema costs milliseconds per object, which
dominates a large conversion; instead each kind's schema is compiled once per process into
Python code by fastjsonschema (about 0.4 s for a Deployment, then ~40 µs per object).

fastjsonschema does not resolve references to other files, so before compiling, the
``/api/_definitions.json#/$defs/X`` references are rewritten to local ``#/definitions/X``
and only the definitions a kind reaches are copied in. Descriptions and the numeric
``format`` annotations (int32, int64, double, byte: OpenAPI hints, not constraints) are
dropped: they only cost compile time.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import fastjsonschema

from kompy.errors import ConvertError, InternalError

_DIR = re.compile(r"v(\d+)\.(\d+)\.(\d+)-local-strict")
_REF = re.compile(r"^(?:/api/_definitions\.json)?#/\$defs/(.+)$")
_DROPPED_FORMATS = frozenset({"int32", "int64", "double", "byte"})

Validator = Callable[[Any], Any]


def _schema_root() -> Path:
    # find_spec locates the package without importing it (its __init__ imports jsonschema,
    # 0.2 s of start-up kompy does not need).
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            candidate = Path(folder) / "kubernetes-json-schema"
            if candidate.is_dir():
                return candidate
    return Path(str(resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")))


@functools.cache
def _version_dirs() -> dict[str, Path]:
    """"1.37" -> the strict schema folder of the newest patch release of that minor."""
    found: dict[str, tuple[int, Path]] = {}
    root = _schema_root()
    for entry in root.iterdir():
        match = _DIR.fullmatch(entry.name)
        if match:
            minor = f"{match.group(1)}.{match.group(2)}"
            patch = int(match.group(3))
            if minor not in found or found[minor][0] < patch:
                found[minor] = (patch, entry)
    return {minor: path for minor, (_, path) in found.items()}


def supported_versions() -> list[str]:
    """Kubernetes versions ("1.25" ... ) with schemas, oldest first."""
    return sorted(_version_dirs(), key=lambda v: tuple(int(p) for p in v.split(".")))


def resolve_version(requested: str | None) -> str:
    """``--kube-version``: "1.30", "v1.30" or "1.30.2"; None: the newest supported."""
    versions = supported_versions()
    if requested is None:
        return versions[-1]
    match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", requested.strip())
    minor = f"{match.group(1)}.{match.group(2)}" if match else None
    if minor not in versions:
        raise ConvertError(
            f"unsupported Kubernetes version {requested!r}",
            hint=f"supported: {', '.join(versions)} (from the installed kubernetes-validate)",
        )
    return minor


@functools.cache
def _definitions(version: str) -> dict[str, Any]:
    with open(_version_dirs()[version] / "_definitions.json", encoding="utf-8") as handle:
        defs: dict[str, Any] = json.load(handle)["$defs"]
    return defs


def _clean(node: Any, refs: set[str]) -> Any:
    """A copy of a schema node without descriptions, with references made local."""
    if isinstance(node, list):
        return [_clean(item, refs) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("description", "$schema", "$id"):
            continue
        if key == "$ref":
            match = _REF.match(value)
            if match is None:
                raise InternalError(f"unexpected schema reference {value!r}")
            refs.add(match.group(1))
            out[key] = "#/definitions/" + match.group(1)
        elif key == "format" and value in _DROPPED_FORMATS:
            continue
        elif key in ("properties", "patternProperties", "definitions") and isinstance(value, dict):
            out[key] = {name: _clean(sub, refs) for name, sub in value.items()}
        else:
            out[key] = _clean(value, refs)
    return out


def _schema_file(version: str, api_version: str, kind: str) -> Path:
    # kubernetes-validate's file naming: "apps/v1" -> "apps-v1", "networking.k8s.io/v1" ->
    # "networking-v1", "v1" -> "v1".
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    return _version_dirs()[version] / f"{kind.lower()}-{group_version}.json"


def build_schema(version: str, api_version: str, kind: str) -> dict[str, Any]:
    """The self-contained draft-07 schema of one kind, with the definitions it reaches."""
    path = _schema_file(version, api_version, kind)
    if not path.is_file():
        raise InternalError(
            f"no Kubernetes {version} schema for {kind} ({api_version})",
            hint="a template produced an apiVersion/kind this Kubernetes version does not serve",
        )
    with open(path, encoding="utf-8") as handle:
        root = json.load(handle)
    refs: set[str] = set()
    schema: dict[str, Any] = _clean(root, refs)
    definitions = _definitions(version)
    reached: dict[str, Any] = {}
    pending = sorted(refs)
    while pending:
        name = pending.pop()
        if name in reached:
            continue
        found: set[str] = set()
        reached[name] = _clean(definitions[name], found)
        pending.extend(sorted(found - reached.keys()))
    schema["definitions"] = reached
    return schema


_CACHE_DIR: Path | None = None


def set_cache_dir(path: str | Path | None) -> None:
    """Keep compiled validators in ``path`` across runs (the CLI uses ~/.cache/kompy).

    Generating and compiling a Deployment validator costs ~0.5 s; loading it back is ~1 ms.
    Entries are keyed by every input that shapes the code, so a stale entry is never used.
    """
    global _CACHE_DIR
    _CACHE_DIR = Path(path) if path else None


def _cache_file(version: str, api_version: str, kind: str) -> Path | None:
    if _CACHE_DIR is None:
        return None
    import hashlib
    import sys
    from importlib.metadata import version as dist_version

    from kompy import __version__

    key = "|".join([
        __version__, dist_version("kubernetes-validate"), fastjsonschema.VERSION,
        sys.implementation.cache_tag or "", version, api_version, kind,
        hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
    ])
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return _CACHE_DIR / "validators" / f"{kind.lower()}-{digest}.marshal"


@functools.cache
def validator(version: str, api_version: str, kind: str) -> Validator:
    """The compiled validator of one kind, cached for the life of the process (and on disk
    when a cache folder is set)."""
    import marshal

    cache = _cache_file(version, api_version, kind)
    code = None
    if cache is not None and cache.is_file():
        try:
            code = marshal.loads(cache.read_bytes())
        except (ValueError, EOFError, TypeError, OSError):
            code = None
    if code is None:
        source = fastjsonschema.compile_to_code(build_schema(version, api_version, kind))
        code = compile(source, f"<kubernetes {version} {kind} schema>", "exec")
        if cache is not None:
            import contextlib

            from kompy.fsutil import write_atomic

            with contextlib.suppress(OSError):  # a cache that cannot be written costs time only
                write_atomic(cache, marshal.dumps(code))
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - code generated by fastjsonschema from the schemas
    compiled: Validator = namespace["validate"]
    return compiled


def validate_object(obj: dict[str, Any], version: str, source: str = "") -> None:
    """Raise InternalError naming the template and object when ``obj`` fails its schema."""
    kind = obj.get("kind")
    api_version = obj.get("apiVersion")
    name = (obj.get("metadata") or {}).get("name", "?")
    where = f" (rendered from template {source})" if source else ""
    if not isinstance(kind, str) or not isinstance(api_version, str):
        raise InternalError(f"object {name}{where} has no kind or apiVersion")
    check = validator(version, api_version, kind)
    try:
        check(obj)
    except fastjsonschema.JsonSchemaValueException as exc:
        field = str(exc.name).replace("data", "", 1).lstrip(".") or "(root)"
        raise InternalError(
            f"{kind}/{name}{where} is not a valid Kubernetes {version} object: "
            f"{field}: {exc.message.replace(str(exc.name), '').strip()}",
            hint="a template produced an invalid object; fix the template "
            "(or report a bug in kompy if it is a built-in one)",
        ) from None


def validate_all(objects: list[dict[str, Any]], sources: list[str], version: str) -> None:
    """Validate every object; the first invalid one is raised (they share templates)."""
    for index, obj in enumerate(objects):
        validate_object(obj, version, sources[index] if index < len(sources) else "")
