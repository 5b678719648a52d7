"""Loads a Compose project the way Docker Compose does, into the typed model.

The pipeline (each step in its own module):
discover files and environment -> read each file (kompy.yaml.reader) -> interpolate it with its own
positions -> make its relative paths absolute -> merge the files in order -> add the
``include``d projects -> resolve ``extends`` -> apply ``!reset``/``!override`` -> schema
validation -> profiles and service selection -> semantic validation -> ``Project.parse`` ->
read env files, secrets and configs.

A :class:`ProjectLocator` remembers which file and line each key came from, so errors found
after merging still point at the line that wrote the key.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from kompy.compose import discovery, schema
from kompy.compose.extends import ExtendsResolver
from kompy.compose.include import IncludeSpec, apply_includes, parse_includes
from kompy.compose.locator import ProjectLocator
from kompy.compose.merge import merge_projects, strip_tags
from kompy.compose.paths import read_project_file, resolve_paths
from kompy.compose.profiles import select_services, unused_profiles
from kompy.compose.validate import port_clashes, validate_project
from kompy.errors import ComposeError, Diagnostic, KompyError, SourceLocation
from kompy.model import Project
from kompy.yaml.reader import YamlDocument, decode_source, load_yaml


@dataclass(frozen=True)
class LoadOptions:
    files: tuple[str, ...] = ()  # -f, in order; empty: discover in project dir / cwd
    project_directory: str | None = None
    project_name: str | None = None
    env_files: tuple[str, ...] = ()  # --env-file, repeatable
    profiles: tuple[str, ...] = ()  # --profile (COMPOSE_PROFILES also honoured)
    services: tuple[str, ...] = ()  # select these services (plus their depends_on)
    interpolate: bool = True  # --no-interpolate turns it off
    allow_outside_project: bool = False
    environ: Mapping[str, str] | None = None  # None: os.environ
    cwd: str | None = None  # None: os.getcwd()


def load_project(options: LoadOptions, diagnostics: list[Diagnostic] | None = None) -> Project:
    """The resolved project; raises ComposeError (or MultiError) for anything wrong.

    Warnings are appended to ``diagnostics``, each once (a file read again for ``extends``
    would otherwise warn twice about the same unset variable).
    """
    found: list[Diagnostic] = []
    try:
        return _Loader(options, found).load()
    except KompyError as error:
        # `${PLEX_MEDIA_PATH}:/media` with the variable unset fails as ":/media": the
        # warning naming the variable goes with the error, so the user sees both.
        error.warnings = (*dict.fromkeys(found), *error.warnings)
        raise
    finally:
        if diagnostics is not None:
            diagnostics.extend(dict.fromkeys(found))


def project_to_compose(project: Project) -> dict[str, Any]:
    """The long form ``kompy config`` prints: the project name first, every key sorted."""
    body: dict[str, Any] = project.to_compose()
    body.pop("name", None)
    return {"name": project.name, **dict(sorted(body.items()))}


def read_environment(
    environ: Mapping[str, str], env_files: tuple[str, ...], folder: str, cwd: str,
) -> dict[str, str]:
    """Variables for interpolation: ``--env-file`` files (or ``.env`` in ``folder``), with
    the process environment winning (Compose: "the environment wins over .env")."""
    from kompy.compose.dotenv import read_dotenv

    values: dict[str, str] = {}

    def lookup(name: str) -> str | None:
        # Later lines and files may use earlier values; the process environment wins.
        return environ.get(name, values.get(name))

    paths = [os.path.join(cwd, f) for f in env_files]
    if not env_files:
        default = os.path.join(folder, ".env")
        paths = [default] if os.path.isfile(default) else []
    for path in paths:
        if not os.path.isfile(path):
            raise ComposeError(f"env file {path} not found", hint="check the --env-file option")
        values.update(read_dotenv(path, lookup))
    return {**values, **environ}


class _Loader:
    def __init__(self, options: LoadOptions, diagnostics: list[Diagnostic]) -> None:
        self.options = options
        self.diagnostics = diagnostics
        self.cwd = os.path.abspath(options.cwd or _getcwd())
        self.environ = dict(os.environ if options.environ is None else options.environ)
        self.documents: dict[str, list[YamlDocument]] = {}
        # Whether any file uses !reset / !override; without them the tag pass is skipped.
        self.tagged = False

    # -- the pipeline ---------------------------------------------------------------------------

    def load(self) -> Project:
        opts = self.options
        # COMPOSE_ENV_FILES: the default for --env-file (Docker Compose environment variables).
        env_files = opts.env_files or tuple(
            f.strip() for f in self.environ.get("COMPOSE_ENV_FILES", "").split(",") if f.strip())
        folder = discovery.dotenv_folder(opts.files, opts.project_directory, self.cwd)
        env = read_environment(self.environ, env_files, folder, self.cwd)
        found = discovery.discover(opts.files, opts.project_directory, self.cwd, env,
                                   self.diagnostics)
        if found.project_dir != folder and not env_files:
            # Discovered in a parent folder: .env belongs to the project directory.
            env = read_environment(self.environ, (), found.project_dir, self.cwd)
        name = discovery.project_name(opts.project_name, env,
                                      lambda: self.name_in_files(found.files, env),
                                      found.project_dir)
        env.setdefault("COMPOSE_PROJECT_NAME", name)
        data, locator = self.assemble(found.files, found.project_dir, env, ())
        data.pop("version", None)
        data.pop("name", None)
        schema.validate(data, locator.locate)
        profiles = opts.profiles or discovery.profiles_from_env(env)
        services = data.get("services") or {}
        enabled = select_services(services, profiles, opts.services, locator.locate)
        self.diagnostics.extend(unused_profiles(services, enabled, profiles, locator.locate))
        validate_project(data, locator.locate, enabled)
        data["services"] = enabled
        self.diagnostics.extend(port_clashes(data["services"], locator.locate))
        _fill_environment(data["services"], env)
        project = Project.parse(data, name=name, working_dir=found.project_dir,
                                locator=locator, compose_files=found.files)
        return self.read_contents(project, env)

    def assemble(self, files: tuple[str, ...], base: str, env: Mapping[str, str],
                 chain: tuple[str, ...]) -> tuple[dict[str, Any], ProjectLocator]:
        """Read, interpolate, include and merge ``files``, then resolve extends."""
        locator = ProjectLocator()
        data: dict[str, Any] | None = None
        includes: list[tuple[IncludeSpec, tuple[str, ...]]] = []
        for file in files:
            for document in self.parse_file(file, first=data is None):
                locator.add_document(document)
                one = self.prepare(document, base, env, locator)
                if "include" in one:
                    folder = base if file == discovery.STDIN else os.path.dirname(file)
                    specs = parse_includes(one.pop("include"), folder, locator)
                    includes += [(spec, (*chain, file)) for spec in specs]
                data = one if data is None else merge_projects(data, one)
        if data is None:
            data = {}
        if includes:
            data = apply_includes(data, includes, locator, env, self.assemble_include)
        services = data.get("services")
        if isinstance(services, dict) and any(
                isinstance(s, dict) and "extends" in s for s in services.values()):
            resolver = ExtendsResolver(lambda path: self.load_for_extends(path, env))
            data["services"] = resolver.resolve_all(services, files[0], locator)
        if self.tagged:
            data = strip_tags(data)
        return data, locator

    def prepare(self, document: YamlDocument, base: str, env: Mapping[str, str],
                locator: ProjectLocator) -> dict[str, Any]:
        """One document: interpolated, with absolute paths."""
        data: dict[str, Any] = document.data
        if self.options.interpolate:
            from kompy.compose.interpolate import interpolate

            data = interpolate(data, env.get, document.location, diagnostics=self.diagnostics)
        return resolve_paths(data, base)

    def assemble_include(self, spec: IncludeSpec, parent_env: Mapping[str, str],
                         chain: tuple[str, ...]) -> tuple[dict[str, Any], ProjectLocator]:
        # The included project's .env / env_file may use, but not override, the including
        # project's variables (compose-go: Environment.Merge keeps existing values).
        env = read_environment(parent_env, spec.env_files, spec.project_directory, self.cwd)
        return self.assemble(spec.paths, spec.project_directory, env, chain)

    def load_for_extends(self, path: str, env: Mapping[str, str]
                         ) -> tuple[dict[str, Any], ProjectLocator]:
        locator = ProjectLocator()
        data: dict[str, Any] = {}
        for document in self.parse_file(path, first=True):
            locator.add_document(document)
            one = self.prepare(document, os.path.dirname(path), env, locator)
            one.pop("include", None)  # only the named service is taken from this file
            data = merge_projects(data, one) if data else one
        services = data.get("services")
        return (services if isinstance(services, dict) else {}), locator

    # -- files ----------------------------------------------------------------------------------

    def parse_file(self, path: str, first: bool) -> list[YamlDocument]:
        """The documents of one file, each a mapping; cached, as extends may read it again."""
        if path in self.documents:
            return self.documents[path]
        try:
            if path == discovery.STDIN:
                raw = sys.stdin.buffer.read(discovery_limit() + 1)
            else:
                with open(path, "rb") as handle:
                    raw = handle.read(discovery_limit() + 1)
        except OSError as e:
            raise ComposeError(f"cannot read {path}: {e.strerror}",
                               location=SourceLocation(path)) from None
        text = decode_source(raw, path)
        self.tagged = self.tagged or "!reset" in text or "!override" in text
        documents = [d for d in load_yaml(text, path) if d.data is not None]
        if not documents:
            if first:
                raise ComposeError(
                    "the Compose file is empty", location=SourceLocation(path),
                    hint="a Compose file needs at least a services: mapping",
                )
            self.diagnostics.append(Diagnostic("empty Compose file ignored",
                                               location=SourceLocation(path)))
        for document in documents:
            if not isinstance(document.data, dict):
                kind = "a list" if isinstance(document.data, list) else \
                    f"the value {document.data!r}"
                raise ComposeError(
                    f"the top level of a Compose file must be a mapping, got {kind}",
                    location=SourceLocation(path, 1, 1),
                    hint="start the file with top-level keys such as services:",
                )
            if "version" in document.data:
                self.diagnostics.append(Diagnostic(
                    "the top-level version key is obsolete and ignored",
                    location=document.location(("version",)), key_path=("version",),
                    hint="remove it (Compose Specification: version is informative only)",
                ))
        self.documents[path] = documents
        return documents

    def name_in_files(self, files: tuple[str, ...], env: Mapping[str, str]
                      ) -> tuple[str, SourceLocation | None] | None:
        """The last ``name:`` in the Compose files, interpolated."""
        found: tuple[str, SourceLocation | None] | None = None
        for file in files:
            for document in self.parse_file(file, first=file == files[0]):
                value = document.data.get("name")
                if isinstance(value, str) and value:
                    if self.options.interpolate:
                        from kompy.compose.interpolate import interpolate

                        value = interpolate(value, env.get, document.location, ("name",))
                    if value:  # compose-go ignores a name that interpolates to nothing
                        found = (str(value), document.location(("name",)))
        return found

    # -- contents -------------------------------------------------------------------------------

    def read_contents(self, project: Project, env: Mapping[str, str]) -> Project:
        """Fill env_file values and secret/config contents, inside the project directory."""
        from kompy.compose.dotenv import parse_dotenv

        allow = self.options.allow_outside_project
        root = project.working_dir
        locate = project.locator.locate
        services = {}
        for name, service in project.services.items():
            env_files = []
            for i, env_file in enumerate(service.env_files):
                path = ("services", name, "env_file", i)
                if not env_file.required and not os.path.exists(env_file.path):
                    env_files.append(replace(env_file, values=None))
                    continue
                raw = read_project_file(env_file.path, root, allow, path, locate)
                text = decode_source(raw, env_file.path)
                values: dict[str, str | None] = (
                    _raw_env(text) if env_file.format == "raw"
                    else dict(parse_dotenv(text, env_file.path, env.get)))
                env_files.append(replace(env_file, values=values))
            services[name] = replace(service, env_files=tuple(env_files)) \
                if env_files else service
        secrets = {
            key: replace(secret, content=self.content(
                "secrets", key, secret.file, secret.environment, None, env, project))
            if not secret.external else secret
            for key, secret in project.secrets.items()
        }
        configs = {
            key: replace(config, content=self.content(
                "configs", key, config.file, config.environment, config.content_inline, env,
                project))
            if not config.external else config
            for key, config in project.configs.items()
        }
        return replace(project, services=services, secrets=secrets, configs=configs)

    def content(self, kind: str, key: str, file: str | None, variable: str | None,
                inline: str | None, env: Mapping[str, str], project: Project) -> bytes | None:
        locate = project.locator.locate
        if file is not None:
            return read_project_file(file, project.working_dir,
                                     self.options.allow_outside_project,
                                     (kind, key, "file"), locate)
        if variable is not None:
            value = env.get(variable)
            if value is None:
                path = (kind, key, "environment")
                raise ComposeError(
                    f"environment variable {variable} is not set",
                    location=locate(path), key_path=path,
                    hint=f"set {variable} in the environment or the .env file",
                )
            return value.encode()
        if inline is not None:
            return inline.encode()
        return None


def _raw_env(text: str) -> dict[str, str | None]:
    """``env_file: {format: raw}``: KEY=VALUE lines taken literally, no quotes, no
    interpolation (Compose Specification "env_file" format)."""
    values: dict[str, str | None] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        values[key.strip()] = value if sep else None
    return values


def _getcwd() -> str:
    try:
        return os.getcwd()
    except FileNotFoundError:
        raise ComposeError("the current folder no longer exists",
                           hint="cd to the project, or name it with --project-directory") from None


def discovery_limit() -> int:
    from kompy.yaml.reader import MAX_FILE_BYTES

    return MAX_FILE_BYTES


def _fill_environment(services: dict[str, Any], env: Mapping[str, str]) -> None:
    """``environment`` entries without a value take it from the environment, if set there
    (Compose Specification "environment": "the value is resolved from the environment")."""
    for name, service in list(services.items()):
        raw = service.get("environment") if isinstance(service, dict) else None
        if isinstance(raw, dict):
            if any(v is None and k in env for k, v in raw.items()):
                filled = {k: (env[k] if v is None and k in env else v) for k, v in raw.items()}
                services[name] = {**service, "environment": filled}
        elif isinstance(raw, list) and any(
                isinstance(v, str) and "=" not in v and v in env for v in raw):
            items = [f"{v}={env[v]}" if isinstance(v, str) and "=" not in v and v in env
                     else v for v in raw]
            services[name] = {**service, "environment": items}
