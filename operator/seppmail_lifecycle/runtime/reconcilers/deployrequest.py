"""The "Deploy domains and services" button: carried out once, then the domains it covers are
decided again (their deployment starts there)."""

from __future__ import annotations

from collections.abc import Sequence

from seppmail_lifecycle.core.deploy import plan_deploy
from seppmail_lifecycle.core.model import Domain, Service
from seppmail_lifecycle.core.orders import covers
from seppmail_lifecycle.runtime.context import Context


async def reconcile_deploy_request(ctx: Context, namespace: str, name: str) -> None:
    entry = ctx.store.get("DeployRequest", namespace, name)
    if entry is None:
        return
    now = ctx.clock()
    if entry.obj is None:
        await ctx.writer.write_invalid("DeployRequest", entry, now)
        return
    domains: dict[str, Domain] = {d.name: d for d in ctx.store.objects("domains_by_namespace", namespace)}
    services: dict[str, Sequence[Service]] = {
        domain: ctx.store.objects("services_by_domain", (namespace, domain)) for domain in domains
    }
    decision = plan_deploy(entry.obj, domains, services, now)
    if decision is None:
        return
    await ctx.writer.write_status("DeployRequest", entry, decision.status, decision.transitions)
    # The status lists only the first names; what was deployed is every covered domain's to decide.
    for domain in domains:
        if covers(entry.obj, domain):
            ctx.enqueue(("Domain", namespace, domain))
