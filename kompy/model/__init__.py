"""Typed, immutable value objects for a resolved Compose project; no I/O happens here.

Each value type parses every Compose syntax for its key (short and long forms) with
``parse(raw, at, path)`` and renders back to the Compose long form with ``to_compose()``.
``at`` is a :class:`kompy.model.base.Locator`, used only to build errors that name
file:line:column. A service's fields declare their Compose keys (kompy.model.keys), so
``Service.parse`` and ``Service.to_compose`` delegate each key to its value type: the map
of where each key lives is the Service class (kompy/model/service.py).
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
    Hook,
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
    "Hook",
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
