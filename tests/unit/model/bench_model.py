"""Benchmark: parse + to_compose of a generated 2,000-service project.

Run: python3 tests/unit/model/bench_model.py  (not collected by pytest: no test_ prefix).
"""

from __future__ import annotations

import time
from typing import Any

from kompy.model import NullLocator, Project


def generate(n: int = 2000) -> dict[str, Any]:
    services: dict[str, Any] = {}
    for i in range(n):
        services[f"svc{i}"] = {
            "image": f"registry.example.com/app{i}:1.{i}",
            "command": "python -m app --port 8000 --name 'svc {i}'",
            "ports": [f"{10000 + i}:8000", "127.0.0.1:9000-9001:9000-9001/udp",
                      {"target": 7000, "published": 17000 + i}],
            "expose": [8000, "8001"],
            "volumes": ["./src:/src:ro", f"data{i % 10}:/data", "/cache",
                        {"type": "tmpfs", "target": "/tmp", "tmpfs": {"size": "64m"}}],
            "environment": ["DEBUG=1", f"NAME=svc{i}", "EMPTY"],
            "env_file": [".env", {"path": "extra.env", "required": False}],
            "labels": {"team": "core", "index": i},
            "healthcheck": {"test": "curl -f http://localhost:8000/ || exit 1",
                            "interval": "30s", "timeout": "5s", "retries": 3,
                            "start_period": "1m30s"},
            "depends_on": [f"svc{i - 1}"] if i else [],
            "deploy": {"replicas": 2, "resources": {"limits": {"cpus": "0.5", "memory": "512M"},
                                                    "reservations": {"memory": "128m"}},
                       "restart_policy": {"condition": "on-failure", "max_attempts": 3}},
            "restart": "unless-stopped",
            "stop_grace_period": "20s",
            "extra_hosts": ["host.docker.internal:host-gateway"],
            "x-team": {"owner": "me"},
        }
    volumes = {f"data{i}": None for i in range(10)}
    return {"services": services, "volumes": volumes}


def main() -> None:
    data = generate()
    best_wall = best_cpu = float("inf")
    for _ in range(7):
        wall, cpu = time.perf_counter(), time.process_time()
        project = Project.parse(data, name="bench", working_dir="/work/bench",
                                locator=NullLocator())
        project.to_compose()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    print(f"2,000 services: parse + to_compose best of 7: {best_wall:.3f} s wall, "
          f"{best_cpu:.3f} s CPU")


if __name__ == "__main__":
    main()
