"""Which node port a Service gets: kube-apiserver's allocator, on a host that other built-in
clusters share.

kube-apiserver hands out a free port of ``--service-node-port-range`` (30000-32767) at
random, from the range's upper band first (the lower band is kept for ports users choose
themselves, KEP-3668: ``min(max(16, size/32), 128)`` ports). Each built-in cluster has its
own API server, but every cluster on the machine listens at 127.0.0.1: a port another
program (another cluster's proxy) holds there would be answered by that program, not by
this cluster's Service. So a port found held on this host is skipped, as one of this
cluster's own Services would be. A port that becomes held later (the other cluster started
after this one) is reported where it fails: a ``FailedToListen`` warning event on the
Service (kompy/cluster/proxy/proxier.py); kube-proxy, likewise, only reports a node port it
cannot open.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Callable, Iterable

from kompy.client.errors import Invalid

NODE_PORTS = range(30000, 32768)
LOOPBACK = "127.0.0.1"

PortFree = Callable[[int, str], bool]


def static_band_size() -> int:
    """The lower band kept for chosen ports (KEP-3668's formula)."""
    return min(max(16, len(NODE_PORTS) // 32), 128)


def free_on_host(port: int, protocol: str = "TCP") -> bool:
    """Whether a listener could take ``port`` at 127.0.0.1 now (bound and let go at once,
    with the listener's own SO_REUSEADDR, so a closing connection does not count)."""
    kind = socket.SOCK_DGRAM if protocol.upper() == "UDP" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def allocate(used: Iterable[int], protocol: str = "TCP", *,
             free: PortFree = free_on_host, rng: random.Random | None = None) -> int:
    """A node port that this cluster does not use (``used``) and nothing on this host holds:
    at random from the upper band, then from the lower one. Invalid (422) when none is left,
    as kube-apiserver says it."""
    taken = set(used)
    pick = rng or random.SystemRandom()
    band = static_band_size()
    for part in (NODE_PORTS[band:], NODE_PORTS[:band]):
        candidates = [p for p in part if p not in taken]
        pick.shuffle(candidates)
        for port in candidates:
            if free(port, protocol):
                return port
    raise Invalid(422, "Invalid", "failed to allocate a nodePort: range is full "
                  f"({NODE_PORTS.start}-{NODE_PORTS.stop - 1}, on this host)")
