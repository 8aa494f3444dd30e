"""The partner aggregate: whether it is its namespace's partner, and how many tenants it serves."""

from __future__ import annotations

from seppmail_lifecycle.core.partners import decide_partner
from seppmail_lifecycle.runtime.context import Context
from seppmail_lifecycle.runtime.partners import tenants_served


async def reconcile_partner(ctx: Context, namespace: str, name: str) -> None:
    entry = ctx.store.get("Partner", namespace, name)
    if entry is None:
        return
    now = ctx.clock()
    if entry.obj is None:
        await ctx.writer.write_invalid("Partner", entry, now)
        return
    in_namespace = ctx.store.objects("partners_by_namespace", namespace)
    decision = decide_partner(entry.obj, in_namespace, tenants_served(ctx.store, namespace), now)
    await ctx.writer.write_status("Partner", entry, decision.status, decision.transitions)
