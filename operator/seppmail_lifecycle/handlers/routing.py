"""Routing ConfigMap events: the backend's actual state of a domain changed (or was tampered with)."""

from __future__ import annotations

from typing import Any

import kopf

from seppmail_lifecycle.backend.labels import MANAGED_BY, MANAGER, ROLE_LABEL
from seppmail_lifecycle.handlers.observe import observe
from seppmail_lifecycle.kube.store import ROUTING


@kopf.on.event("", "v1", "configmaps", labels={MANAGED_BY: MANAGER, ROLE_LABEL: "routing"})
async def routing_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    observe(memo, ROUTING, event)
