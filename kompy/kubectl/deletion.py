"""``kompy delete``'s wait, as kubectl's default ``--wait=true``: the command returns once each
deleted object is gone (its finalizers removed, a pod's containers stopped), not when the API
server has only marked it for deletion.

Like kubectl's ``IsDeleted`` condition (``kubectl/pkg/cmd/wait``), an object counts as gone
when the API answers 404 for it or holds another object (another UID) under its name; each
object is followed with a watch of its one name from the version first read, so nothing
polls. A wait the server forbids (403) or does not offer (405) is skipped, as kubectl does.
https://kubernetes.io/docs/reference/kubectl/generated/kubectl_delete/
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kompy.client import Gone, KubeClient, resources
from kompy.client.errors import ApiError, NotFound
from kompy.client.objects import Obj
from kompy.errors import KompyError

# kubectl's --timeout=0 ("wait for ever") is a week.
FOR_EVER = 168 * 3600.0


class DeleteTimeout(KompyError):
    """An object outlived ``--timeout``: exit 1 with kubectl's message."""

    exit_code = 1


@dataclass(frozen=True)
class Deleted:
    """An object whose deletion the API server accepted, as it was at that moment."""

    res: resources.Resource
    name: str
    namespace: str | None
    uid: str


def wait_gone(client: KubeClient, deleted: Sequence[Deleted], timeout: float,
              clock: Callable[[], float] = time.monotonic) -> None:
    """Return once every object in ``deleted`` is gone, waiting for each in turn up to
    ``timeout`` seconds (0: for ever), as kubectl gives each object its own ``--timeout``.
    Raises DeleteTimeout naming the first object still there."""
    for item in deleted:
        try:
            _wait_one(client, item, clock() + (timeout if timeout > 0 else FOR_EVER), clock)
        except ApiError as error:
            if error.status in (403, 405):
                return
            raise


def _gone(obj: Obj, item: Deleted) -> bool:
    return (obj.get("metadata") or {}).get("uid") != item.uid


def _timeout(item: Deleted) -> DeleteTimeout:
    return DeleteTimeout(f"timed out waiting for the condition on {item.res.plural}/{item.name}")


def _wait_one(client: KubeClient, item: Deleted, deadline: float,
              clock: Callable[[], float]) -> None:
    while True:
        try:
            obj = client.get(item.res.plural, item.name, item.namespace)
        except NotFound:
            return
        if _gone(obj, item):
            return
        left = deadline - clock()
        if left <= 0:
            raise _timeout(item)
        meta = obj.get("metadata") or {}
        try:
            for kind, event_obj in client.watch(
                    item.res.plural, meta.get("namespace"), meta.get("resourceVersion"),
                    field_selector=f"metadata.name={item.name}",
                    timeout_seconds=max(1, math.ceil(left))):
                if kind == "DELETED" or _gone(event_obj, item):
                    return
                if clock() >= deadline:
                    raise _timeout(item)
        except Gone:
            continue  # our version is older than the server's history: read the object again
        # The watch ended at its timeout (or the server closed it): read again, then decide.
