"""A tenant's notification mails: what its domains, licenses and invoices call for, each sent at most once
(the ledger decides), failed ones retried at their own time."""

from __future__ import annotations

from seppmail_lifecycle.core.driver import deliver_mail, drive, tenant_notifications
from seppmail_lifecycle.runtime.context import Context
from seppmail_lifecycle.runtime.keys import MAIL
from seppmail_lifecycle.runtime.partners import partner_of


async def reconcile_mail(ctx: Context, namespace: str, tenant_name: str) -> None:
    entry = ctx.store.get("Tenant", namespace, tenant_name)
    if entry is None or entry.obj is None:
        return
    domains = [
        (domain, ctx.store.objects("services_by_domain", (namespace, domain.name)))
        for domain in ctx.store.objects("domains_by_tenant", (namespace, tenant_name))
    ]
    licenses = ctx.store.objects("licenses_by_tenant", (namespace, tenant_name))
    partner = partner_of(ctx.store, namespace)
    invoices = ctx.store.objects("invoices_by_tenant", (namespace, tenant_name))
    notifications = tenant_notifications(
        entry.obj, domains, licenses, ctx.policy, ctx.clock(), partner, invoices=invoices
    )
    retry_at = await drive(deliver_mail(namespace, tenant_name, entry.obj.meta.uid, notifications), ctx.effects.perform)
    ctx.wake_at((MAIL, namespace, tenant_name), retry_at)
