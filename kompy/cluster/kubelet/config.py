"""The node's settings: a ``KubeletConfiguration`` file in the cluster's state folder.

``$KOMPY_HOME/<cluster>/kubelet.yaml``, read at each start of the daemon::

    apiVersion: kubelet.config.k8s.io/v1beta1
    kind: KubeletConfiguration
    maxPods: 110                 # pods the node takes; the rest stay Pending (FailedScheduling)
    containerLogMaxSize: 10Mi    # a container's log file is rotated at this size...
    containerLogMaxFiles: 5      # ...and this many files are kept (the current one included)
    clusterDomain: cluster.local # the cluster DNS zone and the pods' search domains
    resolvConf: /etc/resolv.conf # the node's resolvers: dnsPolicy Default, and the cluster
                                 # DNS server's upstream for names outside the zone
    nodeLeaseDurationSeconds: 40 # a node whose Lease is older than this goes NotReady

The names, defaults and rules are the kubelet's
(https://kubernetes.io/docs/reference/config-api/kubelet-config.v1beta1/). kompy reads these
fields and refuses any other, naming it: a setting that would not take effect is never taken
silently. A file that is absent means the defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kompy.client.quantity import QuantityError, int_value
from kompy.errors import ClusterError, KompyError, SourceLocation
from kompy.yaml.reader import YamlDocument, load_yaml

API_VERSION = "kubelet.config.k8s.io/v1beta1"
KIND = "KubeletConfiguration"
FIELDS = ("maxPods", "containerLogMaxSize", "containerLogMaxFiles", "clusterDomain",
          "resolvConf", "nodeLeaseDurationSeconds")


@dataclass(frozen=True)
class KubeletConfig:
    max_pods: int = 110
    container_log_max_size: int = 10 * 2**20  # bytes
    container_log_max_files: int = 5
    cluster_domain: str = "cluster.local"
    resolv_conf: str = "/etc/resolv.conf"  # "" : no upstream resolvers at all
    # Each node renews its Lease every quarter of this; one not renewed for this long is
    # unreachable for the node lifecycle controller (docs/cluster.md, "Several nodes").
    node_lease_duration_seconds: int = 40


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
        if key == "clusterDomain":
            if not isinstance(raw, str) or not _domain(raw):
                raise fail(key, f"must be a DNS domain such as cluster.local, not {raw!r}")
            values["cluster_domain"] = raw.strip(".")
            continue
        if key == "resolvConf":
            if not isinstance(raw, str):
                raise fail(key, f"must be a file path (or \"\" for none), not {raw!r}")
            values["resolv_conf"] = raw
            continue
        if key == "containerLogMaxSize":
            try:
                size = int_value(raw)
            except QuantityError:
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
        elif key == "nodeLeaseDurationSeconds":
            if number is None or number < 1:
                raise fail(key, f"must be a whole number of seconds, 1 or more, not {raw}")
            values["node_lease_duration_seconds"] = number
        else:
            if number is None or number < 2:  # the kubelet's own rule
                raise fail(key, f"must be a whole number, 2 or more, not {raw}")
            values["container_log_max_files"] = number
    return KubeletConfig(**values)


def _domain(text: str) -> bool:
    labels = text.strip(".").split(".")
    return all(re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", label) for label in labels)


def _integer(raw: Any) -> int | None:
    text = str(raw).strip()
    return int(text) if text.isdigit() else None
