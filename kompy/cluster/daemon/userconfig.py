"""``kompy cluster kubeconfig --user NAME --namespace NS --role view``: a person's kubeconfig.

What an administrator does by hand on any cluster, in one step: a ServiceAccount ``NAME`` in
``NS`` stands for the person, a RoleBinding ``kompy-user-NAME`` gives it the ClusterRole
``view``, ``edit`` or ``admin`` in that namespace only (upstream's user-facing roles:
https://kubernetes.io/docs/reference/access-authn-authz/rbac/#user-facing-roles), and a
token from the TokenRequest API (``kubectl create token NAME --duration``) goes into a
kubeconfig whose context defaults to ``NS``. Running it again changes the role (a binding's
roleRef cannot change: the binding is replaced) and mints a new token; deleting the
ServiceAccount revokes every token it was given.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable

from kompy.client import Conflict, KubeClient, NotFound
from kompy.client import kubeconfig as kubeconfigs
from kompy.cluster.daemon.process import start
from kompy.errors import UserError

ROLES = ("view", "edit", "admin")
USER_LABEL = "kompy.dev/kubeconfig-user"
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def restricted_kubeconfig(cluster: str | None, user: str, namespace: str, role: str,
                          duration_seconds: int,
                          announce: Callable[[str], None] | None = None) -> tuple[str, str]:
    """The kubeconfig text and the token's expiry (RFC 3339)."""
    if not _NAME.match(user) or len(user) > 63:
        raise UserError(f"--user {user!r}: a user name here is a ServiceAccount name: lower "
                        "case letters, digits and '-', at most 63 characters")
    if role not in ROLES:
        raise UserError(f"--role {role!r}: choose one of {', '.join(ROLES)}")
    if duration_seconds < 600:
        raise UserError("--duration: a token lives at least 10 minutes (600 s)")
    state, api, _ = start(cluster, announce)
    client = KubeClient.for_server(str(api["url"]), str(api["token"]), ca=api.get("ca"))
    try:
        client.get("namespaces", namespace)
    except NotFound:
        raise UserError(f'namespace "{namespace}" not found',
                        hint=f"create it first: kubectl create namespace {namespace}") from None
    labels = {USER_LABEL: user}
    with contextlib.suppress(Conflict):
        client.create({"apiVersion": "v1", "kind": "ServiceAccount",
                       "metadata": {"name": user, "namespace": namespace, "labels": labels}})
    _bind(client, user, namespace, role, labels)
    answer = client.request(
        "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{user}/token",
        body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
              "spec": {"expirationSeconds": duration_seconds}}).json()
    status = answer.get("status") or {}
    ca_pem = state.dir.joinpath("tls.crt").read_bytes() if api.get("ca") else None
    name = f"{state.context}-{user}"
    text = kubeconfigs.render(str(api["url"]), str(status.get("token")), name, ca_pem,
                              namespace=namespace)
    return text, str(status.get("expirationTimestamp") or "")


def _bind(client: KubeClient, user: str, namespace: str, role: str,
          labels: dict[str, str]) -> None:
    binding_name = f"kompy-user-{user}"
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": binding_name, "namespace": namespace, "labels": labels},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                           "name": role},
               "subjects": [{"kind": "ServiceAccount", "name": user, "namespace": namespace}]}
    try:
        current = client.get("rolebindings", binding_name, namespace)
    except NotFound:
        current = None
    if current is not None:
        if current.get("roleRef") == binding["roleRef"] and \
                current.get("subjects") == binding["subjects"]:
            return
        client.delete("rolebindings", binding_name, namespace)
    client.create(binding)
