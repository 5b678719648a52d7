"""Shared by the Docker benchmarks: the machine they ran on, and writing their results."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """CPU model, cores, memory, kernel, Python and Docker engine versions."""
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo
                  if line.startswith("model name")), "")
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem = next((int(line.split()[1]) // 1024 for line in meminfo
                if line.startswith("MemTotal:")), 0)
    engine = subprocess.run(["docker", "version", "-f", "{{.Server.Version}}"],
                            capture_output=True, text=True).stdout.strip()
    return {"cpu": model, "cores": os.cpu_count(), "memory_mib": mem,
            "kernel": platform.release(), "python": platform.python_version(),
            "docker_engine": engine}


def save(path: Path, result: dict[str, Any]) -> None:
    """Write ``result`` to ``path`` (benchmarks/results/) and show it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    json.dump(result, sys.stdout, indent=2)
    print()
