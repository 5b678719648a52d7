"""A container's CPU and memory use read from its cgroup files, as cAdvisor reads them.

Why files and not the engine's stats endpoint: Docker's ``GET /containers/{id}/stats`` with
``stream=false`` waits for two of its own samples, a second apart (1.0 to 2.0 s a container
measured here, Docker 20.10); ``one-shot=true`` answers at once only for the first call and
then takes a second too. Reading the three files of a container takes 0.17 ms. So the
metrics collector reads the files when the engine's cgroups are visible here (a local engine,
the daemon as root or with read access to ``/sys/fs/cgroup``), and asks the engine only for
containers whose cgroup it cannot find (a remote ``DOCKER_HOST``, Docker Desktop's VM). See
docs/cluster.md, "Metrics".

Paths tried, for each layout Docker uses: cgroup v1 with the ``cgroupfs`` driver
(``/sys/fs/cgroup/cpuacct/docker/<id>``) or the ``systemd`` driver
(``.../system.slice/docker-<id>.scope``), and cgroup v2's unified tree with either driver.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class CgroupReading:
    cpu_ns: int
    working_set: int


def _relative_dirs(container_id: str) -> tuple[str, ...]:
    return (f"docker/{container_id}", f"system.slice/docker-{container_id}.scope")


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _stat_field(path: Path, *names: str) -> int | None:
    """The first of ``names`` found in a ``key value`` file (memory.stat, cpu.stat)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    fields = dict(line.split(" ", 1) for line in lines if " " in line)
    for name in names:
        if name in fields:
            try:
                return int(fields[name])
            except ValueError:
                return None
    return None


def working_set(usage: int, inactive_file: int | None) -> int:
    """metrics-server's memory: usage minus inactive file cache, never below zero
    (cAdvisor's ``workingSet``)."""
    return max(0, usage - (inactive_file or 0))


def _v1(root: Path, rel: str) -> CgroupReading | None:
    cpu = _read_int(root / "cpuacct" / rel / "cpuacct.usage")
    if cpu is None:
        return None
    memory = root / "memory" / rel
    usage = _read_int(memory / "memory.usage_in_bytes")
    if usage is None:
        return None
    # total_inactive_file counts the cgroup's children too (cAdvisor uses it under v1).
    inactive = _stat_field(memory / "memory.stat", "total_inactive_file", "inactive_file")
    return CgroupReading(cpu, working_set(usage, inactive))


def _v2(root: Path, rel: str) -> CgroupReading | None:
    folder = root / rel
    usec = _stat_field(folder / "cpu.stat", "usage_usec")
    usage = _read_int(folder / "memory.current")
    if usec is None or usage is None:
        return None
    return CgroupReading(usec * 1000,
                         working_set(usage, _stat_field(folder / "memory.stat", "inactive_file")))


def read(container_id: str, root: Path = ROOT) -> CgroupReading | None:
    """The container's reading, or None when its cgroup is not visible from here."""
    for rel in _relative_dirs(container_id):
        found = _v1(root, rel) or _v2(root, rel)
        if found is not None:
            return found
    return None
