"""ChangeWatcher against the real watchdog on tmp_path: what is reported, and when."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kompy.dev.watcher import ChangeWatcher, is_noise

WAIT = 30.0  # generous: the machine may be busy with other work

MakeWatcher = Callable[..., ChangeWatcher]


@pytest.fixture
def make_watcher() -> Iterator[MakeWatcher]:
    started: list[ChangeWatcher] = []

    def make(*roots: Path, quiet: float = 0.05, max_delay: float = 1.0) -> ChangeWatcher:
        watcher = ChangeWatcher([str(r) for r in roots], quiet=quiet, max_delay=max_delay)
        watcher.start()
        started.append(watcher)
        return watcher

    yield make
    for watcher in started:
        watcher.stop()


def collect(watcher: ChangeWatcher, expected: set[str], timeout: float = WAIT) -> set[str]:
    """Every path of the batches that came until all of ``expected`` was seen."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while not expected <= seen:
        left = deadline - time.monotonic()
        assert left > 0, f"waited {timeout}s for {sorted(expected - seen)}; saw {sorted(seen)}"
        batch = watcher.next_batch(timeout=left)
        if batch:
            seen |= batch
    return seen


def write(path: Path, text: str = "x") -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_created_modified_and_deleted_files_are_reported(
        tmp_path: Path, make_watcher: MakeWatcher) -> None:
    existing = write(tmp_path / "old.txt")
    watcher = make_watcher(tmp_path)
    created = write(tmp_path / "src" / "new.py")
    assert created in collect(watcher, {created})
    write(tmp_path / "old.txt", "changed")
    assert existing in collect(watcher, {existing})
    os.remove(created)
    assert created in collect(watcher, {created})


def test_both_ends_of_a_move_are_reported(tmp_path: Path, make_watcher: MakeWatcher) -> None:
    source = write(tmp_path / "a.txt")
    watcher = make_watcher(tmp_path)
    os.rename(source, tmp_path / "b.txt")
    collect(watcher, {source, str(tmp_path / "b.txt")})


def test_a_moved_folder_reports_both_ends_and_its_files(
        tmp_path: Path, make_watcher: MakeWatcher) -> None:
    write(tmp_path / "pkg" / "mod.py")
    watcher = make_watcher(tmp_path)
    os.rename(tmp_path / "pkg", tmp_path / "lib")
    collect(watcher, {str(tmp_path / "pkg"), str(tmp_path / "lib"),
                      str(tmp_path / "pkg" / "mod.py"), str(tmp_path / "lib" / "mod.py")})


def test_a_folder_moved_in_from_outside_reports_its_files(
        tmp_path: Path, make_watcher: MakeWatcher) -> None:
    watched = tmp_path / "watched"
    watched.mkdir()
    write(tmp_path / "outside" / "deep" / "f.txt")
    watcher = make_watcher(watched)
    os.rename(tmp_path / "outside", watched / "inside")
    collect(watcher, {str(watched / "inside" / "deep" / "f.txt")})


def test_a_removed_tree_reports_its_files_and_folders(
        tmp_path: Path, make_watcher: MakeWatcher) -> None:
    inner = write(tmp_path / "tree" / "sub" / "f.txt")
    watcher = make_watcher(tmp_path)
    shutil.rmtree(tmp_path / "tree")
    collect(watcher, {inner, str(tmp_path / "tree")})


def test_files_in_a_new_subfolder_are_watched(tmp_path: Path, make_watcher: MakeWatcher) -> None:
    watcher = make_watcher(tmp_path)
    (tmp_path / "new").mkdir()
    collect(watcher, {str(tmp_path / "new")})
    later = write(tmp_path / "new" / "later.txt")
    collect(watcher, {later})


def test_a_burst_of_writes_comes_as_one_batch(tmp_path: Path, make_watcher: MakeWatcher) -> None:
    # quiet is far longer than the three writes take, so they cannot be split.
    watcher = make_watcher(tmp_path, quiet=0.5, max_delay=WAIT)
    paths = {write(tmp_path / f"f{i}.txt") for i in range(3)}
    batch = watcher.next_batch(timeout=WAIT)
    assert batch is not None and paths <= batch


def test_a_batch_waits_for_quiet(tmp_path: Path, make_watcher: MakeWatcher) -> None:
    watcher = make_watcher(tmp_path, quiet=0.3, max_delay=WAIT)
    written = time.monotonic()
    path = write(tmp_path / "a.txt")
    batch = watcher.next_batch(timeout=WAIT)
    assert batch is not None and path in batch
    assert time.monotonic() - written >= 0.3


def test_max_delay_delivers_under_a_steady_stream_of_writes(
        tmp_path: Path, make_watcher: MakeWatcher) -> None:
    # The writer never pauses for `quiet`, so only max_delay can end the batch.
    watcher = make_watcher(tmp_path, quiet=0.3, max_delay=0.6)
    done = threading.Event()
    target = tmp_path / "stream.log"

    def writer() -> None:
        with open(target, "a") as handle:
            while not done.is_set():
                handle.write("line\n")
                handle.flush()
                done.wait(0.02)

    thread = threading.Thread(target=writer, daemon=True)
    started = time.monotonic()
    thread.start()
    try:
        batch = watcher.next_batch(timeout=WAIT)
        still_writing = thread.is_alive() and not done.is_set()
        took = time.monotonic() - started
    finally:
        done.set()
        thread.join(WAIT)
    assert batch is not None and str(target) in batch
    assert still_writing, "the writer stopped before the batch came"
    assert took < WAIT / 2, f"the batch took {took:.2f}s under a stream of writes"


def test_next_batch_times_out_with_none(tmp_path: Path, make_watcher: MakeWatcher) -> None:
    watcher = make_watcher(tmp_path)
    assert watcher.next_batch(timeout=0.05) is None


def test_stop_wakes_a_waiting_next_batch(tmp_path: Path, make_watcher: MakeWatcher) -> None:
    watcher = make_watcher(tmp_path)
    results: list[set[str] | None] = []
    waiting = threading.Thread(target=lambda: results.append(watcher.next_batch()))
    waiting.start()
    watcher.stop()
    waiting.join(WAIT)
    assert not waiting.is_alive(), "next_batch() still waits after stop()"
    assert results == [None]
    watcher.stop()  # idempotent
    assert watcher.next_batch(timeout=0.05) is None


def test_stop_before_start_is_harmless(tmp_path: Path) -> None:
    watcher = ChangeWatcher([str(tmp_path)])
    watcher.stop()
    watcher.start()  # a stopped watcher stays stopped
    assert watcher.next_batch(timeout=0.05) is None


def test_git_and_editor_noise_is_dropped(tmp_path: Path, make_watcher: MakeWatcher) -> None:
    watcher = make_watcher(tmp_path)
    noise = [write(tmp_path / ".git" / "index"), write(tmp_path / "src" / ".main.py.swp"),
             write(tmp_path / "src" / "main.py~"), write(tmp_path / ".idea" / "workspace.xml"),
             write(tmp_path / "src" / "main.py___jb_tmp___"), write(tmp_path / "src" / "4913")]
    folder = str(tmp_path / "src")
    sentinel = write(tmp_path / "src" / "main.py")
    seen = collect(watcher, {sentinel})
    assert not seen & set(noise), sorted(seen & set(noise))
    assert seen <= {sentinel, folder}, sorted(seen)


def test_folder_modifications_are_not_reported(tmp_path: Path, make_watcher: MakeWatcher) -> None:
    (tmp_path / "sub").mkdir()
    watcher = make_watcher(tmp_path)
    os.utime(tmp_path / "sub")
    os.chmod(tmp_path / "sub", 0o700)
    sentinel = write(tmp_path / "sentinel.txt")
    assert collect(watcher, {sentinel}) == {sentinel}


def test_touch_and_chmod_of_a_file_count(tmp_path: Path, make_watcher: MakeWatcher) -> None:
    script = write(tmp_path / "run.sh")
    watcher = make_watcher(tmp_path)
    os.chmod(script, 0o755)
    collect(watcher, {script})
    os.utime(script)
    collect(watcher, {script})


def test_nested_and_duplicate_roots_are_watched_once(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    watcher = ChangeWatcher([str(tmp_path / "a" / "b"), str(tmp_path / "a"),
                             str(tmp_path / "a") + "/", str(tmp_path / "a" / "b" / "f.txt")])
    assert watcher.folders == [str(tmp_path / "a")]
    assert watcher.files == set()


def test_a_sibling_with_a_common_prefix_is_not_nested(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app-data").mkdir()
    watcher = ChangeWatcher([str(tmp_path / "app"), str(tmp_path / "app-data")])
    assert watcher.folders == [str(tmp_path / "app"), str(tmp_path / "app-data")]


def test_missing_roots_are_listed_and_the_rest_watched(
        tmp_path: Path, make_watcher: MakeWatcher) -> None:
    gone = tmp_path / "nowhere" / "src"
    (tmp_path / "real").mkdir()
    watcher = make_watcher(tmp_path / "real", gone)
    assert watcher.missing == [str(gone)]
    path = write(tmp_path / "real" / "x.txt")
    collect(watcher, {path})


def test_a_file_root_reports_only_that_file(tmp_path: Path, make_watcher: MakeWatcher) -> None:
    compose = write(tmp_path / "compose.yaml")
    watcher = make_watcher(tmp_path / "compose.yaml")
    write(tmp_path / "sub" / "other.txt")
    write(tmp_path / "sibling.txt")
    write(tmp_path / "compose.yaml", "services: {}\n")
    assert collect(watcher, {compose}) == {compose}


def test_a_file_replaced_by_rename_is_reported(tmp_path: Path, make_watcher: MakeWatcher) -> None:
    # How many editors save: write a temporary file, rename it over the original.
    compose = write(tmp_path / "compose.yaml")
    watcher = make_watcher(tmp_path / "compose.yaml")
    temporary = write(tmp_path / ".compose.yaml.tmp1234")
    os.replace(temporary, compose)
    assert collect(watcher, {compose}) == {compose}


def test_a_missing_file_root_is_noticed_when_created(
        tmp_path: Path, make_watcher: MakeWatcher) -> None:
    env = tmp_path / ".env"
    watcher = make_watcher(env)
    assert watcher.missing == [str(env)]
    collect(watcher, {write(env, "A=1\n")})


@pytest.mark.parametrize("path", [
    "/p/.git/index", "/p/.git", "/p/sub/.git/objects/ab/cd", "/p/.idea/misc.xml",
    "/p/.main.py.swp", "/p/.main.py.swx", "/p/main.py~", "/p/4913", "/p/#main.py#",
    "/p/.#main.py", "/p/main.py___jb_old___", "/p/main.py___jb_tmp___", "/p/.x.kate-swp",
    "/p/x-go-tmp-umask",
])
def test_is_noise(path: str) -> None:
    assert is_noise(path)


@pytest.mark.parametrize("path", [
    "/p/main.py", "/p/.gitignore", "/p/.github/workflows/ci.yml", "/p/git/x", "/p/.env",
    "/p/a.swp", "/p/49130", "/p/#notes", "/p/.dockerignore",
])
def test_is_not_noise(path: str) -> None:
    assert not is_noise(path)


def test_noise_is_judged_below_the_root(tmp_path: Path, make_watcher: MakeWatcher) -> None:
    # The user's own folder may have an odd name; only what is inside it is judged.
    root = tmp_path / "backup~"
    root.mkdir()
    watcher = make_watcher(root)
    collect(watcher, {write(root / "a.txt")})
