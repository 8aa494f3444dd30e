"""One deadline scheduler for every timer of every object.

Each key has at most one wake-up time; one task sleeps until the earliest of all and hands due keys
to a callback (the work queue). No per-object tasks, no polling: 5,000 deadlines cost one heap, not
5,000 coroutines.

The heap deletes lazily: replacing or cancelling a timer only updates ``_live`` (key -> the time
and sequence number of its one live heap entry); heap entries whose sequence number is no longer
live are dropped when they reach the top, and the heap is rebuilt when stale entries outnumber the
live ones, so a timer rescheduled over and over does not grow it without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

MAX_SLEEP = timedelta(seconds=60)
"""``run`` re-reads the clock at least this often: its deadlines are wall-clock times but asyncio
sleeps on the monotonic clock, which does not follow a stepped system clock or a suspended host."""

_COMPACT_SLACK = 64


class DeadlineScheduler(Generic[K]):
    def __init__(
        self,
        due: Callable[[K], None],
        clock: Callable[[], datetime],
        *,
        max_sleep: timedelta = MAX_SLEEP,
        fired: Callable[[K, datetime], None] | None = None,
    ) -> None:
        """``due(key)`` is called (on the loop's thread, synchronously) when ``key``'s time has come;
        ``clock`` returns the current, timezone-aware time; ``fired(key, at)``, if given, is told
        the time each key was due at, after ``due`` (how late it fired, for the metrics)."""
        self._due = due
        self._fired = fired
        self._clock = clock
        self._max_sleep = max_sleep.total_seconds()
        self._heap: list[tuple[datetime, int, K]] = []
        self._live: dict[K, tuple[datetime, int]] = {}
        self._sequence = itertools.count()
        self._changed = asyncio.Event()

    def schedule(self, key: K, at: datetime | None) -> None:
        """Wake ``key`` at ``at``, replacing its previous time (earlier or later); None cancels."""
        if at is None:
            self.cancel(key)
            return
        if at.utcoffset() is None:
            raise ValueError(f"the deadline of {key!r} is a naive datetime ({at.isoformat()}): it needs a timezone")
        current = self._live.get(key)
        if current is not None and current[0] == at:
            return
        sequence = next(self._sequence)
        self._live[key] = (at, sequence)
        heapq.heappush(self._heap, (at, sequence, key))
        if self._heap[0][1] == sequence:
            # The new earliest deadline: ``run`` may be sleeping until a later one. (A deadline
            # behind the top needs no wake-up: ``run`` wakes by the top's time at the latest.)
            self._changed.set()
        self._compact_if_sparse()

    def cancel(self, key: K) -> None:
        """Cancel ``key``'s timer, if it has one."""
        if self._live.pop(key, None) is not None:
            self._compact_if_sparse()

    def when(self, key: K) -> datetime | None:
        """When ``key`` is due; None when it has no timer."""
        live = self._live.get(key)
        return None if live is None else live[0]

    def __len__(self) -> int:
        """The number of live timers."""
        return len(self._live)

    def next_due(self) -> datetime | None:
        """The earliest live deadline; None when there is no timer."""
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def fire_due(self) -> int:
        """Call ``due`` for every key whose time has come (overdue ones included, each once, earliest
        first); returns how many fired.

        Only the timers due when it starts fire: one that ``due`` schedules (again) at a time already
        past fires on the next call, so a callback rescheduling into the past cannot loop forever.
        """
        now = self._clock()
        batch: list[tuple[datetime, int, K]] = []
        while self._heap and self._heap[0][0] <= now:
            entry = heapq.heappop(self._heap)
            if self._is_live(entry):
                batch.append(entry)
        fired = 0
        for index, entry in enumerate(batch):
            if not self._is_live(entry):  # cancelled or rescheduled by an earlier callback of this batch
                continue
            key = entry[2]
            del self._live[key]
            try:
                self._due(key)
                if self._fired is not None:
                    self._fired(key, entry[0])
            except BaseException:
                for rest in batch[index + 1 :]:  # not lost: they fire on the next call
                    heapq.heappush(self._heap, rest)
                raise
            fired += 1
        return fired

    async def run(self) -> None:
        """Fire every timer when it is due, forever."""
        while True:
            self.fire_due()
            upcoming = self.next_due()
            self._changed.clear()
            timeout: float | None = None
            if upcoming is not None:
                timeout = min(max(0.0, (upcoming - self._clock()).total_seconds()), self._max_sleep)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._changed.wait()

    def _is_live(self, entry: tuple[datetime, int, K]) -> bool:
        live = self._live.get(entry[2])
        return live is not None and live[1] == entry[1]

    def _drop_stale(self) -> None:
        while self._heap and not self._is_live(self._heap[0]):
            heapq.heappop(self._heap)

    def _compact_if_sparse(self) -> None:
        if len(self._heap) > 2 * len(self._live) + _COMPACT_SLACK:
            self._heap = [entry for entry in self._heap if self._is_live(entry)]
            heapq.heapify(self._heap)
