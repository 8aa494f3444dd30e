"""Service events: the aggregate of the service's domain, and the tenant's totals."""

from __future__ import annotations

from typing import Any

import kopf

from seppmail_lifecycle import GROUP, VERSION
from seppmail_lifecycle.handlers.observe import namespace_of, observe, spec_ref


@kopf.on.event(GROUP, VERSION, "services")
def service_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    runtime, _entry = observe(memo, "Service", event)
    namespace = namespace_of(event)
    domain = spec_ref(event, "domainRef")
    if not domain:
        return
    runtime.reconciler.enqueue(("Domain", namespace, domain))
    domain_entry = runtime.store.get("Domain", namespace, domain)
    if domain_entry is not None:
        tenant = ((domain_entry.raw.get("spec") or {}).get("tenantRef") or {}).get("name")
        if tenant:
            runtime.reconciler.enqueue(("Tenant", namespace, tenant))
