"""The decide -> effect -> decide driver: one loop shared by the operator, the tests and the
simulator, so none of them can drift from the others.

A reconcile of one aggregate is a *plan*: a generator that decides, yields each effect the
decision calls for (apply a routing config, look up DNS records, purge a tenant, deliver mails),
receives what the effect observed, decides again on that, and finally returns the outcome to
write. Plans are pure (sans-I/O, as h11 is): the caller performs the effects. The operator drives
a plan with ``drive`` and effects on the cluster; unit tests and the simulator drive the same plan
with effects on an in-memory world (``drive_sync`` when those are synchronous).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from seppmail_lifecycle.api.policy import Policy
from seppmail_lifecycle.core.license_effects import tenant_keeper
from seppmail_lifecycle.core.licenses import LicenseDecision, decide_license
from seppmail_lifecycle.core.model import Domain, Invoice, License, Partner, Service, Tenant
from seppmail_lifecycle.core.notifications import Notification, billing_notifications, domain_notifications
from seppmail_lifecycle.core.orders import (
    ApplyRouting,
    DomainOutcome,
    DomainWorld,
    RemoveRouting,
    decide_domain,
    dns_lookups_due,
)
from seppmail_lifecycle.core.partners import addressed_to
from seppmail_lifecycle.core.routing import RoutingConfig
from seppmail_lifecycle.core.verification import DnsLookup, DnsObservation

R = TypeVar("R")
E = TypeVar("E")

MAX_ROUNDS = 4
"""Effects per reconcile: apply routing, look up DNS, apply again (services follow), settle."""


@dataclass(frozen=True)
class LookUpDns:
    """Ask the resolver for these records; answered with a ``DnsObservation``."""

    lookups: tuple[DnsLookup, ...]
    at: datetime


@dataclass(frozen=True)
class PurgeTenant:
    """Delete every backend object of the tenant for good; answered with the number deleted."""

    namespace: str
    tenant: str
    license: str


@dataclass(frozen=True)
class DeliverMails:
    """Send the notifications the ledger has not seen; answered with when to retry a failed one."""

    namespace: str
    tenant: str
    tenant_uid: str
    """The Tenant object's: it owns the ledger (which goes with the tenant, not with its purge)."""
    notifications: tuple[Notification, ...]


@dataclass(frozen=True)
class EffectFailed:
    """What an effect answers when the backend refused it: the plan records the error."""

    error: str


Effect = ApplyRouting | RemoveRouting | LookUpDns | PurgeTenant | DeliverMails
Plan = Generator[Effect, Any, R]


async def drive(plan: Generator[E, Any, R], perform: Callable[[E], Awaitable[Any]]) -> R:
    """Run ``plan`` to its outcome, performing each effect it yields with ``perform``."""
    try:
        effect = next(plan)
        while True:
            effect = plan.send(await perform(effect))
    except StopIteration as done:
        result: R = done.value
        return result


def drive_sync(plan: Generator[E, Any, R], perform: Callable[[E], Any]) -> R:
    """``drive`` for effects performed synchronously (unit tests, the simulator)."""
    try:
        effect = next(plan)
        while True:
            effect = plan.send(perform(effect))
    except StopIteration as done:
        result: R = done.value
        return result


def settle_domain(world: DomainWorld, policy: Policy, now: datetime) -> Plan[DomainOutcome]:
    """Decide a domain and its services; carry out the routing change and the DNS lookups the
    decision calls for, deciding again on what they observed, so the statuses written are the
    result (e.g. confirmed -> provisioning -> provisioned in one reconcile)."""
    outcome = decide_domain(world, policy, now)
    for _ in range(MAX_ROUNDS):
        if world.domain is None:
            break
        if outcome.routing is not None and world.backend_error is None:
            applied: RoutingConfig | EffectFailed | None = yield outcome.routing
            if isinstance(applied, EffectFailed):
                world = replace(world, backend_error=applied.error)
            else:
                world = replace(world, routing=applied)
        elif world.dns is None and (due := dns_lookups_due(world, outcome, policy, now)):
            observed: DnsObservation = yield LookUpDns(tuple(due), now)
            world = replace(world, dns=observed)
        else:
            break
        outcome = decide_domain(world, policy, now)
    return outcome


def settle_license(
    license: License, tenant: Tenant | None, others: Sequence[License], policy: Policy, now: datetime
) -> Plan[LicenseDecision]:
    """Decide a license; when its purge is due and no other license of the tenant keeps it,
    purge the tenant and decide again on the purged license."""
    keeper = tenant_keeper(others)
    decided = decide_license(license, tenant, policy, now, kept_by=keeper.name if keeper else None)
    if decided.purge_due:
        yield PurgeTenant(license.meta.namespace or "", license.spec.tenant_ref.name, license.name)
        purged = replace(license, status=license.status.model_copy(update={"purged_at": now}))
        decided = decide_license(purged, tenant, policy, now)
    return decided


def tenant_notifications(
    tenant: Tenant,
    domains: Sequence[tuple[Domain, Sequence[Service]]],
    licenses: Sequence[License],
    policy: Policy,
    now: datetime,
    partner: Partner | None = None,
    invoices: Sequence[Invoice] = (),
) -> tuple[Notification, ...]:
    """Every notification the tenant's domains, licenses and invoices call for at ``now``,
    addressed as the policy says (partner actions to ``partner``, customer notices to the tenant,
    by default)."""
    found: list[Notification] = []
    partner_actions = addressed_to(policy.mail.partner_actions_to, tenant, partner)
    for domain, services in domains:
        found += domain_notifications(domain, tenant, services, partner_actions)
    for license in licenses:
        found += decide_license(license, tenant, policy, now, partner=partner).notifications
    customer = addressed_to(policy.mail.customer_notices_to, tenant, partner)
    billing = policy.billing
    services = [s for _, of_domain in domains for s in of_domain]
    found += billing_notifications(
        tenant, invoices, services, customer, billing.expired_after + billing.discontinued_after
    )
    return tuple(found)


def deliver_mail(
    namespace: str, tenant: str, tenant_uid: str, notifications: tuple[Notification, ...]
) -> Plan[datetime | None]:
    """Deliver what the ledger has not seen; the outcome is when to retry a failed mail."""
    if not notifications:
        return None
    retry_at: datetime | None = yield DeliverMails(namespace, tenant, tenant_uid, notifications)
    return retry_at
