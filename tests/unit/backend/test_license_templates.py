"""License mails: every template renders from a notification's params, escapes HTML, and says
what the partner must know (dates, what is blocked, whether the purge is held)."""

from __future__ import annotations

from typing import get_args

import pytest

from seppmail_lifecycle.core.notifications import Notification, Template
from seppmail_lifecycle.runtime.mailer import render

PARAMS = {
    "tenant_name": "<Acme & Co>",
    "license_name": "acme-full",
    "license_type": "full",
    "expires_on": "2027-06-30",
    "grace_ends_on": "2027-07-30",
    "purge_on": "2027-08-29",
    "days_left": "7",
    "purge_held": "false",
    "domain_name": "acme.ch",
    "records": ("TXT\t_v.acme.ch\tv=1\t", "MX\tacme.ch\tmx1.seppmail.cloud\tmx.old.example"),
    "services": ("base", "sign-only"),
    "invoice": "acme-20270101-r1",
    "period_start": "2027-01-01",
    "period_end": "2027-01-31",
    "due_date": "2026-12-31",
    "total": "1234.50",
    "currency": "CHF",
    "lines": ("acme-base\tseppmail.cloud <base>\t1000.00", "acme-sign\tSign: 22 of 31 days\t234.50"),
    "paid_on": "2026-12-20",
    "service": "acme-base",
    "product": "base",
    "expired_on": "2027-01-01",
    "discontinue_on": "2027-02-01",
}


@pytest.mark.parametrize("template", get_args(Template))
def test_every_template_renders_and_escapes(template: str) -> None:
    mail = render(Notification(f"k/{template}", template, ("a@b.example",), PARAMS))  # type: ignore[arg-type]
    assert mail.subject
    assert "<Acme & Co>" not in mail.html
    assert "seppmail.cloud" in mail.text


@pytest.mark.parametrize(
    ("template", "fragments"),
    [
        ("license-reminder", ["expires on 2027-06-30", "7 day(s) left"]),
        ("license-grace", ["expired on 2027-06-30", "until 2027-07-30", "deleted for good on 2027-08-29"]),
        ("license-mx-change", ["ends on 2027-07-30", "MX records"]),
        ("license-frozen", ["since 2027-07-30", "blocked", "deleted for good on 2027-08-29"]),
    ],
)
def test_license_mails_say_the_dates(template: str, fragments: list[str]) -> None:
    mail = render(Notification("k", template, ("a@b.example",), PARAMS))  # type: ignore[arg-type]
    for fragment in fragments:
        assert fragment in mail.text


def test_a_held_purge_is_not_announced_with_a_date() -> None:
    held = render(Notification("k", "license-frozen", ("a@b.example",), {**PARAMS, "purge_held": "true"}))
    assert "on hold" in held.text
    assert "2027-08-29" not in held.text


@pytest.mark.parametrize(
    ("template", "fragments"),
    [
        (
            "invoice-created",
            [
                "acme-20270101-r1",
                "2027-01-01 to 2027-01-31",
                "1234.50 CHF",
                "due by 2026-12-31",
                "acme-sign  Sign: 22 of 31 days  234.50",
            ],
        ),
        ("payment-received", ["1234.50 CHF", "on 2026-12-20", "renewed"]),
        ("service-expired", ["paid until 2027-01-01", "no longer accessible", "discontinued on 2027-02-01"]),
        ("service-discontinued", ["expired on 2027-01-01", "cannot be renewed"]),
    ],
)
def test_billing_mails_say_what_and_when(template: str, fragments: list[str]) -> None:
    mail = render(Notification("k", template, ("a@b.example",), PARAMS))  # type: ignore[arg-type]
    for fragment in fragments:
        assert fragment in mail.text
