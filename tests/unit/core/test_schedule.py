"""Deadlines: the automatic deployment windows and the earliest next transition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from seppmail_lifecycle.api.common import NextTransition
from seppmail_lifecycle.api.policy import AutoDeployPolicy
from seppmail_lifecycle.core.schedule import earliest, next_deploy_window

DEFAULT = AutoDeployPolicy()
US = timedelta(microseconds=1)


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 11, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_the_default_policy_is_every_six_hours_from_two() -> None:
    assert DEFAULT.every == timedelta(hours=6)
    assert DEFAULT.offset == timedelta(hours=2)


@pytest.mark.parametrize(
    ("after", "window"),
    [
        (at(2, 0), at(2, 2)),
        (at(2, 1, 59, 59), at(2, 2)),
        (at(2, 2) - US, at(2, 2)),
        (at(2, 2), at(2, 8)),  # strictly after: a window is not after itself
        (at(2, 2) + US, at(2, 8)),
        (at(2, 7, 59, 59), at(2, 8)),
        (at(2, 8), at(2, 14)),
        (at(2, 10), at(2, 14)),
        (at(2, 14), at(2, 20)),
        (at(2, 19, 59, 59), at(2, 20)),
        (at(2, 20), at(3, 2)),
        (at(2, 23, 59, 59), at(3, 2)),
        (at(30, 21), at(1, 2, month=12)),
        (at(31, 20, month=12), at(1, 2, month=1, year=2027)),
        (datetime(1970, 1, 1, tzinfo=UTC), datetime(1970, 1, 1, 2, tzinfo=UTC)),
        (datetime(1969, 12, 31, 23, tzinfo=UTC), datetime(1970, 1, 1, 2, tzinfo=UTC)),
    ],
)
def test_default_windows_are_at_02_08_14_20_utc(after: datetime, window: datetime) -> None:
    assert next_deploy_window(after, DEFAULT) == window


def test_windows_are_in_utc_whatever_the_input_zone() -> None:
    zurich = timezone(timedelta(hours=1))
    # 02:30 in UTC+1 is 01:30 UTC: the next window is 02:00 UTC (03:00 in Zurich).
    window = next_deploy_window(datetime(2026, 11, 2, 2, 30, tzinfo=zurich), DEFAULT)
    assert window == at(2, 2)
    assert window.utcoffset() == timedelta(0)


def test_every_window_of_a_day() -> None:
    windows, t = [], at(2, 0)
    while (t := next_deploy_window(t, DEFAULT)) < at(3, 0):
        windows.append(t.hour)
    assert windows == [2, 8, 14, 20]


SECONDS = AutoDeployPolicy(every=timedelta(seconds=10), offset=timedelta(seconds=3))


@pytest.mark.parametrize(
    ("after", "window"),
    [
        (at(2, 10), at(2, 10, 0, 3)),
        (at(2, 10, 0, 3) - US, at(2, 10, 0, 3)),
        (at(2, 10, 0, 3), at(2, 10, 0, 13)),
        (at(2, 10, 0, 12), at(2, 10, 0, 13)),
        (at(2, 10, 0, 13), at(2, 10, 0, 23)),
        (at(2, 10, 0, 59), at(2, 10, 1, 3)),
    ],
)
def test_a_seconds_scale_policy(after: datetime, window: datetime) -> None:
    assert next_deploy_window(after, SECONDS) == window


@pytest.mark.parametrize(
    "policy",
    [
        AutoDeployPolicy(every=timedelta(hours=6), offset=timedelta(hours=2)),
        AutoDeployPolicy(every=timedelta(hours=1), offset=timedelta(0)),
        AutoDeployPolicy(every=timedelta(days=1), offset=timedelta(hours=23)),
        AutoDeployPolicy(every=timedelta(seconds=3), offset=timedelta(seconds=1)),
        AutoDeployPolicy(every=timedelta(milliseconds=500), offset=timedelta(0)),
    ],
    ids=["6h+2h", "1h", "1d+23h", "3s+1s", "500ms"],
)
def test_the_window_is_strictly_after_and_at_most_one_period_away(policy: AutoDeployPolicy) -> None:
    t = at(2, 9, 17, 31) + timedelta(microseconds=123456)
    for _ in range(200):
        window = next_deploy_window(t, policy)
        assert t < window <= t + policy.every
        assert next_deploy_window(window - US, policy) == window
        t = window


def test_a_sub_second_period_is_still_strictly_after() -> None:
    policy = AutoDeployPolicy(every=timedelta(milliseconds=100), offset=timedelta(0))
    after = at(2, 10) + timedelta(milliseconds=100)
    assert next_deploy_window(after, policy) == after + timedelta(milliseconds=100)


def _next(action: str, when: datetime) -> NextTransition:
    return NextTransition(action=action, at=when)


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        ([], None),
        ([None, None], None),
        ([_next("Deploy", at(2, 14))], _next("Deploy", at(2, 14))),
        ([None, _next("Deploy", at(2, 14)), _next("Deprovision", at(2, 8)), None], _next("Deprovision", at(2, 8))),
        (
            [_next("Deploy", at(3, 2)), _next("ReleaseFinalizer", at(2, 20)), _next("Deploy", at(2, 20, 0, 1))],
            _next("ReleaseFinalizer", at(2, 20)),
        ),
    ],
    ids=["nothing", "only-none", "one", "earliest-among-none", "earliest-of-three"],
)
def test_earliest(candidates: list[NextTransition | None], expected: NextTransition | None) -> None:
    assert earliest(candidates) == expected


def test_earliest_takes_any_iterable() -> None:
    assert earliest(iter([_next("A", at(2, 3)), _next("B", at(2, 1))])) == _next("B", at(2, 1))
