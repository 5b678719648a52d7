"""Server-sent events: the topics a page refreshes on (fed by the watches), and a pod's log.

SSE (https://html.spec.whatwg.org/multipage/server-sent-events.html) is one long GET
response of ``event:``/``data:`` blocks; htmx's sse extension turns each event into a swap or
a re-fetch. Blocking reads (a pod's log over the API) run on a thread of their own and hand
their lines to the event loop; a page that goes away stops that thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TypeVar

from kompy.dashboard.render import escape
from kompy.dashboard.watch import ClusterView

KEEPALIVE_SECONDS = 15.0
T = TypeVar("T")
MAX_BATCH_LINES = 500


class Shutdown:
    """Ends every open stream when the server stops (Ctrl-C): streams never end by
    themselves, and a server waiting for them would cancel them with a traceback."""

    def __init__(self) -> None:
        self.begun = False
        self._events: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._lock = threading.Lock()

    def begin(self) -> None:
        with self._lock:
            self.begun = True
            events = list(self._events)
        for loop, event in events:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    async def first(self, awaitable: Awaitable[T]) -> tuple[bool, T | None]:
        """(False, its result), or (True, None) when the shutdown came first."""
        event = asyncio.Event()
        key = (asyncio.get_running_loop(), event)
        with self._lock:
            self._events.add(key)
            if self.begun:
                event.set()
        work, stop = asyncio.ensure_future(awaitable), asyncio.ensure_future(event.wait())
        try:
            done, _ = await asyncio.wait({work, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (work, stop):
                if not task.done():
                    task.cancel()
            with self._lock:
                self._events.discard(key)
        if work in done:
            return False, work.result()
        return True, None


def sse(event: str, data: str) -> str:
    """One event; each line of ``data`` a ``data:`` line (the browser joins them with \\n)."""
    body = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"event: {event}\n{body}\n"


async def topic_events(view: ClusterView, ns: str | None, shutdown: Shutdown
                       ) -> AsyncIterator[str]:
    subscription = view.subscribe(ns)
    try:
        yield ": watching\n\n"
        while True:
            stopping, topics = await shutdown.first(subscription.next(KEEPALIVE_SECONDS))
            if stopping:
                return
            if not topics:
                yield ": keepalive\n\n"
            for topic in topics or ():
                yield sse(topic, topic)
    finally:
        view.unsubscribe(subscription)


def split_lines(chunks: Iterator[bytes]) -> Iterator[str]:
    """Chunks of a byte stream -> its lines (decoded, without the newline); the last one even
    without a newline."""
    rest = b""
    for chunk in chunks:
        rest += chunk
        *lines, rest = rest.split(b"\n")
        for line in lines:
            yield line.decode("utf-8", "replace")
    if rest:
        yield rest.decode("utf-8", "replace")


def line_html(line: str) -> str:
    return f'<span class="line">{escape(line)}\n</span>'


# Opens a stream: (a function that closes it from any thread, its lines).
LineSource = Callable[[], tuple[Callable[[], None], Iterator[str]]]


async def threaded_lines(open_stream: LineSource, shutdown: Shutdown
                         ) -> AsyncIterator[list[str]]:
    """Batches of lines read on a thread (what arrived together, at most MAX_BATCH_LINES); when
    the consumer stops (the page went away) the stream is closed, which ends the thread's
    blocked read."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | BaseException | None] = asyncio.Queue()
    closers: list[Callable[[], None]] = []
    stop = threading.Event()

    def put(item: str | BaseException | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: the server stopped
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def read() -> None:
        try:
            close, lines = open_stream()
            closers.append(close)
            if stop.is_set():
                close()
            for line in lines:
                if stop.is_set():
                    break
                put(line)
        except Exception as error:  # noqa: BLE001 - shown on the page, never lost
            if not stop.is_set():
                put(error)
        finally:
            put(None)

    threading.Thread(target=read, name="dashboard-log", daemon=True).start()
    try:
        while True:
            stopping, item = await shutdown.first(queue.get())
            if stopping:
                return
            batch: list[str] = []
            while isinstance(item, str):
                batch.append(item)
                if len(batch) >= MAX_BATCH_LINES or queue.empty():
                    break
                item = queue.get_nowait()
            if batch:
                yield batch
                if isinstance(item, str):
                    continue
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
    finally:
        stop.set()
        for close in closers:
            with contextlib.suppress(Exception):
                close()
