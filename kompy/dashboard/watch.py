"""The cluster as the dashboard sees it: one informer per resource (list, then the API's
watch stream), and a fan-out of "this topic changed" to every open page.

Pages do not poll: each holds one server-sent-events stream (:mod:`kompy.dashboard.app`)
fed from here, and re-fetches a table only when a watch event touched it. Events from the
informer threads are handed to the server's event loop with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable

from kompy.client import KubeClient
from kompy.client.informer import Handler, Informers
from kompy.client.objects import Obj, namespace

# Resource -> the topic (a part of a page) its changes refresh.
TOPICS: dict[str, str] = {
    "namespaces": "namespaces",
    "pods": "pods",
    "deployments": "workloads", "replicasets": "workloads", "statefulsets": "workloads",
    "daemonsets": "workloads", "jobs": "workloads", "cronjobs": "workloads",
    "services": "services", "ingresses": "services",
    "events": "events",
    "configmaps": "configmaps",
    "secrets": "secrets",
}
# Changes that come in bursts (a rollout touches dozens of objects) are sent at most this
# often per topic: the page re-fetches once for the burst.
COALESCE_SECONDS = 0.25


class Subscription:
    """One page's stream: the topics changed in its namespace since it last read."""

    def __init__(self, loop: asyncio.AbstractEventLoop, ns: str | None) -> None:
        self.loop = loop
        self.namespace = ns
        self._pending: set[str] = set()
        self._wake = asyncio.Event()

    def offer(self, topic: str, ns: str) -> None:
        """Called on the event loop."""
        if self.namespace is None or not ns or ns == self.namespace:
            self._pending.add(topic)
            self._wake.set()

    async def next(self, keepalive: float) -> list[str]:
        """The changed topics, after a short gathering pause; [] after ``keepalive`` idle
        seconds (the caller sends a comment, which also finds a closed connection)."""
        try:
            await asyncio.wait_for(self._wake.wait(), keepalive)
        except TimeoutError:
            return []
        await asyncio.sleep(COALESCE_SECONDS)
        self._wake.clear()
        topics, self._pending = sorted(self._pending), set()
        return topics


class ClusterView:
    """Informers over every resource a view shows, started once for the server's life."""

    def __init__(self, client: KubeClient, resources: Iterable[str] = TOPICS) -> None:
        self.client = client
        self.stop = threading.Event()
        self.informers = Informers(client, self.stop)
        self._subscriptions: set[Subscription] = set()
        self._lock = threading.Lock()
        for resource in resources:
            self.informers[resource].add_handler(self._handler(TOPICS[resource]))

    def start(self) -> None:
        self.informers.start()

    def close(self) -> None:
        self.stop.set()

    def wait_synced(self, timeout: float) -> bool:
        return self.informers.wait_synced(timeout)

    def list(self, resource: str, ns: str | None = None) -> list[Obj]:
        items = self.informers[resource].list(ns)
        return sorted(items, key=lambda o: (namespace(o), (o.get("metadata") or {}).get(
            "name") or ""))

    def get(self, resource: str, ns: str, name: str) -> Obj | None:
        return self.informers[resource].get(ns, name)

    def subscribe(self, ns: str | None) -> Subscription:
        subscription = Subscription(asyncio.get_running_loop(), ns)
        with self._lock:
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)

    def _handler(self, topic: str) -> Handler:
        def changed(obj: Obj, deleted: bool) -> None:
            ns = namespace(obj)
            with self._lock:
                current = list(self._subscriptions)
            for subscription in current:
                try:
                    subscription.loop.call_soon_threadsafe(subscription.offer, topic, ns)
                except RuntimeError:  # that page's loop is closed: the server is stopping
                    continue
        return changed
