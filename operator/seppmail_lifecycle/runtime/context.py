"""What every reconciler works with: the store to gather from, the policy and clock to decide
with, the effects and the writer to act with, and the queue to wake aggregates through.

The operator fills it with the cluster's implementations; the simulator with in-memory ones,
so both run the very same gatherers, plans and reconcilers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel

from seppmail_lifecycle.api.policy import Policy
from seppmail_lifecycle.core.conditions import Transition
from seppmail_lifecycle.kube.store import Entry, Store
from seppmail_lifecycle.runtime.effects import Effects
from seppmail_lifecycle.runtime.keys import Key
from seppmail_lifecycle.runtime.tenant_locks import TenantLocks
from seppmail_lifecycle.runtime.writer import EventSink

Body = dict[str, Any]


class Writer(Protocol):
    async def write_status(
        self, kind: str, entry: Entry, status: BaseModel, transitions: Sequence[Transition] = ()
    ) -> bool: ...

    async def write_invalid(self, kind: str, entry: Entry, now: datetime) -> None: ...

    async def set_finalizer(self, kind: str, entry: Entry, hold: bool) -> None: ...

    async def create(self, kind: str, namespace: str, body: Body) -> Body | None: ...

    async def delete(self, kind: str, entry: Entry) -> None: ...


@dataclass
class Context:
    store: Store
    policy: Policy
    clock: Callable[[], datetime]
    effects: Effects
    writer: Writer
    post_event: EventSink
    enqueue: Callable[[Key], None]
    """Decide this aggregate (again) as soon as a worker is free."""
    wake_at: Callable[[Key, datetime | None], None]
    """Decide this aggregate at its next deadline (replacing the previous one; None: none)."""
    tenants: TenantLocks = field(default_factory=TenantLocks)
    """A tenant's purge excludes its domains' reconciles (``runtime.tenant_locks``)."""
