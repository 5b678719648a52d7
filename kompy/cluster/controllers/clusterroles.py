"""ClusterRole aggregation: a ClusterRole with an ``aggregationRule`` holds the rules of the
ClusterRoles its selectors match.

As kube-controller-manager's clusterrole-aggregation controller: ``admin``, ``edit`` and
``view`` are empty in the bootstrap policy and filled from the ``aggregate-to-*`` roles, and
a user's ClusterRole labelled ``rbac.authorization.k8s.io/aggregate-to-view: "true"`` extends
``view`` (so ``edit`` and ``admin`` too) within moments. The rules are the union, in the
order of the matched roles' names, without repeats.
https://kubernetes.io/docs/reference/access-authn-authz/rbac/#aggregated-clusterroles
"""

from __future__ import annotations

from collections.abc import Hashable

from kompy.client import KubeClient, NotFound
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers
from kompy.client.objects import Obj, labels, name
from kompy.client.selectors import matches_labels, selector_from_match
from kompy.cluster.controllers.base import Controller


class ClusterRoleAggregation(Controller):
    name = "clusterrole-aggregation"

    def __init__(self, client: KubeClient, informers: Informers,
                 recorder: EventRecorder) -> None:
        super().__init__(client, informers, recorder, workers=1)
        self.roles = informers["clusterroles"]
        # Any change may matter to every aggregated role: queue those.
        self.roles.add_handler(lambda _obj, _deleted: self._queue_aggregated())

    def _queue_aggregated(self) -> None:
        for role in self.roles.list():
            if role.get("aggregationRule"):
                self.queue.add(name(role))

    def sync(self, key: Hashable) -> None:
        role = self.roles.get("", str(key))
        if role is None or not role.get("aggregationRule"):
            return
        rules = aggregated_rules(role, self.roles.list())
        if rules != (role.get("rules") or []):
            try:
                self.client.patch("clusterroles", name(role), None, {"rules": rules})
            except NotFound:
                return


def aggregated_rules(role: Obj, roles: list[Obj]) -> list[Obj]:
    selectors = [selector_from_match(s) for s in
                 (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []]
    rules: list[Obj] = []
    for other in sorted(roles, key=name):
        if name(other) == name(role):
            continue
        if not any(matches_labels(selector, labels(other)) for selector in selectors):
            continue
        for rule in other.get("rules") or []:
            if rule not in rules:
                rules.append(rule)
    return rules
