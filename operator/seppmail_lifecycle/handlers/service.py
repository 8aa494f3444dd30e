"""Service events: the aggregate of the service's domain, and the tenant's totals."""

from __future__ import annotations

from typing import Any

import kopf

from seppmail_lifecycle import GROUP, VERSION
from seppmail_lifecycle.handlers.observe import observe


@kopf.on.event(GROUP, VERSION, "services")
async def service_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    observe(memo, "Service", event)
