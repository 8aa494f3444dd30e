"""Domain events: the domain aggregate, its tenant's totals, and other claims on its name."""

from __future__ import annotations

from typing import Any

import kopf

from seppmail_lifecycle import GROUP, VERSION
from seppmail_lifecycle.handlers.observe import name_of, namespace_of, observe, spec_ref


@kopf.on.event(GROUP, VERSION, "domains")
def domain_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    runtime, _entry = observe(memo, "Domain", event)
    namespace, name = namespace_of(event), name_of(event)
    runtime.reconciler.enqueue(("Domain", namespace, name))
    tenant = spec_ref(event, "tenantRef")
    if tenant:
        runtime.reconciler.enqueue(("Tenant", namespace, tenant))
    # A claim given up or taken on a domain name changes what the other claimants may do.
    domain_name = (event["object"].get("spec") or {}).get("domainName")
    for claim in runtime.store.lookup("domains_by_name", domain_name):
        metadata = claim.raw["metadata"]
        runtime.reconciler.enqueue(("Domain", metadata.get("namespace") or "", metadata["name"]))
