"""ConfigMaps and Secrets from ``env_file``, top-level ``configs`` and ``secrets``, and how a
service's pod uses them (``envFrom``, volumes, mounts).

- ``env_file``: one ConfigMap per file (named after the file, as Kompose names it), used
  with ``envFrom`` in file order, so a later file wins as in Compose; ``environment``
  entries become ``env`` (the workload builder), which Kubernetes lets win over ``envFrom``,
  as Compose lets ``environment`` win over ``env_file``. Variables whose names look secret
  (PASSWORD, SECRET, TOKEN, KEY, ... see :func:`looks_secret`) go to a Secret
  ``<file>-secret`` instead, also used with ``envFrom``: kompy never puts them in
  a ConfigMap. (Secret-looking ``environment`` entries go to ``<service>-env-secret``,
  referenced with ``secretKeyRef``: kompy.convert.envsecret.)
- ``configs`` (file, content, environment): a ConfigMap per config, mounted as one file at
  the target (default ``/<name>``, compose-spec "configs") with ``subPath``.
- ``secrets`` (file, environment): a Secret (type Opaque) per secret, the file at
  ``/run/secrets/<name>`` or the target (a relative target is under /run/secrets,
  compose-spec "secrets"). By default the secrets under /run/secrets come from one
  projected volume mounted there (files are symlinks Kubernetes can update in place);
  secrets elsewhere, and every secret with ``--secrets-as-files`` (Kompose's flag), are
  mounted as single regular files with ``subPath`` (mounting a folder would hide the
  image's files in it). ``mode`` is kept; ``uid``/``gid`` have no Kubernetes equivalent
  per file (a warning; use ``fsGroup``).
- ``external: true`` configs and secrets are referenced by name (``name:`` or the key) and
  not created; the object is expected to hold one key named after the config or secret.

Secret values are only ever written into Secret objects' ``data``: never into a ConfigMap,
an annotation, a warning, an error or the report.
"""

from __future__ import annotations

import base64
import os
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from kompy.convert.context import ConvertContext, k8s_name
from kompy.convert.shared import claim, render, tool_annotations
from kompy.errors import ConvertError, KeyPath
from kompy.model import ConfigDef, EnvFile, SecretDef, Service, ServiceFileRef

SECRETS_DIR = "/run/secrets"
_KEY = re.compile(r"[-._a-zA-Z0-9]+")
# Words that mark a variable as secret when they appear anywhere in its name...
_SECRET_WORDS = ("PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "CREDENTIAL",
                 "PRIVATE", "APIKEY", "ACCESSKEY")
# ...and words that do when they are a whole part of it (DB_PASS, API_KEY, not MONKEY).
_SECRET_PARTS = frozenset({"PASS", "PWD", "KEY", "AUTH", "CERT", "SALT", "DSN"})


@dataclass
class PodConfig:
    """What a service's pod gets: objects to emit, and pieces for its pod spec."""

    objects: list[dict[str, Any]] = field(default_factory=list)
    env_from: list[dict[str, Any]] = field(default_factory=list)  # container envFrom
    volumes: list[dict[str, Any]] = field(default_factory=list)  # pod spec volumes
    mounts: list[dict[str, Any]] = field(default_factory=list)  # container volumeMounts


# A name ending in one of these holds where a secret is, not the secret: the official images'
# `*_FILE` convention (POSTGRES_PASSWORD_FILE=/run/secrets/db, read by their entrypoints).
_LOCATION_SUFFIXES = frozenset({"FILE", "PATH", "DIR", "FILENAME"})
# A name with one of these parts is a switch (MYSQL_ALLOW_EMPTY_PASSWORD=yes), not a secret.
_SWITCH_PARTS = frozenset({"ALLOW", "ENABLE", "ENABLED", "DISABLE", "DISABLED"})


def looks_secret(name: str) -> bool:
    """Whether an environment variable's name suggests its value is a secret."""
    upper = name.upper()
    parts = [part for part in re.split(r"[^A-Z0-9]+", upper) if part]
    if parts and (parts[-1] in _LOCATION_SUFFIXES or _SWITCH_PARTS.intersection(parts)):
        return False
    if any(word in upper for word in _SECRET_WORDS):
        return True
    return any(part in _SECRET_PARTS for part in parts)


def plan_config(ctx: ConvertContext, service: Service) -> PodConfig:
    """ConfigMaps/Secrets for ``service`` and how its pod uses them.

    Objects shared by several services (top-level configs and secrets) are returned once
    per conversion, with the first service that uses them.
    """
    pod = PodConfig()
    for index, env_file in enumerate(service.env_files):
        _plan_env_file(ctx, service, index, env_file, pod)
    for index, ref in enumerate(service.configs):
        _plan_config_ref(ctx, service, index, ref, pod)
    projected: list[dict[str, Any]] = []
    for index, ref in enumerate(service.secrets):
        _plan_secret_ref(ctx, service, index, ref, pod, projected)
    if projected:
        pod.volumes.append({"name": "secrets", "projected": {"sources": projected}})
        pod.mounts.append({"name": "secrets", "mountPath": SECRETS_DIR, "readOnly": True})
    return pod


# -- env_file ------------------------------------------------------------------------------------


def env_file_name(ctx: ConvertContext, service: Service, env_file: EnvFile) -> str:
    """Kompose's ConfigMap name for an env file (its ``FormatEnvName``): the file's path
    relative to the project with leading and trailing "." and "/" trimmed and every other
    character that is not a letter or digit made "-": ``hadoop-hive-namenode.env`` ->
    ``hadoop-hive-namenode-env``, ``env1/a.env`` -> ``env1-a-env``, ``.env`` -> ``env``. The
    name depends on the file alone, so services sharing a file share its ConfigMap. A name
    that would start with "-" (``src/.env`` is ``src--env``; only an odd one like ``._x``)
    gets the service's name in front, as Kompose does."""
    path = env_file.path
    if os.path.isabs(path):
        path = os.path.relpath(path, ctx.project.working_dir)
    name = re.sub(r"[^a-zA-Z0-9]", "-", path.replace(os.sep, "/").strip("./"))
    if not name or name.startswith("-"):
        name = f"{ctx.name(service)}{name}"
    return k8s_name(name, 63)


def _plan_env_file(ctx: ConvertContext, service: Service, index: int, env_file: EnvFile,
                   pod: PodConfig) -> None:
    path: KeyPath = ("services", service.name, "env_file", index)
    if env_file.values is None:
        ctx.approximated(path, None, "optional env file not found: nothing to load")
        return
    plain: dict[str, str] = {}
    secret: dict[str, str] = {}
    for key, value in env_file.values.items():
        if value is None:
            continue
        if not _KEY.fullmatch(key):
            ctx.warn(path, f"variable name {key!r} of an env file cannot be a ConfigMap key "
                     "and is left out", hint="rename it, or set it under environment:")
            continue
        (secret if looks_secret(key) else plain)[key] = value
    name = env_file_name(ctx, service, env_file)
    owner = f"env_file {env_file.path}"  # the file, whoever uses it: one shared ConfigMap
    # False when the same file was planned before (listed twice): reference, do not re-emit.
    emit = claim(ctx, f"ConfigMap/{name}", owner, path)
    claim(ctx, f"Secret/{name}-secret", owner, path)
    labels = ctx.project_labels()  # a file's objects may be shared by several services
    annotations = tool_annotations(ctx) or None
    targets = []
    if plain or not secret:
        if emit:
            pod.objects += _configmap(ctx, name, labels, annotations, plain, {})
        pod.env_from.append({"configMapRef": {"name": name}})
        targets.append(f"ConfigMap/{name}")
    if secret:
        if emit:
            pod.objects += secret_object(ctx, f"{name}-secret", labels, annotations, {
                key: value.encode() for key, value in secret.items()})
        pod.env_from.append({"secretRef": {"name": f"{name}-secret"}})
        targets.append(f"Secret/{name}-secret")
        ctx.approximated(path, " and ".join(targets) + " via envFrom",
                         "variables whose names look secret went to a Secret: "
                         + ", ".join(sorted(secret)))
    else:
        ctx.mapped(path, f"ConfigMap/{name} via envFrom")


# -- configs -------------------------------------------------------------------------------------


def data_key(name: str) -> str:
    """A ConfigMap/Secret key from a Compose name (keys allow [-._a-zA-Z0-9])."""
    return re.sub(r"[^-._a-zA-Z0-9]", "_", name) or "_"


def _plan_config_ref(ctx: ConvertContext, service: Service, index: int, ref: ServiceFileRef,
                     pod: PodConfig) -> None:
    path: KeyPath = ("services", service.name, "configs", index)
    definition = ctx.project.configs.get(ref.source)
    if definition is None:
        raise _undefined(ctx, path, "config", ref.source)
    object_name = definition_name(definition)
    key = data_key(ref.source)
    if not definition.external and claim(ctx, f"ConfigMap/{object_name}",
                                         f"config {ref.source}", path):
        content = _config_content(ctx, definition)
        text = _utf8(content)
        pod.objects += _configmap(
            ctx, object_name, ctx.project_labels(), tool_annotations(ctx) or None,
            {key: text} if text is not None else {},
            {key: base64.b64encode(content).decode()} if text is None else {})
    target = ref.target or f"/{ref.source}"
    if not target.startswith("/"):
        target = "/" + target
    volume = k8s_name(f"config-{object_name}")
    if not any(v["name"] == volume for v in pod.volumes):
        pod.volumes.append({"name": volume, "configMap": {
            "name": object_name, "items": [_item(key, key, ref.mode)]}})
    pod.mounts.append({"name": volume, "mountPath": target, "subPath": key, "readOnly": True})
    _report_ref(ctx, path, ref, f"ConfigMap/{object_name} mounted at {target}")


def _config_content(ctx: ConvertContext, definition: ConfigDef) -> bytes:
    if definition.content is not None:
        return definition.content
    if definition.content_inline is not None:
        return definition.content_inline.encode()
    raise ConvertError(
        f"config {definition.name} has no content",
        location=ctx.locate(("configs", definition.name)), key_path=("configs", definition.name),
        hint="give it a file:, content: or environment: that the loader can read")


def _utf8(content: bytes) -> str | None:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None


# -- secrets -------------------------------------------------------------------------------------


def secret_path(ref: ServiceFileRef) -> str:
    """Where a secret's file appears: /run/secrets/<name>, the target, or under /run/secrets."""
    target = ref.target or ref.source
    return target if target.startswith("/") else posixpath.join(SECRETS_DIR, target)


def _plan_secret_ref(ctx: ConvertContext, service: Service, index: int, ref: ServiceFileRef,
                     pod: PodConfig, projected: list[dict[str, Any]]) -> None:
    path: KeyPath = ("services", service.name, "secrets", index)
    definition = ctx.project.secrets.get(ref.source)
    if definition is None:
        raise _undefined(ctx, path, "secret", ref.source)
    object_name = definition_name(definition)
    key = data_key(ref.source)
    if not definition.external and claim(ctx, f"Secret/{object_name}",
                                         f"secret {ref.source}", path):
        pod.objects += secret_object(ctx, object_name, ctx.project_labels(),
                               tool_annotations(ctx) or None,
                               {key: _secret_content(ctx, definition)})
    mount_path = secret_path(ref)
    directory, filename = posixpath.split(mount_path)
    if directory == SECRETS_DIR and not ctx.options.secrets_as_files:
        projected.append({"secret": {"name": object_name,
                                     "items": [_item(key, filename, ref.mode)]}})
    else:
        volume = k8s_name(f"secret-{object_name}")
        if not any(v["name"] == volume for v in pod.volumes):
            pod.volumes.append({"name": volume, "secret": {
                "secretName": object_name, "items": [_item(key, key, ref.mode)]}})
        pod.mounts.append({"name": volume, "mountPath": mount_path, "subPath": key,
                           "readOnly": True})
    _report_ref(ctx, path, ref, f"Secret/{object_name} mounted at {mount_path}")


def _secret_content(ctx: ConvertContext, definition: SecretDef) -> bytes:
    if definition.content is not None:
        return definition.content
    # The message names the secret and where it should come from, never a value.
    source = (f"file {definition.file}" if definition.file else
              f"environment variable {definition.environment}" if definition.environment
              else "no file: or environment:")
    raise ConvertError(
        f"secret {definition.name} has no content ({source})",
        location=ctx.locate(("secrets", definition.name)), key_path=("secrets", definition.name),
        hint="the loader reads secret files and variables; check that the file exists or "
             "the variable is set")


# -- shared pieces -------------------------------------------------------------------------------


def definition_name(definition: ConfigDef | SecretDef) -> str:
    if definition.external:
        return k8s_name(definition.external_name or definition.name, 253)
    return k8s_name(definition.name, 253)


def _item(key: str, path: str, mode: int | None) -> dict[str, Any]:
    item: dict[str, Any] = {"key": key, "path": path}
    if mode is not None:
        item["mode"] = mode
    return item


def _report_ref(ctx: ConvertContext, path: KeyPath, ref: ServiceFileRef, target: str) -> None:
    if ref.uid is not None or ref.gid is not None:
        # kompy.convert.security.file_reader_group makes the pod's fsGroup that id.
        group = next((v for v in (ref.gid, ref.uid) if v is not None and v.isdigit()), None)
        ctx.warn(path, "uid and gid of a mounted file have no Kubernetes equivalent: the file "
                 "belongs to root" + (f", readable by the pod's fsGroup {group}" if group
                                      else ""),
                 hint="x-kompy: {fs_group: GID} chooses the pod's fsGroup")
        ctx.approximated(path, target, "uid/gid: the file is root's, group-readable through "
                         "fsGroup" if group else "uid/gid ignored")
    else:
        ctx.mapped(path, target)


def _undefined(ctx: ConvertContext, path: KeyPath, kind: str, name: str) -> ConvertError:
    return ConvertError(f"{kind} {name!r} is not defined at the top level",
                        location=ctx.locate(path), key_path=path,
                        hint=f"declare it under the top-level {kind}s: key")


def _configmap(ctx: ConvertContext, name: str, labels: dict[str, str],
               annotations: dict[str, str] | None, data: dict[str, str],
               binary: dict[str, str]) -> list[dict[str, Any]]:
    return render(ctx, "configmap.yaml.j2", {
        "metadata": ctx.metadata(name, labels, annotations), "data": data,
        "binary_data": binary})


def secret_object(ctx: ConvertContext, name: str, labels: dict[str, str],
            annotations: dict[str, str] | None, data: dict[str, bytes]) -> list[dict[str, Any]]:
    encoded = {key: base64.b64encode(value).decode("ascii") for key, value in data.items()}
    return render(ctx, "secret.yaml.j2", {
        "metadata": ctx.metadata(name, labels, annotations), "type": "Opaque",
        "data": encoded})
