"""``build:`` of a service: a context string or the long form (compose-spec "Build support")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kompy.errors import KeyPath
from kompy.model.base import Locator, fail
from kompy.model.scalars import (
    EnvMapping,
    env_mapping,
    expect_str,
    is_remote,
    kind,
    opt_str,
    resolve_path,
    str_list,
    str_mapping,
)

_TYPED = frozenset({"context", "dockerfile", "dockerfile_inline", "args", "target", "labels",
                    "cache_from", "network", "platforms", "additional_contexts"})


@dataclass(frozen=True, slots=True)
class Build:
    context: str  # absolute path, or a URL (git context)
    dockerfile: str | None = None
    dockerfile_inline: str | None = None
    args: EnvMapping = field(default_factory=dict)
    target: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    cache_from: tuple[str, ...] = ()
    network: str | None = None
    platforms: tuple[str, ...] = ()
    additional_contexts: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # other long-form keys, as written

    @classmethod
    def parse(cls, raw: object, at: Locator, path: KeyPath, base_dir: str) -> Build:
        """A string is the context; relative local contexts join ``base_dir``. As compose-go,
        the dockerfile defaults to "Dockerfile" unless ``dockerfile_inline`` is given."""
        if isinstance(raw, str):
            return cls(context=_context(raw, base_dir), dockerfile="Dockerfile")
        if not isinstance(raw, dict):
            raise fail(at, path, f"expected a build context string or mapping, got {kind(raw)}")
        context = expect_str(raw.get("context") or ".", at, (*path, "context"))
        inline = opt_str(raw.get("dockerfile_inline"), at, (*path, "dockerfile_inline"))
        dockerfile = opt_str(raw.get("dockerfile"), at, (*path, "dockerfile"))
        if dockerfile and inline is not None:
            raise fail(at, (*path, "dockerfile_inline"),
                       "dockerfile and dockerfile_inline cannot both be set")
        if dockerfile is None and inline is None:
            dockerfile = "Dockerfile"
        extra_contexts = str_mapping(raw.get("additional_contexts"), at,
                                     (*path, "additional_contexts"))
        return cls(
            context=_context(context, base_dir),
            dockerfile=dockerfile,
            dockerfile_inline=inline,
            args=env_mapping(raw.get("args"), at, (*path, "args")),
            target=opt_str(raw.get("target"), at, (*path, "target")),
            labels=str_mapping(raw.get("labels"), at, (*path, "labels")),
            cache_from=str_list(raw.get("cache_from"), at, (*path, "cache_from"), single=False),
            network=opt_str(raw.get("network"), at, (*path, "network")),
            platforms=str_list(raw.get("platforms"), at, (*path, "platforms"), single=False),
            additional_contexts={k: _extra_context(v, base_dir)
                                 for k, v in extra_contexts.items()},
            extra=_extra(raw, at, path),
        )

    def to_compose(self) -> dict[str, Any]:
        out: dict[str, Any] = {"context": self.context}
        if self.dockerfile is not None:
            out["dockerfile"] = self.dockerfile
        if self.dockerfile_inline is not None:
            out["dockerfile_inline"] = self.dockerfile_inline
        if self.args:
            out["args"] = dict(self.args)
        if self.target is not None:
            out["target"] = self.target
        if self.labels:
            out["labels"] = dict(self.labels)
        if self.cache_from:
            out["cache_from"] = list(self.cache_from)
        if self.network is not None:
            out["network"] = self.network
        if self.platforms:
            out["platforms"] = list(self.platforms)
        if self.additional_contexts:
            out["additional_contexts"] = dict(self.additional_contexts)
        out.update(self.extra)
        return dict(sorted(out.items()))


def _extra(raw: dict[str, Any], at: Locator, path: KeyPath) -> dict[str, Any]:
    """Untyped long-form keys as written, except build secrets in their long form
    ({source: name}), as compose-go's transformFileMount writes them."""
    extra = {k: raw[k] for k in sorted(raw) if k not in _TYPED}
    secrets = extra.get("secrets")
    if isinstance(secrets, list):
        for i, item in enumerate(secrets):
            if not isinstance(item, (str, dict)):
                raise fail(at, (*path, "secrets", i),
                           f"expected a secret name or mapping, got {kind(item)}")
        extra["secrets"] = [{"source": s} if isinstance(s, str) else s for s in secrets]
    return extra


def _context(context: str, base_dir: str) -> str:
    return context if is_remote(context) else resolve_path(base_dir, context)


def _extra_context(value: str, base_dir: str) -> str:
    """Additional contexts may name an image ("docker-image://"), a service ("service:") or a
    URL; only folders are made absolute."""
    if is_remote(value) or value.startswith("service:"):
        return value
    return resolve_path(base_dir, value)
