"""Compose post_start / pre_stop -> lifecycle.postStart / preStop exec handlers, and one
warning for each thing Kubernetes cannot express exactly."""

from __future__ import annotations

from typing import Any

from kompy.model import Service
from kompy.model.base import NullLocator

from .helpers import container, find, messages, run


def _convert(**hooks: Any) -> tuple[dict[str, Any], list[str]]:
    """Convert service a with these hooks, as written in a Compose file (typed by the model)."""
    service = Service.parse("a", {"image": "x", **hooks}, NullLocator(), ("services", "a"), "/")
    conversion = run(service)
    return container(find(conversion, "Deployment", "a")), messages(conversion)


def test_one_plain_hook_is_its_command_with_no_warning() -> None:
    c, warnings = _convert(post_start=[{"command": "touch '/tmp/a b'"}],
                           pre_stop=[{"command": ["sh", "-c", "kill 1"]}])
    assert c["lifecycle"] == {"postStart": {"exec": {"command": ["touch", "/tmp/a b"]}},
                              "preStop": {"exec": {"command": ["sh", "-c", "kill 1"]}}}
    assert warnings == []


def test_several_hooks_chain_in_order_and_stop_at_the_first_failure() -> None:
    c, warnings = _convert(post_start=[{"command": ["mkdir", "/d"]}, {"command": "touch /d/x"}])
    assert c["lifecycle"]["postStart"]["exec"]["command"] == [
        "sh", "-c", "(mkdir /d) && (touch /d/x)"]
    assert any("2 hooks" in w and "/bin/sh" in w for w in warnings)


def test_working_dir_and_environment_are_expressed_quoted_in_a_shell_step() -> None:
    c, warnings = _convert(pre_stop=[{"command": ["echo", "$HOME"], "working_dir": "/a dir",
                                      "environment": ["GREETING=hi there"]}])
    assert c["lifecycle"]["preStop"]["exec"]["command"] == [
        "sh", "-c", "(cd '/a dir' && GREETING='hi there' echo '$HOME')"]
    assert any("working_dir, environment" in w and "/bin/sh" in w for w in warnings)


def test_user_is_warned_and_the_hook_kept() -> None:
    c, warnings = _convert(post_start=[{"command": "true", "user": "root"}])
    assert c["lifecycle"]["postStart"]["exec"]["command"] == ["true"]
    assert any("container's user" in w for w in warnings)


def test_privileged_is_warned_and_the_hook_kept() -> None:
    c, warnings = _convert(post_start=[{"command": "true", "privileged": True}])
    assert c["lifecycle"]["postStart"]["exec"]["command"] == ["true"]
    assert any("container's privileges" in w for w in warnings)


def test_a_secret_looking_variable_stays_out_of_the_command_line() -> None:
    c, warnings = _convert(post_start=[{"command": "true",
                                        "environment": {"DB_PASSWORD": "hunter2"}}])
    assert "hunter2" not in str(c["lifecycle"]) and c["lifecycle"]["postStart"]["exec"][
        "command"] == ["true"]
    assert any("DB_PASSWORD looks secret" in w and "hunter2" not in w for w in warnings)


def test_a_variable_with_no_value_is_left_out_with_a_warning() -> None:
    _, warnings = _convert(post_start=[{"command": "true", "environment": ["UNSET"]}])
    assert any("UNSET has no value" in w for w in warnings)


def test_a_yaml_boolean_in_the_environment_is_written_as_compose_writes_it() -> None:
    c, _ = _convert(pre_stop=[{"command": "true", "environment": {"DEBUG": True}}])
    assert c["lifecycle"]["preStop"]["exec"]["command"] == ["sh", "-c", "(DEBUG=true true)"]


def test_no_hook_key_is_reported_as_having_no_kubernetes_equivalent() -> None:
    _, warnings = _convert(post_start=[{"command": "true"}], pre_stop=[{"command": "true"}])
    assert warnings == []
