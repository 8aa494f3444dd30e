"""Billing dates: the end-billing date of a cancellation, billed-until, and the discount label."""

from __future__ import annotations

from datetime import date

import pytest

from seppmail_lifecycle.core.billing import EndBillingDate, billed_until, discount_label, end_billing_date


@pytest.mark.parametrize(
    ("requested", "cancelled_on", "expected"),
    [
        # default: the end of the cancellation's month
        (None, date(2026, 11, 3), EndBillingDate(date(2026, 11, 30))),
        (None, date(2026, 11, 1), EndBillingDate(date(2026, 11, 30))),
        (None, date(2026, 2, 10), EndBillingDate(date(2026, 2, 28))),
        (None, date(2028, 2, 10), EndBillingDate(date(2028, 2, 29))),
        # ... but never before the next day
        (None, date(2026, 11, 30), EndBillingDate(date(2026, 12, 1))),
        (None, date(2026, 12, 31), EndBillingDate(date(2027, 1, 1))),
        # a given date is kept
        (date(2026, 12, 15), date(2026, 11, 3), EndBillingDate(date(2026, 12, 15))),
        (date(2026, 11, 4), date(2026, 11, 3), EndBillingDate(date(2026, 11, 4))),
        (date(2030, 1, 1), date(2026, 11, 3), EndBillingDate(date(2030, 1, 1))),
        # ... unless it is before the next day: moved there, remembering what was asked
        (date(2026, 11, 3), date(2026, 11, 3), EndBillingDate(date(2026, 11, 4), clamped_from=date(2026, 11, 3))),
        (date(2026, 10, 31), date(2026, 11, 3), EndBillingDate(date(2026, 11, 4), clamped_from=date(2026, 10, 31))),
        (date(2026, 12, 30), date(2026, 12, 31), EndBillingDate(date(2027, 1, 1), clamped_from=date(2026, 12, 30))),
    ],
    ids=[
        "default-mid-month",
        "default-first-of-month",
        "default-february",
        "default-leap-february",
        "default-last-day-of-month",
        "default-new-years-eve",
        "given-later",
        "given-next-day",
        "given-far-future",
        "given-same-day",
        "given-past",
        "given-past-across-the-year",
    ],
)
def test_end_billing_date(requested: date | None, cancelled_on: date, expected: EndBillingDate) -> None:
    assert end_billing_date(requested, cancelled_on) == expected


@pytest.mark.parametrize(
    ("end_billing", "usage_ended", "expected"),
    [
        (date(2026, 11, 30), None, date(2026, 11, 30)),
        (date(2026, 11, 30), date(2026, 12, 3), date(2026, 12, 3)),
        (date(2026, 11, 30), date(2026, 11, 30), date(2026, 11, 30)),
        (date(2027, 3, 31), date(2026, 12, 3), date(2027, 3, 31)),
    ],
    ids=["usage-continues", "usage-ended-later", "same-day", "usage-ended-earlier"],
)
def test_billed_until_the_later_of_both(end_billing: date, usage_ended: date | None, expected: date) -> None:
    assert billed_until(end_billing, usage_ended) == expected


@pytest.mark.parametrize(
    ("percent", "reason", "label"),
    [(0, None, None), (0, "nfr", None), (10, "nfr", "10 (nfr)"), (100, "test", "100 (test)"), (25, None, "25")],
)
def test_discount_label(percent: int, reason: str | None, label: str | None) -> None:
    assert discount_label(percent, reason) == label
