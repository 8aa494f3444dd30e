"""The catalogue entry: available once observed, unless its requirements cannot be met (orders
check their references themselves)."""

from __future__ import annotations

from seppmail_lifecycle.core.products import decide_product
from seppmail_lifecycle.runtime.context import Context
from seppmail_lifecycle.runtime.reconcilers.domain import products_of


async def reconcile_product(ctx: Context, namespace: str, name: str) -> None:
    entry = ctx.store.get("Product", namespace, name)
    if entry is None:
        return
    now = ctx.clock()
    if entry.obj is None:
        await ctx.writer.write_invalid("Product", entry, now)
        return
    decision = decide_product(entry.obj, products_of(ctx.store), now)
    await ctx.writer.write_status("Product", entry, decision.status, decision.transitions)
