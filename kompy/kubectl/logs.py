"""``kompy logs``: ``kubectl logs`` (kubectl/pkg/cmd/logs and polymorphichelpers'
logsforobject), through the pod ``log`` API.

- ``POD``, ``pod/NAME`` or ``TYPE/NAME`` (a Deployment, Service, Job...: its best pod for
  logging, chosen as kubectl's ``ByLogging`` order does, saying ``Found 2 pods, using
  pod/...`` on stderr when there are several), or ``-l SELECTOR`` (every matching pod; the
  last 10 lines of each unless ``--tail`` says otherwise);
- ``-c`` a container, else the pod's ``kubectl.kubernetes.io/default-container``, else the
  first (``Defaulted container "web" out of: web, side, wait (init)`` on stderr when there
  was a choice); ``--all-containers``: init containers, then the others;
- ``-f`` follows; several streams are followed at once, at most ``--max-log-requests``
  (5), with whole lines interleaved; ``-p`` the previous (crashed) container; ``--tail``,
  ``--since`` (a duration: 5s, 2m, 3h), ``--since-time`` (RFC 3339), ``--timestamps``,
  ``--prefix`` (``[pod/NAME/CONTAINER] `` before each line).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from kompy.client import KubeClient
from kompy.client.objects import Obj
from kompy.errors import UserError
from kompy.kubectl.commands import target_pods

DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"
SELECTOR_TAIL = 10
USAGE = ("expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\n"
         "POD or TYPE/NAME is a required argument for the logs command")


@dataclass(frozen=True)
class LogOptions:
    container: str | None = None
    follow: bool = False
    previous: bool = False
    tail: int | None = None            # None: not given (-1: everything)
    since: str | None = None           # a duration: 5s, 2m, 3h, 1h30m
    since_time: str | None = None      # RFC 3339
    timestamps: bool = False
    prefix: bool = False
    all_containers: bool = False
    selector: str | None = None
    max_log_requests: int = 5


def logs(client: KubeClient, target: str | None, namespace: str | None, options: LogOptions,
         write: Callable[[bytes], None], note: Callable[[str], None]) -> int:
    """Write the logs of what ``target`` (or ``options.selector``) names; ``note`` gets
    kubectl's remarks for stderr."""
    since_seconds, since_time = check(target, options)
    ns = namespace or client.namespace
    if options.selector:
        pods = client.list("pods", ns, options.selector)["items"]
        if not pods:
            note(f"No resources found in {ns} namespace.")
            return 0
    else:
        assert target is not None
        pods = [pick_pod(client, target, ns, note)]
    streams = [(pod, c) for pod in pods for c in _containers(pod, options, note)]
    if options.follow and len(streams) > max(1, options.max_log_requests):
        raise UserError(f"you are attempting to follow {len(streams)} log streams, but maximum "
                        f"allowed concurrency is {options.max_log_requests}, use "
                        "--max-log-requests to increase the limit")
    tail = options.tail
    if tail is None and options.selector:
        tail = SELECTOR_TAIL
    lock = threading.Lock()

    def one(pod: Obj, container: str) -> None:
        meta = pod["metadata"]
        prefix = f"[pod/{meta['name']}/{container}] ".encode() if options.prefix else b""
        pending = b""
        for chunk in client.logs(meta["name"], meta.get("namespace") or ns, container,
                                 options.follow, options.previous,
                                 None if tail is None or tail < 0 else tail,
                                 since_seconds=since_seconds, since_time=since_time,
                                 timestamps=options.timestamps):
            if not prefix and len(streams) == 1:
                write(chunk)
                continue
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            if lines:
                with lock:   # whole lines only: streams never cut into each other
                    write(b"".join(prefix + line + b"\n" for line in lines))
        if pending:
            with lock:
                write(prefix + pending)

    if options.follow and len(streams) > 1:
        _parallel(one, streams)
    else:
        for pod, container in streams:
            one(pod, container)
    return 0


def check(target: str | None, options: LogOptions) -> tuple[int | None, float | None]:
    """kubectl's checks of the call, made before any request; (sinceSeconds, sinceTime)."""
    if target is None and not options.selector:
        raise UserError(USAGE)
    if target is not None and options.selector:
        raise UserError("only a selector (-l) or a POD name is allowed")
    if options.since and options.since_time:
        raise UserError("at most one of `sinceTime` or `sinceSeconds` may be specified")
    if options.all_containers and options.container:
        raise UserError("--all-containers=true should not be specified with container name "
                        f"{options.container}")
    if options.tail is not None and options.tail < -1:
        raise UserError("--tail must be greater than or equal to -1")
    since_seconds = None
    if options.since:
        seconds = go_duration(options.since)
        if seconds <= 0:
            raise UserError("--since must be greater than 0")
        since_seconds = max(1, round(seconds))   # kubectl rounds to the nearest second
    since_time = rfc3339(options.since_time) if options.since_time else None
    return since_seconds, since_time


def pick_pod(client: KubeClient, target: str, namespace: str, note: Callable[[str], None]
             ) -> Obj:
    """POD, pod/NAME, or the best pod of TYPE/NAME for its logs (kubectl's ByLogging)."""
    pods = target_pods(client, target, namespace)
    pods.sort(key=by_logging)
    best: Obj = pods[0]
    if len(pods) > 1:
        note(f"Found {len(pods)} pods, using pod/{best['metadata']['name']}")
    return best


def by_logging(pod: Obj) -> tuple[object, ...]:
    """kubectl's ``podutils.ByLogging``: assigned before unassigned; Running, Unknown,
    Pending; ready before not ready; ready longer before ready shorter; more restarts
    before fewer; older before newer."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    phase = {"Running": 0, "Unknown": 1, "Pending": 2}.get(str(status.get("phase")), 3)
    ready = _ready_since(status)
    restarts = max((int(c.get("restartCount") or 0)
                    for c in [*(status.get("initContainerStatuses") or []),
                              *(status.get("containerStatuses") or [])]), default=0)
    created = str((pod.get("metadata") or {}).get("creationTimestamp") or "~")
    return (not spec.get("nodeName"), phase, ready is None, ready or "", -restarts, created)


def _ready_since(status: dict[str, object]) -> str | None:
    for condition in status.get("conditions") or ():  # type: ignore[attr-defined]
        if condition.get("type") == "Ready" and condition.get("status") == "True":
            return str(condition.get("lastTransitionTime") or "")
    return None


def _containers(pod: Obj, options: LogOptions, note: Callable[[str], None]) -> list[str]:
    spec = pod.get("spec") or {}
    names = [str(c.get("name")) for c in spec.get("containers") or []]
    inits = [str(c.get("name")) for c in spec.get("initContainers") or []]
    everything = ", ".join([*names, *(f"{n} (init)" for n in inits)])
    if options.all_containers:
        return [*inits, *names]
    chosen = options.container
    pod_name = pod["metadata"]["name"]
    if not chosen:
        default = ((pod.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CONTAINER)
        if default and default in names + inits:
            chosen = default
        else:
            if default:
                note(f'Default container name "{default}" not found in pod {pod_name}')
            chosen = names[0] if names else ""
            if len(names) > 1 or inits:
                note(f'Defaulted container "{chosen}" out of: {everything}')
    if chosen not in names + inits:
        raise UserError(f"container {chosen} is not valid for pod {pod_name} out of: "
                        f"{everything}")
    return [chosen]


def _parallel(one: Callable[[Obj, str], None], streams: list[tuple[Obj, str]]) -> None:
    errors: list[BaseException] = []

    def run(pod: Obj, container: str) -> None:
        try:
            one(pod, container)
        except BaseException as error:  # noqa: BLE001 - reported by the caller's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=s, daemon=True) for s in streams]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.5)   # wakes for Ctrl-C
    if errors:
        raise errors[0]


_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def go_duration(text: str) -> float:
    """A Go duration (``time.ParseDuration``: ``300ms``, ``1.5h``, ``2h45m``) in seconds."""
    rest = text.strip()
    sign = -1.0 if rest.startswith("-") else 1.0
    rest = rest.lstrip("+-")
    if rest == "0":
        return 0.0
    total, pos = 0.0, 0
    for match in _PART.finditer(rest):
        if match.start() != pos:
            break
        total += float(match[1]) * _UNITS[match[2]]
        pos = match.end()
    if not rest or pos != len(rest):
        raise UserError(f'invalid argument "{text}" for "--since" flag: time: invalid duration '
                        f'"{text}"', hint="a duration like 30s, 5m, 2h or 1h30m")
    return sign * total


def rfc3339(text: str) -> float:
    """``--since-time``: an RFC 3339 time (with a zone) as a POSIX time."""
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise UserError(f'parsing time "{text}" as RFC 3339 failed',
                        hint="a time like 2024-08-30T06:00:00Z or 2024-08-30T08:00:00+02:00")
    return when.timestamp()
