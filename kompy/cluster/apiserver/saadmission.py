"""The ServiceAccount admission step: every new pod runs as an account, with its token.

As kube-apiserver's ServiceAccount admission plugin (plugin/pkg/admission/serviceaccount):
a pod without ``serviceAccountName`` gets ``default``; a pod naming an account that does not
exist is refused (the ``default`` account excepted: its controller creates it right after
the namespace, and kompy lets a pod in a namespace a second old wait for it rather than fail);
and unless ``automountServiceAccountToken`` is false (on the pod, else on the account) the
pod gets the projected volume ``kube-api-access-XXXXX`` (a bound token the kubelet requests
and renews, the cluster's CA from the ``kube-root-ca.crt`` ConfigMap, the namespace) mounted
read-only at /var/run/secrets/kubernetes.io/serviceaccount in every container, where client
libraries' in-cluster configuration looks.
https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/#serviceaccount-admission-controller
"""

from __future__ import annotations

import secrets
import string

from kompy.client import resources
from kompy.client.errors import ApiError, NotFound
from kompy.client.objects import Obj
from kompy.client.resources import Resource
from kompy.cluster.store.sqlite import Store

MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
# The kubelet renews a token at 80% of its life; upstream's 3607 s marks the volume's own.
TOKEN_EXPIRATION = 3607
VOLUME_PREFIX = "kube-api-access-"
_SUFFIX = string.ascii_lowercase + string.digits
SERVICE_ACCOUNTS = resources.lookup("serviceaccounts")


def token_volume(name: str) -> Obj:
    return {"name": name, "projected": {"defaultMode": 0o644, "sources": [
        {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION, "path": "token"}},
        {"configMap": {"name": ROOT_CA_CONFIGMAP, "items": [{"key": "ca.crt",
                                                             "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}


class ServiceAccountAdmission:
    def __init__(self, store: Store) -> None:
        self.store = store

    def __call__(self, res: Resource, obj: Obj, old: Obj | None) -> None:
        if res.kind != "Pod" or old is not None:
            return
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or "default")
        account_name = str(spec.get("serviceAccountName") or spec.get("serviceAccount") or
                           "default")
        spec["serviceAccountName"] = account_name
        spec["serviceAccount"] = account_name    # the deprecated alias, as upstream fills it
        try:
            account: Obj | None = self.store.get(SERVICE_ACCOUNTS, namespace, account_name)
        except NotFound:
            if account_name != "default":
                pod = meta.get("name") or meta.get("generateName") or ""
                raise ApiError(403, "Forbidden", f'pods "{pod}" is forbidden: error looking '
                                                 f"up service account {namespace}/"
                                                 f'{account_name}: serviceaccount '
                                                 f'"{account_name}" not found') from None
            account = None
        automount = spec.get("automountServiceAccountToken")
        if automount is None and account is not None:
            automount = account.get("automountServiceAccountToken")
        if automount is False:
            return
        containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
        if any(m.get("mountPath") == MOUNT_PATH for c in containers
               for m in c.get("volumeMounts") or []):
            return       # the pod mounts a token of its own there
        volume = VOLUME_PREFIX + "".join(secrets.choice(_SUFFIX) for _ in range(5))
        spec.setdefault("volumes", []).append(token_volume(volume))
        for container in containers:
            container.setdefault("volumeMounts", []).append(
                {"name": volume, "mountPath": MOUNT_PATH, "readOnly": True})
