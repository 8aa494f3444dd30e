"""Notification mail templates: one function per notification, each returning (subject, text, html).

Plain text and HTML say the same thing. The HTML escapes every interpolated value (``html.escape``),
so nothing a partner writes into a resource can inject markup into a mail.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def dns_action(
    tenant_name: str,
    domain_name: str,
    record_type: str,
    record_name: str,
    expected: str,
    found: str,
) -> tuple[str, str, str]:
    """Ask the partner to create one DNS record; ``found`` is what DNS answers today (may be empty)."""
    subject = f"Action required: add the {record_type} record for {domain_name}"
    found_text = found if found.strip() else "no record"
    text = (
        f"Hello,\n\n"
        f"To activate {domain_name} (tenant {tenant_name}) on seppmail.cloud, please create this DNS record "
        f"at the DNS provider of {domain_name}:\n\n"
        f"  Type:  {record_type}\n"
        f"  Name:  {record_name}\n"
        f"  Value: {expected}\n\n"
        f"Found so far: {found_text}\n\n"
        f"We check the record regularly and continue automatically once it is in place.\n\n"
        f"Kind regards,\n{SIGNATURE}\n"
    )
    body = (
        f"<p>Hello,</p>\n"
        f"<p>To activate <strong>{escape(domain_name)}</strong> (tenant {escape(tenant_name)}) on seppmail.cloud, "
        f"please create this DNS record at the DNS provider of {escape(domain_name)}:</p>\n"
        + _html_rows([("Type", record_type), ("Name", record_name), ("Value", expected)])
        + f"<p>Found so far: <code>{escape(found_text)}</code></p>\n"
        "<p>We check the record regularly and continue automatically once it is in place.</p>\n"
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
