"""Which notification mails an object's state calls for, and the ledger that makes each one go
out at most once.

Notifications are derived from state (level-based), not from transitions: after a restart the
same mails are derived again, and the ledger, written before a mail is sent, says which already
went (or may have gone) out. Pure: the shell reads and writes the ledger and talks SMTP.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from seppmail_lifecycle.api.states import InvoiceState, SubscriptionState
from seppmail_lifecycle.api.states import OrderPhase as P
from seppmail_lifecycle.core.model import Domain, Invoice, Service, Tenant
from seppmail_lifecycle.core.partners import tenant_recipients
from seppmail_lifecycle.core.schedule import backoff

Template = Literal[
    "dns-action",
    "domain-provisioned",
    "license-reminder",
    "license-grace",
    "license-mx-change",
    "license-frozen",
    "invoice-created",
    "payment-received",
    "service-expired",
    "service-discontinued",
]
LedgerState = Literal["sending", "sent", "failed"]


@dataclass(frozen=True)
class Notification:
    key: str
    """The idempotency key: one mail per key, ever."""
    template: Template
    to: tuple[str, ...]
    params: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class LedgerEntry:
    key: str
    state: LedgerState
    at: datetime
    attempts: int = 1
    error: str | None = None
    retry_at: datetime | None = None


def ledger_slot(key: str) -> str:
    """A ConfigMap data key for an idempotency key (those allow only [-._a-zA-Z0-9])."""
    return hashlib.sha256(key.encode()).hexdigest()[:40]


def actions_key(domain: Domain) -> str:
    """The idempotency key of the partner-action mail for the records the domain misses now: a
    new mail only when that list changes (not when only what DNS answers changes)."""
    wanted = sorted(f"{a.record_type} {a.name} {a.expected}" for a in domain.status.pending_actions)
    digest = hashlib.sha256("\n".join(wanted).encode()).hexdigest()[:16]
    return f"Domain/{domain.meta.uid}/dns-actions/{digest}"


def domain_notifications(
    domain: Domain, tenant: Tenant, services: Sequence[Service], to: tuple[str, ...] | None = None
) -> list[Notification]:
    """While provisioning, one mail listing every DNS record the partner must still create (a new
    one when that list changes); one when provisioning completed: the domain provisioned and none
    of its services still provisioning (they follow the domain in the same reconcile; the mail
    lists them all, whichever status write is seen first). ``to``: the partner's addresses
    (default: the tenant's)."""
    status = domain.status
    to = to if to is not None else tenant_recipients(tenant)
    out: list[Notification] = []
    if status.phase is P.PROVISIONING and status.pending_actions:
        out.append(
            Notification(
                key=actions_key(domain),
                template="dns-action",
                to=to,
                params={
                    "tenant_name": tenant.spec.display_name,
                    "domain_name": domain.spec.domain_name,
                    "records": tuple(
                        f"{a.record_type}\t{a.name}\t{a.expected}\t{a.result}" for a in status.pending_actions
                    ),
                },
            )
        )
    if status.phase is P.PROVISIONED and not any(s.status.phase is P.PROVISIONING for s in services):
        booked = tuple(sorted(s.spec.product for s in services if s.status.phase is P.PROVISIONED))
        out.append(
            Notification(
                key=f"Domain/{domain.meta.uid}/provisioned",
                template="domain-provisioned",
                to=to,
                params={
                    "tenant_name": tenant.spec.display_name,
                    "domain_name": domain.spec.domain_name,
                    "services": booked,
                },
            )
        )
    return out


def billing_notifications(
    tenant: Tenant,
    invoices: Sequence[Invoice],
    services: Sequence[Service],
    to: tuple[str, ...],
    discontinue_after: timedelta,
) -> list[Notification]:
    """Seed 004's mails, each once: an invoice created, its payment received (it is paid), a
    service expired (once per lapse: a renewed service that lapses again is mailed again), a
    service discontinued. ``discontinue_after``: the time from expiry to discontinuation."""
    out: list[Notification] = []
    name = tenant.spec.display_name
    for invoice in sorted(invoices, key=lambda i: i.name):
        spec, state = invoice.spec, invoice.status.state
        common = {
            "tenant_name": name,
            "invoice": invoice.name,
            "total": spec.total.amount,
            "currency": spec.total.currency,
        }
        if state in (InvoiceState.OPEN, InvoiceState.PAID):
            out.append(
                Notification(
                    key=f"Invoice/{invoice.meta.uid}/created",
                    template="invoice-created",
                    to=to,
                    params={
                        **common,
                        "period_start": spec.period.start.isoformat(),
                        "period_end": spec.period.end.isoformat(),
                        "due_date": spec.due_date.isoformat(),
                        "lines": tuple(f"{x.service}\t{x.description}\t{x.amount}" for x in spec.lines),
                    },
                )
            )
        if state is InvoiceState.PAID:
            paid_at = invoice.status.paid_at
            out.append(
                Notification(
                    key=f"Invoice/{invoice.meta.uid}/paid",
                    template="payment-received",
                    to=to,
                    params={**common, "paid_on": paid_at.date().isoformat() if paid_at else ""},
                )
            )
    for service in sorted(services, key=lambda s: s.name):
        subscription = service.status.subscription
        if subscription is None or subscription.expires_at is None:
            continue
        params = {
            "tenant_name": name,
            "service": service.name,
            "product": service.spec.product,
            "domain_name": service.status.domain_name or service.spec.domain_ref.name,
            "expired_on": subscription.expires_at.date().isoformat(),
        }
        if subscription.state is SubscriptionState.EXPIRED:
            discontinue_on = (subscription.expires_at + discontinue_after).date().isoformat()
            out.append(
                Notification(
                    key=f"Service/{service.meta.uid}/expired/{subscription.expires_at.isoformat()}",
                    template="service-expired",
                    to=to,
                    params={**params, "discontinue_on": discontinue_on},
                )
            )
        if subscription.discontinued_at is not None:
            out.append(
                Notification(
                    key=f"Service/{service.meta.uid}/discontinued",
                    template="service-discontinued",
                    to=to,
                    params=params,
                )
            )
    return out


def to_send(
    notifications: Sequence[Notification], ledger: Mapping[str, LedgerEntry], now: datetime
) -> list[Notification]:
    """Those never attempted, and failed ones whose retry is due. A mail being sent when the
    operator stopped is never sent again: at most once beats twice."""
    due = []
    for notification in notifications:
        entry = ledger.get(notification.key)
        if entry is None or (entry.state == "failed" and entry.retry_at is not None and entry.retry_at <= now):
            due.append(notification)
    return due


def failed(
    entry: LedgerEntry | None, key: str, error: str, now: datetime, initial: timedelta, maximum: timedelta
) -> LedgerEntry:
    attempts = (entry.attempts if entry else 0) + 1
    return LedgerEntry(key, "failed", now, attempts, error[:500], now + backoff(attempts, initial, maximum))


def next_retry(ledger: Mapping[str, LedgerEntry], keys: Sequence[str]) -> datetime | None:
    retries = [e.retry_at for k, e in ledger.items() if k in keys and e.state == "failed" and e.retry_at]
    return min(retries) if retries else None
