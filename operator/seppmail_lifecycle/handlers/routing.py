"""Routing ConfigMap events: the backend's actual state of a domain changed (or was tampered with)."""

from __future__ import annotations

from typing import Any

import kopf

from seppmail_lifecycle import GROUP
from seppmail_lifecycle.backend.labels import MANAGED_BY, MANAGER
from seppmail_lifecycle.handlers.observe import namespace_of, observe
from seppmail_lifecycle.kube.store import ROUTING


@kopf.on.event("", "v1", "configmaps", labels={MANAGED_BY: MANAGER, f"{GROUP}/role": "routing"})
def routing_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    runtime, _entry = observe(memo, ROUTING, event)
    domain = (event["object"]["metadata"].get("annotations") or {}).get(f"{GROUP}/domain-object")
    if domain:
        runtime.reconciler.enqueue(("Domain", namespace_of(event), domain))
