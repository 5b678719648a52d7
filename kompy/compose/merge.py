"""Merges Compose files (and extended services) by the Compose Specification's "merge" rules.

Mappings are merged key by key, sequences appended; the exceptions follow the specification
(https://github.com/compose-spec/compose-spec/blob/main/13-merge.md) and, where it is silent,
the reference implementation compose-go (``override/merge.go``, ``override/uncity.go``):

- ``command``, ``entrypoint`` and ``healthcheck.test`` are replaced, not appended;
- ``environment``, ``labels``, ``annotations``, ``sysctls``, ``extra_hosts``, ``build.args``...
  are merged by key, after turning the list form (``KEY=VALUE``) into a mapping;
- ``ports``, ``volumes``, ``secrets``, ``configs``, ``devices``, ``env_file`` and plain string
  lists (``dns``, ``expose``, ``cap_add``...) are appended and de-duplicated by their unique key
  (volumes by target, secrets/configs by target); a later entry replaces an earlier one;
- ``depends_on`` and ``networks`` lists become mappings and are merged by service/network name;
- ``!reset`` removes the value it overrides, ``!override`` replaces it outright.

Merging never mutates its inputs: override files are small, bases are shared by extends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kompy.model.volumes import split_volume_spec
from kompy.yaml.reader import Tagged

RESET = "!reset"

Merger = Callable[[Any, Any], Any]


def strip_tags(value: Any) -> Any:
    """Apply tags with nothing beneath them: ``!reset`` keys vanish, ``!override`` unwraps."""
    if isinstance(value, Tagged):
        return None if value.tag == RESET else strip_tags(value.value)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(item, Tagged) and item.tag == RESET:
                continue
            out[key] = strip_tags(item)
        return out
    if isinstance(value, list):
        return [strip_tags(item) for item in value if not _is_reset(item)]
    return value


def has_tags(value: Any) -> bool:
    if isinstance(value, Tagged):
        return True
    if isinstance(value, dict):
        return any(has_tags(v) for v in value.values())
    if isinstance(value, list):
        return any(has_tags(v) for v in value)
    return False


def _is_reset(value: Any) -> bool:
    return isinstance(value, Tagged) and value.tag == RESET


def merge_projects(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Merge a whole override file into the (already tag-free) result of the previous ones."""
    merged: dict[str, Any] = _merge_mapping(base, over, _TOP)
    return merged


def merge_services(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Merge one service definition over another (override files and ``extends``)."""
    merged: dict[str, Any] = _merge_mapping(base, over, _SERVICE)
    return merged


# -- generic rules ----------------------------------------------------------------------------

def _merge_mapping(base: Any, over: Any, rules: Mapping[str, Merger] | None = None) -> Any:
    if not isinstance(base, dict) or not isinstance(over, dict):
        return strip_tags(over)
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Tagged):
            if value.tag == RESET:
                out.pop(key, None)
            else:
                out[key] = strip_tags(value.value)
            continue
        if key not in out or out[key] is None:
            out[key] = strip_tags(value)
            continue
        if value is None:
            # compose-go mergeYaml: a null override keeps the base; !reset removes it.
            continue
        merger = rules.get(key) if rules else None
        if merger is None and rules is not None:
            merger = rules.get("*")
        out[key] = (merger or _merge_value)(out[key], value)
    return out


def _merge_value(base: Any, over: Any) -> Any:
    """Mappings merge, sequences append, anything else is replaced.

    An appended string or number already in the list is not repeated: the schema wants most
    string lists unique (network aliases, profiles, build tags...), and compose-go enforces it
    after merging.
    """
    if isinstance(base, dict) and isinstance(over, dict):
        return _merge_mapping(base, over)
    if isinstance(base, list) and isinstance(over, list):
        out = list(base)
        seen = {item for item in base if isinstance(item, (str, int, float))}
        for item in strip_tags(over):
            if isinstance(item, (str, int, float)):
                if item in seen:
                    continue
                seen.add(item)
            out.append(item)
        return out
    return strip_tags(over)


def _replace(base: Any, over: Any) -> Any:
    return strip_tags(over)


def _with(rules: Mapping[str, Merger]) -> Merger:
    """A mapping merge whose children follow ``rules``."""
    def merge(base: Any, over: Any) -> Any:
        return _merge_mapping(base, over, rules)
    return merge


def _each(rules: Mapping[str, Merger]) -> dict[str, Merger]:
    """Rules for a mapping of named items (services, volumes...), each merged by ``rules``."""
    return {"*": _with(rules)}


# -- key/value lists: environment, labels, sysctls, build.args... --------------------------

def to_mapping(value: Any, separator: str = "=") -> Any:
    """``["A=1", "B"]`` -> ``{"A": "1", "B": None}``; mappings are returned as they are."""
    if not isinstance(value, list):
        return value
    out: dict[str, Any] = {}
    for item in value:
        if isinstance(item, str):
            key, sep, rest = item.partition(separator)
            out[key] = rest if sep else None
        else:
            out[str(item)] = None
    return out


def _merge_keyed(base: Any, over: Any) -> Any:
    if isinstance(over, list) or isinstance(base, list):
        base, over = to_mapping(base), to_mapping(over)
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            if _is_reset(value):
                out.pop(key, None)
            else:
                out[key] = strip_tags(value)
        return out
    return strip_tags(over)


def _host_mapping(value: Any) -> Any:
    """extra_hosts: ``host=ip`` or ``host:ip`` entries (compose-go mergeExtraHosts)."""
    if not isinstance(value, list):
        return value
    out: dict[str, Any] = {}
    for item in value:
        text = str(item)
        sep = "=" if "=" in text else ":"
        host, _, ip = text.partition(sep)
        out[host] = ip
    return out


def _merge_hosts(base: Any, over: Any) -> Any:
    return _merge_keyed(_host_mapping(base), _host_mapping(over))


# -- sequences with a unique key --------------------------------------------------------------

def _unique_by(key_of: Callable[[Any], str], string_or_list: bool = False) -> Merger:
    """Append, then keep one entry per key; a later entry replaces an earlier one in place.

    For keys whose schema is string_or_list (env_file, dns, tmpfs...) a single string is a
    one-item list; elsewhere a string is left for the schema to refuse.
    """
    def merge(base: Any, over: Any) -> Any:
        if string_or_list:
            base = [base] if isinstance(base, str) else base
            over = [over] if isinstance(over, str) else over
        if not isinstance(base, list) or not isinstance(over, list):
            return strip_tags(over)
        out: list[Any] = []
        index: dict[str, int] = {}
        for item in [*base, *strip_tags(over)]:
            key = key_of(item)
            if key in index:
                out[index[key]] = item
            else:
                index[key] = len(out)
                out.append(item)
        return out
    return merge


def _text_key(item: Any) -> str:
    """The whole entry: ``security_opt: [label=user:a, label=role:b]`` are two entries."""
    return item if isinstance(item, str) else repr(item)


def _port_key(item: Any) -> str:
    if isinstance(item, dict):
        return "{}:{}:{}/{}".format(
            item.get("host_ip", "0.0.0.0"), item.get("published", ""),
            item.get("target"), item.get("protocol", "tcp"),
        )
    return str(item)


def volume_target(item: Any) -> str:
    """The container path of a volume, short (``src:dst:mode``) or long syntax."""
    if isinstance(item, dict):
        return str(item.get("target", ""))
    if isinstance(item, str):
        parts = split_volume_spec(item)
        return parts[1] if len(parts) > 1 else parts[0]
    return repr(item)


def _device_key(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("target") or item.get("source"))
    parts = str(item).split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def _mount_key(default_dir: str) -> Callable[[Any], str]:
    """Secrets and configs: unique by target (compose-go mountIndexer)."""
    def key(item: Any) -> str:
        if isinstance(item, dict):
            target = item.get("target")
            if target:
                return str(target)
            return f"{default_dir}/{item.get('source')}"
        return f"{default_dir}/{item}"
    return key


def _env_file_key(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("path"))
    return str(item)


# -- special mappings -------------------------------------------------------------------------

def _list_to_named(value: Any) -> Any:
    """depends_on / networks short lists -> mappings (item -> default long form)."""
    if isinstance(value, list):
        return {str(item): None for item in value}
    return value


def _merge_named(default: Callable[[], Any]) -> Merger:
    def merge(base: Any, over: Any) -> Any:
        base, over = _list_to_named(base), _list_to_named(over)
        if not isinstance(base, dict) or not isinstance(over, dict):
            return strip_tags(over)
        out = dict(base)
        for key, value in over.items():
            if _is_reset(value):
                out.pop(key, None)
            elif isinstance(out.get(key), dict) and isinstance(value, dict):
                out[key] = _merge_mapping(out[key], value)
            elif value is not None or key not in out:
                out[key] = strip_tags(value)
        return {k: (default() if v is None else v) for k, v in out.items()}
    return merge


def _depends_default() -> dict[str, Any]:
    return {"condition": "service_started", "required": True}


def _merge_build(base: Any, over: Any) -> Any:
    if isinstance(base, str):
        base = {"context": base}
    if isinstance(over, str):
        over = {"context": over}
    return _merge_mapping(base, over, _BUILD)


def _merge_logging(base: Any, over: Any) -> Any:
    """Options merge only when the driver stays the same (compose-go mergeLogging)."""
    if not isinstance(base, dict) or not isinstance(over, dict):
        return strip_tags(over)
    if over.get("driver") not in (None, base.get("driver")):
        return strip_tags(over)
    return _merge_mapping(base, over, {"options": _merge_keyed})


def _merge_ulimit(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        return _merge_mapping(base, over)
    return strip_tags(over)


def _merge_ipam_config(base: Any, over: Any) -> Any:
    def key(item: Any) -> str:
        return str(item.get("subnet")) if isinstance(item, dict) else repr(item)
    return _unique_by(key)(base, over)


_STRING_SETS = (
    "cap_add", "cap_drop", "dns_opt", "expose", "external_links", "links",
    "profiles", "security_opt", "device_cgroup_rules", "group_add",
)
_STRING_OR_LIST = ("dns", "dns_search", "tmpfs")

_BUILD: dict[str, Merger] = {
    "args": _merge_keyed,
    "labels": _merge_keyed,
    "additional_contexts": _merge_keyed,
    "extra_hosts": _merge_hosts,
    "tags": _unique_by(_text_key),
    "platforms": _unique_by(_text_key),
    "cache_from": _unique_by(_text_key),
}

_SERVICE: dict[str, Merger] = {
    "command": _replace,
    "entrypoint": _replace,
    "healthcheck": _with({"test": _replace}),
    "environment": _merge_keyed,
    "labels": _merge_keyed,
    "annotations": _merge_keyed,
    "sysctls": _merge_keyed,
    "extra_hosts": _merge_hosts,
    "build": _merge_build,
    "depends_on": _merge_named(_depends_default),
    "networks": _merge_named(lambda: None),
    "logging": _merge_logging,
    "ulimits": _with({"*": _merge_ulimit}),
    "ports": _unique_by(_port_key),
    "volumes": _unique_by(volume_target),
    "secrets": _unique_by(_mount_key("/run/secrets")),
    "configs": _unique_by(_mount_key("")),
    "devices": _unique_by(_device_key),
    "env_file": _unique_by(_env_file_key, string_or_list=True),
    "label_file": _unique_by(_env_file_key, string_or_list=True),
    "deploy": _with({
        "labels": _merge_keyed,
        "placement": _with({"constraints": _unique_by(_text_key),
                            "preferences": _unique_by(repr)}),
    }),
    **{key: _unique_by(_text_key) for key in _STRING_SETS},
    **{key: _unique_by(_text_key, string_or_list=True) for key in _STRING_OR_LIST},
}

_RESOURCE: dict[str, Merger] = {"labels": _merge_keyed, "driver_opts": _merge_keyed}

_TOP: dict[str, Merger] = {
    "services": _with(_each(_SERVICE)),
    "volumes": _with(_each(_RESOURCE)),
    "networks": _with(_each({**_RESOURCE, "ipam": _with({"config": _merge_ipam_config})})),
    "secrets": _with(_each(_RESOURCE)),
    "configs": _with(_each(_RESOURCE)),
}
