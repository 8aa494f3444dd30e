"""The tenant aggregate: identity, totals (managed domains, booked services) and console access."""

from __future__ import annotations

from seppmail_lifecycle.core.license_effects import license_effects
from seppmail_lifecycle.core.model import Domain
from seppmail_lifecycle.core.tenants import decide_tenant
from seppmail_lifecycle.runtime.context import Context
from seppmail_lifecycle.runtime.partners import partner_of


async def reconcile_tenant(ctx: Context, namespace: str, name: str) -> None:
    entry = ctx.store.get("Tenant", namespace, name)
    if entry is None:
        return
    now = ctx.clock()
    if entry.obj is None:
        await ctx.writer.write_invalid("Tenant", entry, now)
        return
    domains: list[Domain] = ctx.store.objects("domains_by_tenant", (namespace, name))
    services = [s for d in domains for s in ctx.store.objects("services_by_domain", (namespace, d.name))]
    effects = license_effects(ctx.store.objects("licenses_by_tenant", (namespace, name)))
    partner = partner_of(ctx.store, namespace)
    decision = decide_tenant(entry.obj, domains, services, effects, now, partner)
    await ctx.writer.write_status("Tenant", entry, decision.status, decision.transitions)
