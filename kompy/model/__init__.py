"""Typed, immutable value objects for a resolved Compose project; no I/O happens here.

Each value type parses every Compose syntax for its key (short and long forms) with
``parse(raw, at)`` and renders back to the Compose long form with ``to_compose()``.
``at`` is a :class:`kompy.model.base.Locator`, used only to build errors that name
file:line:column.
"""

from kompy.model.base import Locator, NullLocator
from kompy.model.project import (
    ConfigDef,
    NetworkDef,
    Project,
    SecretDef,
    VolumeDef,
)
from kompy.model.service import (
    Build,
    Dependency,
    Deploy,
    Develop,
    EnvFile,
    Healthcheck,
    PortMapping,
    Resources,
    ResourceSpec,
    RestartPolicy,
    Service,
    ServiceFileRef,
    ServiceNetwork,
    ServiceVolume,
    UpdateConfig,
    WatchRule,
)
from kompy.model.values import ByteSize, Duration

__all__ = [
    "Build",
    "ByteSize",
    "ConfigDef",
    "Deploy",
    "Dependency",
    "Develop",
    "Duration",
    "EnvFile",
    "Healthcheck",
    "Locator",
    "NetworkDef",
    "NullLocator",
    "PortMapping",
    "Project",
    "Resources",
    "ResourceSpec",
    "RestartPolicy",
    "SecretDef",
    "Service",
    "ServiceFileRef",
    "ServiceNetwork",
    "ServiceVolume",
    "UpdateConfig",
    "VolumeDef",
    "WatchRule",
]
