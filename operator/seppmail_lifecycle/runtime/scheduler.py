"""One deadline scheduler for every timer of every object.

Each key has at most one wake-up time (the earliest ``status.next.at`` of its aggregate); one task
sleeps until the earliest of all and hands due keys to the work queue. No per-object tasks, no
polling: 5,000 deadlines cost one heap, not 5,000 coroutines.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class DeadlineScheduler(Generic[K]):
    def __init__(self, due: Callable[[K], None], clock: Callable[[], datetime]) -> None:
        self._due = due
        self._clock = clock
        self._heap: list[tuple[datetime, int, K]] = []
        self._wake_at: dict[K, datetime] = {}
        self._counter = itertools.count()
        self._changed = asyncio.Event()

    def schedule(self, key: K, at: datetime | None) -> None:
        """Wake ``key`` at ``at`` (replacing its previous time); None cancels its timer."""
        if at is None:
            self._wake_at.pop(key, None)
            return
        if self._wake_at.get(key) == at:
            return
        self._wake_at[key] = at
        heapq.heappush(self._heap, (at, next(self._counter), key))
        if self._heap[0][2] == key:
            self._changed.set()

    def __len__(self) -> int:
        return len(self._wake_at)

    def next_due(self) -> datetime | None:
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def _drop_stale(self) -> None:
        while self._heap and self._wake_at.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)

    def fire_due(self) -> int:
        now = self._clock()
        fired = 0
        while True:
            self._drop_stale()
            if not self._heap or self._heap[0][0] > now:
                return fired
            _, _, key = heapq.heappop(self._heap)
            del self._wake_at[key]
            self._due(key)
            fired += 1

    async def run(self) -> None:
        while True:
            self.fire_due()
            upcoming = self.next_due()
            self._changed.clear()
            timeout = None if upcoming is None else max(0.0, (upcoming - self._clock()).total_seconds())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)
