"""Watches source folders for ``kompy dev`` and hands out changes in debounced batches.

The watchdog adapter: only this module imports watchdog. One Observer watches every root (a
folder recursively; a single file through its folder, not recursively). Events for ``.git``
folders and for editors' temporary and backup files are dropped, as Compose Watch drops them
("Use Compose Watch": "Temporary/backup files for common IDEs ... are ignored automatically",
"`.git` directories are ignored automatically").

Changes are gathered into a batch that is handed out once no event came for ``quiet``
seconds, or ``max_delay`` seconds after the batch's first event, so an editor's burst of
writes gives one batch and a process writing non-stop cannot starve the loop. ``quiet`` is
50 ms by default, watchexec's default debounce: an editor's save (write, or temporary file
and rename) is over within a few milliseconds, and the quiet time is most of what a sync
costs (benchmarks/bench_dev.py).
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
import threading
import time
from collections.abc import Iterable

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from kompy.errors import UserError

# The event kinds that say a file's content or existence changed. Folder "modified" events
# (a folder's mtime moves when an entry is added or removed) are left out: the entry's own
# event is what counts. Opened / closed-without-writing events say nothing changed. A file's
# attribute change counts: `touch` to force a sync, `chmod +x` on a script.
_EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent, DirCreatedEvent, FileModifiedEvent, FileAttribEvent, FileClosedEvent,
    FileDeletedEvent, DirDeletedEvent, FileMovedEvent, DirMovedEvent,
]
_KINDS = frozenset({"created", "modified", "attrib", "closed", "deleted", "moved"})

# Editors' temporary/backup files, the list Docker Compose ignores (after Tilt's
# "ephemeral" patterns): JetBrains safe-write files and .idea, Emacs lock and auto-save
# files, Vim's swap files, its write test file "4913" and "~" backups, Kate's swap files and
# the Go toolchain's umask probe.
_NOISE_NAMES = ("*___jb_old___", "*___jb_tmp___", ".#*", "#*#", "4913", "*~",
                ".*.swp", ".*.swx", ".*.swo", ".*.swn", ".*.kate-swp", "*-go-tmp-umask")
_NOISE_NAME = re.compile("|".join(fnmatch.translate(name) for name in _NOISE_NAMES))
_NOISE_DIRS = frozenset({".git", ".idea"})


def is_noise(path: str) -> bool:
    """Whether a change to ``path`` is an editor's or git's, never the user's source."""
    parts = path.replace(os.sep, "/").split("/")
    if any(part in _NOISE_DIRS for part in parts):
        return True
    return bool(parts) and _NOISE_NAME.fullmatch(parts[-1]) is not None


class ChangeWatcher:
    """watchdog Observer over some folders; changes come out in debounced batches.

    A root that is a folder is watched recursively; a root that is a file is watched through
    its folder (not recursively) and only that file's changes are reported, so watching a
    Compose file does not watch the whole project. Roots inside another root are watched
    once. A root that does not exist is listed in ``missing`` (warning about it is the
    caller's job); when its folder exists, the root's own creation is still noticed.
    """

    def __init__(self, roots: Iterable[str], *, quiet: float = 0.05,
                 max_delay: float = 1.0) -> None:
        if quiet < 0 or max_delay < quiet:
            raise ValueError("need 0 <= quiet <= max_delay")
        self.quiet = quiet
        self.max_delay = max_delay
        self.folders, self.files, self.missing = _sort_roots(roots)
        self._cond = threading.Condition()
        self._pending: set[str] = set()
        self._first = 0.0  # monotonic time of the pending batch's first event
        self._last = 0.0  # ... and of its latest
        self._stopped = False
        self._observer: BaseObserver | None = None

    def start(self) -> None:
        """Start watching; changes made after this returns are reported."""
        with self._cond:
            if self._observer is not None or self._stopped:
                return
            observer = Observer()
            handler = _Handler(self)
            try:
                for folder in self.folders:
                    observer.schedule(handler, folder, recursive=True, event_filter=_EVENTS)
                for folder in sorted({os.path.dirname(f) for f in self.files}):
                    observer.schedule(handler, folder, recursive=False, event_filter=_EVENTS)
                observer.start()
            except OSError as error:
                raise _watch_error(error) from None
            self._observer = observer

    def stop(self) -> None:
        """Stop watching; a ``next_batch`` waiting now or called later returns None."""
        with self._cond:
            self._stopped = True
            observer, self._observer = self._observer, None
            self._cond.notify_all()
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)

    def next_batch(self, timeout: float | None = None) -> set[str] | None:
        """The next batch of changed absolute paths (created, modified, deleted, both ends
        of a move); None when ``timeout`` seconds pass first or the watcher is stopped."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._stopped:
                now = time.monotonic()
                wake = deadline
                if self._pending:
                    due = min(self._last + self.quiet, self._first + self.max_delay)
                    if now >= due:
                        batch, self._pending = self._pending, set()
                        return batch
                    wake = due if deadline is None else min(due, deadline)
                if deadline is not None and now >= deadline:
                    return None
                self._cond.wait(None if wake is None else wake - now)
            return None

    def pending(self) -> bool:
        """Whether changes wait to be handed out (a batch in the making)."""
        with self._cond:
            return bool(self._pending)

    def _add(self, paths: Iterable[str]) -> None:
        wanted = [p for p in paths if self._wanted(p)]
        if not wanted:
            return
        with self._cond:
            now = time.monotonic()
            if not self._pending:
                self._first = now
            self._last = now
            self._pending.update(wanted)
            self._cond.notify_all()

    def _wanted(self, path: str) -> bool:
        """Under a watched folder or a watched file, and not noise below it (the roots' own
        names are the user's choice)."""
        if path in self.files:
            return not is_noise(os.path.basename(path))
        for folder in self.folders:
            if _inside(path, folder):
                return not is_noise(os.path.relpath(path, folder))
            if path == folder:
                return True
        return False


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: ChangeWatcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _KINDS:
            return
        if event.is_directory and event.event_type in ("modified", "attrib"):
            return
        paths = [os.fsdecode(event.src_path)]
        if event.event_type == "moved" and event.dest_path:
            paths.append(os.fsdecode(event.dest_path))
        self.watcher._add(paths)


def _sort_roots(roots: Iterable[str]) -> tuple[list[str], set[str], list[str]]:
    """(folders to watch recursively, files to watch through their folder, missing roots).
    A folder inside another folder, or a file inside a watched folder, is dropped."""
    folders: list[str] = []
    files: set[str] = set()
    missing: list[str] = []
    for root in dict.fromkeys(os.path.abspath(r) for r in roots):
        if os.path.isdir(root):
            folders.append(root)
        elif os.path.lexists(root):
            files.add(root)
        else:
            missing.append(root)
            if os.path.isdir(os.path.dirname(root)):
                files.add(root)  # notice when it is created
    folders = [f for f in folders if not any(_inside(f, other) for other in folders)]
    files = {f for f in files if not any(f == d or _inside(f, d) for d in folders)}
    return sorted(folders), files, missing


def _inside(path: str, folder: str) -> bool:
    """Whether ``path`` is strictly below ``folder``."""
    return path != folder and path.startswith(folder.rstrip(os.sep) + os.sep)


def _watch_error(error: OSError) -> UserError:
    # inotify: ENOSPC when the per-user watch limit is reached, EMFILE for instances.
    if error.errno in (errno.ENOSPC, errno.EMFILE):
        return UserError(f"cannot watch the sources: {error.strerror or error}",
                         hint="raise the inotify limits, for example "
                              "`sysctl fs.inotify.max_user_watches=524288 "
                              "fs.inotify.max_user_instances=512`, or narrow the watch paths")
    return UserError(f"cannot watch the sources: {error}",
                     hint="check that the watched folders are readable")
