"""Sending notification mails exactly as the ledger allows: each idempotency key is recorded as
"sending" in the tenant's ledger (a ConfigMap) before the SMTP server sees the mail, then as
"sent" or "failed". A failure is retried with backoff; a mail whose outcome is unknown (the
operator stopped mid-send) is never sent again."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from seppmail_lifecycle import GROUP
from seppmail_lifecycle.api.policy import MailPolicy
from seppmail_lifecycle.backend import templates
from seppmail_lifecycle.backend.labels import MANAGED_BY, MANAGER, TENANT_LABEL, label_value
from seppmail_lifecycle.backend.mail import Mail, MailError, PartialDelivery, SmtpSettings, send
from seppmail_lifecycle.core.ids import derived_name
from seppmail_lifecycle.core.notifications import (
    LedgerEntry,
    Notification,
    failed,
    ledger_slot,
    next_retry,
    to_send,
)
from seppmail_lifecycle.kube.client import KubeClient
from seppmail_lifecycle.kube.convert import parse_time
from seppmail_lifecycle.runtime.metrics import Counters

logger = logging.getLogger(__name__)
Body = dict[str, Any]


def ledger_name(tenant: str) -> str:
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


def _entry_json(entry: LedgerEntry) -> str:
    raw = asdict(entry)
    for field in ("at", "retry_at"):
        if raw[field] is not None:
            raw[field] = raw[field].isoformat()
    return json.dumps(raw, sort_keys=True)


def parse_ledger(body: Body | None) -> dict[str, LedgerEntry]:
    entries = {}
    for value in ((body or {}).get("data") or {}).values():
        raw = json.loads(value)
        at = parse_time(raw["at"])
        assert at is not None
        entries[raw["key"]] = LedgerEntry(
            key=raw["key"],
            state=raw["state"],
            at=at,
            attempts=raw.get("attempts", 1),
            error=raw.get("error"),
            retry_at=parse_time(raw.get("retry_at")),
        )
    return entries


class Mailer:
    def __init__(
        self,
        client: KubeClient,
        smtp: SmtpSettings | None,
        policy: MailPolicy,
        clock: Callable[[], datetime],
        counters: Counters,
    ) -> None:
        self.client = client
        self.smtp = smtp
        self.policy = policy
        self.clock = clock
        self.counters = counters

    async def deliver(self, namespace: str, tenant: str, notifications: Sequence[Notification]) -> datetime | None:
        """Send what is due; return when to try again (a failed mail's retry), if ever."""
        if self.smtp is None or not notifications:
            return None
        body = await self.client.get_configmap(namespace, ledger_name(tenant))
        ledger = parse_ledger(body)
        for notification in to_send(notifications, ledger, self.clock()):
            previous = ledger.get(notification.key)
            sending = LedgerEntry(
                notification.key, "sending", self.clock(), attempts=(previous.attempts if previous else 0) + 1
            )
            # Recorded before the SMTP server sees the mail: a crash from here on never resends it.
            body = await self._record(namespace, tenant, body, sending)
            try:
                await send(self.smtp, render(notification))
            except PartialDelivery as error:  # some got it: a retry would mail them twice
                self.counters.inc("mails_sent_total", template=notification.template)
                logger.warning("mail %s only partly delivered: %s", notification.key, error)
                entry = LedgerEntry(notification.key, "sent", self.clock(), sending.attempts, str(error)[:500])
            except MailError as error:
                self.counters.inc("mails_failed_total", template=notification.template)
                logger.warning("mail %s to %s failed: %s", notification.key, ", ".join(notification.to), error)
                entry = failed(
                    previous,
                    notification.key,
                    str(error),
                    self.clock(),
                    self.policy.retry_initial,
                    self.policy.retry_max,
                )
            else:
                self.counters.inc("mails_sent_total", template=notification.template)
                entry = LedgerEntry(notification.key, "sent", self.clock(), attempts=sending.attempts)
            body = await self._record(namespace, tenant, body, entry)
            ledger[notification.key] = entry
        return next_retry(ledger, [n.key for n in notifications])

    async def _record(self, namespace: str, tenant: str, body: Body | None, entry: LedgerEntry) -> Body:
        slot = {ledger_slot(entry.key): _entry_json(entry)}
        if body is None:
            return await self.client.create_configmap(
                namespace,
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {
                        "name": ledger_name(tenant),
                        "labels": {
                            MANAGED_BY: MANAGER,
                            f"{GROUP}/role": "mail-ledger",
                            TENANT_LABEL: label_value(tenant),
                        },
                    },
                    "data": slot,
                },
            )
        # Conditional on the version read: a concurrent writer makes this fail, never lose an entry.
        patch = {"metadata": {"resourceVersion": body["metadata"]["resourceVersion"]}, "data": slot}
        return await self.client.patch_configmap(namespace, ledger_name(tenant), patch)
