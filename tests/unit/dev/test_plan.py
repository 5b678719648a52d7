"""plan_changes / watched_roots on projects loaded from small Compose files in tmp_path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kompy.compose.loader import LoadOptions, load_project
from kompy.dev.plan import (
    ChangePlan,
    ServicePlan,
    SyncOp,
    config_files,
    plan_changes,
    watched_roots,
)
from kompy.errors import UserError
from kompy.model import Project


def load(root: Path, text: str) -> Project:
    (root / "compose.yaml").write_text(textwrap.dedent(text))
    return load_project(LoadOptions(cwd=str(root), files=("compose.yaml",), environ={}))


def touch(path: Path, text: str = "x") -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def plan(project: Project, *changed: str | Path) -> ChangePlan:
    return plan_changes(project, [str(c) for c in changed], config_files(project))


def only(result: ChangePlan, service: str) -> ServicePlan:
    assert not result.reload
    assert list(result.services) == [service], result
    return result.services[service]


RULE = """\
services:
  web:
    image: web
    develop:
      watch:
        - path: ./src
          action: {action}
          target: /app/src
          exec:
            command: ["sh", "-c", "kill -HUP 1"]
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    touch(tmp_path / "src" / "main.py")
    return tmp_path


# -- the actions ---------------------------------------------------------------------------------

def test_sync_copies_a_changed_file_to_the_target(app: Path) -> None:
    project = load(app, RULE.format(action="sync"))
    web = only(plan(project, app / "src" / "main.py"), "web")
    assert web.syncs == [SyncOp(str(app / "src" / "main.py"), "/app/src/main.py", False)]
    assert (web.rebuild, web.restart, web.exec_commands) == (False, False, [])
    assert web.changed == [str(app / "src" / "main.py")]


def test_a_deleted_file_is_deleted_in_the_container(app: Path) -> None:
    project = load(app, RULE.format(action="sync"))
    gone = app / "src" / "old" / "gone.py"
    web = only(plan(project, gone), "web")
    assert web.syncs == [SyncOp(str(gone), "/app/src/old/gone.py", True)]


def test_sync_restart_syncs_then_restarts(app: Path) -> None:
    project = load(app, RULE.format(action="sync+restart"))
    web = only(plan(project, app / "src" / "main.py"), "web")
    assert [op.container_path for op in web.syncs] == ["/app/src/main.py"]
    assert web.restart and not web.exec_commands


def test_sync_exec_syncs_then_runs_the_command(app: Path) -> None:
    project = load(app, RULE.format(action="sync+exec"))
    web = only(plan(project, app / "src" / "main.py"), "web")
    assert [op.container_path for op in web.syncs] == ["/app/src/main.py"]
    assert web.exec_commands == [("sh", "-c", "kill -HUP 1")]
    assert not web.restart


def test_restart_only_restarts(app: Path) -> None:
    project = load(app, RULE.format(action="restart"))
    web = only(plan(project, app / "src" / "main.py"), "web")
    assert web.restart and web.syncs == [] and not web.rebuild


def test_rebuild_rebuilds(app: Path) -> None:
    project = load(app, RULE.format(action="rebuild").replace("image: web", "build: ."))
    web = only(plan(project, app / "src" / "main.py"), "web")
    assert web.rebuild and web.syncs == [] and not web.restart


def test_a_rebuild_rule_without_a_build_does_nothing(app: Path) -> None:
    project = load(app, RULE.format(action="rebuild"))
    assert plan(project, app / "src" / "main.py").empty()


def test_a_sync_rule_without_target_still_restarts(app: Path) -> None:
    no_target = RULE.format(action="sync+restart").replace("          target: /app/src\n", "")
    project = load(app, no_target)
    web = only(plan(project, app / "src" / "main.py"), "web")
    assert web.syncs == [] and web.restart


# -- target mapping ------------------------------------------------------------------------------

@pytest.mark.parametrize(("target", "expected"), [
    ("/app/src", "/app/src/pkg/mod.py"),
    ("/app/src/", "/app/src/pkg/mod.py"),
    ("/", "/pkg/mod.py"),
    ("app", "/app/pkg/mod.py"),  # relative: from the container's root, as docker cp
    ("/app/./x/../src", "/app/src/pkg/mod.py"),
])
def test_the_target_gets_the_path_below_the_rule(app: Path, target: str, expected: str) -> None:
    project = load(app, RULE.format(action="sync").replace("/app/src", target))
    changed = touch(app / "src" / "pkg" / "mod.py")
    assert [op.container_path for op in only(plan(project, changed), "web").syncs] == [expected]


def test_a_file_rule_syncs_to_the_target_itself(tmp_path: Path) -> None:
    config = touch(tmp_path / "conf" / "nginx.conf")
    project = load(tmp_path, """\
        services:
          web:
            image: web
            develop:
              watch:
                - {path: ./conf/nginx.conf, action: sync+restart, target: /etc/nginx/nginx.conf}
        """)
    web = only(plan(project, config, touch(tmp_path / "conf" / "other.conf")), "web")
    assert web.syncs == [SyncOp(config, "/etc/nginx/nginx.conf", False)]
    assert web.restart


def test_syncs_are_deduplicated_and_sorted_by_container_path(tmp_path: Path) -> None:
    paths = [touch(tmp_path / "src" / name) for name in ("b.py", "a.py", "c/d.py")]
    project = load(tmp_path, """\
        services:
          web:
            image: web
            develop:
              watch:
                - {path: ./src, action: sync, target: /app}
                - {path: ./src, action: sync, target: /app}
        """)
    web = only(plan(project, *paths, paths[0]), "web")
    assert [op.container_path for op in web.syncs] == ["/app/a.py", "/app/b.py", "/app/c/d.py"]


def test_an_existing_folder_is_not_copied_but_its_files_are(tmp_path: Path) -> None:
    inner = touch(tmp_path / "src" / "pkg" / "mod.py")
    project = load(tmp_path, """\
        services:
          web:
            image: web
            develop:
              watch:
                - {path: ./src, action: sync, target: /app}
        """)
    web = only(plan(project, tmp_path / "src" / "pkg", inner), "web")
    assert web.syncs == [SyncOp(inner, "/app/pkg/mod.py", False)]


def test_a_removed_folder_is_removed_once(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    project = load(tmp_path, """\
        services:
          web:
            image: web
            develop:
              watch:
                - {path: ./src, action: sync, target: /app}
        """)
    gone = tmp_path / "src" / "pkg"
    web = only(plan(project, gone / "a.py", gone, gone / "sub" / "b.py",
                    tmp_path / "src" / "pkg-2.py"), "web")
    assert [(op.container_path, op.deleted) for op in web.syncs] == [
        ("/app/pkg", True), ("/app/pkg-2.py", True)]


# -- ignore, include, .dockerignore -------------------------------------------------------------

def test_ignore_patterns_are_relative_to_the_rule_path(tmp_path: Path) -> None:
    project = load(tmp_path, """\
        services:
          web:
            image: web
            develop:
              watch:
                - path: ./web
                  action: sync
                  target: /src
                  ignore: [node_modules/, "*.log", "**/*.tmp"]
        """)
    kept = [touch(tmp_path / "web" / "App.jsx"), touch(tmp_path / "web" / "lib" / "x.log"),
            touch(tmp_path / "web" / "node_modules_docs.md")]
    dropped = [touch(tmp_path / "web" / "node_modules" / "react" / "index.js"),
               touch(tmp_path / "web" / "debug.log"), touch(tmp_path / "web" / "a" / "b.tmp")]
    web = only(plan(project, *kept, *dropped), "web")
    assert [op.host_path for op in web.syncs] == sorted(kept)


def test_ignore_exceptions_with_a_bang(tmp_path: Path) -> None:
    project = load(tmp_path, """\
        services:
          web:
            image: web
            develop:
              watch:
                - {path: ./web, action: sync, target: /src, ignore: ["*.md", "!README.md"]}
        """)
    readme = touch(tmp_path / "web" / "README.md")
    web = only(plan(project, readme, touch(tmp_path / "web" / "NOTES.md")), "web")
    assert [op.host_path for op in web.syncs] == [readme]


def test_include_limits_the_rule_to_matching_files(tmp_path: Path) -> None:
    project = load(tmp_path, """\
        services:
          web:
            image: web
            develop:
              watch:
                - {path: ./src, action: sync+restart, target: /app, include: ["**/*.py"]}
        """)
    py = [touch(tmp_path / "src" / "a.py"), touch(tmp_path / "src" / "pkg" / "b.py")]
    web = only(plan(project, *py, touch(tmp_path / "src" / "style.css")), "web")
    assert [op.host_path for op in web.syncs] == py
    assert plan(project, tmp_path / "src" / "style.css").empty()


def test_ignore_wins_over_include(tmp_path: Path) -> None:
    project = load(tmp_path, """\
        services:
          web:
            image: web
            develop:
              watch:
                - path: ./src
                  action: sync
                  target: /app
                  include: ["**/*.py"]
                  ignore: [tests/]
        """)
    kept = touch(tmp_path / "src" / "a.py")
    web = only(plan(project, kept, touch(tmp_path / "src" / "tests" / "t.py")), "web")
    assert [op.host_path for op in web.syncs] == [kept]


DOCKERIGNORE_PROJECT = """\
services:
  web:
    build: ./app
    develop:
      watch:
        - {path: ./app, action: sync, target: /app}
        - {path: ./shared, action: sync, target: /shared}
"""


def test_the_build_contexts_dockerignore_applies_to_rules(tmp_path: Path) -> None:
    touch(tmp_path / "app" / ".dockerignore", "# build junk\n\n*.pyc\ndist\n!dist/keep.txt\n")
    project = load(tmp_path, DOCKERIGNORE_PROJECT)
    kept = [touch(tmp_path / "app" / "main.py"), touch(tmp_path / "app" / "dist" / "keep.txt"),
            touch(tmp_path / "shared" / "x.pyc")]  # outside the context: not its business
    dropped = [touch(tmp_path / "app" / "main.pyc"), touch(tmp_path / "app" / "dist" / "a.js")]
    web = only(plan(project, *kept, *dropped), "web")
    assert sorted(op.host_path for op in web.syncs) == sorted(kept)


def test_the_dockerignore_is_read_again_for_each_batch(tmp_path: Path) -> None:
    project = load(tmp_path, DOCKERIGNORE_PROJECT)
    changed = touch(tmp_path / "app" / "notes.txt")
    assert not plan(project, changed).empty()
    touch(tmp_path / "app" / ".dockerignore", "*.txt\n")
    assert plan(project, changed).empty()


def test_a_dockerignore_never_hides_the_dockerfile(tmp_path: Path) -> None:
    touch(tmp_path / "app" / ".dockerignore", "Dockerfile\n")
    project = load(tmp_path, """\
        services:
          web:
            build: ./app
            develop:
              watch:
                - {path: ./app/Dockerfile, action: rebuild}
        """)
    assert only(plan(project, touch(tmp_path / "app" / "Dockerfile")), "web").rebuild


def test_an_ignore_pattern_can_match_the_dockerignore_file(tmp_path: Path) -> None:
    # .dockerignore matching never excludes ".dockerignore"; plain ignore patterns can.
    project = load(tmp_path, """\
        services:
          web:
            image: web
            develop:
              watch:
                - {path: ./web, action: sync, target: /src, ignore: [".*"]}
        """)
    assert plan(project, touch(tmp_path / "web" / ".dockerignore")).empty()
    assert not plan(project, touch(tmp_path / "web" / "index.html")).empty()


def test_an_unreadable_dockerignore_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / ".dockerignore").write_bytes(b"\xff\xfe*.pyc\n")
    project = load(tmp_path, DOCKERIGNORE_PROJECT)
    with pytest.raises(UserError, match=r"\.dockerignore"):
        plan(project, touch(tmp_path / "app" / "main.py"))


# -- several rules --------------------------------------------------------------------------------

NESTED = """\
services:
  web:
    build: .
    develop:
      watch:
        - {path: ./src, action: sync, target: /app/src}
        - {path: ./src/static, action: sync, target: /var/www}
        - {path: ./src/conf, action: sync+exec, target: /etc/app, exec: {command: reload}}
        - {path: ./src/conf, action: sync+exec, target: /etc/app, exec: {command: reload}}
        - {path: ./src/requirements.txt, action: rebuild}
"""


def test_nested_rules_each_map_the_file(tmp_path: Path) -> None:
    project = load(tmp_path, NESTED)
    css = touch(tmp_path / "src" / "static" / "site.css")
    web = only(plan(project, css), "web")
    assert [op.container_path for op in web.syncs] == ["/app/src/static/site.css",
                                                       "/var/www/site.css"]


def test_an_exec_command_runs_once_per_batch(tmp_path: Path) -> None:
    project = load(tmp_path, NESTED)
    web = only(plan(project, touch(tmp_path / "src" / "conf" / "a.ini"),
                    touch(tmp_path / "src" / "conf" / "b.ini")), "web")
    assert web.exec_commands == [("reload",)]
    assert len(web.syncs) == 4  # two files, each under /app/src and /etc/app


def test_rebuild_wins_over_syncs_restart_and_exec(tmp_path: Path) -> None:
    project = load(tmp_path, NESTED)
    web = only(plan(project, touch(tmp_path / "src" / "requirements.txt"),
                    touch(tmp_path / "src" / "conf" / "a.ini")), "web")
    assert web.rebuild
    assert (web.syncs, web.restart, web.exec_commands) == ([], False, [])
    assert len(web.changed) == 2


def test_only_services_with_work_are_planned(tmp_path: Path) -> None:
    project = load(tmp_path, """\
        services:
          web:
            image: web
            develop:
              watch:
                - {path: ./web, action: sync, target: /app}
          api:
            image: api
            develop:
              watch:
                - {path: ./api, action: restart}
          db:
            image: redis
        """)
    result = plan(project, touch(tmp_path / "api" / "server.go"))
    assert list(result.services) == ["api"]


# -- kompy's default: rebuild a built service without develop ----------------------------------

DEFAULT = """\
services:
  web:
    build: ./app
  worker:
    build: {context: ./app, dockerfile: ../docker/Worker.Dockerfile}
  optout:
    build: ./app
    develop: {watch: []}
  cache:
    image: redis
"""


def test_a_built_service_without_develop_is_rebuilt_on_a_context_change(tmp_path: Path) -> None:
    touch(tmp_path / "app" / ".dockerignore", "*.md\n")
    project = load(tmp_path, DEFAULT)
    result = plan(project, touch(tmp_path / "app" / "main.go"))
    assert sorted(result.services) == ["web", "worker"]
    assert all(p.rebuild and p.syncs == [] for p in result.services.values())


def test_the_default_follows_the_dockerignore(tmp_path: Path) -> None:
    touch(tmp_path / "app" / ".dockerignore", "*.md\nDockerfile\n")
    project = load(tmp_path, DEFAULT)
    assert plan(project, touch(tmp_path / "app" / "README.md")).empty()
    # The .dockerignore itself and the Dockerfile always reach the builder.
    assert sorted(plan(project, tmp_path / "app" / ".dockerignore").services) == ["web", "worker"]
    # web's Dockerfile; worker's is elsewhere, so for it the .dockerignore line holds.
    assert sorted(plan(project, touch(tmp_path / "app" / "Dockerfile")).services) == ["web"]


def test_the_default_watches_a_dockerfile_outside_the_context(tmp_path: Path) -> None:
    project = load(tmp_path, DEFAULT)
    dockerfile = touch(tmp_path / "docker" / "Worker.Dockerfile")
    assert list(plan(project, dockerfile).services) == ["worker"]
    assert list(plan(project, touch(tmp_path / "docker" / "Other.Dockerfile")).services) == []
    assert dockerfile in watched_roots(project)


# -- reload and unrelated changes ----------------------------------------------------------------

def test_a_compose_or_env_file_change_asks_for_a_reload(tmp_path: Path) -> None:
    touch(tmp_path / "web.env", "A=1\n")
    project = load(tmp_path, """\
        services:
          web:
            image: web
            env_file: [web.env]
        """)
    configs = config_files(project)
    assert configs == sorted([str(tmp_path / ".env"), str(tmp_path / "compose.yaml"),
                              str(tmp_path / "web.env")])
    for changed in configs:
        result = plan_changes(project, [changed], configs)
        assert result.reload and not result.empty()
    extra = str(tmp_path / "other.env")  # --env-file: the caller knows it
    assert plan_changes(project, [extra], [*configs, extra]).reload


def test_config_and_secret_files_ask_for_a_reload(tmp_path: Path) -> None:
    conf = touch(tmp_path / "conf" / "nginx.conf")
    touch(tmp_path / "secret.txt")
    project = load(tmp_path, """\
        services:
          web: {image: web, configs: [nginx], secrets: [token]}
        configs:
          nginx: {file: ./conf/nginx.conf}
        secrets:
          token: {file: ./secret.txt}
        """)
    assert {conf, str(tmp_path / "secret.txt")} <= set(config_files(project))
    assert plan(project, conf).reload
    assert {conf, str(tmp_path / "secret.txt")} <= set(watched_roots(project))


def test_a_change_below_a_config_folder_asks_for_a_reload(tmp_path: Path) -> None:
    project = load(tmp_path, "services:\n  web: {image: web}\n")
    folder = str(tmp_path / "certs")
    assert plan_changes(project, [touch(tmp_path / "certs" / "a.pem")], [folder]).reload
    assert not plan_changes(project, [touch(tmp_path / "certs-old" / "a.pem")], [folder]).reload


def test_services_are_still_planned_when_reloading(tmp_path: Path) -> None:
    project = load(tmp_path, RULE.format(action="sync"))
    result = plan(project, tmp_path / "compose.yaml", touch(tmp_path / "src" / "a.py"))
    assert result.reload and list(result.services) == ["web"]


def test_a_change_outside_everything_gives_an_empty_plan(tmp_path: Path) -> None:
    project = load(tmp_path, DEFAULT.replace("  cache:", "  web2:\n    image: w\n"
                                             "    develop:\n      watch:\n"
                                             "        - {path: ./src, action: restart}\n"
                                             "  cache:"))
    result = plan(project, touch(tmp_path / "docs" / "guide.md"), tmp_path / "srcx" / "a",
                  "/elsewhere/entirely")
    assert result.empty() and result == ChangePlan(reload=False, services={})


# -- what to watch -------------------------------------------------------------------------------

def test_watched_roots(tmp_path: Path) -> None:
    touch(tmp_path / "db.env")
    extra = (
        "  db:\n    image: redis\n    env_file: [db.env]\n"
        "  web2:\n    image: w\n    develop:\n      watch:\n"
        "        - {path: ./src, action: restart}\n"
        "        - {path: ./conf/app.ini, action: restart}\n"
        "  remote:\n    build: https://github.com/example/repo.git\n"
    )
    project = load(tmp_path, DEFAULT + extra)
    roots = watched_roots(project, [str(tmp_path / "prod.env")])
    assert roots == sorted(str(tmp_path / p) for p in (
        ".env", "compose.yaml", "db.env", "prod.env",  # files: watched through their folder
        "app", "docker/Worker.Dockerfile",  # web and worker (optout has develop)
        "src", "conf/app.ini"))
