"""The license aggregate: its period, reminders and deadlines; the tenant's purge when due."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Any

from seppmail_lifecycle.core.driver import Effect, PurgeTenant, drive, settle_license
from seppmail_lifecycle.core.model import License
from seppmail_lifecycle.kube.store import Entry
from seppmail_lifecycle.runtime.context import Context
from seppmail_lifecycle.runtime.writer import StaleObject


async def reconcile_license(ctx: Context, namespace: str, name: str) -> None:
    entry = ctx.store.get("License", namespace, name)
    if entry is None:
        return
    now = ctx.clock()
    if entry.obj is None:
        await ctx.writer.write_invalid("License", entry, now)
        return
    license: License = entry.obj
    tenant = license.spec.tenant_ref.name
    tenant_entry = ctx.store.get("Tenant", namespace, tenant)
    of_tenant = ctx.store.lookup("licenses_by_tenant", (namespace, tenant))
    others = [e.obj for e in of_tenant if e.obj is not None and e.obj.name != name]
    gathered = _versions(of_tenant)

    async with AsyncExitStack() as purging:

        async def perform(effect: Effect) -> Any:
            if isinstance(effect, PurgeTenant):
                # Until the purge is written, no domain of the tenant may apply its routing.
                await purging.enter_async_context(ctx.tenants.exclusive(namespace, effect.tenant))
                now_held = ctx.store.lookup("licenses_by_tenant", (namespace, tenant))
                if _versions(now_held) != gathered:  # renewed while the domains finished?
                    raise StaleObject(f"the licenses of tenant {tenant!r} changed before its purge; deciding again")
            observed = await ctx.effects.perform(effect)
            if isinstance(effect, PurgeTenant):
                ctx.post_event(
                    entry.raw,
                    type="Warning",
                    reason="TenantPurged",
                    message=f"Deleted every backend object of tenant {effect.tenant!r} for good: "
                    f"{observed} object{'' if observed == 1 else 's'}.",
                )
            return observed

        plan = settle_license(license, tenant_entry.obj if tenant_entry else None, others, ctx.policy, now)
        decided = await drive(plan, perform)
        await ctx.writer.write_status("License", entry, decided.decision.status, decided.decision.transitions)
    ctx.wake_at(("License", namespace, name), decided.wake_at)


def _versions(licenses: Sequence[Entry]) -> dict[str, str | None]:
    """The resourceVersion of each of the store's ``licenses``, by name."""
    return {entry.raw["metadata"]["name"]: entry.raw["metadata"].get("resourceVersion") for entry in licenses}
