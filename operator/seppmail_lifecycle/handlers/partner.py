"""Partner events: the partner's status, and the mails and PartnerFound condition of its tenants."""

from __future__ import annotations

from typing import Any

import kopf

from seppmail_lifecycle import GROUP, VERSION
from seppmail_lifecycle.handlers.observe import observe


@kopf.on.event(GROUP, VERSION, "partners")
async def partner_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    observe(memo, "Partner", event)
