"""DeployRequest events: carry the request out once."""

from __future__ import annotations

from typing import Any

import kopf

from seppmail_lifecycle import GROUP, VERSION
from seppmail_lifecycle.handlers.observe import observe


@kopf.on.event(GROUP, VERSION, "deployrequests")
async def deploy_request_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    observe(memo, "DeployRequest", event)
