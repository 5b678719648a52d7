from __future__ import annotations

import pytest

from kompy.client.selectors import (
    SelectorError,
    field_value,
    format_label_selector,
    matches_fields,
    matches_labels,
    parse_field_selector,
    parse_label_selector,
    selector_from_match,
)

LABELS = {"app": "web", "tier": "front", "env": "prod"}


@pytest.mark.parametrize(("selector", "expected"), [
    ("", True), ("app=web", True), ("app==web", True), ("app!=web", False),
    ("app=web,tier=back", False), ("app in (web,db)", True), ("app in (db)", False),
    ("app notin (db, cache)", True), ("tier", True), ("!tier", False), ("missing", False),
    ("!missing", True), ("missing!=x", True), ("env in (prod),app", True),
])
def test_label_selectors(selector: str, expected: bool) -> None:
    assert matches_labels(parse_label_selector(selector), LABELS) is expected


@pytest.mark.parametrize("bad", ["app in web", "a b", "!a in (x)", "=x"])
def test_bad_label_selectors(bad: str) -> None:
    with pytest.raises(SelectorError):
        parse_label_selector(bad)


def test_label_selector_object() -> None:
    reqs = selector_from_match({"matchLabels": {"app": "web"},
                                "matchExpressions": [{"key": "env", "operator": "In",
                                                      "values": ["prod", "qa"]},
                                                     {"key": "x", "operator": "DoesNotExist"}]})
    assert matches_labels(reqs, LABELS)
    assert not matches_labels(reqs, {**LABELS, "x": "1"})


def test_field_selectors() -> None:
    pod = {"metadata": {"name": "a"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}}
    assert matches_fields(parse_field_selector("spec.nodeName=n1,status.phase!=Failed"), pod)
    assert not matches_fields(parse_field_selector("metadata.name==b"), pod)
    assert field_value(pod, "spec.missing.deep") == ""
    assert matches_fields(parse_field_selector("spec.nodeName="), {"spec": {}})


def test_a_label_selector_object_formats_as_apimachinery_does() -> None:
    assert format_label_selector({
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]},
                             {"key": "canary", "operator": "DoesNotExist"},
                             {"key": "zone", "operator": "Exists"}]}) == \
        "app=web,!canary,tier in (a,b),zone"
    assert format_label_selector(None) == ""
