"""Sending notification mails exactly as the ledger allows: each idempotency key is recorded as
"sending" in the tenant's ledger before the SMTP server sees the mail, then as "sent" or
"failed". A failure is retried with backoff; a mail whose outcome is unknown (the operator
stopped mid-send) is never sent again.

A tenant's ledger is 16 ConfigMaps (shards by the slot's hash, ``core.notifications``), each
written by a conditional merge patch of the entries that change; the entries of mails about
objects gone by now are dropped with the next write of their shard. So a write ships one shard,
not every mail the tenant ever had, and the ledger holds the mails of living objects only."""

from __future__ import annotations

import json
import logging
import math
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from seppmail_lifecycle.api.policy import MailPolicy
from seppmail_lifecycle.backend import templates
from seppmail_lifecycle.backend.labels import MANAGED_BY, MANAGER, ROLE_LABEL, TENANT_LABEL, label_value
from seppmail_lifecycle.backend.mail import Mail, MailError, PartialDelivery, SmtpSettings, send
from seppmail_lifecycle.core.ids import derived_name
from seppmail_lifecycle.core.notifications import (
    LedgerEntry,
    Notification,
    failed,
    ledger_shard,
    ledger_slot,
    next_retry,
    prunable,
    to_send,
)
from seppmail_lifecycle.kube.client import KubeClient
from seppmail_lifecycle.kube.convert import controller_reference, parse_time
from seppmail_lifecycle.runtime.metrics import Counters

logger = logging.getLogger(__name__)
Body = dict[str, Any]


def ledger_name(tenant: str, shard: str) -> str:
    """One of the tenant's ledger shards (``mail-ledger.<shard>.<tenant>``: no tenant's name can
    make another's, nor the one ledger of earlier versions, ``mail-ledger-<tenant>``)."""
    return derived_name(f"mail-ledger.{shard}.", tenant)


def legacy_ledger_name(tenant: str) -> str:
    return derived_name("mail-ledger-", tenant)


def _three(line: str) -> tuple[str, str, str]:
    first, _, rest = line.partition("\t")
    second, _, third = rest.partition("\t")
    return first, second, third


def render(notification: Notification) -> Mail:
    """The mail of a notification: its template filled with its params."""
    p = notification.params

    def text(key: str) -> str:
        value = p[key]
        return value if isinstance(value, str) else ", ".join(value)

    match notification.template:
        case "dns-action":
            records = p["records"]
            content = templates.dns_action(
                text("tenant_name"),
                text("domain_name"),
                [templates.DnsRecord(*line.split("\t", 3)) for line in records if isinstance(records, tuple)],
            )
        case "domain-provisioned":
            services = p["services"]
            content = templates.domain_provisioned(
                text("tenant_name"), text("domain_name"), list(services) if isinstance(services, tuple) else []
            )
        case "license-reminder":
            content = templates.license_reminder(
                text("tenant_name"), text("license_type"), text("expires_on"), text("days_left")
            )
        case "license-grace":
            content = templates.license_grace(
                text("tenant_name"), text("expires_on"), text("grace_ends_on"), text("purge_on")
            )
        case "license-mx-change":
            content = templates.license_mx_change(text("tenant_name"), text("grace_ends_on"))
        case "license-frozen":
            content = templates.license_frozen(
                text("tenant_name"), text("grace_ends_on"), text("purge_on"), text("purge_held") == "true"
            )
        case "invoice-created":
            lines = p["lines"]
            content = templates.invoice_created(
                text("tenant_name"),
                text("invoice"),
                (text("period_start"), text("period_end")),
                f"{text('total')} {text('currency')}",
                text("due_date"),
                [_three(line) for line in lines] if isinstance(lines, tuple) else [],
            )
        case "payment-received":
            content = templates.payment_received(
                text("tenant_name"), text("invoice"), f"{text('total')} {text('currency')}", text("paid_on")
            )
        case "service-expired":
            content = templates.service_expired(
                text("tenant_name"),
                text("service"),
                text("product"),
                text("domain_name"),
                text("expired_on"),
                text("discontinue_on"),
            )
        case "service-discontinued":
            content = templates.service_discontinued(
                text("tenant_name"), text("service"), text("product"), text("domain_name"), text("expired_on")
            )
    subject, body_text, body_html = content
    return Mail(key=notification.key, to=notification.to, subject=subject, text=body_text, html=body_html)


def _entry_value(entry: LedgerEntry) -> str:
    """An entry as a ledger value, compact (a sent mail: 21 bytes): ``[state, at, attempts]``, and
    for a failed one also its error and retry time (seconds since the epoch; the retry time to the
    millisecond, rounded up: never early)."""
    raw: list[object] = [entry.state, int(entry.at.timestamp()), entry.attempts]
    if entry.state == "failed":
        retry = math.ceil(entry.retry_at.timestamp() * 1000) / 1000 if entry.retry_at else None
        raw += [entry.error, retry]
    return json.dumps(raw, separators=(",", ":"))


def _epoch(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def parse_ledger(body: Body | None) -> dict[str, LedgerEntry]:
    """A ledger's entries by slot; also reads the ledger of earlier versions (one ConfigMap per
    tenant, JSON objects naming their keys)."""
    entries = {}
    for slot, value in ((body or {}).get("data") or {}).items():
        raw = json.loads(value)
        if isinstance(raw, list):
            state, at, attempts, *failure = raw
            error, retry_at = failure if failure else (None, None)
            entry = LedgerEntry(slot, state, datetime.fromtimestamp(at, UTC), attempts, error, _epoch(retry_at))
        else:
            at_time = parse_time(raw["at"])
            assert at_time is not None
            slot = ledger_slot(raw["key"])
            entry = LedgerEntry(
                slot,
                raw["state"],
                at_time,
                raw.get("attempts", 1),
                raw.get("error"),
                parse_time(raw.get("retry_at")),
            )
        entries[slot] = entry
    return entries


@dataclass(frozen=True)
class _Owner:
    """The tenant whose ledger it is."""

    namespace: str
    tenant: str
    uid: str


@dataclass
class _Shard:
    """A ledger shard as last read or written: its body (None: it does not exist) and entries."""

    body: Body | None
    entries: dict[str, LedgerEntry]


CACHED_SHARDS = 4096
"""Ledger shards kept as last read or written. Safe to keep: every write is conditional on the
version kept, so one changed by another replica fails the write (and drops the copy) instead of
deciding on it."""


class Mailer:
    def __init__(
        self,
        client: KubeClient,
        smtp: SmtpSettings | None,
        policy: MailPolicy,
        clock: Callable[[], datetime],
        counters: Counters,
        exists: Callable[[str], bool] = lambda uid: True,
    ) -> None:
        """``exists``: is there an object with this uid (the store, primed before the first mail);
        the ledger entries of mails about objects that no longer exist are pruned."""
        self.client = client
        self.smtp = smtp
        self.policy = policy
        self.clock = clock
        self.counters = counters
        self.exists = exists
        self._shards: OrderedDict[tuple[str, str], _Shard] = OrderedDict()
        self._migrated: set[tuple[str, str]] = set()

    async def deliver(
        self, namespace: str, tenant: str, tenant_uid: str, notifications: Sequence[Notification]
    ) -> datetime | None:
        """Send what is due; return when to try again (a failed mail's retry), if ever.
        ``tenant_uid``: the Tenant object's, the owner of its ledger."""
        if self.smtp is None or not notifications:
            return None
        owner = _Owner(namespace, tenant, tenant_uid)
        await self._migrate(owner)
        # Each write is conditional on the version of its shard this decision read.
        shards = {ledger_shard(ledger_slot(n.key)) for n in notifications}
        read = {shard: await self._shard(owner, shard) for shard in sorted(shards)}
        ledger = {slot: entry for kept in read.values() for slot, entry in kept.entries.items()}
        for notification in to_send(notifications, ledger, self.clock()):
            slot = ledger_slot(notification.key)
            previous = ledger.get(slot)
            sending = LedgerEntry(slot, "sending", self.clock(), attempts=(previous.attempts if previous else 0) + 1)
            # Recorded before the SMTP server sees the mail: a crash from here on never resends it.
            shard = ledger_shard(slot)
            read[shard] = await self._record(owner, read[shard], {slot: sending})
            try:
                await send(self.smtp, render(notification))
            except PartialDelivery as error:  # some got it: a retry would mail them twice
                self.counters.inc("mails_sent_total", template=notification.template)
                logger.warning("mail %s only partly delivered: %s", notification.key, error)
                entry = LedgerEntry(slot, "sent", self.clock(), sending.attempts, str(error)[:500])
            except MailError as error:
                self.counters.inc("mails_failed_total", template=notification.template)
                logger.warning("mail %s to %s failed: %s", notification.key, ", ".join(notification.to), error)
                entry = failed(
                    previous, slot, str(error), self.clock(), self.policy.retry_initial, self.policy.retry_max
                )
            else:
                self.counters.inc("mails_sent_total", template=notification.template)
                entry = LedgerEntry(slot, "sent", self.clock(), attempts=sending.attempts)
            read[shard] = await self._record(owner, read[shard], {slot: entry})
            ledger[slot] = entry
        return next_retry(ledger, [n.key for n in notifications])

    async def _shard(self, owner: _Owner, shard: str) -> _Shard:
        name = ledger_name(owner.tenant, shard)
        kept = self._shards.get((owner.namespace, name))
        if kept is None:
            body = await self.client.get_configmap(owner.namespace, name)
            kept = self._keep(owner.namespace, name, body)
        else:
            self._shards.move_to_end((owner.namespace, name))
        return kept

    def _keep(self, namespace: str, name: str, body: Body | None) -> _Shard:
        kept = self._shards[(namespace, name)] = _Shard(body, parse_ledger(body))
        self._shards.move_to_end((namespace, name))
        while len(self._shards) > CACHED_SHARDS:
            self._shards.popitem(last=False)
        return kept

    async def _record(self, owner: _Owner, kept: _Shard, entries: Mapping[str, LedgerEntry]) -> _Shard:
        """Write entries of one shard, as ``kept`` (what was read) and these entries, and drop
        the shard's entries about objects gone by now; the shard as written."""
        namespace = owner.namespace
        name = ledger_name(owner.tenant, ledger_shard(next(iter(entries))))
        data: dict[str, str | None] = {slot: _entry_value(entry) for slot, entry in entries.items()}
        try:
            if kept.body is None:
                body = await self.client.create_configmap(
                    namespace,
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {
                            "name": name,
                            "labels": {
                                MANAGED_BY: MANAGER,
                                ROLE_LABEL: "mail-ledger",
                                TENANT_LABEL: label_value(owner.tenant),
                            },
                            # Garbage collected with the Tenant (its mails' objects go with it too).
                            "ownerReferences": [controller_reference("Tenant", owner.tenant, owner.uid)],
                        },
                        "data": data,
                    },
                )
            else:
                gone = [slot for slot in prunable(kept.entries, self.exists) if slot not in entries]
                data.update(dict.fromkeys(gone))
                # Conditional on the version read: a concurrent writer makes this fail, never lose an entry.
                version = kept.body["metadata"]["resourceVersion"]
                patch = {"metadata": {"resourceVersion": version}, "data": data}
                body = await self.client.patch_configmap(namespace, name, patch)
        except BaseException:
            self._shards.pop((namespace, name), None)  # its version is unknown now: read it again
            raise
        if gone := [slot for slot in kept.entries if slot not in (body.get("data") or {})]:
            self.counters.inc("mail_ledger_pruned_total", len(gone))
        return self._keep(namespace, name, body)

    async def _migrate(self, owner: _Owner) -> None:
        """Move the ledger of earlier versions (one ConfigMap per tenant) into the shards, once:
        its entries are written where they are missing, then it is deleted (only as read)."""
        namespace, tenant = owner.namespace, owner.tenant
        if (namespace, tenant) in self._migrated:
            return
        legacy = await self.client.get_configmap(namespace, legacy_ledger_name(tenant))
        if legacy is not None:
            by_shard: dict[str, dict[str, LedgerEntry]] = {}
            for slot, entry in parse_ledger(legacy).items():
                by_shard.setdefault(ledger_shard(slot), {})[slot] = entry
            for shard, entries in sorted(by_shard.items()):
                kept = await self._shard(owner, shard)
                missing = {slot: entry for slot, entry in entries.items() if slot not in kept.entries}
                if missing:
                    await self._record(owner, kept, missing)
            await self.client.delete_configmap(
                namespace, legacy_ledger_name(tenant), legacy["metadata"]["resourceVersion"]
            )
            logger.info("mail ledger of tenant %s/%s moved into its shards", namespace, tenant)
        self._migrated.add((namespace, tenant))
