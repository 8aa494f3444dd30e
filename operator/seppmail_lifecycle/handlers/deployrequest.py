"""DeployRequest events: carry the request out once."""

from __future__ import annotations

from typing import Any

import kopf

from seppmail_lifecycle import GROUP, VERSION
from seppmail_lifecycle.handlers.observe import name_of, namespace_of, observe


@kopf.on.event(GROUP, VERSION, "deployrequests")
def deploy_request_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    runtime, entry = observe(memo, "DeployRequest", event)
    if entry is not None:
        runtime.reconciler.enqueue(("DeployRequest", namespace_of(event), name_of(event)))
