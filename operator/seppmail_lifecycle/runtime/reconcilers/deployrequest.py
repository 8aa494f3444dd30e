"""The "Deploy domains and services" button: carried out once (after waiting for the domains it
covers that are still being checked), then the domains it covers are decided again (their
deployment starts there); deleted once its TTL after completion is over."""

from __future__ import annotations

from collections.abc import Sequence

from seppmail_lifecycle.api.states import DeployRequestPhase
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
    plan = plan_deploy(entry.obj, domains, services, ctx.policy.deploy_requests, now)
    ctx.wake_at(("DeployRequest", namespace, name), plan.wake_at)
    if plan.delete:
        await ctx.writer.delete("DeployRequest", entry)
        return
    if plan.decision is None:
        return
    await ctx.writer.write_status("DeployRequest", entry, plan.decision.status, plan.decision.transitions)
    if plan.decision.status.phase is not DeployRequestPhase.COMPLETED:
        return
    # The status lists only the first names; what was deployed is every covered domain's to decide.
    for domain in domains:
        if covers(entry.obj, domain):
            ctx.enqueue(("Domain", namespace, domain))
