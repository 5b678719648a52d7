"""A pod's container, as Kubernetes describes it, turned into a Docker container spec.

https://kubernetes.io/docs/tasks/inject-data-application/define-environment-variable-container/
(env, envFrom, valueFrom, ``$(VAR)`` expansion), .../define-command-argument-container/
(``command`` replaces the image's ENTRYPOINT and drops its CMD; ``args`` replaces CMD — which
is exactly what Docker does with Entrypoint/Cmd), .../security-context/ and
.../manage-resources-containers/ (limits -> Docker CPU and memory limits).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kompy.client.objects import Obj, namespace
from kompy.client.quantity import int_value, milli_value
from kompy.cluster.kubelet.backend import ContainerSpec, Mount
from kompy.cluster.kubelet.volumes import (
    Lookup,
    PodConfigError,
    configmap_data,
    field_ref,
    secret_data,
)

_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: defined variables are replaced, undefined references
    stay as written, and ``$$`` escapes a ``$``."""

    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        var = m.group(1)
        return env[var] if var in env else m.group(0)

    return _VAR.sub(repl, text)


def resolve_env(pod: Obj, container: dict[str, Any], configmaps: Lookup, secrets: Lookup,
                host_ip: str = "", service_env: dict[str, str] | None = None) -> dict[str, str]:
    """The container's environment, in Kubernetes' order: the Services' variables
    (``service_env``: KUBERNETES_SERVICE_HOST...), envFrom, then env."""
    ns = namespace(pod)
    env: dict[str, str] = dict(service_env or {})
    for src in container.get("envFrom") or []:
        prefix = str(src.get("prefix") or "")
        data: dict[str, bytes] = {}
        if "configMapRef" in src:
            ref = src["configMapRef"]
            cm = configmaps(ns, str(ref.get("name")))
            if cm is None and not ref.get("optional"):
                raise PodConfigError(f'configmap "{ref.get("name")}" not found')
            data = configmap_data(cm) if cm else {}
        elif "secretRef" in src:
            ref = src["secretRef"]
            secret = secrets(ns, str(ref.get("name")))
            if secret is None and not ref.get("optional"):
                raise PodConfigError(f'secret "{ref.get("name")}" not found')
            data = secret_data(secret) if secret else {}
        for key, raw in data.items():
            if _ENV_NAME.match(prefix + key):  # invalid names are skipped, as the kubelet does
                env[prefix + key] = raw.decode(errors="replace")
    for item in container.get("env") or []:
        var = str(item.get("name"))
        if "valueFrom" not in item:
            env[var] = expand(str(item.get("value") or ""), env)
            continue
        value = _value_from(pod, item["valueFrom"], ns, configmaps, secrets, host_ip)
        if value is not None:
            env[var] = value
    return env


def _value_from(pod: Obj, src: dict[str, Any], ns: str, configmaps: Lookup, secrets: Lookup,
                host_ip: str) -> str | None:
    for field, lookup, kind in (("configMapKeyRef", configmaps, "configmap"),
                                ("secretKeyRef", secrets, "secret")):
        if field not in src:
            continue
        ref = src[field]
        obj = lookup(ns, str(ref.get("name")))
        data = (configmap_data(obj) if kind == "configmap" else secret_data(obj)) if obj else {}
        key = str(ref.get("key"))
        if key not in data:
            if ref.get("optional"):
                return None
            what = f'{kind} "{ref.get("name")}"'
            raise PodConfigError(f"{what} not found" if obj is None
                                 else f"couldn't find key {key} in {what}")
        return data[key].decode(errors="replace")
    if "fieldRef" in src:
        return field_ref(pod, str(src["fieldRef"].get("fieldPath")), host_ip)
    if "resourceFieldRef" in src:
        return _resource_field(pod, src["resourceFieldRef"])
    raise PodConfigError("valueFrom: unsupported source " + ", ".join(src))


def _resource_field(pod: Obj, ref: dict[str, Any]) -> str:
    containers = (pod.get("spec") or {}).get("containers") or []
    wanted = ref.get("containerName")
    c: dict[str, Any] = next(
        (c for c in containers if not wanted or c.get("name") == wanted), {})
    section, _, res = str(ref.get("resource")).partition(".")
    value = ((c.get("resources") or {}).get(section) or {}).get(res)
    if value is None:
        return "0"
    if res == "cpu":
        return str(max(1, -(-milli_value(value) // 1000)))
    return str(int_value(value))


def security(pod: Obj, container: dict[str, Any]) -> dict[str, Any]:
    """Docker options from the pod's and the container's securityContext (the latter wins)."""
    psc = (pod.get("spec") or {}).get("securityContext") or {}
    csc = container.get("securityContext") or {}
    user = csc.get("runAsUser", psc.get("runAsUser"))
    group = csc.get("runAsGroup", psc.get("runAsGroup"))
    out: dict[str, Any] = {"user": None, "group_add": [], "cap_add": [], "cap_drop": []}
    if user is not None:
        out["user"] = f"{user}:{group}" if group is not None else str(user)
    elif group is not None:
        out["user"] = f"0:{group}"
    extra = [*(psc.get("supplementalGroups") or [])]
    if psc.get("fsGroup") is not None:
        extra.append(psc["fsGroup"])
    out["group_add"] = [str(g) for g in extra]
    caps = csc.get("capabilities") or {}
    out["cap_add"] = [_cap(c) for c in caps.get("add") or []]
    out["cap_drop"] = [_cap(c) for c in caps.get("drop") or []]
    out["privileged"] = bool(csc.get("privileged"))
    out["read_only"] = bool(csc.get("readOnlyRootFilesystem"))
    # allowPrivilegeEscalation: false is Linux's no_new_privs flag, Docker's no-new-privileges.
    out["no_new_privileges"] = csc.get("allowPrivilegeEscalation") is False
    # seccompProfile RuntimeDefault is Docker's default profile; Unconfined is not offered.
    return out


def _cap(name: Any) -> str:
    text = str(name).upper()
    return text if text == "ALL" or text.startswith("CAP_") else f"CAP_{text}"


def limits(container: dict[str, Any]) -> tuple[int | None, int | None]:
    """(nano CPUs, memory bytes) from ``resources.limits``."""
    lim = (container.get("resources") or {}).get("limits") or {}
    cpu = milli_value(lim["cpu"]) * 1_000_000 if "cpu" in lim else None
    mem = int_value(lim["memory"]) if "memory" in lim else None
    return cpu, mem


def container_spec(pod: Obj, container: dict[str, Any], *, name: str, image: str,
                   labels: dict[str, str], sandbox_id: str | None, env: dict[str, str],
                   mounts: list[Mount]) -> ContainerSpec:
    sec = security(pod, container)
    nano_cpus, mem_limit = limits(container)
    command = container.get("command")
    args = container.get("args")
    return ContainerSpec(
        name=name, image=image, labels=labels,
        entrypoint=[expand(str(c), env) for c in command] if command else None,
        command=[expand(str(a), env) for a in args] if args else None,
        env=env, working_dir=container.get("workingDir"), user=sec["user"],
        group_add=sec["group_add"],
        network_mode=f"container:{sandbox_id}" if sandbox_id else None, mounts=mounts,
        cap_add=sec["cap_add"], cap_drop=sec["cap_drop"], privileged=sec["privileged"],
        read_only=sec["read_only"], no_new_privileges=sec["no_new_privileges"],
        nano_cpus=nano_cpus, mem_limit=mem_limit, tty=bool(container.get("tty")),
        stdin_open=bool(container.get("stdin")),
    )



def api_service_env(cluster_ip: str, port: int = 443) -> dict[str, str]:
    """The variables the kubelet gives every container for the ``kubernetes`` Service, as
    for any Service (https://kubernetes.io/docs/concepts/services-networking/service/
    #environment-variables): how in-cluster clients find the API server."""
    if not cluster_ip:
        return {}
    url = f"tcp://{cluster_ip}:{port}"
    prefix = f"KUBERNETES_PORT_{port}_TCP"
    return {"KUBERNETES_SERVICE_HOST": cluster_ip, "KUBERNETES_SERVICE_PORT": str(port),
            "KUBERNETES_SERVICE_PORT_HTTPS": str(port), "KUBERNETES_PORT": url,
            prefix: url, f"{prefix}_PROTO": "tcp", f"{prefix}_PORT": str(port),
            f"{prefix}_ADDR": cluster_ip}
