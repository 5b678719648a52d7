"""The dashboard's web application (Starlette): pages, their live tables, log streams and
actions. Everything it shows comes from the Kubernetes API through :class:`ClusterView`; the
checks in front of it are in :mod:`kompy.dashboard.security`.
"""

from __future__ import annotations

import asyncio
from importlib import resources as package_files
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from kompy.dashboard import pages
from kompy.dashboard.actions import run_action
from kompy.dashboard.auth import CSRF_FIELD, CSRF_HEADER, Gate, Session, cookie_header
from kompy.dashboard.context import Dashboard
from kompy.dashboard.logs import LogRequest, opener
from kompy.dashboard.render import escape, render
from kompy.dashboard.security import Guard
from kompy.dashboard.streams import line_html, sse, threaded_lines, topic_events
from kompy.errors import KompyError

MAX_FORM_BYTES = 64 * 1024


def _ns(request: Request) -> str | None:
    """The namespace of the page: ?ns=NAME, or every namespace when absent or empty."""
    return request.query_params.get("ns") or None


def _session(request: Request) -> Session:
    session: Session = request.state.session
    return session


def build_app(dash: Dashboard, hosts: frozenset[str]) -> Any:
    async def login(request: Request) -> Response:
        session = dash.gate.login(request.query_params.get("token", ""))
        if session is None:
            return HTMLResponse(render("refused.html", reason=(
                "This login link is wrong or was used already. Run `kompy dashboard` again "
                "for a new one.")), status_code=403)
        response = RedirectResponse("/pods", status_code=303)
        response.headers["set-cookie"] = cookie_header(session)
        return response

    async def home(request: Request) -> Response:
        return RedirectResponse("/pods", status_code=303)

    async def page(request: Request) -> Response:
        name = request.path_params["view"]
        if name not in pages.VIEWS:
            return HTMLResponse(render("refused.html", reason=f"no view {name!r}"),
                                status_code=404)
        ns = _ns(request)
        context = await asyncio.to_thread(pages.context_of, dash, name, ns)
        return HTMLResponse(render("page.html", view=name, views=pages.VIEWS, ns=ns,
                                   namespaces=pages.namespace_names(dash.view),
                                   cluster=dash.context, csrf=_session(request).csrf,
                                   live=pages.VIEWS[name].topic, **context))

    async def fragment(request: Request) -> Response:
        name = request.path_params["view"]
        if name not in pages.VIEWS or not pages.VIEWS[name].topic:
            return HTMLResponse("", status_code=404)
        ns = _ns(request)
        context = await asyncio.to_thread(pages.context_of, dash, name, ns)
        return HTMLResponse(render(f"{name}.html", ns=ns, csrf=_session(request).csrf,
                                   **context))

    async def stream(request: Request) -> Response:
        return StreamingResponse(topic_events(dash.view, _ns(request), dash.shutdown),
                                 media_type="text/event-stream")

    async def logs_page(request: Request) -> Response:
        q = request.query_params
        ns, pod = q.get("ns", ""), q.get("pod", "")
        obj = dash.view.get("pods", ns, pod)
        containers = [str(c.get("name")) for c in ((obj or {}).get("spec") or {}).get(
            "containers") or []]
        container = q.get("container") or (containers[0] if containers else "")
        return HTMLResponse(render(
            "logs.html", view="pods", views=pages.VIEWS, ns=ns, pod=pod, found=obj is not None,
            containers=containers, container=container, previous=q.get("previous") == "1",
            follow=q.get("follow", "1") == "1", namespaces=pages.namespace_names(dash.view),
            cluster=dash.context, csrf=_session(request).csrf, live=""))

    async def log_stream(request: Request) -> Response:
        q = request.query_params
        want = LogRequest(q.get("ns", ""), q.get("pod", ""), q.get("container", ""),
                          previous=q.get("previous") == "1", follow=q.get("follow", "1") == "1")
        if not want.valid():
            return HTMLResponse("not a pod or container name\n", status_code=400)

        async def events() -> Any:
            try:
                async for batch in threaded_lines(opener(dash.client, want), dash.shutdown):
                    yield sse("lines", "".join(line_html(line) for line in batch))
            except KompyError as error:
                yield sse("lines", f'<span class="line error">{escape(error.message)}\n</span>')
            yield sse("end", "end")   # the page closes its stream: no reconnect, no repeat
        return StreamingResponse(events(), media_type="text/event-stream")

    async def action(request: Request) -> Response:
        session = _session(request)
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return HTMLResponse(render("flash.html", ok=False, text="request too large"),
                                status_code=413)
        # htmx posts forms urlencoded (no files): the standard library parses that.
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        offered = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD, "")
        if not Gate.csrf_ok(session, offered):
            return HTMLResponse(render("flash.html", ok=False, text=(
                "refused: the request carried no valid CSRF token (reload the page)")),
                status_code=403)
        verb = request.path_params["verb"]
        try:
            text = await asyncio.to_thread(run_action, dash.client, verb, form.get("ns", ""),
                                           form.get("ref", ""), form)
        except KompyError as error:
            return HTMLResponse(render("flash.html", ok=False, text=error.message),
                                status_code=422)
        return HTMLResponse(render("flash.html", ok=True, text=text))

    static = str(package_files.files("kompy.dashboard") / "static")
    app = Starlette(routes=[
        Route("/login", login),
        Route("/", home),
        Route("/stream", stream),
        Route("/logs", logs_page),
        Route("/logs/stream", log_stream),
        Route("/actions/{verb}", action, methods=["POST"]),
        Route("/fragment/{view}", fragment),
        Mount("/static", StaticFiles(directory=static), name="static"),
        Route("/{view}", page),
    ])
    return Guard(app, dash.gate, hosts)
