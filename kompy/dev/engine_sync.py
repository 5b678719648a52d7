"""The built-in cluster's sync shortcut: the Docker engine's archive copy, skipping the API.

``KOMPY_DEV_SYNC=engine`` makes ``kompy dev`` hand each sync's tar straight to the engine
(``PUT /containers/ID/archive``) of the pod's container, found by the labels the built-in
cluster's kubelet puts on it. It is an extra of the built-in cluster (the Docker engine
holds its containers), measured beside the standard path in benchmarks/bench_dev.py; the
default, and the only way on other clusters, is the API's exec (sync.py). Any container the
engine does not know falls back to that. The same lookup runs a ``sync+exec`` command whose
rule asks for ``privileged`` (:func:`exec_privileged`), with the built-in extras on.
"""

from __future__ import annotations

import os
from typing import Any

from kompy.engine.connection import call, shared
from kompy.errors import ClusterError

# The kubelet's labels (kompy/cluster/kubelet/backend.py); dev/ does not import the cluster.
LABEL_NAMESPACE, LABEL_POD, LABEL_CONTAINER = "kompy.namespace", "kompy.pod", "kompy.container"
ENV = "KOMPY_DEV_SYNC"

# (namespace, pod, container) -> container id: listing containers costs the engine a lock on
# each of them, so a pod's container is looked up once.
_ids: dict[tuple[str, str, str], str] = {}


def enabled() -> bool:
    mode = os.environ.get(ENV, "exec")
    if mode not in ("exec", "engine"):
        raise ClusterError(f"{ENV}={mode!r}: must be exec or engine")
    return mode == "engine"


def _api() -> Any:
    return shared().api


def put(namespace: str, pod: str, container: str, data: bytes) -> bool:
    """Unpack ``data`` (a tar) at / in the pod's running container; False when the engine
    has no such container (another cluster's pod), so the caller uses the API."""
    key = (namespace, pod, container)
    for _attempt in (1, 2):
        try:
            if _copy(key, data):
                return True
        except ClusterError:   # EngineError included: gone (a restart made a new one)...
            _ids.pop(key, None)
            continue
        return False
    return False


def _copy(key: tuple[str, str, str], data: bytes) -> bool:
    api = _api()
    if not _find(api, key):
        return False
    call(f"copy into {key[1]}", lambda: api.put_archive(_ids[key], "/", data))
    return True


def _find(api: Any, key: tuple[str, str, str]) -> bool:
    if key not in _ids:
        namespace, pod, container = key
        labels = [f"{LABEL_NAMESPACE}={namespace}", f"{LABEL_POD}={pod}",
                  f"{LABEL_CONTAINER}={container}"]
        found = call("find the pod's container",
                     lambda: api.containers(filters={"label": labels, "status": "running"}))
        if not found:
            return False
        _ids[key] = found[0]["Id"]
    return True


def exec_privileged(namespace: str, pod: str, container: str, command: list[str]
                    ) -> tuple[int, bytes] | None:
    """Run ``command`` privileged in the pod's container, as ``docker exec --privileged``
    (a Compose ``exec.privileged: true``, which Kubernetes' exec API cannot grant): (exit
    code, output), or None when the engine has no such container."""
    key = (namespace, pod, container)
    api = _api()
    _ids.pop(key, None)   # a restart in place keeps the id, a new container does not
    if not _find(api, key):
        return None
    made = call("exec", lambda: api.exec_create(_ids[key], command, privileged=True))
    output = call("exec", lambda: api.exec_start(made["Id"]))
    code = call("exec", lambda: api.exec_inspect(made["Id"])).get("ExitCode")
    return int(code or 0), output if isinstance(output, bytes) else b""
