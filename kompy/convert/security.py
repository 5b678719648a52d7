"""Security contexts: Docker's defaults, the Compose security keys, and ``--security``.

``--security default`` behaves as ``docker compose up``: the pod's ``seccompProfile:
RuntimeDefault`` (Docker applies its default seccomp profile too) and nothing Docker does not
do. In particular no ``allowPrivilegeEscalation: false`` unless the Compose file asks for it
(``security_opt: [no-new-privileges:true]``): Docker does not set no_new_privs by default, and
images that rely on file capabilities or setuid binaries (ping, sudo, an app binding :80 as
a user through ``setcap``) break under it.

``--security baseline|restricted`` are the Pod Security Standards' levels
(https://kubernetes.io/docs/concepts/security/pod-security-standards/): the pods are made
to pass that level, or the conversion fails naming every Compose key that prevents it.
``restricted`` also needs a non-root user it can prove: a numeric ``user:``, or an image whose
USER is a non-zero uid (inspected when a Docker engine has the image).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kompy.convert.context import ConvertContext
from kompy.convert.images import local_image
from kompy.convert.specs import PodSpec
from kompy.errors import ConvertError, KeyPath, UserError
from kompy.model import Service

if TYPE_CHECKING:
    from kompy.client.objects import Obj

# Pod Security Standards, "restricted": the only volume types allowed.
RESTRICTED_VOLUME_TYPES = frozenset({
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
})
# Sysctls the "baseline" standard allows (and kubelet allows without --allowed-unsafe-sysctls).
SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
})


def _capability(name: str) -> str:
    # Docker accepts "CAP_NET_ADMIN" and "NET_ADMIN"; Kubernetes names drop the prefix.
    upper = name.upper()
    return upper[4:] if upper.startswith("CAP_") else upper


def container_security(ctx: ConvertContext, service: Service, run_as: tuple[int | None, int | None]
                       ) -> Obj:
    base: KeyPath = ("services", service.name)
    sc: Obj = {}
    restricted = ctx.options.security == "restricted"
    no_new_privileges = False  # Docker's default (dockerd --no-new-privileges is off)
    seccomp: Obj | None = None
    for index, option in enumerate(service.security_opt):
        key, _, value = option.replace("=", ":", 1).partition(":")
        path = (*base, "security_opt", index)
        if key == "no-new-privileges":
            no_new_privileges = value.lower() in ("", "true")
            ctx.mapped(path, "securityContext.allowPrivilegeEscalation")
        elif key == "seccomp":
            if value == "unconfined":
                seccomp = {"type": "Unconfined"}
            else:
                seccomp = {"type": "Localhost", "localhostProfile": value}
                ctx.approximated(path, "securityContext.seccompProfile",
                                 "the profile file must exist on each node under the kubelet's "
                                 "seccomp folder")
            ctx.mapped(path, "securityContext.seccompProfile")
        elif key == "apparmor" and _minor(ctx.kube_version) < 30:
            ctx.dropped(path, "securityContext.appArmorProfile needs Kubernetes 1.30 or newer",
                        hint="use --kube-version 1.30 or later")
        elif key == "apparmor":
            sc["appArmorProfile"] = ({"type": "Unconfined"} if value == "unconfined" else
                                     {"type": "Localhost", "localhostProfile": value})
            ctx.mapped(path, "securityContext.appArmorProfile")
        else:
            ctx.dropped(path, f"security_opt {option!r} has no Kubernetes equivalent")
    if service.privileged:
        sc["privileged"] = True
        ctx.mapped((*base, "privileged"), "securityContext.privileged")
    elif no_new_privileges or restricted:
        sc["allowPrivilegeEscalation"] = False
    caps: Obj = {}
    add = [_capability(c) for c in service.cap_add]
    drop = [_capability(c) for c in service.cap_drop]
    if restricted and "ALL" not in drop:
        drop = ["ALL", *drop]
    if add:
        caps["add"] = add
        ctx.mapped((*base, "cap_add"), "securityContext.capabilities.add")
    if drop:
        caps["drop"] = drop
        if service.cap_drop:
            ctx.mapped((*base, "cap_drop"), "securityContext.capabilities.drop")
    if caps:
        sc["capabilities"] = caps
    if service.read_only:
        sc["readOnlyRootFilesystem"] = True
        ctx.mapped((*base, "read_only"), "securityContext.readOnlyRootFilesystem")
    user, group = run_as
    if user is not None:
        sc["runAsUser"] = user
    if group is not None:
        sc["runAsGroup"] = group
    if restricted:
        sc["runAsNonRoot"] = True
    if seccomp is not None:
        sc["seccompProfile"] = seccomp
    return sc


def _minor(version: str) -> int:
    return int(version.split(".")[1])


def pod_security(ctx: ConvertContext, services: list[Service]) -> Obj:
    """The pod securityContext: seccomp default, fsGroup, supplementalGroups, sysctls."""
    sc: Obj = {"seccompProfile": {"type": "RuntimeDefault"}}
    if ctx.options.security == "restricted":
        sc["runAsNonRoot"] = True
    groups: list[int] = []
    sysctls: dict[str, str] = {}
    # x-kompy fs_group wins; else the group that lets each user read its mounted files (any
    # one does: fsGroup is added to the groups of every container of the pod).
    groups_wanted = [ctx.settings(s).fs_group for s in services]
    groups_wanted += [file_reader_group(ctx, s) for s in services]
    fs_group = next((g for g in groups_wanted if g is not None), None)
    if fs_group is not None:
        sc["fsGroup"] = fs_group
    for service in services:
        base: KeyPath = ("services", service.name)
        for index, group in enumerate(service.group_add):
            if str(group).isdigit():
                groups.append(int(group))
                ctx.mapped((*base, "group_add", index), "securityContext.supplementalGroups")
            else:
                ctx.dropped((*base, "group_add", index),
                            f"group {group!r} is not numeric; Kubernetes needs a GID",
                            hint="use the numeric group id")
        for key, value in service.sysctls.items():
            path = (*base, "sysctls", key)
            if key in SAFE_SYSCTLS:
                sysctls[key] = str(value)
                ctx.mapped(path, "securityContext.sysctls")
            else:
                ctx.dropped(path, f"sysctl {key} is not in Kubernetes' safe set; pods using "
                            "it are rejected unless the kubelet allows it",
                            hint="allow it with the kubelet's --allowed-unsafe-sysctls and set "
                            "it in a --templates override of pod.yaml.j2")
    if groups:
        sc["supplementalGroups"] = sorted(set(groups))
    if sysctls:
        sc["sysctls"] = [{"name": k, "value": v} for k, v in sorted(sysctls.items())]
    return sc


def file_reader_group(ctx: ConvertContext, service: Service) -> int | None:
    """The ``fsGroup`` that lets ``service``'s user read the secrets and configs it mounts,
    or None when it needs none.

    Kubernetes writes Secret and ConfigMap files as root, with the item's ``mode``. Under
    Docker Compose the container's user reads them: a file secret is a bind mount of the
    host file (Compose does not apply ``uid``/``gid``/``mode`` to those), and a secret from
    ``environment``/``content`` is copied in, owned by ``uid``/``gid``. So a ``mode`` that
    closes the file to others (``0400``) or a ``uid``/``gid`` would lock a non-root user
    out on a real cluster. ``fsGroup`` opens them: the kubelet gives the volume's files to
    that group and adds group read (SetVolumeOwnership), and adds the group to every
    container's groups (https://kubernetes.io/docs/tasks/configure-pod-container/
    security-context/). The group is the reference's ``gid`` (else ``uid``), else the
    service's ``user:`` group (else uid), else the local image's USER. None when the
    service runs as root, or its user is unknown (a public image, usually root).
    """
    refs = [*service.secrets, *service.configs]
    wanted = [r for r in refs if r.uid is not None or r.gid is not None
              or (r.mode is not None and not r.mode & 0o004)]
    if not wanted:
        return None
    for ref in wanted:
        for value in (ref.gid, ref.uid):
            if value is not None and value.isdigit():
                return int(value)
    user = service.user
    if not user:
        info = ctx.options.images.get(local_image(ctx, service))
        user = info.user if info is not None else ""
    name, _, group = user.partition(":")
    if name in ("", "0", "root"):
        return None  # root reads every file
    for value in (group, name):
        if value.isdigit():
            return int(value)
    return None


# Pod Security Standards, "baseline": capabilities that may be added (Docker's default set).
BASELINE_CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})


def check_security(ctx: ConvertContext, pod: PodSpec, services: list[Service]) -> list[UserError]:
    """Every Compose key that keeps this pod from the ``--security`` level (none for default)."""
    level = ctx.options.security
    if level == "default":
        return []
    restricted = level == "restricted"
    errors: list[UserError] = []

    def fail(path: KeyPath, message: str, hint: str) -> None:
        errors.append(ConvertError(f"--security {level}: {message}",
                                   location=ctx.locate(path), key_path=path, hint=hint))

    for service in services:
        base: KeyPath = ("services", service.name)
        if service.privileged:
            fail((*base, "privileged"), "privileged containers are not allowed",
                 "remove privileged: true")
        for index, cap in enumerate(service.cap_add):
            name = _capability(cap)
            if restricted and name != "NET_BIND_SERVICE":
                fail((*base, "cap_add", index), f"capability {cap} cannot be added",
                     "only NET_BIND_SERVICE may be added")
            elif not restricted and name not in BASELINE_CAPABILITIES:
                fail((*base, "cap_add", index), f"capability {cap} cannot be added",
                     "baseline allows only Docker's default capabilities")
        if restricted:
            problem = _user_problem(ctx, service)
            if problem is not None:
                fail(*problem)
        if service.pid == "host":
            fail((*base, "pid"), "the host PID namespace is not allowed", "remove pid: host")
        if service.ipc == "host":
            fail((*base, "ipc"), "the host IPC namespace is not allowed", "remove ipc: host")
        if service.network_mode == "host":
            fail((*base, "network_mode"), "the host network is not allowed",
                 "remove network_mode: host")
        for index, option in enumerate(service.security_opt):
            if option.replace("=", ":").startswith(("seccomp:unconfined", "apparmor:unconfined")):
                fail((*base, "security_opt", index), f"{option} is not allowed",
                     "remove it: the runtime's default profile is required")
            if restricted and option.replace("=", ":") in ("no-new-privileges:false",):
                fail((*base, "security_opt", index), "privilege escalation must be off",
                     "remove no-new-privileges:false")
        if ctx.settings(service).host_ports and service.ports:
            fail((*base, "labels", "kompose.controller.port.expose"),
                 "host ports are not allowed", "remove the label")
    for volume in pod.volumes:
        kinds = [k for k in volume if k != "name"]
        if not kinds:
            continue
        if (kinds[0] not in RESTRICTED_VOLUME_TYPES) if restricted else kinds[0] == "hostPath":
            owner = _volume_owner(volume["name"], pod)
            path: KeyPath = ("services", owner, "volumes") if owner else ("services",)
            fail(path, f"volume {volume['name']} of type {kinds[0]} is not allowed",
                 "use --volumes persistentVolumeClaim, emptyDir or configMap for bind mounts")
    return errors


def _user_problem(ctx: ConvertContext, service: Service
                  ) -> tuple[KeyPath, str, str] | None:
    """Why "restricted" cannot prove ``service`` runs as non-root (runAsNonRoot needs a
    numeric uid: the kubelet refuses to start a container whose user is a name)."""
    base: KeyPath = ("services", service.name)
    fix = (f'set `user: "<uid>"` on {service.name} (a non-zero uid the image can run as, '
           'for example "1000")')
    if service.user:
        user = service.user.partition(":")[0]
        if user in ("0", "root"):
            return (*base, "user"), f"{service.name} runs as root", fix
        if not user.isdigit():
            return ((*base, "user"), f"{service.name}'s user {user!r} is a name; Kubernetes "
                    "can only check runAsNonRoot against a numeric uid", fix)
        return None
    image = local_image(ctx, service)
    info = ctx.options.images.get(image)
    if info is None:
        return ((*base,), f"{service.name} sets no user and the user of image {image} is "
                "unknown (the image is not in the local Docker engine, or no engine answered)",
                fix)
    root = info.runs_as_root()
    if root is None:
        return ((*base,), f"image {image} runs as user {info.user!r}, a name; Kubernetes can "
                "only check runAsNonRoot against a numeric uid", fix)
    if root:
        return (*base,), f"image {image} runs as root (it sets no non-root USER)", fix
    return None


def _volume_owner(volume: str, pod: PodSpec) -> str | None:
    for container in pod.containers:
        if any(mount["name"] == volume for mount in container.volume_mounts):
            return container.service
    return None


def wait_container_security() -> Obj:
    """The waiting init container runs as nobody with nothing: it passes "restricted"."""
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 65534,
        "runAsGroup": 65534,
    }

