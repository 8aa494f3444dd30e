"""A work queue with controller-runtime's semantics (client-go's rate-limited delaying queue).

- A key waiting is queued once however often it is added.
- A key is never processed by two workers at once: added while being processed, it is marked dirty
  and processed again once the current run is done.
- Every key has two independent timers in one :class:`DeadlineScheduler` the queue owns: its
  *deadline* (the object's ``status.next.at``, set with :meth:`WorkQueue.add_after`) and its
  *retry* after a failure (:meth:`WorkQueue.add_rate_limited`, exponential backoff per key, reset
  by :meth:`WorkQueue.forget`). Neither replaces the other.
- It must only be used from the thread that runs its event loop (:class:`ThreadAffinity`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime, timedelta
from typing import Generic, Literal, TypeVar

from seppmail_lifecycle.core.schedule import backoff
from seppmail_lifecycle.kube.affinity import ThreadAffinity
from seppmail_lifecycle.runtime.scheduler import DeadlineScheduler

K = TypeVar("K", bound=Hashable)

Purpose = Literal["deadline", "retry"]

logger = logging.getLogger(__name__)


class WorkQueue(Generic[K]):
    def __init__(
        self,
        clock: Callable[[], datetime],
        *,
        initial: timedelta = timedelta(seconds=1),
        maximum: timedelta = timedelta(minutes=5),
        late: Callable[[timedelta], None] | None = None,
    ) -> None:
        """``clock``: the current, timezone-aware time; ``initial`` and ``maximum``: the retry
        backoff after the first failure in a row, and its cap; ``late``, if given, is told how
        long after its deadline each key queued by its deadline was taken by a worker."""
        self._clock = clock
        self._late = late
        self._due_at: dict[K, datetime] = {}
        self._initial = initial
        self._maximum = maximum
        self._queue: deque[K] = deque()
        self._queued: set[K] = set()
        self._processing: set[K] = set()
        self._dirty: set[K] = set()
        self._failures: dict[K, int] = {}
        self._ready = asyncio.Event()
        self._timers: DeadlineScheduler[tuple[Purpose, K]] = DeadlineScheduler(
            self._timer_fired, clock, fired=self._deadline_fired if late is not None else None
        )
        self._affinity = ThreadAffinity("WorkQueue")
        self._running = False

    # ------------------------------------------------------------------------------------ adding

    def add(self, key: K) -> None:
        """Queue ``key`` now (once, however often; again after the current run if it is being processed)."""
        self._affinity.check()
        self._enqueue(key)

    def add_after(self, key: K, at: datetime | None) -> None:
        """Set ``key``'s deadline timer, replacing the previous one; None cancels it. A deadline
        already reached queues the key now. The retry timer is left alone."""
        self._affinity.check()
        if at is not None and at <= self._clock():
            self._timers.cancel(("deadline", key))
            if self._late is not None:
                self._due_at.setdefault(key, at)
            self._enqueue(key)
            return
        self._timers.schedule(("deadline", key), at)

    def add_rate_limited(self, key: K) -> timedelta:
        """``key`` failed: queue it again after its backoff (``initial`` doubled per failure in a
        row, at most ``maximum``), replacing its previous retry timer; returns the delay. The
        deadline timer is left alone."""
        self._affinity.check()
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        delay = backoff(failures, self._initial, self._maximum)
        self._timers.schedule(("retry", key), self._clock() + delay)
        return delay

    def forget(self, key: K) -> None:
        """``key`` succeeded: reset its failure count and cancel its retry timer."""
        self._affinity.check()
        self._failures.pop(key, None)
        self._timers.cancel(("retry", key))

    def num_requeues(self, key: K) -> int:
        """The failures in a row of ``key`` since it was last forgotten."""
        return self._failures.get(key, 0)

    # ---------------------------------------------------------------------------------- introspection

    def __len__(self) -> int:
        """The keys waiting to be processed."""
        return len(self._queue)

    @property
    def timers(self) -> int:
        """The live timers, deadlines and retries together."""
        return len(self._timers)

    def when(self, key: K, purpose: Purpose = "deadline") -> datetime | None:
        """When ``key``'s deadline (or retry) timer is due; None when it has none."""
        return self._timers.when((purpose, key))

    def fire_due(self) -> int:
        """Queue the keys whose timers are due now; returns how many fired. ``run`` does this by
        itself; tests with a fake clock call it directly."""
        self._affinity.check()
        return self._timers.fire_due()

    # --------------------------------------------------------------------------------- processing

    async def get(self) -> K:
        """Wait for a key and mark it as being processed; the caller must call :meth:`done`."""
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        self._affinity.check()
        key = self._queue.popleft()
        self._queued.discard(key)
        self._processing.add(key)
        if self._late is not None and (due := self._due_at.pop(key, None)) is not None:
            self._late(self._clock() - due)
        return key

    def done(self, key: K) -> None:
        """Processing ``key`` is over; queue it again if it was added meanwhile."""
        self._affinity.check()
        self._processing.discard(key)
        if key in self._dirty:
            self._dirty.discard(key)
            self._enqueue(key)

    async def run(self, process: Callable[[K], Awaitable[None]], workers: int) -> None:
        """Fire the timers and process keys with ``workers`` concurrent workers, forever (until
        cancelled). ``process`` handles its own errors (calling ``add_rate_limited`` or ``forget``);
        an exception escaping it is logged and the key retried with backoff, as controller-runtime
        does with a panicking reconciler."""
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self._affinity.check()
        if self._running:
            raise RuntimeError("this WorkQueue is already running")
        self._running = True
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._timers.run(), name="workqueue-timers")
                for number in range(workers):
                    group.create_task(self._worker(process), name=f"workqueue-worker-{number}")
        finally:
            self._running = False

    async def _worker(self, process: Callable[[K], Awaitable[None]]) -> None:
        while True:
            key = await self.get()
            try:
                await process(key)
            except Exception:
                delay = self.add_rate_limited(key)
                logger.exception("processing %r raised; retrying in %s", key, delay)
            finally:
                self.done(key)
            # A reconcile that awaited nothing (no write, no effect) must still let the loop run:
            # else a key that re-queues itself (a deadline already reached) starves the watch.
            await asyncio.sleep(0)

    # ---------------------------------------------------------------------------------- internals

    def _timer_fired(self, timer: tuple[Purpose, K]) -> None:
        self._enqueue(timer[1])

    def _deadline_fired(self, timer: tuple[Purpose, K], at: datetime) -> None:
        purpose, key = timer
        if purpose == "deadline":
            self._due_at.setdefault(key, at)  # the earliest, if it fired again before a worker took it

    def _enqueue(self, key: K) -> None:
        if key in self._processing:
            self._dirty.add(key)
            return
        if key in self._queued:
            return
        self._queued.add(key)
        self._queue.append(key)
        self._ready.set()
