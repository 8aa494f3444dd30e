"""Domain events: the domain aggregate, its tenant, and the other claims on its name."""

from __future__ import annotations

from typing import Any

import kopf

from seppmail_lifecycle import GROUP, VERSION
from seppmail_lifecycle.handlers.observe import observe


@kopf.on.event(GROUP, VERSION, "domains")
async def domain_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    observe(memo, "Domain", event)
