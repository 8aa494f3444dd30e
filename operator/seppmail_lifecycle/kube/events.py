"""Kubernetes Events for transitions, posted in the background, one per object per burst.

A transition never waits for its event. Each object has at most one event waiting to be posted,
for ``window`` after its first transition at least; a transition of an object whose event is
still waiting is merged into it (the latest reason, the whole path in the message), so a bulk
import costs one event per object per burst, not one per transition, and the backlog is bounded
by the number of objects, not of transitions. A few posters drain the backlog concurrently.
Events are best-effort (they expire anyway; status history is the durable record): a full
backlog or a failed post is counted and logged, at most once per ``log_every``, and never
retried into a storm.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from seppmail_lifecycle.kube.client import KubeClient

logger = logging.getLogger(__name__)

COMPONENT = "seppmail-lifecycle"
MAX_MESSAGE = 1024
"""The longest event message posted (the writer cuts transition messages to it too)."""
Body = dict[str, Any]


def _merged_message(first: str, then: str) -> str:
    message = f"{first}; then {then}"
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"


class EventRecorder:
    def __init__(
        self,
        client: KubeClient,
        clock: Callable[[], datetime],
        capacity: int = 20_000,
        posters: int = 4,
        log_every: float = 10.0,
        window: float = 2.0,
    ) -> None:
        self.client = client
        self.clock = clock
        self.capacity = capacity
        self.posters = posters
        self.log_every = log_every
        self.window = window
        # Oldest first: (when it may be posted, the event).
        self._waiting: OrderedDict[str, tuple[float, Body]] = OrderedDict()
        self._ready = asyncio.Event()
        self._last_log = -log_every
        self.posted = 0
        self.coalesced = 0
        self.dropped = 0
        self.failed = 0

    def counts(self) -> dict[str, int]:
        """What became of the events: posted, merged into a waiting one, dropped (backlog full), failed."""
        return {
            "events_posted_total": self.posted,
            "events_coalesced_total": self.coalesced,
            "events_dropped_total": self.dropped,
            "events_failed_total": self.failed,
            "events_waiting": len(self._waiting),
        }

    def __call__(self, body: Body, *, type: str, reason: str, message: str) -> None:
        metadata = body["metadata"]
        key = metadata.get("uid") or f"{body.get('kind')}/{metadata.get('namespace')}/{metadata['name']}"
        now = self.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
        waiting = self._waiting.get(key, (0.0, None))[1]
        if waiting is not None:
            self.coalesced += 1
            waiting["reason"] = reason[:128]
            waiting["message"] = _merged_message(waiting["message"], message)
            waiting["type"] = "Warning" if "Warning" in (type, waiting["type"]) else type
            waiting["lastTimestamp"] = now
            waiting["involvedObject"]["resourceVersion"] = metadata.get("resourceVersion")
            return
        if len(self._waiting) >= self.capacity:
            self.dropped += 1
            self._log_loss("event backlog full (%d waiting): %s dropped", self.capacity, reason)
            return
        self._waiting[key] = (
            time.monotonic() + self.window,
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {
                    "name": f"{metadata['name'][:200]}.{uuid.uuid4().hex[:12]}",
                    "namespace": metadata.get("namespace") or "default",
                },
                "involvedObject": {
                    "apiVersion": body.get("apiVersion"),
                    "kind": body.get("kind"),
                    "name": metadata["name"],
                    "namespace": metadata.get("namespace"),
                    "uid": metadata.get("uid"),
                    "resourceVersion": metadata.get("resourceVersion"),
                },
                "type": type,
                "reason": reason[:128],
                "message": message[:MAX_MESSAGE],
                "source": {"component": COMPONENT},
                "reportingComponent": COMPONENT,
                "reportingInstance": COMPONENT,
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
            },
        )
        self._ready.set()

    def _log_loss(self, message: str, *args: object) -> None:
        # Rate-limited: a storm of lost events must not become a storm of log lines.
        now = time.monotonic()
        if now - self._last_log >= self.log_every:
            self._last_log = now
            logger.warning(message + " (counted in events_dropped_total / events_failed_total)", *args)

    async def _take(self) -> Body:
        while True:
            while not self._waiting:
                self._ready.clear()
                await self._ready.wait()
            key, (due, event) = next(iter(self._waiting.items()))
            wait = due - time.monotonic()
            if wait <= 0:
                del self._waiting[key]
                return event
            await asyncio.sleep(wait)  # then look again: another poster may have taken it

    async def _send(self, event: Body) -> None:
        try:
            await self.client.create_event(event["metadata"]["namespace"], event)
            self.posted += 1
        except Exception as error:
            self.failed += 1
            self._log_loss("could not post event %s: %s", event["reason"], error)

    async def _post(self) -> None:
        while True:
            await self._send(await self._take())

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for number in range(self.posters):
                group.create_task(self._post(), name=f"event-poster-{number}")

    async def flush(self, patience: float = 1.0) -> None:
        """Post every waiting event now, without waiting for its window (at shutdown, after
        ``run`` was cancelled); those not posted within ``patience`` seconds are dropped."""
        events = [event for _, event in self._waiting.values()]
        self._waiting.clear()
        if not events:
            return
        sending = [asyncio.create_task(self._send(event)) for event in events]
        _, late = await asyncio.wait(sending, timeout=patience)
        for task in late:
            task.cancel()
        if late:
            self.dropped += len(late)
            self._log_loss("%d events not posted at shutdown", len(late))
