"""The running operator's parts, wired together once leadership is held, and torn down at
shutdown (or at once, when the lease is lost)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from seppmail_lifecycle.api import KINDS_BY_NAME
from seppmail_lifecycle.api.policy import Policy
from seppmail_lifecycle.backend.dns import DnsResolver
from seppmail_lifecycle.backend.labels import ROUTING_SELECTOR
from seppmail_lifecycle.backend.mail import SmtpSettings
from seppmail_lifecycle.backend.routing_configmap import ConfigMapBackend
from seppmail_lifecycle.core.concurrency import Workers, size_workers
from seppmail_lifecycle.kube.client import KubeClient
from seppmail_lifecycle.kube.errors import NotFound
from seppmail_lifecycle.kube.events import EventRecorder
from seppmail_lifecycle.kube.flowcontrol import read_priority_level
from seppmail_lifecycle.kube.store import NAMESPACE, ROUTING, Store
from seppmail_lifecycle.runtime.context import Context
from seppmail_lifecycle.runtime.effects import ClusterEffects
from seppmail_lifecycle.runtime.engine import Engine
from seppmail_lifecycle.runtime.keys import Key, catch_up_keys
from seppmail_lifecycle.runtime.mailer import Mailer
from seppmail_lifecycle.runtime.metrics import Counters
from seppmail_lifecycle.runtime.workqueue import WorkQueue
from seppmail_lifecycle.runtime.writer import StatusWriter

logger = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def exact_namespaces(patterns: Sequence[str]) -> list[str]:
    """The namespaces to list one by one (so Roles in them suffice); empty: list cluster-wide
    (every namespace, or glob patterns, which need the namespaces to be discovered)."""
    if any(char in pattern for pattern in patterns for char in "*?["):
        return []
    return list(patterns)


async def prime(client: KubeClient, store: Store, tenant_namespaces: bool = False) -> None:
    """Fill the store with one LIST per kind before anything is decided, so no decision is taken
    on a partial view (a service seen before its domain would look orphaned); with
    ``tenant_namespaces`` the Namespaces too (their partner labels)."""
    namespaces = exact_namespaces(store.namespaces)
    for kind, info in KINDS_BY_NAME.items():
        try:
            async for page in client.list_pages(info, namespaces):  # one page of whole objects at a time
                for body in page:
                    store.put(kind, body)
        except NotFound:
            # `helm upgrade` never installs a CRD that is new in the chart: run without the kind
            # (and say how to fix it) rather than not at all.
            logger.error(
                "CRD %s is not installed: apply the chart's crds/ (kubectl apply --server-side -f crds/); "
                "%s objects are ignored until the operator restarts with it",
                info.crd_name,
                kind,
            )
    for body in await client.list_configmaps(ROUTING_SELECTOR, namespaces):
        store.put(ROUTING, body)
    if tenant_namespaces:
        for body in await client.list_namespaces():
            store.put(NAMESPACE, body)


def _report_death(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.critical("%s died; liveness now fails", task.get_name(), exc_info=task.exception())


@dataclass
class OperatorRuntime:
    client: KubeClient
    engine: Engine
    queue: WorkQueue[Key]
    events: EventRecorder
    counters: Counters
    workers: Workers
    tasks: tuple[asyncio.Task[None], ...] = field(default=())

    @property
    def store(self) -> Store:
        return self.engine.store

    @classmethod
    async def start(
        cls,
        client: KubeClient,
        policy: Policy,
        namespaces: Sequence[str] = (),
        smtp: SmtpSettings | None = None,
        workers: int | None = None,
        tenant_namespaces: bool = False,
        clock: Callable[[], datetime] = utc_now,
        may_write: Callable[[], bool] = lambda: True,
        counters: Counters | None = None,
    ) -> OperatorRuntime:
        """Prime the store, queue every aggregate (catching up on everything overdue), start the
        workers (``workers``, or as many as the API server admits for us: ``size_workers``), the
        deadline scheduler and the event poster."""
        store = Store(namespaces)
        events = EventRecorder(client, clock, instance=os.environ.get("POD_NAME") or socket.gethostname())
        counters = counters if counters is not None else Counters()
        resolver = DnsResolver(policy.dns.nameservers, policy.dns.timeout.total_seconds())
        mailer = Mailer(client, smtp, policy.mail, clock, counters, exists=store.holds_uid)
        queue: WorkQueue[Key] = WorkQueue(
            clock, late=lambda late: counters.observe("deadline_lateness_seconds", late.total_seconds())
        )
        writer = StatusWriter(client, store, events, counters, may_write)
        ctx = Context(
            store=store,
            policy=policy,
            clock=clock,
            effects=ClusterEffects(ConfigMapBackend(client), resolver, mailer, counters),
            writer=writer,
            post_event=events,
            enqueue=queue.add,
            wake_at=queue.add_after,
        )
        if smtp is None:
            logger.warning("no SMTP server configured (--smtp-host): notification mails are not sent")
        await prime(client, store, tenant_namespaces)
        counts = {kind: store.count(kind) for kind in KINDS_BY_NAME}
        keys = catch_up_keys(store, [*KINDS_BY_NAME, ROUTING, NAMESPACE])
        logger.info("store primed: %s; deciding %d aggregates (catching up on everything overdue)", counts, len(keys))
        for key in keys:
            queue.add(key)
        sizing = (
            Workers(workers, "--workers") if workers is not None else size_workers(*await read_priority_level(client))
        )
        logger.info("%d workers: %s", sizing.count, sizing.reason)
        engine = Engine(ctx, queue, counters)
        writer.on_written = engine.written
        runtime = cls(client, engine, queue, events, counters, sizing)
        runtime.tasks = (
            asyncio.create_task(queue.run(engine.process, sizing.count), name="seppmail-lifecycle-engine"),
            asyncio.create_task(events.run(), name="seppmail-lifecycle-events"),
        )
        for task in runtime.tasks:
            task.add_done_callback(_report_death)
        return runtime

    def check_alive(self) -> None:
        """For the liveness probe: a dead engine must restart the pod, not idle silently."""
        for task in self.tasks:
            if task.done():
                raise RuntimeError(f"{task.get_name()} has stopped")

    def health(self) -> dict[str, Any]:
        self.check_alive()
        return {
            "workers": {"count": self.workers.count, "reason": self.workers.reason},
            "queued": len(self.queue),
            "timers": self.queue.timers,
            "objects": {kind: self.store.count(kind) for kind in KINDS_BY_NAME},
            "counters": {**self.counters.snapshot(), **self.totals()},
        }

    # What the metrics read (runtime.metrics.Running).

    def states(self) -> Iterator[tuple[str, str, str | None]]:
        return self.store.states()

    def gauges(self) -> dict[str, float]:
        return {
            "queue_depth": len(self.queue),
            "timers": self.queue.timers,
            "workers": self.workers.count,
            "events_waiting": self.events.counts()["events_waiting"],
        }

    def totals(self) -> dict[str, int]:
        return {**self.events.counts(), "api_throttled_total": self.client.throttled}

    def halt(self) -> None:
        """Stop acting now (the lease is lost): no decision or write starts after this returns."""
        for task in self.tasks:
            task.remove_done_callback(_report_death)
            task.cancel()

    async def stop(self) -> None:
        self.halt()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.events.flush()  # the transitions written so far get their events
