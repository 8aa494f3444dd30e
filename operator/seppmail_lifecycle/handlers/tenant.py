"""Tenant events: the tenant's totals, and its domains (whose check needs the tenant)."""

from __future__ import annotations

from typing import Any

import kopf

from seppmail_lifecycle import GROUP, VERSION
from seppmail_lifecycle.handlers.observe import enqueue_tenant_domains, name_of, namespace_of, observe


@kopf.on.event(GROUP, VERSION, "tenants")
def tenant_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    runtime, _entry = observe(memo, "Tenant", event)
    namespace, name = namespace_of(event), name_of(event)
    runtime.reconciler.enqueue(("Tenant", namespace, name))
    enqueue_tenant_domains(runtime, namespace, name)
