"""Product events: the catalogue entry, and every domain booking it (checks depend on it)."""

from __future__ import annotations

from typing import Any

import kopf

from seppmail_lifecycle import GROUP, VERSION
from seppmail_lifecycle.handlers.observe import name_of, observe


@kopf.on.event(GROUP, VERSION, "products")
def product_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    runtime, _entry = observe(memo, "Product", event)
    name = name_of(event)
    runtime.reconciler.enqueue(("Product", "", name))
    for service in runtime.store.lookup("services_by_product", name):
        metadata, spec = service.raw["metadata"], service.raw.get("spec") or {}
        runtime.reconciler.enqueue(("Domain", metadata.get("namespace") or "", spec["domainRef"]["name"]))
