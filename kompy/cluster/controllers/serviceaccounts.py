"""Every namespace's ServiceAccount ``default`` and ConfigMap ``kube-root-ca.crt``.

As kube-controller-manager's serviceaccount controller (the ``default`` account of each
namespace, made again when deleted) and root-ca-cert-publisher (the API server's CA as
``ca.crt`` in ``kube-root-ca.crt``, put back when deleted or changed): the account pods run
as by default, and the CA their projected token volumes carry so clients inside the pods
can check the API server's certificate.
https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable

from kompy.client import Conflict, KubeClient, NotFound
from kompy.client.events import EventRecorder
from kompy.client.informer import Informers
from kompy.client.objects import Obj, name, namespace
from kompy.cluster.controllers.base import Controller

DEFAULT_ACCOUNT = "default"
ROOT_CA = "kube-root-ca.crt"


class DefaultAccounts(Controller):
    name = "serviceaccount"

    def __init__(self, client: KubeClient, informers: Informers, recorder: EventRecorder,
                 ca_pem: str = "") -> None:
        super().__init__(client, informers, recorder, workers=1)
        self.ca_pem = ca_pem
        self.namespaces = informers["namespaces"]
        self.accounts = informers["serviceaccounts"]
        self.configmaps = informers["configmaps"]
        self.namespaces.add_handler(lambda ns, deleted: None if deleted else
                                    self.queue.add(name(ns)))
        self.accounts.add_handler(self._on_owned(DEFAULT_ACCOUNT))
        self.configmaps.add_handler(self._on_owned(ROOT_CA))

    def _on_owned(self, wanted: str) -> Callable[[Obj, bool], None]:
        def handler(obj: Obj, _deleted: bool) -> None:
            if name(obj) == wanted:
                self.queue.add(namespace(obj))
        return handler

    def sync(self, key: Hashable) -> None:
        ns_name = str(key)
        ns = self.namespaces.get("", ns_name)
        if ns is None or (ns.get("metadata") or {}).get("deletionTimestamp"):
            return
        if self.accounts.get(ns_name, DEFAULT_ACCOUNT) is None:
            with contextlib.suppress(Conflict):
                self.client.create({"apiVersion": "v1", "kind": "ServiceAccount",
                                    "metadata": {"name": DEFAULT_ACCOUNT,
                                                 "namespace": ns_name}})
        current = self.configmaps.get(ns_name, ROOT_CA)
        wanted = {"ca.crt": self.ca_pem}
        if current is None:
            with contextlib.suppress(Conflict):
                self.client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
                    "name": ROOT_CA, "namespace": ns_name, "annotations": {
                        "kubernetes.io/description": _DESCRIPTION}}, "data": wanted})
        elif current.get("data") != wanted:
            with contextlib.suppress(NotFound):
                self.client.patch("configmaps", ROOT_CA, ns_name, {"data": wanted})


_DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when "
                "using internal endpoints such as the internal service IP or "
                "kubernetes.default.svc. No other usage is guaranteed across distributions "
                "of Kubernetes clusters.")
