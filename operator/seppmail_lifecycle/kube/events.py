"""Kubernetes Events (``events.k8s.io/v1``) for transitions, posted in the background, one per
object per burst, repeats counted in a series.

A transition never waits for its event. Each object has at most one event waiting to be posted,
for ``window`` after its first transition at least; a transition of an object whose event is
still waiting is merged into it (the latest reason, the whole path in its note), so a bulk
import costs one event per object per burst, not one per transition, and the backlog is bounded
by the number of objects, not of transitions. An event that repeats one posted within
``SERIES_WINDOW`` (same object, type, reason and note: a flapping check, a retried failure) is
not posted again: the posted one's ``series`` (count, last observed) is patched, as client-go's
event recorder does, so a storm of repeats is one object in etcd. A few posters drain the backlog
concurrently. Events are best-effort (they expire anyway; status history is the durable record):
a full backlog or a failed post is counted and logged, at most once per ``log_every``, and never
retried into a storm. ``kubectl describe`` and ``kubectl events --for`` show them.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from seppmail_lifecycle.kube.client import KubeClient

logger = logging.getLogger(__name__)

COMPONENT = "lifecycle.seppmail.cloud/operator"
"""The events' reportingController (shown as their source by ``kubectl describe``)."""
MAX_MESSAGE = 1024
"""The longest event note posted (the writer cuts transition messages to it too)."""
SERIES_WINDOW = 6 * 60.0
"""Seconds within which a repeat of a posted event counts in its series (client-go: 6 minutes)."""
Body = dict[str, Any]
Same = tuple[str, str, str, str]
"""What makes two events the same: (object, type, reason, note)."""


def _merged_message(first: str, then: str) -> str:
    message = f"{first}; then {then}"
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"


def _micro_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class _Waiting:
    due: float
    event: Body
    series_of: str | None = None
    """The name of the posted event this one repeats: its series is patched, nothing is created."""
    count: int = 1


@dataclass
class _Posted:
    name: str
    at: float
    count: int


class EventRecorder:
    def __init__(
        self,
        client: KubeClient,
        clock: Callable[[], datetime],
        capacity: int = 20_000,
        posters: int = 4,
        log_every: float = 10.0,
        window: float = 2.0,
        instance: str = "seppmail-lifecycle",
    ) -> None:
        """``instance``: the reportingInstance (the pod's name)."""
        self.client = client
        self.clock = clock
        self.capacity = capacity
        self.posters = posters
        self.log_every = log_every
        self.window = window
        self.instance = instance[:128]
        # Oldest first: the event of each object waiting to be posted.
        self._waiting: OrderedDict[str, _Waiting] = OrderedDict()
        # The events posted recently, for their series (oldest first, at most ``capacity``).
        self._posted: OrderedDict[Same, _Posted] = OrderedDict()
        self._ready = asyncio.Event()
        self._last_log = -log_every
        self.posted = 0
        self.coalesced = 0
        self.repeated = 0
        self.dropped = 0
        self.failed = 0

    def counts(self) -> dict[str, int]:
        """What became of the events: posted, merged into a waiting one, counted in a posted one's
        series, dropped (backlog full), failed."""
        return {
            "events_posted_total": self.posted,
            "events_coalesced_total": self.coalesced,
            "events_repeated_total": self.repeated,
            "events_dropped_total": self.dropped,
            "events_failed_total": self.failed,
            "events_waiting": len(self._waiting),
        }

    def __call__(self, body: Body, *, type: str, reason: str, message: str) -> None:
        metadata = body["metadata"]
        key = metadata.get("uid") or f"{body.get('kind')}/{metadata.get('namespace')}/{metadata['name']}"
        now = self.clock()
        waiting = self._waiting.get(key)
        if waiting is not None:
            event = waiting.event
            if (event["type"], event["reason"], event["note"]) == (type, reason[:128], message[:MAX_MESSAGE]):
                waiting.count += 1  # the same again: counted, not repeated in the note
            else:
                event["note"] = _merged_message(event["note"], message)
                event["type"] = "Warning" if "Warning" in (type, event["type"]) else type
                event["reason"] = reason[:128]
                waiting.series_of = None  # no longer the same as the posted one
            self.coalesced += 1
            event["regarding"]["resourceVersion"] = metadata.get("resourceVersion")
            event["lastObserved"] = _micro_time(now)
            return
        if len(self._waiting) >= self.capacity:
            self.dropped += 1
            self._log_loss("event backlog full (%d waiting): %s dropped", self.capacity, reason)
            return
        namespace = metadata.get("namespace") or "default"
        event = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": f"{metadata['name'][:200]}.{uuid.uuid4().hex[:12]}", "namespace": namespace},
            "eventTime": _micro_time(now),
            "lastObserved": _micro_time(now),
            "reportingController": COMPONENT,
            "reportingInstance": self.instance,
            "action": "Reconcile",
            "reason": reason[:128],
            "note": message[:MAX_MESSAGE],
            "type": type,
            "regarding": {
                "apiVersion": body.get("apiVersion"),
                "kind": body.get("kind"),
                "name": metadata["name"],
                "namespace": metadata.get("namespace"),
                "uid": metadata.get("uid"),
                "resourceVersion": metadata.get("resourceVersion"),
            },
        }
        posted = self._posted.get((key, type, event["reason"], event["note"]))
        repeats = posted is not None and time.monotonic() - posted.at < SERIES_WINDOW
        self._waiting[key] = _Waiting(
            time.monotonic() + self.window, event, series_of=posted.name if posted and repeats else None
        )
        self._ready.set()

    def _log_loss(self, message: str, *args: object) -> None:
        # Rate-limited: a storm of lost events must not become a storm of log lines.
        now = time.monotonic()
        if now - self._last_log >= self.log_every:
            self._last_log = now
            logger.warning(message + " (counted in events_dropped_total / events_failed_total)", *args)

    async def _take(self) -> tuple[str, _Waiting]:
        while True:
            while not self._waiting:
                self._ready.clear()
                await self._ready.wait()
            key, waiting = next(iter(self._waiting.items()))
            wait = waiting.due - time.monotonic()
            if wait <= 0:
                del self._waiting[key]
                return key, waiting
            await asyncio.sleep(wait)  # then look again: another poster may have taken it

    async def _send(self, key: str, waiting: _Waiting) -> None:
        event = waiting.event
        same: Same = (key, event["type"], event["reason"], event["note"])
        namespace = event["metadata"]["namespace"]
        posted = self._posted.get(same)
        try:
            if waiting.series_of is not None and posted is not None and posted.name == waiting.series_of:
                posted.count += waiting.count
                series = {"count": posted.count, "lastObservedTime": event["lastObserved"]}
                await self.client.patch_event(namespace, posted.name, {"series": series})
                self.repeated += waiting.count
                posted.at = time.monotonic()
                self._posted.move_to_end(same)
                return
            body = {k: v for k, v in event.items() if k != "lastObserved"}
            if waiting.count > 1:  # repeated while it waited
                body["series"] = {"count": waiting.count, "lastObservedTime": event["lastObserved"]}
            await self.client.create_event(namespace, body)
            self.posted += 1
        except Exception as error:
            self.failed += 1
            self._log_loss("could not post event %s: %s", event["reason"], error)
            return
        self._posted[same] = _Posted(event["metadata"]["name"], time.monotonic(), waiting.count)
        self._posted.move_to_end(same)
        # Kept for their series only: at most ``capacity``, none older than the series window.
        stale = time.monotonic() - SERIES_WINDOW
        while self._posted and (len(self._posted) > self.capacity or next(iter(self._posted.values())).at < stale):
            self._posted.popitem(last=False)

    async def _post(self) -> None:
        while True:
            await self._send(*await self._take())

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for number in range(self.posters):
                group.create_task(self._post(), name=f"event-poster-{number}")

    async def flush(self, patience: float = 1.0) -> None:
        """Post every waiting event now, without waiting for its window (at shutdown, after
        ``run`` was cancelled); those not posted within ``patience`` seconds are dropped."""
        waiting = list(self._waiting.items())
        self._waiting.clear()
        if not waiting:
            return
        sending = [asyncio.create_task(self._send(key, one)) for key, one in waiting]
        _, late = await asyncio.wait(sending, timeout=patience)
        for task in late:
            task.cancel()
        if late:
            self.dropped += len(late)
            self._log_loss("%d events not posted at shutdown", len(late))
