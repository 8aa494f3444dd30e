"""Contract periods (seed 004): the trial, then billing periods of a month, a quarter or a year,
reckoned in calendar days of the site's business time zone.

Periods are anchored on the day of the month the first period starts on and never drift: a
contract starting on 31 January has periods starting 28 (or 29) February, 31 March, 30 April,
31 May ... (the anchor day, or the month's last day when the month is shorter). Every boundary is
local midnight in the business time zone (so a Swiss site's month starts at 00:00 Europe/Zurich,
23:00 UTC the day before in winter), returned as UTC instants.

The trial covers ``trial_days`` whole local days from the day the contract starts; the first
period starts when the trial ends (or, without a trial, at the start of that day). Pure: the
caller passes the time zone object (loading one reads the tz database) and ``now``.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal

Interval = Literal["monthly", "quarterly", "yearly"]
MONTHS: dict[Interval, int] = {"monthly": 1, "quarterly": 3, "yearly": 12}


@dataclass(frozen=True)
class Period:
    """A billing period, ``start`` inclusive and ``end`` exclusive (UTC instants), and which one
    it is (0: the first after the trial)."""

    index: int
    start: datetime
    end: datetime

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end


def add_months(anchor: date, months: int) -> date:
    """``anchor`` moved by ``months`` calendar months, on its day or the month's last day."""
    year, month0 = divmod(anchor.month - 1 + months, 12)
    year += anchor.year
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(anchor.day, last))


def local_midnight(day: date, zone: tzinfo) -> datetime:
    """The UTC instant local midnight starts ``day`` in ``zone``."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def local_day(at: datetime, zone: tzinfo) -> date:
    """The calendar day ``at`` falls on in ``zone``."""
    return at.astimezone(zone).date()


def first_period_day(started: datetime, trial_days: int, zone: tzinfo) -> date:
    """The local day the first billing period starts: after the trial's whole days."""
    return local_day(started, zone) + timedelta(days=trial_days)


def trial_end(started: datetime, trial_days: int, zone: tzinfo) -> datetime | None:
    """When the trial ends (None without one)."""
    return local_midnight(first_period_day(started, trial_days, zone), zone) if trial_days > 0 else None


def period(started: datetime, trial_days: int, interval: Interval, zone: tzinfo, index: int) -> Period:
    """The ``index``-th billing period of a contract that started at ``started``."""
    if index < 0:
        raise ValueError(f"period index must be at least 0, not {index}")
    anchor = first_period_day(started, trial_days, zone)
    step = MONTHS[interval]
    return Period(
        index,
        local_midnight(add_months(anchor, index * step), zone),
        local_midnight(add_months(anchor, (index + 1) * step), zone),
    )


def period_at(started: datetime, trial_days: int, interval: Interval, zone: tzinfo, at: datetime) -> Period | None:
    """The billing period ``at`` falls in; None while in the trial (or before the start)."""
    first = period(started, trial_days, interval, zone, 0)
    if at < first.start:
        return None
    # A first guess from the months elapsed, then a step either way: month lengths vary.
    elapsed = local_day(at, zone)
    anchor = local_day(first.start, zone)
    months = (elapsed.year - anchor.year) * 12 + (elapsed.month - anchor.month)
    index = max(0, months // MONTHS[interval])
    candidate = period(started, trial_days, interval, zone, index)
    while at < candidate.start:
        candidate = period(started, trial_days, interval, zone, candidate.index - 1)
    while at >= candidate.end:
        candidate = period(started, trial_days, interval, zone, candidate.index + 1)
    return candidate


def billable_days(start: datetime, end: datetime, zone: tzinfo) -> int:
    """Whole local days from ``start``'s day up to (not including) ``end``'s day: what a service
    added mid-period is prorated by."""
    return max(0, (local_day(end, zone) - local_day(start, zone)).days)
