"""The Compose graph's layout and the dev panel's status file."""

from __future__ import annotations

from pathlib import Path

from kompy.compose.loader import LoadOptions, load_project
from kompy.dashboard.graph import layout, levels
from kompy.dashboard.render import render
from kompy.dev.status import DevStatus, read_status, status_file, write_status

COMPOSE = """
name: shop
services:
  web:
    image: web
    ports: ["8080:8000"]
    depends_on:
      api: {condition: service_healthy}
  api:
    image: api
    depends_on: [db]
    networks: [back, front]
  db:
    image: db
    networks: [back]
networks:
  back: {}
  front: {}
"""


def test_levels_put_a_service_above_what_it_waits_for() -> None:
    assert levels({"web": {"api"}, "api": {"db"}, "db": set(), "lone": set()}) == {
        "web": 2, "api": 1, "db": 0, "lone": 0}
    assert levels({"a": {"b"}, "b": {"a"}})["a"] in (0, 1)   # a cycle is cut, not a hang


def test_the_graph_of_a_project(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    project = load_project(LoadOptions(files=(str(tmp_path / "compose.yaml"),),
                                       environ={}))
    graph = layout(project)
    nodes = {n.name: n for n in graph.nodes}
    assert nodes["web"].y < nodes["api"].y < nodes["db"].y
    assert nodes["web"].ports == "8080→8000/tcp"
    assert nodes["api"].networks == "back, front"
    assert {(e.source, e.target, e.condition) for e in graph.edges} == {
        ("web", "api", "service_healthy"), ("api", "db", "service_started")}
    svg = render("graph.html", graph=graph, graph_error="")
    assert "<svg" in svg and 'data-service="db"' in svg and "web → api" in svg


def test_the_dev_status_round_trips_and_keeps_the_last_errors(tmp_path: Path) -> None:
    path = status_file(tmp_path, "shop")
    status = DevStatus("shop", "shop", state="watching", watched=("web",))
    failed = status.with_change("rebuild", ["web"], 1.5, False, "error: build failed")
    write_status(failed, path)
    assert path.stat().st_mode & 0o777 == 0o600
    read = read_status(path)
    assert read == failed and read.errors == ("error: build failed",)
    healed = failed.with_change("sync", ["web"], 0.2, True)
    assert healed.errors == () and healed.last_kind == "sync"
    assert read_status(tmp_path / "none.json") is None
    path.write_text("{not json")
    assert read_status(path) is None


def test_the_dev_panel_shows_the_last_change_and_its_errors() -> None:
    from kompy.dashboard.pages import DevPanel

    status = DevStatus("shop", "shop", state="watching", watched=("api", "web")).with_change(
        "rebuild", ["web"], 2.25, False, "error: web: build failed: <no such file>")
    html = render("dev.html", dev=DevPanel.of(status), dev_project="shop")
    assert "rebuild of web" in html and "took 2.25 s" in html and "failed" in html
    assert "&lt;no such file&gt;" in html          # escaped, as every value
    assert "<code>api</code>, <code>web</code>" in html
