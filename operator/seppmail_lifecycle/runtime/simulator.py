"""The simulator: the operator's own loop over a virtual clock, with no cluster.

``simulate`` puts the manifests into an in-memory API (``kube.memory.MemoryApi``) and runs the
very engine, reconcilers, core plans, writer and backend the operator runs, on a virtual clock:
work is done until the queue is empty, then the clock jumps to the earliest deadline (the one
deadline scheduler's next ``status.next.at``), and so on until ``until``. What differs from the
operator is only what cannot be real offline: the API server is in memory, DNS answers that every
partner created its records, and mails go into the timeline instead of to an SMTP server (each
once, as the ledger makes them). Every write with transitions, every event, every mail is an
entry of the timeline, with its virtual time.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from seppmail_lifecycle.api import KINDS_BY_NAME
from seppmail_lifecycle.api.policy import Policy
from seppmail_lifecycle.backend.labels import MANAGED_BY, MANAGER
from seppmail_lifecycle.backend.routing_configmap import ConfigMapBackend
from seppmail_lifecycle.core.notifications import Notification
from seppmail_lifecycle.core.schedule import backoff
from seppmail_lifecycle.core.verification import DnsAnswer, required_records
from seppmail_lifecycle.kube.memory import CONFIGMAP, MemoryApi
from seppmail_lifecycle.kube.store import NAMESPACE, ROUTING, Store
from seppmail_lifecycle.runtime.context import Context
from seppmail_lifecycle.runtime.effects import ClusterEffects
from seppmail_lifecycle.runtime.engine import Engine
from seppmail_lifecycle.runtime.keys import Key, catch_up_keys
from seppmail_lifecycle.runtime.metrics import Counters
from seppmail_lifecycle.runtime.writer import StatusWriter

Body = dict[str, Any]
MAX_STEPS = 2_000_000
"""Reconciles at most, in case a decision never settles (the simulation then says so)."""


@dataclass(frozen=True)
class Entry:
    """One line of the timeline."""

    at: datetime
    kind: str
    name: str
    """``namespace/name`` (a Product: its name)."""
    what: Literal["transition", "event", "mail"]
    reason: str
    message: str


@dataclass
class Timeline:
    entries: list[Entry] = field(default_factory=list)
    reconciles: int = 0
    settled: bool = True
    until: datetime | None = None
    objects: dict[tuple[str, str, str], Body] = field(default_factory=dict)
    """Every object at the end, by (kind, namespace, name), as the in-memory API holds it."""

    def of(self, kind: str, name: str) -> list[Entry]:
        return [e for e in self.entries if e.kind == kind and e.name.split("/")[-1] == name]


class VirtualClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


class VirtualQueue:
    """The work queue on the virtual clock: keys due now in order, deadlines and retries in a heap."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self._ready: dict[Key, None] = {}
        self._heap: list[tuple[datetime, int, Key]] = []
        self._deadline: dict[Key, datetime] = {}
        self._retry: dict[Key, datetime] = {}
        self._failures: dict[Key, int] = {}
        self._order = itertools.count()

    def add(self, key: Key) -> None:
        self._ready[key] = None

    def add_after(self, key: Key, at: datetime | None) -> None:
        """The key's next deadline (replacing the previous one; None: none)."""
        if at is None:
            self._deadline.pop(key, None)
            return
        self._deadline[key] = at
        heapq.heappush(self._heap, (at, next(self._order), key))

    def add_rate_limited(self, key: Key) -> timedelta:
        self._failures[key] = self._failures.get(key, 0) + 1
        delay = backoff(self._failures[key], timedelta(seconds=1), timedelta(minutes=5))
        self._retry[key] = self.clock() + delay
        heapq.heappush(self._heap, (self._retry[key], next(self._order), key))
        return delay

    def forget(self, key: Key) -> None:
        self._failures.pop(key, None)

    def pop(self) -> Key | None:
        if not self._ready:
            return None
        key = next(iter(self._ready))
        del self._ready[key]
        return key

    def next_due(self) -> datetime | None:
        """The earliest deadline or retry still standing (stale heap entries are dropped)."""
        while self._heap:
            at, _, key = self._heap[0]
            if self._deadline.get(key) == at or self._retry.get(key) == at:
                return at
            heapq.heappop(self._heap)
        return None

    def release_due(self) -> None:
        now = self.clock()
        while (at := self.next_due()) is not None and at <= now:
            _, _, key = heapq.heappop(self._heap)
            if self._deadline.get(key) == at:
                del self._deadline[key]
            if self._retry.get(key) == at:
                del self._retry[key]
            self.add(key)


class EveryRecordResolver:
    """DNS as it is once every partner created the records asked for (the simulation's assumption)."""

    def __init__(self, store: Store, policy: Policy) -> None:
        self.store = store
        self.policy = policy

    async def lookup(self, name: str, rdtype: Literal["TXT", "MX"]) -> DnsAnswer:
        # A record is at the domain's name or one label below it (the verification record).
        candidates = {name, name.partition(".")[2]}
        values = [
            record.expected
            for domain_name in candidates
            for domain in self.store.objects("domains_by_name", domain_name)
            for record in required_records(domain, self.policy.dns)
            if record.name == name and record.record_type == rdtype
        ]
        return DnsAnswer(values=tuple(dict.fromkeys(values)))


class TimelineMailer:
    """Each notification once (as the ledger makes it), into the timeline."""

    def __init__(self, timeline: Timeline, clock: VirtualClock) -> None:
        self.timeline = timeline
        self.clock = clock
        self.sent: set[str] = set()

    async def deliver(
        self, namespace: str, tenant: str, tenant_uid: str, notifications: Sequence[Notification]
    ) -> datetime | None:
        for notification in notifications:
            if notification.key in self.sent:
                continue
            self.sent.add(notification.key)
            self.timeline.entries.append(
                Entry(
                    self.clock(),
                    "Tenant",
                    f"{namespace}/{tenant}",
                    "mail",
                    notification.template,
                    f"to {', '.join(notification.to)} ({notification.key})",
                )
            )
        return None


def _name(body: Body) -> str:
    metadata = body["metadata"]
    return f"{metadata['namespace']}/{metadata['name']}" if metadata.get("namespace") else metadata["name"]


class Simulation:
    """The operator's loop over an in-memory API and a virtual clock: built from the manifests
    ``docs`` (created at ``start`` in ``namespace``), then ``run`` until a moment (and on from
    there, if run again). What it holds (the API, store, context, engine) is open to tests that
    step in between."""

    def __init__(self, docs: Sequence[Body], policy: Policy, namespace: str, start: datetime) -> None:
        self.clock = clock = VirtualClock(start)
        self.timeline = timeline = Timeline()
        self.store = store = Store()
        self.queue = queue = VirtualQueue(clock)
        self.engine: Engine | None = None
        self.watched: list[tuple[str, Body, bool]] = []
        """Watch events not delivered yet: as from the API server, they arrive after the write that
        caused them returned (so the engine knows its own writes and ignores them, as the operator does)."""

        def post_event(body: Body, *, type: str, reason: str, message: str) -> None:
            # The writer's event of a status write says the path ("a -> b: ..."); the others say what was done.
            what: Literal["transition", "event"] = "transition" if " -> " in message else "event"
            timeline.entries.append(Entry(clock(), body["kind"], _name(body), what, reason, message))

        self.api = api = MemoryApi(clock, self._on_change)
        counters = Counters()
        writer = StatusWriter(api, store, post_event, counters)
        self.ctx = Context(
            store=store,
            policy=policy,
            clock=clock,
            effects=ClusterEffects(
                ConfigMapBackend(api), EveryRecordResolver(store, policy), TimelineMailer(timeline, clock), counters
            ),
            writer=writer,
            post_event=post_event,
            enqueue=queue.add,
            wake_at=queue.add_after,
        )
        for doc in docs:
            kind = doc.get("kind", "")
            info = KINDS_BY_NAME.get(kind)
            if info is None:
                raise ValueError(f"{_name(doc) if 'metadata' in doc else doc!r}: kind {kind!r} is not one of ours")
            api.add(kind, namespace if info.namespaced else None, doc)
        self.engine = Engine(self.ctx, queue, counters)
        writer.on_written = self.engine.written
        for key in catch_up_keys(store, [*KINDS_BY_NAME, ROUTING, NAMESPACE]):
            queue.add(key)

    def _on_change(self, kind: str, body: Body, deleted: bool) -> None:
        # The watch: our kinds, and the routing ConfigMaps the backend writes.
        if kind == CONFIGMAP:
            labels = body["metadata"].get("labels") or {}
            if labels.get(MANAGED_BY) != MANAGER or labels.get("lifecycle.seppmail.cloud/role") != "routing":
                return
            kind = ROUTING
        if self.engine is not None:
            self.watched.append((kind, body, deleted))
        elif not deleted:
            self.store.put(kind, body)

    def deliver_watched(self) -> None:
        """The watch events of the writes so far, into the engine."""
        assert self.engine is not None
        while self.watched:
            kind, body, deleted = self.watched.pop(0)
            self.engine.observe(kind, body, deleted=deleted)

    async def run(self, until: datetime, progress: Callable[[datetime], None] | None = None) -> Timeline:
        """Work until ``until``; the timeline of everything that happened. ``progress`` is told
        each virtual time the clock jumps to."""
        assert self.engine is not None
        clock, queue, timeline = self.clock, self.queue, self.timeline
        timeline.until = until
        while True:
            while (ready := queue.pop()) is not None:
                timeline.reconciles += 1
                if timeline.reconciles > MAX_STEPS:
                    timeline.settled = False
                    return timeline
                await self.engine.process(ready)
                self.deliver_watched()
            due = queue.next_due()
            if due is None or due > until:
                timeline.objects = dict(self.api.objects)
                return timeline
            clock.now = max(clock.now, due)
            if progress is not None:
                progress(clock.now)
            queue.release_due()


async def simulate(
    docs: Sequence[Body],
    policy: Policy,
    namespace: str,
    start: datetime,
    until: datetime,
    progress: Callable[[datetime], None] | None = None,
) -> Timeline:
    """Run the manifests ``docs`` (created at ``start`` in ``namespace``) through the operator's
    loop until ``until``; the timeline of everything that happened. ``progress`` is told each
    virtual time the clock jumps to."""
    return await Simulation(docs, policy, namespace, start).run(until, progress)
