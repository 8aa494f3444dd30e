"""What the benchmark measures with: a process's CPU and memory from /proc, the API server's own
request counters, a watch that records when each object reached a state, bulk creation at the
API server's pace, and the median [min-max] of repeated runs."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubernetes_asyncio import watch
from kubernetes_asyncio.client.exceptions import ApiException

from seppmail_lifecycle import GROUP, VERSION
from seppmail_lifecycle.api import KINDS_BY_NAME
from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from seppmail_lifecycle.kube.client import KubeClient

Body = dict[str, Any]
TICKS = os.sysconf("SC_CLK_TCK")
CONCURRENCY = 64
"""In-flight requests of the bench's own client: the client's connection pool."""


# ------------------------------------------------------------------------------- processes


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def memory_mb(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) in MB."""
    values: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


# ------------------------------------------------------------------------------- the API server

_SAMPLE = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')
WRITE_VERBS = ("POST", "PUT", "PATCH", "DELETE", "APPLY")


def api_writes(plane: ControlPlane) -> Counter[str]:
    """The API server's count of write requests so far, by ``VERB resource[/subresource]``."""
    text = plane.kubectl("get", "--raw", "/metrics").stdout
    writes: Counter[str] = Counter()
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match:
            continue
        labels = dict(_LABEL.findall(match["labels"]))
        if labels.get("verb") not in WRITE_VERBS:
            continue
        resource = labels.get("resource", "")
        if labels.get("subresource"):
            resource += "/" + labels["subresource"]
        writes[f"{labels['verb']} {resource}"] += int(float(match["value"]))
    return writes


def since(after: Counter[str], before: Counter[str]) -> dict[str, int]:
    return {key: after[key] - before[key] for key in sorted(after) if after[key] - before[key] > 0}


# ------------------------------------------------------------------------------- bulk writes


async def bounded(calls: Iterable[Callable[[], Awaitable[Any]]], concurrency: int = CONCURRENCY) -> None:
    """Run the calls with at most ``concurrency`` in flight, as a tight client does."""
    gate = asyncio.Semaphore(concurrency)

    async def one(call: Callable[[], Awaitable[Any]]) -> None:
        async with gate:
            await call()

    await asyncio.gather(*(one(call) for call in calls))


async def create_all(client: KubeClient, namespace: str, manifests: Sequence[Body]) -> None:
    await bounded(functools.partial(client.create, KINDS_BY_NAME[m["kind"]], namespace, m) for m in manifests)


# ------------------------------------------------------------------------------- observing


@dataclass
class Observer:
    """Watches one kind in one namespace and records when each object first satisfied ``done``
    (wall-clock seconds, as this process saw the event: comparable with the objects' deadlines)."""

    client: KubeClient
    namespace: str
    plural: str
    done: Callable[[Body], bool]
    done_at: dict[str, float] = field(default_factory=dict)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Observer:
        self._task = asyncio.create_task(self._watch(await self._list()))
        return self

    async def _list(self) -> str:
        """See every object as it is now; the resourceVersion to watch from."""
        listed = await self.client.custom.list_namespaced_custom_object(GROUP, VERSION, self.namespace, self.plural)
        for body in listed["items"]:
            self._see(body)
        version: str = listed["metadata"]["resourceVersion"]
        return version

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def _see(self, body: Body) -> None:
        name = body["metadata"]["name"]
        if name not in self.done_at and self.done(body):
            self.done_at[name] = time.time()
            self._changed.set()

    async def _watch(self, resource_version: str) -> None:
        while True:
            stream = watch.Watch()
            try:
                async for event in stream.stream(
                    self.client.custom.list_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    self.namespace,
                    self.plural,
                    resource_version=resource_version,
                    allow_watch_bookmarks=True,
                    timeout_seconds=300,
                ):
                    body = event["object"]
                    resource_version = body["metadata"]["resourceVersion"]
                    if event["type"] in ("ADDED", "MODIFIED"):
                        self._see(body)
            except ApiException as error:
                if error.status != 410:
                    raise
                resource_version = await self._list()  # the watch fell too far behind

    async def wait(self, count: int, patience: float) -> float:
        """Wait until ``count`` objects are done; the time the last one was."""
        deadline = time.time() + patience
        while len(self.done_at) < count:
            self._changed.clear()
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError(f"{len(self.done_at)} of {count} {self.plural} done after {patience:.0f} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)
        return max(self.done_at.values())


# ------------------------------------------------------------------------------- figures


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, min and max of repeated runs."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def shown(values: Sequence[float], unit: str = "", digits: int = 1) -> str:
    s = spread(values)
    if len(values) == 1:
        return f"{s['median']:.{digits}f}{unit}"
    return f"{s['median']:.{digits}f} [{s['min']:.{digits}f}-{s['max']:.{digits}f}]{unit}"


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
