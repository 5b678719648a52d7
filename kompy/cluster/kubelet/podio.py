"""Pod logs, exec, attach and port-forward targets for the API server (its PodIO protocol,
apiserver/handlers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kompy.client import NotFound
from kompy.client.informer import Informer
from kompy.client.objects import Obj, uid
from kompy.cluster.kubelet.backend import (
    LABEL_CONTAINER,
    LABEL_POD_UID,
    LABEL_ROLE,
    ContainerBackend,
    ContainerInfo,
    ProcessStreams,
)
from kompy.errors import ClusterError


def _bad_request(message: str) -> ClusterError:
    from kompy.client import ApiError

    return ApiError(400, "BadRequest", message)


class DockerPodIO:
    def __init__(self, backend: ContainerBackend, pods: Informer) -> None:
        self.backend = backend
        self.pods = pods

    def _pod(self, namespace: str, pod: str) -> Obj:
        found = self.pods.get(namespace, pod)
        if found is None:
            raise NotFound(404, "NotFound", f'pods "{pod}" not found')
        return found

    def _container_name(self, pod: Obj, container: str | None) -> str:
        spec: dict[str, Any] = pod.get("spec") or {}
        names = [str(c.get("name")) for c in spec.get("containers") or []]
        inits = [str(c.get("name")) for c in spec.get("initContainers") or []]
        if container is None:
            if len(names) == 1:
                return names[0]
            raise _bad_request(f"a container name must be specified for pod "
                               f"{(pod.get('metadata') or {}).get('name')}, choose one of: "
                               f"[{' '.join(names)}]" + (f" or one of the init containers: "
                                                         f"[{' '.join(inits)}]" if inits else ""))
        if container not in names + inits:
            raise _bad_request(f"container {container} is not valid for pod "
                               f"{(pod.get('metadata') or {}).get('name')}")
        return container

    def _attempts(self, pod: Obj, container: str) -> list[ContainerInfo]:
        found = self.backend.list_containers({LABEL_POD_UID: uid(pod), LABEL_CONTAINER: container})
        return sorted((c for c in found if c.labels.get(LABEL_ROLE) != "sandbox"),
                      key=lambda c: c.attempt)

    def logs(self, namespace: str, pod: str, container: str | None, *, follow: bool,
             previous: bool, tail_lines: int | None, since: float | None = None,
             timestamps: bool = False) -> Iterator[bytes]:
        obj = self._pod(namespace, pod)
        cname = self._container_name(obj, container)
        attempts = self._attempts(obj, cname)
        if previous:
            if len(attempts) < 2:
                raise _bad_request(f'previous terminated container "{cname}" in pod "{pod}" '
                                   "not found")
            target = attempts[-2]
        elif attempts:
            target = attempts[-1]
        else:
            raise _bad_request(f'container "{cname}" in pod "{pod}" is waiting to start')
        return self.backend.logs(target.id, follow=follow and not previous, tail=tail_lines,
                                 since=since, timestamps=timestamps)

    def _running(self, namespace: str, pod: str, container: str | None) -> ContainerInfo:
        obj = self._pod(namespace, pod)
        cname = self._container_name(obj, container)
        attempts = self._attempts(obj, cname)
        if not attempts:
            raise _bad_request(f'unable to upgrade connection: container not found ("{cname}")')
        if not attempts[-1].running:
            raise _bad_request(f'container "{cname}" in pod "{pod}" is not running')
        return attempts[-1]

    def exec_streams(self, namespace: str, pod: str, container: str | None,
                     command: list[str], *, stdin: bool, tty: bool) -> ProcessStreams:
        """Start ``command`` in the container, its standard streams open."""
        if not command:
            raise _bad_request("you must specify at least one command for the container")
        target = self._running(namespace, pod, container)
        return self.backend.exec_streams(target.id, command, stdin=stdin, tty=tty)

    def attach(self, namespace: str, pod: str, container: str | None, *, stdin: bool,
               tty: bool) -> ProcessStreams:
        """The container's main process, from now on."""
        target = self._running(namespace, pod, container)
        return self.backend.attach_streams(target.id, stdin=stdin, tty=tty)

    def pod_address(self, namespace: str, pod: str) -> str:
        """The pod's IP, where a port-forward connects: the host reaches the pods' bridge
        networks directly (a port bound to the pod's 127.0.0.1 only is out of reach, where
        the kubelet's port-forward enters the pod's network namespace)."""
        obj = self._pod(namespace, pod)
        status = obj.get("status") or {}
        if status.get("phase") != "Running" or not status.get("podIP"):
            raise _bad_request(f"unable to do port forwarding: pod {pod} is not running "
                               f"(phase {status.get('phase') or 'Pending'})")
        return str(status["podIP"])
