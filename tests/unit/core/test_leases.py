"""Leader election rounds as a table: create, renew, wait, take over (expired or released),
judged by the local observation time and the record's own duration, never by the holder's
clock; and the Lease spec written and read (MicroTime)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from seppmail_lifecycle.core.leases import (
    Acquire,
    Create,
    Decision,
    LeaseRecord,
    Renew,
    Wait,
    decide_round,
    from_spec,
    micro_time,
    observed_since,
    released,
    to_spec,
)

from .builders import T0

D = timedelta(seconds=15)
S = timedelta(seconds=1)
US = timedelta(microseconds=1)
HELD = LeaseRecord("other", D, T0 - 60 * S, T0, 3)
MINE = LeaseRecord("me", D, T0 - 60 * S, T0, 3)
SKEWED_PAST = LeaseRecord("other", D, T0 - timedelta(hours=1), T0 - timedelta(hours=1), 3)
"""Renewed "an hour ago" by the holder's clock: only our observation time counts."""
SKEWED_FUTURE = LeaseRecord("other", D, T0 + timedelta(hours=1), T0 + timedelta(hours=1), 3)
"""Renewed "in an hour" by the holder's clock: expires all the same once we saw it unchanged for D."""
SHORT = LeaseRecord("other", 5 * S, T0, T0, 3)
"""Held with a shorter duration than ours: the record's duration decides when it expires."""


def took_over(at: timedelta, previous: str | None, transitions: int = 4) -> Acquire:
    return Acquire(LeaseRecord("me", D, T0 + at, T0 + at, transitions), previous)


CASES: list[tuple[str, LeaseRecord | None, timedelta | None, timedelta, Decision]] = [
    # (id, the record read, when we first saw it (from T0; None: unknown), now (from T0), the decision)
    ("no-lease-create-it", None, None, 0 * S, Create(LeaseRecord("me", D, T0, T0, 0))),
    ("mine-renew-it-keeping-acquire-time", MINE, 0 * S, 2 * S, Renew(LeaseRecord("me", D, T0 - 60 * S, T0 + 2 * S, 3))),
    ("mine-renew-even-if-seen-long-ago", MINE, 0 * S, 10 * D, Renew(LeaseRecord("me", D, T0 - 60 * S, T0 + 10 * D, 3))),
    (
        "mine-renew-with-my-duration",
        LeaseRecord("me", 5 * S, T0, T0, 0),
        0 * S,
        S,
        Renew(LeaseRecord("me", D, T0, T0 + S, 0)),
    ),
    ("held-just-seen-wait", HELD, 0 * S, 0 * S, Wait("other", T0 + D)),
    ("held-wait-until-expiry", HELD, 0 * S, D - US, Wait("other", T0 + D)),
    ("held-expired-take-over", HELD, 0 * S, D, took_over(D, "other")),
    ("held-long-expired-take-over", HELD, 0 * S, 10 * D, took_over(10 * D, "other")),
    ("held-seen-later-counts-from-then", HELD, 10 * S, D + 9 * S, Wait("other", T0 + 10 * S + D)),
    ("held-unknown-observation-is-now", HELD, None, 10 * D, Wait("other", T0 + 11 * D)),
    ("skewed-past-renew-time-still-wait", SKEWED_PAST, 10 * S, 11 * S, Wait("other", T0 + 10 * S + D)),
    ("skewed-future-renew-time-still-expires", SKEWED_FUTURE, 0 * S, D, took_over(D, "other")),
    ("record-duration-decides-wait", SHORT, 0 * S, 5 * S - US, Wait("other", T0 + 5 * S)),
    ("record-duration-decides-take-over", SHORT, 0 * S, 5 * S, took_over(5 * S, "other")),
    ("zero-duration-take-over", LeaseRecord("other", 0 * S, T0, T0, 3), 0 * S, 0 * S, took_over(0 * S, "other")),
    ("released-take-at-once", released(HELD, T0), 0 * S, S / 10, took_over(S / 10, None)),
    ("empty-holder-take-at-once", LeaseRecord("", D, T0, T0, 7), 0 * S, 0 * S, took_over(0 * S, None, 8)),
    ("spec-without-holder-take-at-once", from_spec({}), 0 * S, 0 * S, took_over(0 * S, None, 1)),
]


@pytest.mark.parametrize(("record", "seen", "now", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decide_round(record: LeaseRecord | None, seen: timedelta | None, now: timedelta, expected: Decision) -> None:
    observed_at = T0 + seen if seen is not None else None
    assert decide_round(record, observed_at, "me", T0 + now, D) == expected


@pytest.mark.parametrize(
    ("previous", "previous_at", "current", "expected"),
    [
        (None, None, HELD, T0 + S),  # first read
        (HELD, T0, HELD, T0),  # unchanged: the lease's clock keeps running
        (HELD, T0, LeaseRecord("other", D, T0 - 60 * S, T0 + S, 3), T0 + S),  # renewed: restarts
        (HELD, T0, released(HELD, T0), T0 + S),  # released
        (HELD, T0, None, T0 + S),  # deleted
        (HELD, None, HELD, T0 + S),  # never observed
    ],
    ids=["first-read", "unchanged", "renewed", "released", "deleted", "no-previous-time"],
)
def test_observed_since(
    previous: LeaseRecord | None, previous_at: datetime | None, current: LeaseRecord | None, expected: datetime
) -> None:
    assert observed_since(previous, previous_at, current, T0 + S) == expected


def test_the_spec_is_written_with_microsecond_times() -> None:
    record = LeaseRecord("me", D, T0 + timedelta(microseconds=123456), T0 + S, 2)
    assert to_spec(record) == {
        "holderIdentity": "me",
        "leaseDurationSeconds": 15,
        "acquireTime": "2026-11-02T10:00:00.123456Z",
        "renewTime": "2026-11-02T10:00:01.000000Z",
        "leaseTransitions": 2,
    }


def test_times_in_another_zone_are_written_in_utc() -> None:
    assert micro_time(T0.astimezone(timezone(timedelta(hours=2)))) == "2026-11-02T10:00:00.000000Z"


@pytest.mark.parametrize(
    ("duration", "seconds"), [(D, 15), (2.4 * S, 2), (2.6 * S, 3), (S / 10, 1), (0 * S, 1)], ids=str
)
def test_the_duration_is_whole_seconds_at_least_one(duration: timedelta, seconds: int) -> None:
    assert to_spec(LeaseRecord("me", duration))["leaseDurationSeconds"] == seconds


@pytest.mark.parametrize(
    "renew_time",
    ["2026-11-02T10:00:01.000000Z", "2026-11-02T10:00:01Z", "2026-11-02T10:00:01+00:00", "2026-11-02T12:00:01+02:00"],
)
def test_the_spec_is_read_in_the_forms_the_api_sends(renew_time: str) -> None:
    record = from_spec({"holderIdentity": "me", "leaseDurationSeconds": 15, "renewTime": renew_time})
    assert record == LeaseRecord("me", D, None, T0 + S, 0)


def test_the_spec_round_trips() -> None:
    record = LeaseRecord("me", D, T0 + timedelta(microseconds=123456), T0 + S, 2)
    assert from_spec(to_spec(record)) == record


def test_a_released_lease_has_no_holder_and_keeps_its_transitions() -> None:
    spec = to_spec(released(MINE, T0 + S))
    assert spec["holderIdentity"] is None
    assert spec["leaseDurationSeconds"] == 1
    assert spec["renewTime"] == spec["acquireTime"] == "2026-11-02T10:00:01.000000Z"
    assert from_spec(spec) == LeaseRecord(None, S, T0 + S, T0 + S, 3)
