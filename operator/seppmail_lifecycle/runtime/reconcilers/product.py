"""The catalogue entry: available once observed (orders check their references themselves)."""

from __future__ import annotations

from seppmail_lifecycle.core.products import decide_product
from seppmail_lifecycle.runtime.context import Context


async def reconcile_product(ctx: Context, namespace: str, name: str) -> None:
    entry = ctx.store.get("Product", namespace, name)
    if entry is None:
        return
    now = ctx.clock()
    if entry.obj is None:
        await ctx.writer.write_invalid("Product", entry, now)
        return
    decision = decide_product(entry.obj, now)
    await ctx.writer.write_status("Product", entry, decision.status, decision.transitions)
