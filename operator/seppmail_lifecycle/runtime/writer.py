"""Writing what the core decided: statuses, finalizers and the objects the operator books.

Every write is conditional on the resourceVersion the decision was based on, so a decision taken
on a stale read can never undo a newer change: the API server answers Conflict, the writer
refreshes the object from the server and raises ``StaleObject``, and the engine decides again.
A status is written only when it differs from the stored one: one API write per transition,
none when nothing changed. Each written transition is one INFO log line; each write with
transitions is one Event (the last reason, the whole path in its message).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel

from seppmail_lifecycle import FINALIZER
from seppmail_lifecycle.api import KINDS_BY_NAME
from seppmail_lifecycle.api.common import StatusBase
from seppmail_lifecycle.api.kinds import KindInfo
from seppmail_lifecycle.core.conditions import Transition, invalid_spec_status
from seppmail_lifecycle.core.status_edits import has_edit_condition, mark_status_edit
from seppmail_lifecycle.kube.convert import merge_patch, status_body
from seppmail_lifecycle.kube.errors import AlreadyExists, Conflict, NotFound
from seppmail_lifecycle.kube.events import MAX_MESSAGE
from seppmail_lifecycle.kube.store import Entry, Store, key_of
from seppmail_lifecycle.runtime.metrics import Counters

logger = logging.getLogger(__name__)
Body = dict[str, Any]


class StaleObject(Exception):
    """The object changed since it was read; the store now holds the new version: decide again."""


class NotLeader(Exception):
    """This replica may not write: it does not hold the leader lease (any more)."""


class EventSink(Protocol):
    def __call__(self, body: Body, *, type: str, reason: str, message: str) -> None: ...


class WriteSink(Protocol):
    def __call__(self, kind: str, body: Body, *, status_only: bool) -> None: ...


def _nothing_to_tell(kind: str, body: Body, *, status_only: bool) -> None:
    return None


def transition_message(transition: Transition) -> str:
    arrow = f"{transition.from_} -> {transition.to}: " if transition.from_ != transition.to else ""
    return f"{arrow}{transition.message}"[:MAX_MESSAGE]


def transitions_message(transitions: Sequence[Transition]) -> str:
    """One message for the transitions of one write: the whole path, then each message."""
    if len(transitions) == 1:
        return transition_message(transitions[0])
    path = [transitions[0].from_ or "", *(t.to for t in transitions)]
    steps = [p for i, p in enumerate(path) if p and (i == 0 or p != path[i - 1])]
    return f"{' -> '.join(steps)}: {' '.join(t.message for t in transitions)}"[:MAX_MESSAGE]


class ObjectApi(Protocol):
    """The calls the writer makes: the API server's (``KubeClient``), or the simulator's in memory."""

    async def get(self, info: KindInfo, namespace: str | None, name: str) -> Body: ...

    async def patch_status(self, info: KindInfo, namespace: str | None, name: str, patch: Body) -> Body: ...

    async def patch(self, info: KindInfo, namespace: str | None, name: str, patch: Body) -> Body: ...

    async def create(self, info: KindInfo, namespace: str, body: Body) -> Body: ...

    async def delete(self, info: KindInfo, namespace: str, name: str, uid: str) -> bool: ...


class StatusWriter:
    def __init__(
        self,
        client: ObjectApi,
        store: Store,
        post_event: EventSink,
        counters: Counters,
        may_write: Callable[[], bool] = lambda: True,
        on_written: WriteSink = _nothing_to_tell,
    ) -> None:
        """``on_written``: told of every version this writer put into the store (what it wrote,
        or re-read after a conflict), so the aggregates it affects are decided again without
        waiting for the watch to bring the same version back."""
        self.client = client
        self.store = store
        self.post_event = post_event
        self.counters = counters
        self.may_write = may_write
        self.on_written = on_written

    def _fence(self) -> None:
        # Checked before every write: a replica whose lease ran out stops acting at once.
        if not self.may_write():
            raise NotLeader("this replica does not hold the leader lease")

    def _written(self, kind: str, verb: str, result: Body) -> None:
        self.counters.inc("api_writes_total", kind=kind, verb=verb)
        self.store.put(kind, result)
        # A status or our finalizer is all a patch changes; a created object is new altogether.
        self.on_written(kind, result, status_only=verb != "create")

    async def _refresh(self, kind: str, entry: Entry) -> StaleObject:
        """Re-read an object a write conflicted on; the store gets the server's version."""
        namespace, name = key_of(entry.raw)
        try:
            fresh = await self.client.get(KINDS_BY_NAME[kind], namespace or None, name)
        except NotFound:
            self.store.delete(kind, entry.raw)
        else:
            self.store.put(kind, fresh)
            self.on_written(kind, fresh, status_only=False)  # somebody else's change
        return StaleObject(f"{kind} {namespace}/{name} changed since it was read")

    async def write_status(
        self, kind: str, entry: Entry, status: BaseModel, transitions: Sequence[Transition] = ()
    ) -> bool:
        """Patch the status if it changed; True if it was written. Status fields another field
        manager wrote are reported on it (``core.status_edits``)."""
        info = KINDS_BY_NAME[kind]
        if isinstance(status, StatusBase) and (entry.status_edit is not None or has_edit_condition(status)):
            generation = int(entry.raw["metadata"].get("generation", 1))
            status = mark_status_edit(status, entry.status_edit, generation, info.plural)
        if entry.holds(status):
            return False
        new = status_body(status)
        held, normalized = entry.status(info)
        if new == normalized:
            return False
        self._fence()
        metadata = entry.raw["metadata"]
        patch = {
            "metadata": {"resourceVersion": metadata["resourceVersion"]},
            "status": merge_patch(held, new),
        }
        try:
            result = await self.client.patch_status(info, metadata.get("namespace"), metadata["name"], patch)
        except NotFound:  # deleted meanwhile: its DELETED event updates the store
            return False
        except Conflict:
            raise await self._refresh(kind, entry) from None
        self._written(kind, "patch-status", result)
        for transition in transitions:
            self.counters.inc("transitions_total", kind=kind, **{"from": transition.from_ or "", "to": transition.to})
            logger.info(
                "%s %s/%s %s (%s)",
                kind,
                metadata.get("namespace") or "-",
                metadata["name"],
                transition_message(transition),
                transition.reason,
            )
        if transitions:  # one event per write, however many transitions it carries
            self.post_event(
                result,
                type="Warning" if any(t.warning for t in transitions) else "Normal",
                reason=transitions[-1].reason,
                message=transitions_message(transitions),
            )
        written = self.store.get(kind, *key_of(result))
        if (
            written is not None
            and written.status_edit is None
            and isinstance(status, StatusBase)
            and has_edit_condition(status)
        ):
            # This write took the last of another manager's fields over: the report goes with it.
            await self.write_status(kind, written, status)
        return True

    async def write_invalid(self, kind: str, entry: Entry, now: datetime) -> None:
        """Say on the object why its spec cannot be read (it is not decided until fixed)."""
        info = KINDS_BY_NAME[kind]
        current = info.status.model_validate(entry.raw.get("status") or {})
        assert isinstance(current, StatusBase)
        generation = int(entry.raw["metadata"].get("generation", 1))
        await self.write_status(kind, entry, invalid_spec_status(current, generation, entry.error or "", now))

    async def set_finalizer(self, kind: str, entry: Entry, hold: bool) -> None:
        """Hold the object with our finalizer, or release it; nothing when it already is so."""
        metadata = entry.raw["metadata"]
        finalizers: list[str] = list(metadata.get("finalizers") or [])
        if (FINALIZER in finalizers) == hold:
            return
        self._fence()
        if hold:
            finalizers.append(FINALIZER)
        else:
            finalizers.remove(FINALIZER)
        patch = {"metadata": {"finalizers": finalizers, "resourceVersion": metadata["resourceVersion"]}}
        try:
            result = await self.client.patch(KINDS_BY_NAME[kind], metadata.get("namespace"), metadata["name"], patch)
        except NotFound:
            return
        except Conflict:
            raise await self._refresh(kind, entry) from None
        self._written(kind, "patch", result)
        if result["metadata"].get("deletionTimestamp") and not result["metadata"].get("finalizers"):
            self.store.delete(kind, result)  # the last finalizer released: the server removed it

    async def delete(self, kind: str, entry: Entry) -> None:
        """Delete an object the core says is done with (a completed DeployRequest past its TTL)."""
        self._fence()
        namespace, name = key_of(entry.raw)
        if await self.client.delete(KINDS_BY_NAME[kind], namespace or "", name, entry.raw["metadata"]["uid"]):
            self.counters.inc("api_writes_total", kind=kind, verb="delete")
        self.store.delete(kind, entry.raw)

    async def create(self, kind: str, namespace: str, body: Body) -> Body | None:
        """Create an object the operator owns; None if it exists already (an earlier attempt)."""
        self._fence()
        try:
            created = await self.client.create(KINDS_BY_NAME[kind], namespace, body)
        except AlreadyExists:
            return None
        self._written(kind, "create", created)
        return created
