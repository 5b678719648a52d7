"""The Eviction subresource (``POST pods/NAME/eviction``, policy/v1), as ``kubectl drain``
uses it: a delete that honours the pod's PodDisruptionBudget.

A pod selected by no budget is deleted. One selected by a budget is deleted only while the
budget allows a disruption (``status.disruptionsAllowed`` > 0): the allowance is taken
(and the pod noted in ``status.disruptedPods``, so the disruption controller does not count
it healthy before it is gone) before the pod is deleted; otherwise the answer is 429 "Cannot
evict pod as it would violate the pod's disruption budget.", which kubectl drain retries.
Pods that are finished, already deleting, or not Ready while the budget is met are deleted
without taking an allowance (unhealthyPodEvictionPolicy IfHealthyBudget).
https://kubernetes.io/docs/concepts/scheduling-eviction/api-eviction/
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from kompy.client import ApiError, Conflict, resources
from kompy.client.objects import (
    Obj,
    labels,
    name,
    pod_ready,
    pod_terminal,
    selector_matches,
    terminating,
)
from kompy.cluster.apiserver.handlers import Api, Route, bad_request

PDBS = resources.lookup("poddisruptionbudgets")
VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."
EVICTION_KINDS = ("Eviction",)
EVICTION_VERSIONS = ("policy/v1", "policy/v1beta1")


def _too_many(message: str, cause: str) -> ApiError:
    details = {"causes": [{"reason": "DisruptionBudget", "message": cause}]}
    return ApiError(429, "TooManyRequests", message,
                    body={"kind": "Status", "details": details})


def _check_body(route: Route, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("the body of an eviction must be an Eviction object")
    if body.get("kind") not in (None, *EVICTION_KINDS) or \
            body.get("apiVersion") not in (None, *EVICTION_VERSIONS):
        raise bad_request(f"expected policy/v1 Eviction, got {body.get('apiVersion')}/"
                          f"{body.get('kind')}")
    given = (body.get("metadata") or {}).get("name")
    if given and given != route.name:
        raise bad_request(f"name in URL does not match name in Eviction object: "
                          f"{route.name} != {given}")
    options = body.get("deleteOptions") or {}
    return dict(options) if isinstance(options, dict) else {}


def _grace(options: dict[str, Any]) -> int | None:
    grace = options.get("gracePeriodSeconds")
    if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool)):
        raise bad_request("DeleteOptions.gracePeriodSeconds must be an integer")
    return grace


def evict(api: Api, route: Route, body: Any, dry_run: bool = False) -> Obj:
    options = _check_body(route, body)
    dry_run = dry_run or options.get("dryRun") == ["All"]
    pod = api.get(route_of(route))
    success = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
               "code": 201}
    if not (pod_terminal(pod) or terminating(pod)):
        _take_allowance(api, route, pod, dry_run)
    api.delete(route_of(route), _grace(options), dry_run, options.get("propagationPolicy"))
    return success


def route_of(route: Route) -> Route:
    return Route(route.res, route.namespace, route.name, None)


def _take_allowance(api: Api, route: Route, pod: Obj, dry_run: bool) -> None:
    for _ in range(5):
        budgets = [b for b in api.list(Route(PDBS, route.namespace, None, None), None,
                                       None)["items"]
                   if selector_matches((b.get("spec") or {}).get("selector"), labels(pod))]
        if not budgets:
            return
        if len(budgets) > 1:
            raise ApiError(500, "InternalError", "This pod has more than one "
                           "PodDisruptionBudget, which the eviction subresource does not "
                           "support.")
        budget = budgets[0]
        status = dict(budget.get("status") or {})
        generation = (budget.get("metadata") or {}).get("generation", 1)
        if status.get("observedGeneration", 0) < generation:
            raise _too_many(VIOLATION, f"The disruption budget {name(budget)} is still "
                                       "being processed by the server.")
        healthy, desired = status.get("currentHealthy", 0), status.get("desiredHealthy", 0)
        if not pod_ready(pod) and healthy >= desired:
            return  # an unhealthy pod may go while the budget is met
        allowed = int(status.get("disruptionsAllowed") or 0)
        if allowed <= 0:
            raise _too_many(VIOLATION, f"The disruption budget {name(budget)} needs "
                                       f"{desired} healthy pods and has {healthy} currently")
        if dry_run:
            return
        status["disruptionsAllowed"] = allowed - 1
        stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        status["disruptedPods"] = {**(status.get("disruptedPods") or {}), name(pod): stamp}
        try:
            api.update(Route(PDBS, route.namespace, name(budget), "status"),
                       {**budget, "status": status})
            return
        except Conflict:
            continue  # the controller wrote meanwhile: read the budget again
    raise _too_many(VIOLATION, "The disruption budget is being updated too often; try "
                               "again.")
