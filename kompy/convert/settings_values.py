"""The values of ``kompose.*`` labels and ``x-kompy`` keys: one converter per kind of value,
each returning the typed value or raising ValueError/TypeError with a short reason (which
kompy.convert.settings_parse turns into an error naming the file, line and key)."""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from collections.abc import Callable
from typing import Any

from kompy.convert.settings import CONCURRENCY_POLICIES, IngressRule
from kompy.errors import UserError
from kompy.model import Duration, NullLocator

_QUANTITY = re.compile(r"[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def integer(raw: Any) -> int:
    if isinstance(raw, bool):
        raise TypeError("")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and re.fullmatch(r"\s*-?\d+\s*", raw):
        return int(raw)
    raise ValueError("")


def count(raw: Any) -> int:
    value = integer(raw)
    if value < 0:
        raise ValueError("must not be negative")
    return value


def port(raw: Any) -> int:
    value = integer(raw)
    if not 1 <= value <= 65535:
        raise ValueError("must be between 1 and 65535")
    return value


def boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false", "yes", "no", "1", "0"):
        return raw.strip().lower() in ("true", "yes", "1")
    raise ValueError("")


def string(raw: Any) -> str:
    if isinstance(raw, bool) or raw is None or isinstance(raw, (dict, list)):
        raise TypeError("")
    text = str(raw).strip()
    if not text:
        raise ValueError("must not be empty")
    return text


def choice(choices: tuple[str, ...], fold: bool = True) -> Callable[[Any], str]:
    def convert(raw: Any) -> str:
        text = string(raw)
        for option in choices:
            if (option.lower() == text.lower()) if fold else option == text:
                return option
        raise ValueError(f"one of {', '.join(choices)}")

    return convert


def quantity(raw: Any) -> str:
    text = string(raw)
    if not _QUANTITY.fullmatch(text):
        raise ValueError('a Kubernetes quantity such as "1Gi" or "500M"')
    return text


def duration(raw: Any) -> Duration:
    try:
        return Duration.parse(raw, NullLocator(), ())
    except UserError as exc:
        raise ValueError(exc.message) from None


def percent(raw: Any) -> int:
    text = str(raw).strip().rstrip("%") if not isinstance(raw, bool) else ""
    value = integer(text)
    if not 1 <= value <= 100:
        raise ValueError("a percentage between 1 and 100")
    return value


def dns_label(raw: Any) -> str:
    text = string(raw)
    if len(text) > 63 or not _DNS_LABEL.fullmatch(text):
        raise ValueError("a DNS label: lower case letters, digits and '-', at most 63")
    return text


def dns_name(raw: Any) -> str:
    """A host name for an ExternalName Service (a DNS-1123 subdomain, as the API server
    checks ``externalName``); not an IP address, which a CNAME cannot hold."""
    text = string(raw).rstrip(".")
    try:
        ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        raise ValueError("a host name, not an IP address (a CNAME cannot point at an address)")
    if len(text) > 253 or not all(len(label) <= 63 and _DNS_LABEL.fullmatch(label)
                                  for label in text.split(".")):
        raise ValueError("a DNS name: lower case labels of letters, digits and '-', "
                         "separated by dots")
    return text


def command(raw: Any) -> tuple[str, ...]:
    """A command: a YAML list, a JSON array in a string (as Kompose labels), or shell words."""
    if isinstance(raw, (list, tuple)):
        return tuple(str(part) for part in raw)
    text = string(raw)
    if text.startswith("["):
        parsed = json.loads(text)
        if not isinstance(parsed, list):
            raise ValueError("a list of strings")
        return tuple(str(part) for part in parsed)
    return tuple(shlex.split(text))


def healthcheck_test(raw: Any) -> tuple[str, ...]:
    words = command(raw)
    if not words:
        raise ValueError("an empty test")
    if words[0] not in ("CMD", "CMD-SHELL", "NONE"):
        # A bare string is a shell command, as the Compose `test:` string form.
        text = raw.strip() if isinstance(raw, str) else shlex.join(words)
        return ("CMD-SHELL", text)
    return words


def ingress_rules(raw: Any) -> tuple[IngressRule, ...]:
    """kompose.service.expose: "true" or comma-separated hosts, each optionally with a path."""
    items = raw if isinstance(raw, (list, tuple)) else string(raw).split(",")
    rules: list[IngressRule] = []
    for item in items:
        text = string(item)
        if text.lower() == "true":
            rules.append(IngressRule(host=None))
            continue
        host, slash, path = text.partition("/")
        rules.append(IngressRule(host=host or None, path="/" + path if slash else "/"))
    return tuple(rules)


def concurrency(raw: Any) -> str:
    # Kompose documents "Never" as a value; Kubernetes knows Allow/Forbid/Replace.
    text = string(raw)
    if text.lower() == "never":
        return "Forbid"
    return choice(CONCURRENCY_POLICIES)(text)




# spec.behavior of an autoscaling/v2 HorizontalPodAutoscaler, as Kubernetes spells it, and
# the bounds its validation sets (k8s.io/kubernetes pkg/apis/autoscaling/validation).
_BEHAVIOR_RULE_KEYS = ("policies", "selectPolicy", "stabilizationWindowSeconds")
_SELECT_POLICIES = ("Max", "Min", "Disabled")
_POLICY_TYPES = ("Pods", "Percent")
MAX_STABILIZATION_SECONDS = 3600
MAX_PERIOD_SECONDS = 1800


def hpa_behavior(raw: Any) -> dict[str, Any]:
    """``{scaleUp: RULES, scaleDown: RULES}``, each RULES ``{stabilizationWindowSeconds,
    selectPolicy, policies: [{type, value, periodSeconds}]}``; ValueError names the first
    key that is wrong."""
    if not isinstance(raw, dict) or not raw:
        raise ValueError("a mapping of scaleUp and/or scaleDown")
    out: dict[str, Any] = {}
    for direction in sorted(raw, key=str):
        if direction not in ("scaleUp", "scaleDown"):
            raise ValueError(f"unknown key {direction!r}: use scaleUp or scaleDown")
        out[direction] = _scaling_rules(raw[direction], str(direction))
    return out


def _scaling_rules(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be a mapping")
    out: dict[str, Any] = {}
    for key in sorted(raw, key=str):
        value = raw[key]
        if key == "stabilizationWindowSeconds":
            out[key] = _bounded(value, f"{where}.{key}", 0, MAX_STABILIZATION_SECONDS)
        elif key == "selectPolicy":
            out[key] = _one_of(value, f"{where}.{key}", _SELECT_POLICIES)
        elif key == "policies":
            if not isinstance(value, list) or not value:
                raise ValueError(f"{where}.policies must be a list of at least one policy")
            out[key] = [_policy(p, f"{where}.policies[{i}]") for i, p in enumerate(value)]
        else:
            raise ValueError(f"unknown key {key!r} in {where}: use "
                             + ", ".join(_BEHAVIOR_RULE_KEYS))
    return out


def _policy(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict) or set(raw) != {"type", "value", "periodSeconds"}:
        raise ValueError(f"{where} must have exactly type, value and periodSeconds")
    return {"type": _one_of(raw["type"], f"{where}.type", _POLICY_TYPES),
            "value": _bounded(raw["value"], f"{where}.value", 1, None),
            "periodSeconds": _bounded(raw["periodSeconds"], f"{where}.periodSeconds", 1,
                                      MAX_PERIOD_SECONDS)}


def _bounded(raw: Any, where: str, low: int, high: int | None) -> int:
    try:
        value = integer(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{where} must be a whole number") from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{where} must be {bound}")
    return value


def _one_of(raw: Any, where: str, choices: tuple[str, ...]) -> str:
    if raw not in choices:
        raise ValueError(f"{where} must be one of {', '.join(choices)}")
    return str(raw)
