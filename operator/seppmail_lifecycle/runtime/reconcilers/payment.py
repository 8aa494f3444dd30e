"""The payment aggregate: whether a Payment counts towards its invoice (the contract counts it)."""

from __future__ import annotations

from seppmail_lifecycle.core.contracts import decide_payment
from seppmail_lifecycle.runtime.context import Context


async def reconcile_payment(ctx: Context, namespace: str, name: str) -> None:
    entry = ctx.store.get("Payment", namespace, name)
    if entry is None:
        return
    now = ctx.clock()
    if entry.obj is None:
        await ctx.writer.write_invalid("Payment", entry, now)
        return
    invoice = ctx.store.get("Invoice", namespace, entry.obj.spec.invoice_ref.name)
    decision = decide_payment(entry.obj, invoice.obj if invoice is not None else None, now)
    await ctx.writer.write_status("Payment", entry, decision.status, decision.transitions)
