"""Which notification mails an object's state calls for, and the ledger that makes each one go
out at most once.

Notifications are derived from state (level-based), not from transitions: after a restart the
same mails are derived again, and the ledger, written before a mail is sent, says which already
went (or may have gone) out. Pure: the shell reads and writes the ledger and talks SMTP.

The ledger is bounded: every idempotency key names the object the mail is about (``Kind/uid/...``),
and its slot keeps that uid, so once the object is gone (nothing derives its mails again, and a
re-created object has a new uid) its entries can go (``prunable``). Slots spread over
``LEDGER_SHARDS`` shards by their hash, so no one ledger object grows with a tenant's every mail.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
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
    slot: str
    """``ledger_slot`` of the idempotency key."""
    state: LedgerState
    at: datetime
    attempts: int = 1
    error: str | None = None
    retry_at: datetime | None = None


LEDGER_SHARDS = "0123456789abcdef"
"""A slot's shard is the first digit of its hash."""
_UID = re.compile(r"[0-9A-Za-z][-0-9A-Za-z]{0,62}")


def ledger_slot(key: str) -> str:
    """A ConfigMap data key (those allow only [-._a-zA-Z0-9]) for an idempotency key: the uid of
    the object the mail is about (keys read ``Kind/uid/...``; empty when one does not), a dot,
    and 64 bits of a hash of the whole key (distinct among one object's mails)."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    parts = key.split("/")
    uid = parts[1] if len(parts) > 2 and _UID.fullmatch(parts[1]) else ""
    return f"{uid}.{digest}"


def ledger_shard(slot: str) -> str:
    return slot.rpartition(".")[2][0]


def slot_owner(slot: str) -> str | None:
    """The uid of the object the slot's mail is about, if its key named one."""
    return slot.rpartition(".")[0] or None


def prunable(ledger: Mapping[str, LedgerEntry], exists: Callable[[str], bool]) -> list[str]:
    """The slots of mails about objects that no longer exist (``exists``: is there an object
    with this uid). Dropping them keeps exactly-once: a mail is derived only from an object that
    exists, and an object re-created under the same name has a new uid, so new keys."""
    return sorted(slot for slot in ledger if (owner := slot_owner(slot)) is not None and not exists(owner))


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
        entry = ledger.get(ledger_slot(notification.key))
        if entry is None or (entry.state == "failed" and entry.retry_at is not None and entry.retry_at <= now):
            due.append(notification)
    return due


def failed(
    entry: LedgerEntry | None, slot: str, error: str, now: datetime, initial: timedelta, maximum: timedelta
) -> LedgerEntry:
    attempts = (entry.attempts if entry else 0) + 1
    return LedgerEntry(slot, "failed", now, attempts, error[:500], now + backoff(attempts, initial, maximum))


def next_retry(ledger: Mapping[str, LedgerEntry], keys: Sequence[str]) -> datetime | None:
    """The earliest retry of a failed mail among those of ``keys`` (idempotency keys)."""
    entries = (ledger.get(ledger_slot(key)) for key in keys)
    retries = [e.retry_at for e in entries if e is not None and e.state == "failed" and e.retry_at]
    return min(retries) if retries else None
