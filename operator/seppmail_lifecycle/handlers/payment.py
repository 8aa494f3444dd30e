"""Payment events: recorded in the store; the aggregates they affect are decided again."""

from __future__ import annotations

from typing import Any

import kopf

from seppmail_lifecycle import GROUP, VERSION
from seppmail_lifecycle.handlers.observe import observe


@kopf.on.event(GROUP, VERSION, "payments")
async def payment_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    observe(memo, "Payment", event)
