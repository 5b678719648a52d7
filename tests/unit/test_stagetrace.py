"""The stage tracer of benchmarks/bench_dev_stages.py names functions that exist.

The tracer wraps ``module.Class.method`` by name in every process of the benchmark run,
the cluster's daemon included: a name that a refactor removed made the daemon fail at
import, and the benchmark ended with "no cluster answers" (the scheduler's ``_schedule``
became ``_attempt``).
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

import pytest

TRACER = Path(__file__).resolve().parents[2] / "benchmarks" / "stagetrace" / "sitecustomize.py"


def _stages() -> dict[str, tuple[str, ...]]:
    spec = importlib.util.spec_from_file_location("kompy_stagetrace", TRACER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # without KOMPY_STAGE_TRACE it wraps nothing
    stages: dict[str, tuple[str, ...]] = module.STAGES
    return stages


@pytest.mark.parametrize("module_name, dotted", [
    (module, dotted) for module, names in _stages().items() for dotted in names])
def test_every_traced_function_exists(module_name: str, dotted: str) -> None:
    owner: Any = importlib.import_module(module_name)
    for part in dotted.split("."):
        assert hasattr(owner, part), f"{module_name}.{dotted}: no {part!r}"
        owner = getattr(owner, part)
    assert callable(owner)
