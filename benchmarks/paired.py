"""Before/after in the same run: a benchmark's child function run in a baseline commit's
tree and in this one, alternately, each in a fresh process.

``tree(ref)`` unpacks ``git archive`` of a commit's ``kompy`` package; ``run_in(path, ...)``
runs ``module.function(*args)`` (a benchmark in this folder) with that tree first on the
path and returns what it printed as JSON.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def tree(ref: str, into: Path) -> Path:
    """The commit's ``kompy`` package unpacked under ``into`` (returned)."""
    data = subprocess.run(["git", "-C", str(REPO), "archive", ref, "kompy"], check=True,
                          capture_output=True).stdout
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


def run_in(path: Path, module: str, function: str, *args: Any,
           env: dict[str, str] | None = None) -> dict[str, Any]:
    """``module.function(*args)`` in a new process importing kompy from ``path``."""
    # -I would drop the venv's packages too: put the tree first on the path instead.
    code = (f"import sys; sys.path.insert(0, {str(path)!r}); "
            f"sys.path.insert(1, {str(REPO / 'benchmarks')!r}); "
            f"import json, {module} as m; print(json.dumps(m.{function}(*{args!r})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})})
    if done.returncode:
        raise SystemExit(f"{module}.{function} in {path} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def parser(rounds: int) -> argparse.ArgumentParser:
    """A benchmark's options: what to compare, and how many rounds."""
    out = argparse.ArgumentParser()
    out.add_argument("--baseline", default="", help="a commit (default: main's merge base)")
    out.add_argument("--this", default="", help="a commit (default: the working tree)")
    out.add_argument("--rounds", type=int, default=rounds)
    return out


def trees(args: argparse.Namespace, tmp: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """The two trees to run in, and what they are (for the results file)."""
    ref = args.baseline or git("merge-base", "HEAD", "main")
    paths = {"baseline": tree(ref, tmp / "baseline"),
             "this": tree(args.this, tmp / "this") if args.this else REPO}
    this = (git("rev-parse", "--short", args.this) if args.this else
            f"working tree at {git('rev-parse', '--short', 'HEAD')}")
    return paths, {"baseline": ref[:12], "this": this}


def order(round_index: int) -> tuple[str, str]:
    """Which tree runs first in this round: they take turns, so that neither always runs
    on the machine the other has just warmed (or loaded)."""
    return ("baseline", "this") if round_index % 2 == 0 else ("this", "baseline")


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def rounds(args: argparse.Namespace, module: str, function: str, *fargs: Any
           ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """``module.function(*fargs)`` in the baseline's tree and this one, ``args.rounds``
    times each, taking turns (:func:`order`); each result with its tree, round and the load
    before and after. Returns the results by tree and what the trees are."""
    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "this": []}
    with tempfile.TemporaryDirectory() as tmp:
        paths, compared = trees(args, Path(tmp))
        for i in range(args.rounds):
            for label in order(i):
                before = load()
                result = run_in(paths[label], module, function, *fargs)
                # The child ran the tree it was meant to, not an installed kompy.
                assert Path(result["kompy"]) == (paths[label] / "kompy").resolve(), result
                result.update(label=label, round=i, load_before=before, load_after=load())
                runs[label].append(result)
                print(json.dumps(result), file=sys.stderr)
    return runs, compared
