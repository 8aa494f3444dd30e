"""Billing dates of a service: when billing starts, and the end-billing date of a cancellation."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class EndBillingDate:
    date: dt.date
    clamped_from: dt.date | None = None
    """The requested date when it was earlier than allowed and moved to the earliest date."""


def end_billing_date(requested: date | None, cancelled_on: date) -> EndBillingDate:
    """Given, by default the end of the cancellation's month, and never before the next day."""
    earliest = cancelled_on + timedelta(days=1)
    if requested is None:
        last_day = calendar.monthrange(cancelled_on.year, cancelled_on.month)[1]
        return EndBillingDate(max(date(cancelled_on.year, cancelled_on.month, last_day), earliest))
    if requested < earliest:
        return EndBillingDate(earliest, clamped_from=requested)
    return EndBillingDate(requested)


def billed_until(end_billing: date, usage_ended_on: date | None) -> date:
    """Usage is billed until the end-billing date or while usage continues, whichever is later."""
    return end_billing if usage_ended_on is None else max(end_billing, usage_ended_on)


def discount_label(percent: int, reason: str | None) -> str | None:
    if percent <= 0:
        return None
    return f"{percent} ({reason})" if reason else str(percent)
