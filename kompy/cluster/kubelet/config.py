"""The node's settings: a ``KubeletConfiguration`` file in the cluster's state folder.

``$KOMPY_HOME/<cluster>/kubelet.yaml``, read at each start of the daemon::

    apiVersion: kubelet.config.k8s.io/v1beta1
    kind: KubeletConfiguration
    maxPods: 110                 # pods the node takes; the rest stay Pending (FailedScheduling)
    containerLogMaxSize: 10Mi    # a container's log file is rotated at this size...
    containerLogMaxFiles: 5      # ...and this many files are kept (the current one included)

The names, defaults and rules are the kubelet's
(https://kubernetes.io/docs/reference/config-api/kubelet-config.v1beta1/). kompy reads these
fields and refuses any other, naming it: a setting that would not take effect is never taken
silently. A file that is absent means the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kompy.client.objects import memory_bytes
from kompy.errors import ClusterError, KompyError, SourceLocation
from kompy.yaml.reader import YamlDocument, load_yaml

API_VERSION = "kubelet.config.k8s.io/v1beta1"
KIND = "KubeletConfiguration"
FIELDS = ("maxPods", "containerLogMaxSize", "containerLogMaxFiles")


@dataclass(frozen=True)
class KubeletConfig:
    max_pods: int = 110
    container_log_max_size: int = 10 * 2**20  # bytes
    container_log_max_files: int = 5


def load_config(path: Path) -> KubeletConfig:
    """The settings in ``path`` (the defaults when it does not exist); a ClusterError naming
    the file, line and field when it is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return KubeletConfig()
    except OSError as error:
        raise ClusterError(f"cannot read {path}: {error.strerror}") from error
    try:
        docs = load_yaml(text, str(path))
    except KompyError as error:
        raise ClusterError(error.message, location=error.location, hint=error.hint) from None
    if not docs or docs[0].data is None:
        return KubeletConfig()
    doc = docs[0]
    if len(docs) > 1 or not isinstance(doc.data, dict):
        raise ClusterError(f"{KIND} must be one mapping", location=SourceLocation(str(path)))
    return _parse(doc)


def _parse(doc: YamlDocument) -> KubeletConfig:
    data: dict[str, Any] = doc.data
    values: dict[str, Any] = {}

    def fail(key: str, message: str, hint: str | None = None) -> ClusterError:
        return ClusterError(message, location=doc.location((key,)), key_path=(key,), hint=hint)

    for key, raw in data.items():
        if key == "apiVersion" and raw != API_VERSION:
            raise fail(key, f"apiVersion must be {API_VERSION}")
        if key == "kind" and raw != KIND:
            raise fail(key, f"kind must be {KIND}")
        if key in ("apiVersion", "kind"):
            continue
        if key not in FIELDS:
            raise fail(key, "not a setting of kompy's node",
                       hint="kompy reads " + ", ".join(FIELDS))
        if key == "containerLogMaxSize":
            try:
                size = memory_bytes(raw)
            except ValueError:
                size = 0
            if size <= 0:
                raise fail(key, f"must be a positive quantity such as 10Mi, not {raw}")
            values["container_log_max_size"] = size
            continue
        number = _integer(raw)
        if key == "maxPods":
            if number is None or number < 0:
                raise fail(key, f"must be a whole number, 0 or more, not {raw}")
            values["max_pods"] = number
        else:
            if number is None or number < 2:  # the kubelet's own rule
                raise fail(key, f"must be a whole number, 2 or more, not {raw}")
            values["container_log_max_files"] = number
    return KubeletConfig(**values)


def _integer(raw: Any) -> int | None:
    text = str(raw).strip()
    return int(text) if text.isdigit() else None
