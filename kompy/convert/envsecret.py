"""Inline ``environment`` entries whose names look secret (:func:`kompy.convert.config.
looks_secret`: PASSWORD, TOKEN, KEY, ...) go into one Secret per service instead of the
workload: kompy's rule is that secret values only ever appear in Secrets.

The Secret is ``<service>-env-secret`` (``-2``, ``-3``... when that name is taken by an
env_file's Secret, a top-level secret or a Secret the project refers to), type Opaque, one
key per variable. The container's ``env`` keeps the variable in the same position, with
``valueFrom.secretKeyRef`` instead of ``value``, so the order of ``env`` is unchanged and
``env`` still wins over ``envFrom`` as Compose's ``environment`` wins over ``env_file``
(https://kubernetes.io/docs/tasks/inject-data-application/define-environment-variable-container/
and .../distribute-credentials-secure/#define-container-environment-variables-using-secret-data).
Variables without a value are not touched (the container builder leaves them out).

The report gets one ``mapped`` record per moved variable naming the Secret and key; values
never appear in a record, a warning or an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kompy.convert.config import (
    data_key,
    definition_name,
    env_file_name,
    looks_secret,
    secret_object,
)
from kompy.convert.context import ConvertContext, k8s_name
from kompy.convert.shared import claim, tool_annotations
from kompy.convert.specs import ContainerSpec
from kompy.errors import KeyPath
from kompy.model import Service

if TYPE_CHECKING:
    from kompy.client.objects import Obj


def move_secret_env(ctx: ConvertContext, service: Service, container: ContainerSpec) -> list[Obj]:
    """Replace the secret-looking ``value`` entries of ``container.env`` (built from
    ``service.environment``) by ``secretKeyRef`` entries; the Secret to emit (or nothing)."""
    moved = [entry for entry in container.env if _is_secret(entry)]
    if not moved:
        return []
    name = env_secret_name(ctx, service)
    path: KeyPath = ("services", service.name, "environment")
    claim(ctx, f"Secret/{name}", f"environment of {service.name}", path)
    data: dict[str, bytes] = {}
    env: list[Obj] = []
    for entry in container.env:
        if not _is_secret(entry):
            env.append(entry)
            continue
        key = _unique_key(data_key(entry["name"]), data)
        data[key] = str(entry["value"]).encode()
        env.append({"name": entry["name"],
                    "valueFrom": {"secretKeyRef": {"name": name, "key": key}}})
        ctx.mapped((*path, entry["name"]), f"Secret/{name} key {key} via env secretKeyRef",
                   "the name looks secret, so the value is kept in a Secret")
    container.env = env
    return secret_object(ctx, name, ctx.labels(service), tool_annotations(ctx) or None, data)


def env_secret_name(ctx: ConvertContext, service: Service) -> str:
    """The name of the Secret holding ``service``'s secret-looking ``environment`` values."""
    if ctx.env_secret_names is None:
        ctx.env_secret_names = _plan_names(ctx)
    return ctx.env_secret_names[service.name]


def _is_secret(entry: Obj) -> bool:
    return "value" in entry and looks_secret(str(entry["name"]))


def _plan_names(ctx: ConvertContext) -> dict[str, str]:
    """Every service's env Secret name, chosen at once (in service order) among the names
    nothing else in the project may use, so the choice does not depend on which service is
    converted first."""
    taken = _reserved(ctx)
    names: dict[str, str] = {}
    for name in sorted(ctx.project.services):
        base = k8s_name(f"{ctx.name(name)}-env-secret", 253)
        candidate, index = base, 2
        while candidate in taken:
            candidate = k8s_name(f"{base[:240]}-{index}", 253)
            index += 1
        taken.add(candidate)
        names[name] = candidate
    return names


def _reserved(ctx: ConvertContext) -> set[str]:
    """Secret names that belong to something else: top-level secrets (created or external),
    env files' Secrets, and Secrets the services refer to (image pull, Ingress TLS)."""
    taken = {definition_name(d) for d in ctx.project.secrets.values()}
    for service in ctx.project.services.values():
        taken.update(f"{env_file_name(ctx, service, env_file)}-secret"
                     for env_file in service.env_files)
        settings = ctx.settings(service)
        if settings.image_pull_secret:
            taken.add(settings.image_pull_secret)
        if settings.ingress is not None and settings.ingress.tls_secret:
            taken.add(settings.ingress.tls_secret)
    return taken


def _unique_key(key: str, used: dict[str, bytes]) -> str:
    """Two variable names may give one Secret key ("A B" and "A_B" both give "A_B")."""
    candidate, index = key, 2
    while candidate in used:
        candidate = f"{key}_{index}"
        index += 1
    return candidate
