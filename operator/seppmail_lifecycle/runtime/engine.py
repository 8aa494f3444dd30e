"""The engine: watch events in, aggregate keys through the work queue to their reconciler.

Handlers call ``observe`` (record the object, enqueue every aggregate it affects); workers take
keys from the queue and run the kind's reconciler. A key that succeeds is forgotten (its retry
backoff reset); one whose write met a newer version is decided again at once on the refreshed
store; any other failure is contained to its key and retried with backoff, apart from its
deadline (controller-runtime's Forget / AddRateLimited / AddAfter).
"""

from __future__ import annotations

import contextvars
import logging
import time
from datetime import timedelta
from typing import Any, Protocol

from seppmail_lifecycle.kube.store import Store, key_of
from seppmail_lifecycle.runtime.context import Context
from seppmail_lifecycle.runtime.keys import Key, affected_keys
from seppmail_lifecycle.runtime.metrics import Counters
from seppmail_lifecycle.runtime.reconcilers import RECONCILERS, BackendFailure
from seppmail_lifecycle.runtime.writer import NotLeader, StaleObject

logger = logging.getLogger(__name__)
Body = dict[str, Any]
_PROCESSING: contextvars.ContextVar[Key | None] = contextvars.ContextVar("processing", default=None)


class KeyQueue(Protocol):
    """What the engine needs of its queue: the operator's ``WorkQueue``, the simulator's virtual one."""

    def add(self, key: Key) -> None: ...

    def add_rate_limited(self, key: Key) -> timedelta: ...

    def forget(self, key: Key) -> None: ...


def newer(version: str, held: Body) -> bool:
    """Whether a watched ``version`` of an object is newer than the one whose metadata the store
    ``held``. resourceVersions are etcd revisions, which only grow (a re-created object's too);
    where one is not a number (another storage), any other version counts as newer."""
    held_version = held.get("resourceVersion")
    if held_version is None:
        return True
    if version.isdigit() and str(held_version).isdigit():
        return int(version) > int(held_version)
    return version != str(held_version)


class Engine:
    def __init__(self, ctx: Context, queue: KeyQueue, counters: Counters) -> None:
        self.ctx = ctx
        self.queue = queue
        self.counters = counters

    @property
    def store(self) -> Store:
        return self.ctx.store

    def observe(self, kind: str, body: Body, deleted: bool = False) -> None:
        """A watch event: record it in the store, decide every aggregate it affects. A version
        the store holds already (our own write coming back, or what the start-up LIST read)
        changes nothing: what it affects was queued when it entered the store. Nor does an older
        one: the writer puts what it wrote into the store at once, so the watch may still bring
        the versions before it (two writes in a row), and deciding on one of those (an invoice
        created from a service's state of a moment ago) would undo what was decided since."""
        if deleted:
            self.store.delete(kind, body)
        else:
            namespace, name = key_of(body)
            held = self.store.get(kind, namespace, name)
            version = body["metadata"].get("resourceVersion")
            if held is not None and version is not None and not newer(version, held.raw["metadata"]):
                return
            if self.store.put(kind, body) is None:
                return  # a namespace this operator does not watch
        for key in affected_keys(kind, body, self.store):
            self.queue.add(key)

    def written(self, kind: str, body: Body, *, status_only: bool) -> None:
        """The writer put a version into the store: decide again what it affects, apart from the
        aggregate that wrote it (its decision already reads what it wrote: decisions are
        idempotent)."""
        writing = _PROCESSING.get()
        for key in affected_keys(kind, body, self.store, status_only=status_only):
            if key != writing:
                self.queue.add(key)

    async def process(self, key: Key) -> None:
        kind, namespace, name = key
        _PROCESSING.set(key)  # each worker is a task of its own: its own context
        self.counters.inc("reconciles_total", aggregate=kind)
        began = time.perf_counter()
        try:
            await RECONCILERS[kind](self.ctx, namespace, name)
        except StaleObject as stale:
            self.counters.inc("reconcile_conflicts_total", aggregate=kind)
            logger.debug("%s: %s; deciding again", key, stale)
            self.queue.add(key)  # processing now: runs again right after, on the refreshed store
        except NotLeader:
            logger.debug("%s not reconciled: not the leader", key)
        except BackendFailure as error:  # expected, and already a condition on the object
            self.counters.inc("reconcile_errors_total", aggregate=kind, reason="backend")
            delay = self.queue.add_rate_limited(key)
            logger.warning("backend failed for %s; retrying in %s: %s", key, delay, error)
        except Exception as error:  # contained per key: one bad object never blocks the others
            self.counters.inc("reconcile_errors_total", aggregate=kind, reason="error")
            delay = self.queue.add_rate_limited(key)
            logger.exception("reconciling %s failed; retrying in %s: %s", key, delay, error)
        else:
            self.queue.forget(key)
        finally:
            self.counters.observe("reconcile_duration_seconds", time.perf_counter() - began, aggregate=kind)
