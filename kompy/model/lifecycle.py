"""How a service's process is run and watched: command/entrypoint, restart, healthcheck,
post_start/pre_stop hooks, develop."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from kompy.errors import ComposeError, KeyPath
from kompy.model.base import Locator, Problems, fail, parse_items
from kompy.model.scalars import (
    EnvMapping,
    check_keys,
    env_mapping,
    expect_bool,
    expect_int,
    expect_list,
    expect_mapping,
    expect_str,
    flag,
    kind,
    opt_str,
    resolve_path,
    str_list,
)
from kompy.model.values import Duration

# Strings without quotes, backslashes or unusual whitespace split the same with str.split
# as with shlex (which is ten times slower).
_NEEDS_SHLEX = re.compile(r"['\"\\\x0b\x0c\x1c-\x1f]|[^\x00-\x7f]")
# A POSIX shell word: unquoted characters, '...', "..." (backslash escapes inside) or \x.
_WORD = re.compile(r"""(?:[^ \t\r\n'"\\]+|'[^']*'|"(?:[^"\\]|\\.)*"|\\.)+""", re.S)
_PART = re.compile(r"""[^'"\\]+|'([^']*)'|"((?:[^"\\]|\\.)*)"|\\(.)""", re.S)
_DQ_ESCAPE = re.compile(r'\\(["\\])')
_RESTART = re.compile(r"no|always|unless-stopped|on-failure(:\d+)?")
HEALTH_TESTS = frozenset({"CMD", "CMD-SHELL", "NONE"})
WATCH_ACTIONS = frozenset({"sync", "rebuild", "sync+restart", "sync+exec", "restart"})
_HEALTH_KEYS = frozenset({"test", "interval", "timeout", "start_period", "start_interval",
                          "retries", "disable"})
_HOOK_KEYS = frozenset({"command", "user", "privileged", "working_dir", "environment"})


def parse_command(raw: object, at: Locator, path: KeyPath) -> tuple[str, ...] | None:
    """command / entrypoint: a string is split with shell-word rules (compose-go uses
    go-shellwords; POSIX shlex splits the same way); a list is kept; null means the image's."""
    if raw is None:
        return None
    if isinstance(raw, str):
        if not _NEEDS_SHLEX.search(raw):
            return tuple(raw.split())
        words = split_words(raw)
        if words is not None:
            return words
        try:
            return tuple(shlex.split(raw, posix=True))
        except ValueError as e:
            raise fail(at, path, f"cannot split {raw!r} into words: {e}",
                       hint="check the quotes, or write the command as a list") from None
    if isinstance(raw, list):
        return str_list(raw, at, path, single=False)
    raise fail(at, path, f"expected a string or a list, got {kind(raw)}")


def split_words(text: str) -> tuple[str, ...] | None:
    """shlex.split(text) for well-formed text, done with two regular expressions; None when
    the quotes do not balance (the caller lets shlex word the error)."""
    words: list[str] = []
    pos = 0
    length = len(text)
    while True:
        while pos < length and text[pos] in " \t\r\n":
            pos += 1
        if pos == length:
            return tuple(words)
        match = _WORD.match(text, pos)
        if match is None:
            return None
        pos = match.end()
        if pos < length and text[pos] not in " \t\r\n":
            return None
        word = match.group()
        if "'" in word or '"' in word or "\\" in word:
            word = "".join([_unquote(part) for part in _PART.finditer(word)])
        words.append(word)


def _unquote(part: re.Match[str]) -> str:
    single, double, escaped = part.groups()
    if single is not None:
        return single
    if double is not None:
        # As shlex: inside double quotes a backslash escapes only " and itself.
        return _DQ_ESCAPE.sub(r"\1", double)
    if escaped is not None:
        return escaped
    return part.group()


def parse_restart(raw: object, at: Locator, path: KeyPath) -> str | None:
    """``restart``: no, always, on-failure[:N] or unless-stopped (compose-spec "restart")."""
    if raw is None:
        return None
    value = expect_str(raw, at, path)
    if not _RESTART.fullmatch(value):
        raise fail(at, path, f"unknown restart policy {value!r}",
                   hint="use no, always, on-failure, on-failure:N or unless-stopped")
    return value


@dataclass(frozen=True, slots=True)
class Healthcheck:
    test: tuple[str, ...] | None = None  # ("CMD", ...), ("CMD-SHELL", "..."), ("NONE",)
    interval: Duration | None = None
    timeout: Duration | None = None
    start_period: Duration | None = None
    start_interval: Duration | None = None
    retries: int | None = None
    disable: bool = False

    @classmethod
    def parse(cls, raw: object, at: Locator, path: KeyPath) -> Healthcheck:
        body = expect_mapping(raw, at, path)
        check_keys(body, _HEALTH_KEYS, at, path)
        try:
            return cls._fields(body, at, path)
        except ComposeError:
            # Report every bad key, not only the first: the keys are independent.
            problems = Problems()
            for key in body:
                problems.guard(cls._fields, {key: body[key]}, at, path)
            problems.raise_if_any()
            raise

    @classmethod
    def _fields(cls, body: dict[str, Any], at: Locator, path: KeyPath) -> Healthcheck:
        durations = {
            key: Duration.parse(body[key], at, (*path, key))
            for key in ("interval", "timeout", "start_period", "start_interval")
            if body.get(key) is not None
        }
        retries = body.get("retries")
        return cls(
            test=_health_test(body.get("test"), at, (*path, "test")),
            retries=expect_int(retries, at, (*path, "retries"), minimum=0)
            if retries is not None else None,
            disable=expect_bool(body.get("disable", False), at, (*path, "disable")),
            **durations,
        )

    def to_compose(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.disable:
            out["disable"] = True
        for key in ("interval", "start_interval", "start_period", "timeout"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value.to_compose()
        if self.retries is not None:
            out["retries"] = self.retries
        if self.test is not None:
            out["test"] = list(self.test)
        return dict(sorted(out.items()))


def _health_test(raw: object, at: Locator, path: KeyPath) -> tuple[str, ...] | None:
    """A string is run by the shell (["CMD-SHELL", s]); a list names its form first
    (compose-spec "healthcheck")."""
    if raw is None:
        return None
    if isinstance(raw, str):
        if raw == "NONE":
            return ("NONE",)
        return ("CMD-SHELL", raw)
    items = str_list(expect_list(raw, at, path), at, path, single=False)
    if not items:
        # compose-go reads `test: []` as an empty list and `docker compose config` omits it
        # (omitempty): the container keeps the image's HEALTHCHECK, as with no `test` at all.
        return None
    if items[0] not in HEALTH_TESTS:
        raise fail(at, (*path, 0), f"a healthcheck test list starts with CMD, CMD-SHELL or NONE, "
                                   f"not {items[0]!r}",
                   hint=f'write ["CMD", {", ".join(repr(i) for i in items)}]')
    return items


@dataclass(frozen=True, slots=True)
class Hook:
    """One ``post_start`` / ``pre_stop`` entry: a command Docker Compose runs in the container
    with ``docker exec``, whose options are the other keys (compose-spec "post_start";
    compose-go ``ServiceHook``). The command is read as ``command:`` is (:func:`parse_command`),
    and a hook without one is a load error, as a bad ``command:`` is."""

    command: tuple[str, ...]
    user: str | None = None
    privileged: bool = False
    working_dir: str | None = None  # in the container, as written
    environment: EnvMapping = field(default_factory=dict)   # "KEY" alone: None
    extensions: dict[str, Any] = field(default_factory=dict)  # x-* keys, as written

    @classmethod
    def parse(cls, raw: object, at: Locator, path: KeyPath) -> Hook:
        body = expect_mapping(raw, at, path)
        check_keys(body, _HOOK_KEYS, at, path)
        problems = Problems()
        command = problems.guard(_hook_command, body, at, path)
        user = problems.guard(opt_str, body.get("user"), at, (*path, "user"))
        privileged = problems.guard(flag, body.get("privileged"), at, (*path, "privileged"))
        working_dir = problems.guard(opt_str, body.get("working_dir"), at,
                                     (*path, "working_dir"))
        environment = problems.guard(env_mapping, body.get("environment"), at,
                                     (*path, "environment"))
        problems.raise_if_any()
        return cls(command=command or (), user=user, privileged=bool(privileged),
                   working_dir=working_dir or None, environment=environment or {},
                   extensions={k: v for k, v in sorted(body.items()) if k.startswith("x-")})

    def to_compose(self) -> dict[str, Any]:
        """The long form (compose-go ``ServiceHook``: the command as a list, empty keys
        left out)."""
        out: dict[str, Any] = {"command": list(self.command)}
        if self.user:
            out["user"] = self.user
        if self.privileged:
            out["privileged"] = True
        if self.working_dir:
            out["working_dir"] = self.working_dir
        if self.environment:
            out["environment"] = dict(self.environment)
        out.update(self.extensions)
        return dict(sorted(out.items()))


def _hook_command(body: dict[str, Any], at: Locator, path: KeyPath) -> tuple[str, ...]:
    if "command" not in body:
        raise fail(at, path, "a hook needs a command",
                   hint="write `command: ...` (a string or a list)")
    command = parse_command(body["command"], at, (*path, "command"))
    if not command:
        raise fail(at, (*path, "command"), "a hook's command is empty",
                   hint="give it a command to run, or remove the hook")
    return command


def parse_hooks(raw: object, at: Locator, path: KeyPath) -> tuple[Hook, ...]:
    """``post_start`` / ``pre_stop``: a list of hooks, run in order; every bad hook of the
    list reported at once."""
    if raw is None:
        return ()
    return parse_items(Hook.parse, expect_list(raw, at, path), at, path)


@dataclass(frozen=True, slots=True)
class WatchRule:
    path: str  # absolute path on the host
    action: str  # sync | rebuild | sync+restart | sync+exec | restart
    target: str | None = None  # path in the container (sync actions)
    ignore: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    exec_command: tuple[str, ...] | None = None
    # initial_sync, and exec's other keys under "exec" (user, privileged...): as written.
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: object, at: Locator, path: KeyPath, base_dir: str
              ) -> tuple[WatchRule, ...]:
        """One ``develop.watch`` entry; a list of paths gives one rule per path, as
        compose-go does."""
        body = expect_mapping(raw, at, path)
        if "path" not in body or "action" not in body:
            raise fail(at, path, "a watch rule needs a path and an action")
        action = expect_str(body["action"], at, (*path, "action"))
        if action not in WATCH_ACTIONS:
            raise fail(at, (*path, "action"), f"unknown watch action {action!r}",
                       hint="use " + ", ".join(sorted(WATCH_ACTIONS)))
        paths = str_list(body["path"], at, (*path, "path"))
        exec_command = None
        extra = {k: body[k] for k in sorted(body)
                 if k not in ("path", "action", "target", "ignore", "include", "exec")}
        if body.get("exec") is not None:
            block = expect_mapping(body["exec"], at, (*path, "exec"))
            exec_command = parse_command(block.get("command"), at, (*path, "exec", "command"))
            rest = {k: v for k, v in block.items() if k != "command"}
            if rest:
                extra["exec"] = dict(sorted(rest.items()))
        if action == "sync+exec" and exec_command is None:
            raise fail(at, path, "the sync+exec action needs exec.command")
        return tuple(
            cls(
                path=resolve_path(base_dir, p),
                action=action,
                target=opt_str(body.get("target"), at, (*path, "target")),
                ignore=str_list(body.get("ignore"), at, (*path, "ignore")),
                include=str_list(body.get("include"), at, (*path, "include")),
                exec_command=exec_command,
                extra=extra,
            )
            for p in paths
        )

    def to_compose(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: v for k, v in self.extra.items() if k != "exec"}
        out["action"] = self.action
        out["path"] = self.path
        if self.target is not None:
            out["target"] = self.target
        if self.ignore:
            out["ignore"] = list(self.ignore)
        if self.include:
            out["include"] = list(self.include)
        if self.exec_command is not None or "exec" in self.extra:
            block = dict(self.extra.get("exec") or {})
            if self.exec_command is not None:
                block["command"] = list(self.exec_command)
            out["exec"] = dict(sorted(block.items()))
        return dict(sorted(out.items()))


@dataclass(frozen=True, slots=True)
class Develop:
    watch: tuple[WatchRule, ...] = ()

    @classmethod
    def parse(cls, raw: object, at: Locator, path: KeyPath, base_dir: str) -> Develop:
        body = expect_mapping(raw, at, path)
        check_keys(body, frozenset({"watch"}), at, path)
        watch_path = (*path, "watch")
        items = expect_list(body.get("watch") or [], at, watch_path)
        # A rule with several paths gives one WatchRule per path.
        groups = parse_items(WatchRule.parse, items, at, watch_path, base_dir)
        return cls(watch=tuple(rule for group in groups for rule in group))

    def to_compose(self) -> dict[str, Any]:
        return {"watch": [rule.to_compose() for rule in self.watch]}


