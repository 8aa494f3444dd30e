"""Kubernetes Events for transitions, posted in the background.

A transition never waits for its event: events go onto a bounded queue that one task drains.
Events are best-effort (they expire anyway; status history is the durable record), so a full
queue or a failed post is logged and dropped, never retried into a storm.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from seppmail_lifecycle.kube.client import KubeClient

logger = logging.getLogger(__name__)

COMPONENT = "seppmail-lifecycle"


class EventRecorder:
    def __init__(self, client: KubeClient, clock: Callable[[], datetime], capacity: int = 10_000) -> None:
        self.client = client
        self.clock = clock
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(capacity)
        self.posted = 0
        self.dropped = 0

    def __call__(self, body: dict[str, Any], *, type: str, reason: str, message: str) -> None:
        metadata = body["metadata"]
        namespace = metadata.get("namespace") or "default"
        now = self.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{metadata['name'][:200]}.{uuid.uuid4().hex[:12]}", "namespace": namespace},
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
            "message": message[:1024],
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": COMPONENT,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1

    async def run(self) -> None:
        while True:
            event = await self.queue.get()
            try:
                await self.client.create_event(event["metadata"]["namespace"], event)
                self.posted += 1
            except Exception as error:
                self.dropped += 1
                logger.warning("could not post event %s: %s", event["reason"], error)
