"""Contract periods: calendar-correct month, quarter and year ends in the business time zone,
anchored so they never drift, contiguous (no day billed twice), and the trial before them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seppmail_lifecycle.core.periods import (
    Interval,
    add_months,
    billable_days,
    local_midnight,
    period,
    period_at,
    trial_end,
)

ZURICH = ZoneInfo("Europe/Zurich")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("anchor", "months", "moved"),
    [
        (date(2027, 1, 31), 1, date(2027, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
        (date(2027, 1, 31), 2, date(2027, 3, 31)),  # the anchor day comes back: no drift
        (date(2027, 1, 31), 3, date(2027, 4, 30)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),  # quarterly
        (date(2026, 11, 30), 6, date(2027, 5, 30)),
        (date(2028, 2, 29), 12, date(2029, 2, 28)),  # yearly from a leap day
        (date(2028, 2, 29), 48, date(2032, 2, 29)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),  # over the year end
    ],
)
def test_months_are_added_on_the_anchor_day_or_the_months_last(anchor: date, months: int, moved: date) -> None:
    assert add_months(anchor, months) == moved


@pytest.mark.parametrize(
    ("started", "trial_days", "interval", "index", "start", "end"),
    [
        (utc(2027, 1, 31, 15), 0, "monthly", 0, utc(2027, 1, 31), utc(2027, 2, 28)),
        (utc(2027, 1, 31, 15), 0, "monthly", 1, utc(2027, 2, 28), utc(2027, 3, 31)),
        (utc(2027, 1, 31, 15), 0, "monthly", 2, utc(2027, 3, 31), utc(2027, 4, 30)),
        (utc(2026, 12, 3, 9), 14, "monthly", 0, utc(2026, 12, 17), utc(2027, 1, 17)),  # after the trial
        (utc(2026, 11, 30), 0, "quarterly", 1, utc(2027, 2, 28), utc(2027, 5, 30)),
        (utc(2028, 2, 29), 0, "yearly", 0, utc(2028, 2, 29), utc(2029, 2, 28)),
        (utc(2028, 2, 29), 0, "yearly", 1, utc(2029, 2, 28), utc(2030, 2, 28)),
    ],
)
def test_periods_in_utc(
    started: datetime, trial_days: int, interval: Interval, index: int, start: datetime, end: datetime
) -> None:
    found = period(started, trial_days, interval, UTC, index)
    assert (found.start, found.end) == (start, end)


def test_a_swiss_site_reckons_in_local_days_across_daylight_saving() -> None:
    # Started 00:30 on 1 March in Zurich (23:30 UTC on 28 February): it belongs to March.
    started = utc(2027, 2, 28, 23, 30)
    first = period(started, 0, "monthly", ZURICH, 0)
    assert (first.start, first.end) == (utc(2027, 2, 28, 23), utc(2027, 3, 31, 22))  # CET, then CEST
    assert period(started, 0, "monthly", ZURICH, 7).end == utc(2027, 10, 31, 23)  # back to CET
    assert local_midnight(date(2027, 3, 1), ZURICH) == utc(2027, 2, 28, 23)


def test_the_trial_covers_whole_local_days() -> None:
    assert trial_end(utc(2026, 12, 3, 9), 14, UTC) == utc(2026, 12, 17)
    assert trial_end(utc(2026, 12, 3, 9), 0, UTC) is None
    assert period_at(utc(2026, 12, 3, 9), 14, "monthly", UTC, utc(2026, 12, 16, 23, 59)) is None  # in the trial
    found = period_at(utc(2026, 12, 3, 9), 14, "monthly", UTC, utc(2026, 12, 17))
    assert found is not None
    assert found.index == 0


def test_proration_counts_whole_local_days() -> None:
    assert billable_days(utc(2027, 3, 10, 17), utc(2027, 3, 31), UTC) == 21
    assert billable_days(utc(2027, 3, 31), utc(2027, 3, 31), UTC) == 0
    # 10 March 00:30 to 31 March 00:00 in Zurich (CEST since 28 March).
    assert billable_days(utc(2027, 3, 9, 23, 30), utc(2027, 3, 30, 22), ZURICH) == 21


def test_a_negative_index_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 0"):
        period(utc(2027, 1, 1), 0, "monthly", UTC, -1)


ZONES = st.sampled_from([UTC, ZURICH, ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")])
STARTS = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC))
INTERVALS = st.sampled_from(["monthly", "quarterly", "yearly"])


@given(STARTS, st.integers(0, 90), INTERVALS, ZONES, st.integers(0, 60))
def test_periods_are_contiguous_so_no_day_is_billed_twice_or_left_out(
    started: datetime, trial_days: int, interval: Interval, zone: ZoneInfo, index: int
) -> None:
    this, following = (period(started, trial_days, interval, zone, i) for i in (index, index + 1))
    assert this.start < this.end == following.start
    # Every boundary is a local midnight (these zones change their clocks at other hours).
    for boundary in (this.start, this.end):
        local = boundary.astimezone(zone)
        assert (local.hour, local.minute, local.second) == (0, 0, 0)


@given(STARTS, st.integers(0, 90), INTERVALS, ZONES, st.integers(0, 20 * 366 * 24))
def test_every_instant_after_the_trial_is_in_exactly_the_period_found(
    started: datetime, trial_days: int, interval: Interval, zone: ZoneInfo, hours: int
) -> None:
    at = started + timedelta(hours=hours)
    found = period_at(started, trial_days, interval, zone, at)
    first = period(started, trial_days, interval, zone, 0)
    if found is None:
        assert at < first.start
        return
    assert found.covers(at)
    assert found == period(started, trial_days, interval, zone, found.index)


@given(STARTS, INTERVALS, st.integers(0, 100))
def test_the_anchor_day_never_drifts(started: datetime, interval: Interval, index: int) -> None:
    anchor = started.date()
    start = period(started, 0, interval, UTC, index).start.date()
    last = (add_months(start.replace(day=1), 1) - timedelta(days=1)).day
    assert start.day == min(anchor.day, last)
