"""What every page of one dashboard server shares: the API client and its watches, the login
gate, the context's name, and where the Compose project and its dev loop are."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kompy.client import KubeClient
from kompy.dashboard.auth import Gate
from kompy.dashboard.metrics import PodMetrics
from kompy.dashboard.streams import Shutdown
from kompy.dashboard.watch import ClusterView


@dataclass
class Dashboard:
    """What the pages need: the API client and its watches, and where the project is."""
    client: KubeClient
    view: ClusterView
    context: str
    gate: Gate
    compose_files: tuple[str, ...] = ()
    project_directory: str | None = None
    kompy_home: Path | None = None           # where `kompy dev` writes its status files
    metrics: PodMetrics = field(init=False)
    shutdown: Shutdown = field(init=False, default_factory=Shutdown)

    def __post_init__(self) -> None:
        self.metrics = PodMetrics(self.client)
