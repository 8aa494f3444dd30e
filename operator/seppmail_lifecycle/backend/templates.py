"""Notification mail templates: one function per notification, each returning (subject, text, html).

Plain text and HTML say the same thing. The HTML escapes every interpolated value (``html.escape``),
so nothing a partner writes into a resource can inject markup into a mail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

SIGNATURE = "seppmail.cloud"

_HTML_HEAD = (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title></head>\n'
    '<body style="font-family: Arial, Helvetica, sans-serif; font-size: 14px; color: #222;">\n'
)
_HTML_FOOT = "<p>Kind regards,<br>{signature}</p>\n</body></html>\n"
_CELL = 'style="padding: 4px 12px 4px 0; text-align: left; vertical-align: top;"'


def _html_page(title: str, body: str) -> str:
    return _HTML_HEAD.format(title=escape(title)) + body + _HTML_FOOT.format(signature=escape(SIGNATURE))


def _html_rows(rows: Sequence[tuple[str, str]]) -> str:
    cells = "".join(
        f"<tr><th {_CELL}>{escape(label)}</th><td {_CELL}><code>{escape(value)}</code></td></tr>\n"
        for label, value in rows
    )
    return f'<table style="border-collapse: collapse;">\n{cells}</table>\n'


@dataclass(frozen=True)
class DnsRecord:
    """A DNS record the partner must create; ``found`` is what DNS answers today (may be empty)."""

    record_type: str
    name: str
    expected: str
    found: str = ""

    @property
    def found_text(self) -> str:
        return self.found if self.found.strip() else "no record"


def dns_action(tenant_name: str, domain_name: str, records: Sequence[DnsRecord]) -> tuple[str, str, str]:
    """Ask the partner to create every DNS record the domain still misses, in one mail."""
    kinds = " and ".join(dict.fromkeys(r.record_type for r in records))
    plural = "s" if len(records) > 1 else ""
    subject = f"Action required: add the {kinds} record{plural} for {domain_name}"
    listed = "".join(
        f"  Type:  {r.record_type}\n  Name:  {r.name}\n  Value: {r.expected}\n  Found so far: {r.found_text}\n\n"
        for r in records
    )
    these = "these DNS records" if plural else "this DNS record"
    types = {r.record_type for r in records}
    # Mail is accepted for a name only once its owner proved it: MX switched earlier would bounce.
    order = (
        f"Create the TXT record first: seppmail.cloud accepts mail for {domain_name} from the moment it "
        "finds it, and the MX records can point to seppmail.cloud from then on."
        if {"TXT", "MX"} <= types
        else ""
    )
    text = (
        f"Hello,\n\n"
        f"To activate {domain_name} (tenant {tenant_name}) on seppmail.cloud, please create {these} "
        f"at the DNS provider of {domain_name}:\n\n"
        f"{listed}"
        + (f"{order}\n\n" if order else "")
        + f"We check the records regularly and continue automatically once they are in place.\n\n"
        f"Kind regards,\n{SIGNATURE}\n"
    )
    tables = "".join(
        _html_rows([("Type", r.record_type), ("Name", r.name), ("Value", r.expected), ("Found so far", r.found_text)])
        for r in records
    )
    body = (
        f"<p>Hello,</p>\n"
        f"<p>To activate <strong>{escape(domain_name)}</strong> (tenant {escape(tenant_name)}) on seppmail.cloud, "
        f"please create {these} at the DNS provider of {escape(domain_name)}:</p>\n"
        + tables
        + (f"<p>{escape(order)}</p>\n" if order else "")
        + "<p>We check the records regularly and continue automatically once they are in place.</p>\n"
    )
    return subject, text, _html_page(subject, body)


def domain_provisioned(tenant_name: str, domain_name: str, services: Sequence[str]) -> tuple[str, str, str]:
    """Tell the partner a domain is live, with the services now active on it."""
    subject = f"{domain_name} is live on seppmail.cloud"
    service_lines = "".join(f"  - {service}\n" for service in services) or "  (none)\n"
    text = (
        f"Hello,\n\n"
        f"{domain_name} (tenant {tenant_name}) is now live on seppmail.cloud.\n\n"
        f"Active services:\n{service_lines}\n"
        f"Kind regards,\n{SIGNATURE}\n"
    )
    items = "".join(f"<li>{escape(service)}</li>\n" for service in services) or "<li>(none)</li>\n"
    body = (
        f"<p>Hello,</p>\n"
        f"<p><strong>{escape(domain_name)}</strong> (tenant {escape(tenant_name)}) is now live on "
        f"seppmail.cloud.</p>\n"
        f"<p>Active services:</p>\n<ul>\n{items}</ul>\n"
    )
    return subject, text, _html_page(subject, body)


def _paragraphs(subject: str, paragraphs: Sequence[str]) -> tuple[str, str, str]:
    """A mail of plain paragraphs, the same in text and (escaped) HTML."""
    text = "Hello,\n\n" + "".join(f"{p}\n\n" for p in paragraphs) + f"Kind regards,\n{SIGNATURE}\n"
    body = "<p>Hello,</p>\n" + "".join(f"<p>{escape(p)}</p>\n" for p in paragraphs)
    return subject, text, _html_page(subject, body)


def license_reminder(tenant_name: str, license_type: str, expires_on: str, days_left: str) -> tuple[str, str, str]:
    """Before expiry, for licenses that do not renew themselves."""
    return _paragraphs(
        f"Your seppmail.cloud {license_type} license expires on {expires_on}",
        [
            f"The seppmail.cloud {license_type} license of {tenant_name} expires on {expires_on} "
            f"({days_left} day(s) left).",
            "Please renew it to avoid any interruption of the mail service.",
        ],
    )


def license_grace(tenant_name: str, expired_on: str, grace_ends_on: str, purge_on: str) -> tuple[str, str, str]:
    """At the start of the grace period: the service still runs, renew now."""
    return _paragraphs(
        f"Your seppmail.cloud license expired on {expired_on}: please renew",
        [
            f"The seppmail.cloud license of {tenant_name} expired on {expired_on}. The service keeps running "
            f"during the grace period until {grace_ends_on}.",
            f"Without a renewal, mail traffic and console access are blocked on {grace_ends_on}, and all "
            f"configuration and data are deleted for good on {purge_on}.",
        ],
    )


def license_mx_change(tenant_name: str, grace_ends_on: str) -> tuple[str, str, str]:
    """Two days before the grace period ends: move the MX records, or renew."""
    return _paragraphs(
        f"Action required: change your MX records before {grace_ends_on}",
        [
            f"The grace period of the seppmail.cloud license of {tenant_name} ends on {grace_ends_on}. From then "
            "on, seppmail.cloud blocks the mail traffic of its domains.",
            "Renew the license now, or point the MX records of the domains away from seppmail.cloud before that "
            "date so that no mail is lost.",
        ],
    )


def license_frozen(tenant_name: str, frozen_on: str, purge_on: str, purge_held: bool) -> tuple[str, str, str]:
    """At freeze: traffic and consoles are blocked; renewing still restores everything."""
    purge = (
        "The deletion of the configuration and data is on hold for now; renewing the license restores the service."
        if purge_held
        else f"Renewing the license restores the service. Otherwise all configuration and data are deleted for "
        f"good on {purge_on}; this cannot be undone."
    )
    return _paragraphs(
        f"seppmail.cloud: mail traffic of {tenant_name} is blocked",
        [
            f"The license of {tenant_name} was not renewed: since {frozen_on}, mail traffic and console access "
            "are blocked.",
            purge,
        ],
    )


def invoice_created(
    tenant_name: str,
    invoice: str,
    period: tuple[str, str],
    total: str,
    due_date: str,
    lines: Sequence[tuple[str, str, str]],
) -> tuple[str, str, str]:
    """A new invoice for a contract's period: what it bills, and when it is due."""
    subject = f"seppmail.cloud invoice {invoice}: {total}, due {due_date}"
    intro = (
        f"Invoice {invoice} for {tenant_name} covers {period[0]} to {period[1]}. The total of {total} is due by "
        f"{due_date}; paying it renews the services listed."
    )
    text = f"Hello,\n\n{intro}\n\n" + "".join(f"  {s}  {d}  {a}\n" for s, d, a in lines)
    text += f"\nKind regards,\n{SIGNATURE}\n"
    body = f"<p>Hello,</p>\n<p>{escape(intro)}</p>\n" + _html_rows([(f"{s}: {d}", a) for s, d, a in lines])
    return subject, text, _html_page(subject, body)


def payment_received(tenant_name: str, invoice: str, total: str, paid_on: str) -> tuple[str, str, str]:
    """The invoice is paid: its services are renewed."""
    return _paragraphs(
        f"seppmail.cloud: payment received for invoice {invoice}",
        [
            f"We received the payment of {total} for invoice {invoice} of {tenant_name} on {paid_on}. The "
            "services it lists are renewed for its period.",
        ],
    )


def service_expired(
    tenant_name: str, service: str, product: str, domain_name: str, expired_on: str, discontinue_on: str
) -> tuple[str, str, str]:
    """Not renewed: no longer accessible, still renewable until it is discontinued."""
    return _paragraphs(
        f"seppmail.cloud: {product} for {domain_name} has expired",
        [
            f"The {product} service {service} of {tenant_name} for {domain_name} was paid until {expired_on} and "
            "has not been renewed: it is no longer accessible.",
            f"Paying its open invoice renews it. Unless renewed, it is discontinued on {discontinue_on} and can "
            "then no longer be renewed.",
        ],
    )


def service_discontinued(
    tenant_name: str, service: str, product: str, domain_name: str, expired_on: str
) -> tuple[str, str, str]:
    """Expired too long: discontinued for good, and removed."""
    return _paragraphs(
        f"seppmail.cloud: {product} for {domain_name} is discontinued",
        [
            f"The {product} service {service} of {tenant_name} for {domain_name} expired on {expired_on} and was "
            "not renewed: it is discontinued and will be removed. It cannot be renewed; book it again if needed.",
        ],
    )
