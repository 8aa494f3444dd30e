"""A deduplicating work queue, as in client-go: a key waiting is queued once however often it is
added, and a key is never processed by two workers at once (added while processing, it is
processed again afterwards)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    def __init__(self) -> None:
        self._queue: deque[K] = deque()
        self._queued: set[K] = set()
        self._processing: set[K] = set()
        self._dirty: set[K] = set()
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def add(self, key: K) -> None:
        if key in self._processing:
            self._dirty.add(key)
            return
        if key in self._queued:
            return
        self._queued.add(key)
        self._queue.append(key)
        self._ready.set()
        self._idle.clear()

    def __len__(self) -> int:
        return len(self._queue)

    async def _get(self) -> K:
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        key = self._queue.popleft()
        self._queued.discard(key)
        self._processing.add(key)
        return key

    def _done(self, key: K) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._dirty.discard(key)
            self.add(key)
        elif not self._queue and not self._processing:
            self._idle.set()

    async def wait_idle(self) -> None:
        await self._idle.wait()

    async def worker(self, process: Callable[[K], Awaitable[None]]) -> None:
        """Process keys forever; ``process`` must handle its own errors (and requeue if it wants)."""
        while True:
            key = await self._get()
            try:
                await process(key)
            finally:
                self._done(key)
