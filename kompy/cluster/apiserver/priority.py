"""PriorityClasses and the Priority admission plugin, as kube-apiserver has them.

* A PriorityClass (``scheduling.k8s.io/v1``, cluster-scoped) names a pod priority. Its
  ``value`` and ``preemptionPolicy`` (default ``PreemptLowerPriority``) are immutable; a user
  class's value is at most 1e9 (``HighestUserDefinablePriority``); names starting
  ``system-`` are reserved for the two built-in classes, which kube-apiserver makes at start
  and never lets anyone delete (pkg/apis/scheduling/validation, registry/scheduling).
* At most one class is ``globalDefault`` (plugin/pkg/admission/priority: Forbidden).
* A new pod's ``priorityClassName`` becomes its ``spec.priority`` and
  ``spec.preemptionPolicy``; a pod that names none gets the globalDefault class's (and its
  name), or priority 0 and ``PreemptLowerPriority`` when there is none. A pod naming a class
  that does not exist, or stating a priority or policy other than its class's, is refused
  (403). An update that leaves them out keeps them (the update rule of the same plugin).
https://kubernetes.io/docs/concepts/scheduling-eviction/pod-priority-preemption/
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from kompy.client import resources
from kompy.client.errors import ApiError, Conflict
from kompy.client.objects import Obj, copy_json
from kompy.client.resources import Resource
from kompy.cluster.apiserver.admission import invalid
from kompy.cluster.apiserver.quota import Listing, forbidden
from kompy.cluster.apiserver.schemas import FieldError

PRIORITY_CLASSES = resources.lookup("priorityclasses")
SYSTEM_PREFIX = "system-"
HIGHEST_USER_PRIORITY = 1_000_000_000
PREEMPT_LOWER = "PreemptLowerPriority"
NEVER = "Never"
POLICIES = (NEVER, PREEMPT_LOWER)
DEFAULT_PRIORITY = 0    # scheduling.DefaultPriorityWhenNoDefaultClassExists

# The built-in classes (pkg/apis/scheduling/v1 SystemPriorityClasses), with their upstream
# descriptions.
SYSTEM_CLASSES: tuple[Obj, ...] = tuple({
    "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
    "metadata": {"name": name}, "value": value, "globalDefault": False,
    "preemptionPolicy": PREEMPT_LOWER, "description": description,
} for name, value, description in (
    ("system-node-critical", 2_000_001_000,
     "Used for system critical pods that must not be moved from their current node."),
    ("system-cluster-critical", 2_000_000_000,
     "Used for system critical pods that must run in the cluster, but can be moved to "
     "another node if necessary.")))
_SYSTEM_VALUES = {c["metadata"]["name"]: int(c["value"]) for c in SYSTEM_CLASSES}


def admit(res: Resource, obj: Obj, listing: Listing, old: Obj | None = None) -> None:
    """The Priority plugin's part for ``obj`` (changed in place), or its refusal."""
    if res.kind == "PriorityClass":
        obj.setdefault("preemptionPolicy", PREEMPT_LOWER)
        _validate_class(res, obj, old)
        _one_default(res, obj, listing(PRIORITY_CLASSES, ""), old)
    elif res.kind == "Pod" and old is None:
        _admit_pod(res, obj, listing(PRIORITY_CLASSES, ""))


def refuse_delete(name: str) -> None:
    """The built-in classes cannot be deleted (registry/scheduling/priorityclass)."""
    if name in _SYSTEM_VALUES:
        raise ApiError(403, "Forbidden", f'priorityclasses.scheduling.k8s.io "{name}" is '
                                         "forbidden: this is a system priority class and "
                                         "cannot be deleted")


def ensure_system_classes(create: Callable[[Obj], object]) -> None:
    """kube-apiserver's post-start hook: the two built-in classes, unless there."""
    for klass in SYSTEM_CLASSES:
        with contextlib.suppress(Conflict):
            create(copy_json(klass))


def default_class(classes: list[Obj]) -> Obj | None:
    """The globalDefault class; the lowest-valued one should a race have made several."""
    defaults = [c for c in classes if c.get("globalDefault") is True]
    return min(defaults, key=_value) if defaults else None


def _value(klass: Obj) -> int:
    value = klass.get("value")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _validate_class(res: Resource, obj: Obj, old: Obj | None) -> None:
    name = str((obj.get("metadata") or {}).get("name") or "")
    errors: list[FieldError] = []
    value = obj.get("value")
    if not isinstance(value, int) or isinstance(value, bool):
        errors.append(FieldError("value", "FieldValueRequired", "Required value"))
        value = 0
    if name.startswith(SYSTEM_PREFIX):
        problem = _system_problem(name, value, obj.get("globalDefault") is True)
        if problem:
            errors.append(FieldError(
                "metadata.name", "FieldValueForbidden",
                f"Forbidden: priority class names with '{SYSTEM_PREFIX}' prefix are reserved "
                f"for system use only. error: {problem}"))
    elif value > HIGHEST_USER_PRIORITY:
        errors.append(FieldError("value", "FieldValueForbidden",
                                 "Forbidden: maximum allowed value of a user defined priority "
                                 f"is {HIGHEST_USER_PRIORITY}"))
    policy = obj.get("preemptionPolicy")
    if policy not in POLICIES:
        errors.append(FieldError("preemptionPolicy", "FieldValueNotSupported",
                                 f'Unsupported value: "{policy}": supported values: '
                                 f'"{NEVER}", "{PREEMPT_LOWER}"'))
    if old is not None:
        if old.get("value") != obj.get("value"):
            errors.append(FieldError("value", "FieldValueForbidden",
                                     "Forbidden: may not be changed in an update."))
        if old.get("preemptionPolicy") != policy:
            errors.append(FieldError("preemptionPolicy", "FieldValueInvalid",
                                     f'Invalid value: "{policy}": field is immutable'))
    if errors:
        raise invalid(res, obj, errors)


def _system_problem(name: str, value: int, global_default: bool) -> str:
    """schedulingapiv1.IsKnownSystemPriorityClass's error, "" for a known system class."""
    if name not in _SYSTEM_VALUES:
        return f"{name} is not a known system priority class"
    if value != _SYSTEM_VALUES[name]:
        return f"value of {name} PriorityClass must be {_SYSTEM_VALUES[name]}"
    if global_default:
        return f"globalDefault of {name} PriorityClass must be false"
    return ""


def _one_default(res: Resource, obj: Obj, classes: list[Obj], old: Obj | None) -> None:
    if obj.get("globalDefault") is not True:
        return
    name = (obj.get("metadata") or {}).get("name")
    found = default_class(classes)
    if found is None:
        return
    found_name = (found.get("metadata") or {}).get("name")
    if old is None or found_name != name:
        raise forbidden(res, obj, f"PriorityClass {found_name} is already marked as default. "
                                  "Only one default can exist")


def _admit_pod(res: Resource, pod: Obj, classes: list[Obj]) -> None:
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return
    wanted = spec.get("priorityClassName") or ""
    if not wanted:
        klass = default_class(classes)
        if klass is not None:
            spec["priorityClassName"] = (klass.get("metadata") or {}).get("name")
    else:
        klass = next((c for c in classes if (c.get("metadata") or {}).get("name") == wanted),
                     None)
        if klass is None:
            raise forbidden(res, pod, f"no PriorityClass with name {wanted} was found")
    priority = _value(klass) if klass is not None else DEFAULT_PRIORITY
    policy = str(klass.get("preemptionPolicy") or PREEMPT_LOWER) if klass is not None \
        else PREEMPT_LOWER
    given = spec.get("priority")
    if given is not None and given != priority:
        raise forbidden(res, pod, f"the integer value of priority ({given}) must not be "
                                  "provided in pod spec; priority admission controller "
                                  f"computed {priority} from the given PriorityClass name")
    given_policy = spec.get("preemptionPolicy")
    if given_policy is not None and given_policy != policy:
        raise forbidden(res, pod, f"the string value of PreemptionPolicy ({given_policy}) "
                                  "must not be provided in pod spec; priority admission "
                                  f"controller computed {policy} from the given "
                                  "PriorityClass name")
    spec["priority"] = priority
    spec["preemptionPolicy"] = policy


__all__ = ["HIGHEST_USER_PRIORITY", "PRIORITY_CLASSES", "SYSTEM_CLASSES", "admit",
           "default_class", "ensure_system_classes", "refuse_delete"]
