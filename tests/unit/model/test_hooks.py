"""post_start / pre_stop typed in the model: the command read as `command:` is, the exec
options typed, and a bad hook a load error at its file:line:column, like `command:`."""

from __future__ import annotations

import pytest

from kompy.model import Hook

from .helpers import project, rendered, round_trip, service, service_errors, where


def test_a_hook_is_typed_with_every_option() -> None:
    s = service("""
        image: x
        post_start:
          - command: echo "hello world"
            user: root
            privileged: "true"
            working_dir: /srv
            environment: ["A=1", "B"]
            x-note: kept
        pre_stop:
          - command: ["sh", "-c", "kill 1"]
    """)
    assert s.post_start == (Hook(command=("echo", "hello world"), user="root", privileged=True,
                                 working_dir="/srv", environment={"A": "1", "B": None},
                                 extensions={"x-note": "kept"}),)
    assert s.pre_stop == (Hook(command=("sh", "-c", "kill 1")),)
    assert s.other == {}


def test_the_command_is_split_as_command_is() -> None:
    hook = service("image: x\npost_start: [{command: \"touch '/tmp/a b' c\"}]").post_start[0]
    assert hook.command == service("image: x\ncommand: touch '/tmp/a b' c").command


def test_the_long_form_is_compose_gos() -> None:
    out = rendered("""
        image: x
        post_start:
          - command: touch /tmp/a
            environment: {DEBUG: true}
            privileged: false
    """)
    assert out["post_start"] == [{"command": ["touch", "/tmp/a"],
                                  "environment": {"DEBUG": "true"}}]
    p = project("services:\n  s:\n    image: x\n    pre_stop: [{command: 'a b', user: u}]\n")
    assert round_trip(p).services["s"].pre_stop == p.services["s"].pre_stop


@pytest.mark.parametrize(("hooks", "message", "position", "key"), [
    ("post_start:\n      - command: echo 'oops", "cannot split", "5:13",
     ("post_start", 0, "command")),
    ("pre_stop:\n      - command: []", "a hook's command is empty", "5:13",
     ("pre_stop", 0, "command")),
    ("pre_stop:\n      - command: ''", "a hook's command is empty", "5:13",
     ("pre_stop", 0, "command")),
    ("pre_stop:\n      - user: root", "a hook needs a command", "5:13", ("pre_stop", 0)),
    ("post_start:\n      - command: x\n        shell: bash", "unknown key 'shell'", "6:13",
     ("post_start", 0, "shell")),
    ("post_start:\n      - command: x\n        privileged: maybe", "expected true or false", "6:13",
     ("post_start", 0, "privileged")),
    ("post_start:\n      - echo hi", "expected a mapping", "5:13", ("post_start", 0)),
    ("post_start: {command: x}", "expected a list", "4:5", ("post_start",)),
])
# positions: line:column of the key, as for `command:` (service "s" starts at line 3)
def test_a_bad_hook_is_a_load_error_at_its_key(hooks: str, message: str, position: str,
                                               key: tuple[object, ...]) -> None:
    (err,) = service_errors("image: x\n" + hooks)
    assert message in err.message
    assert where(err) == position
    assert err.key_path == ("services", "s", *key)
    assert err.exit_code == 2


def test_every_bad_hook_is_reported_at_once() -> None:
    errs = service_errors("""
        image: x
        post_start:
          - command: echo 'a
          - command: []
        pre_stop:
          - command: x
            environment: {A: [1]}
    """)
    assert [e.key_path[2:] for e in errs] == [
        ("post_start", 0, "command"), ("post_start", 1, "command"),
        ("pre_stop", 0, "environment", "A")]
    assert all(e.hint for e in errs[:2])
