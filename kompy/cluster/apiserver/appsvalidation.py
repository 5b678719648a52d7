"""apps/v1 spec rules of pkg/apis/apps/validation, with kube-apiserver's messages.

A DaemonSet's RollingUpdate takes either ``maxUnavailable`` or ``maxSurge`` above zero,
never both and never neither (ValidateRollingUpdateDaemonSet); each is a non-negative int
or a percentage of at most 100%. A Deployment's RollingUpdate may not have both at 0
(ValidateRollingUpdateDeployment), nor Recreate a rollingUpdate. ``minReadySeconds`` is
never negative. Validation runs on
the defaulted object, so ``maxSurge: 1`` alone meets the defaulted ``maxUnavailable: 1``
and is refused, as upstream refuses it.

A bad IntOrString is printed as Go's ``%#v`` of the value
(``intstr.IntOrString{Type:0, IntVal:1, StrVal:""}``), as apimachinery's field errors print
a struct without a String method: that is the text kubectl users see.
"""

from __future__ import annotations

import json
import re
from typing import Any

Problems = list[tuple[str, str]]

_PERCENT = re.compile(r"^[0-9]+%$")
_PERCENT_MESSAGE = ("a valid percent string must be a numeric string followed by an ending "
                    "'%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")
_NONNEGATIVE = "must be greater than or equal to 0"
_STRATEGIES = ("RollingUpdate", "OnDelete")


def go_intstr(value: Any) -> str:
    """Go's ``%#v`` of an intstr.IntOrString."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f'intstr.IntOrString{{Type:0, IntVal:{value}, StrVal:""}}'
    return f"intstr.IntOrString{{Type:1, IntVal:0, StrVal:{json.dumps(str(value))}}}"


def _percent(value: Any) -> int | None:
    if isinstance(value, str) and _PERCENT.match(value):
        return int(value[:-1])
    return None


def _int_or_percent_value(value: Any) -> int:
    """getIntOrPercentValue: the percentage's number, else the int (a non-percent string
    that parses as an int counts as that int, as IntOrString.IntValue does)."""
    percent = _percent(value)
    if percent is not None:
        return percent
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        return 0


def int_or_percent(value: Any, at: str, problems: Problems) -> None:
    """ValidatePositiveIntOrPercent and IsNotMoreThan100Percent."""
    if isinstance(value, str):
        if _percent(value) is None:
            problems.append((at, f"Invalid value: {go_intstr(value)}: {_PERCENT_MESSAGE}"))
    elif isinstance(value, int) and value < 0:
        problems.append((at, f"Invalid value: {value}: {_NONNEGATIVE}"))


def _over_100(value: Any, at: str, problems: Problems) -> None:
    percent = _percent(value)
    if percent is not None and percent > 100:
        problems.append((at, f"Invalid value: {go_intstr(value)}: must not be greater than 100%"))


def min_ready_seconds(spec: dict[str, Any], problems: Problems) -> None:
    value = spec.get("minReadySeconds")
    if isinstance(value, int) and value < 0:
        problems.append(("spec.minReadySeconds", f"Invalid value: {value}: {_NONNEGATIVE}"))


def daemonset_strategy(spec: dict[str, Any], problems: Problems) -> None:
    """ValidateDaemonSetUpdateStrategy on the defaulted spec."""
    strategy = spec.get("updateStrategy")
    if not isinstance(strategy, dict):
        return
    kind = strategy.get("type")
    if kind == "OnDelete":
        return
    if kind != "RollingUpdate":
        # Go prints the rollingUpdate pointer's address; nil is the common case (defaulting
        # fills it only for RollingUpdate), and any address will do for the other.
        pointer = "(*apps.RollingUpdateDaemonSet)(nil)" if not strategy.get("rollingUpdate") \
            else "(*apps.RollingUpdateDaemonSet)(0xc000000000)"
        supported = ", ".join(json.dumps(s) for s in _STRATEGIES)
        problems.append(("spec.updateStrategy", "Unsupported value: apps.DaemonSetUpdateStrategy"
                         f"{{Type:{json.dumps(str(kind or ''))}, RollingUpdate:{pointer}}}: "
                         f"supported values: {supported}"))
        return
    rolling = strategy.get("rollingUpdate")
    if not isinstance(rolling, dict):
        problems.append(("spec.updateStrategy.rollingUpdate", "Required value"))
        return
    at = "spec.updateStrategy.rollingUpdate"
    unavailable, surge = rolling.get("maxUnavailable", 0), rolling.get("maxSurge", 0)
    int_or_percent(unavailable, f"{at}.maxUnavailable", problems)
    int_or_percent(surge, f"{at}.maxSurge", problems)
    _over_100(unavailable, f"{at}.maxUnavailable", problems)
    _over_100(surge, f"{at}.maxSurge", problems)
    has_unavailable = _int_or_percent_value(unavailable) != 0
    has_surge = _int_or_percent_value(surge) != 0
    if has_unavailable and has_surge:
        problems.append((f"{at}.maxSurge", f"Invalid value: {go_intstr(surge)}: may not be set "
                         "when maxUnavailable is non-zero"))
    elif not has_unavailable and not has_surge:
        problems.append((f"{at}.maxUnavailable", "Required value: cannot be 0 when maxSurge "
                         "is 0"))


def progress_deadline(spec: dict[str, Any], problems: Problems) -> None:
    """ValidateDeploymentSpec: progressDeadlineSeconds must exceed minReadySeconds (a
    rollout could never report progress otherwise)."""
    deadline, min_ready = spec.get("progressDeadlineSeconds"), spec.get("minReadySeconds") or 0
    if isinstance(deadline, int) and isinstance(min_ready, int) and deadline <= min_ready:
        problems.append(("spec.progressDeadlineSeconds", f"Invalid value: {deadline}: must be "
                         "greater than minReadySeconds"))


def deployment_strategy(spec: dict[str, Any], problems: Problems) -> None:
    """ValidateDeploymentStrategy on the defaulted spec: no rollingUpdate beside Recreate;
    for RollingUpdate, each of maxUnavailable and maxSurge a non-negative int or a
    percentage, not both 0, and maxUnavailable at most 100%."""
    strategy = spec.get("strategy")
    if not isinstance(strategy, dict):
        return
    rolling = strategy.get("rollingUpdate")
    if strategy.get("type") == "Recreate" and rolling is not None:
        problems.append(("spec.strategy.rollingUpdate", "Forbidden: may not be specified when "
                         "strategy `type` is 'Recreate'"))
        return
    if strategy.get("type") != "RollingUpdate" or not isinstance(rolling, dict):
        return
    at = "spec.strategy.rollingUpdate"
    unavailable, surge = rolling.get("maxUnavailable", 0), rolling.get("maxSurge", 0)
    int_or_percent(unavailable, f"{at}.maxUnavailable", problems)
    int_or_percent(surge, f"{at}.maxSurge", problems)
    if _int_or_percent_value(unavailable) == 0 and _int_or_percent_value(surge) == 0:
        problems.append((f"{at}.maxUnavailable", f"Invalid value: {go_intstr(unavailable)}: "
                         "may not be 0 when `maxSurge` is 0"))
    _over_100(unavailable, f"{at}.maxUnavailable", problems)
