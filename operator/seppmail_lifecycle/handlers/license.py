"""License events: the license's periods, the tenant's blocks (console, mail, services) and mails."""

from __future__ import annotations

from typing import Any

import kopf

from seppmail_lifecycle import GROUP, VERSION
from seppmail_lifecycle.handlers.observe import enqueue_tenant_domains, name_of, namespace_of, observe, spec_ref


@kopf.on.event(GROUP, VERSION, "licenses")
def license_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    runtime, _entry = observe(memo, "License", event)
    namespace = namespace_of(event)
    runtime.reconciler.enqueue(("License", namespace, name_of(event)))
    tenant = spec_ref(event, "tenantRef")
    if tenant:
        # A period change blocks or unblocks the tenant's domains, services and console.
        runtime.reconciler.enqueue(("Tenant", namespace, tenant))
        runtime.reconciler.enqueue(("Mail", namespace, tenant))
        enqueue_tenant_domains(runtime, namespace, tenant)
