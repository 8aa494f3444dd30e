"""The license period (seed 003) as tables over time: License -> Grace -> Freeze -> Purged.

Each table runs one license through time the way the operator does (every decision starts from the
status the previous one wrote) and states, per instant, the period, the mails the state calls for,
the next scheduled transition and the transitions recorded. Every decision is checked to be
idempotent: deciding again from the decided status at the same instant changes nothing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

import pytest
from pydantic import ValidationError

from seppmail_lifecycle.api.common import LocalObjectRef
from seppmail_lifecycle.api.license import LicenseSpec, LicenseStatus, PurgeHold
from seppmail_lifecycle.api.policy import LicensePolicy, Policy
from seppmail_lifecycle.api.states import LicensePeriod
from seppmail_lifecycle.api.tenant import TenantNotifications
from seppmail_lifecycle.core.conditions import condition
from seppmail_lifecycle.core.driver import drive_sync, settle_license
from seppmail_lifecycle.core.licenses import (
    LicenseDecision,
    decide_license,
    grace_period,
    license_times,
    when,
)
from seppmail_lifecycle.core.model import License, Obj, Tenant

from .builders import POLICY, meta, tenant, with_spec

D = timedelta(days=1)
S = timedelta(seconds=1)
EXP = datetime(2027, 1, 1, tzinfo=UTC)
NEW = datetime(2028, 1, 1, tzinfo=UTC)
"""A renewal: one year later."""
UID = "uid-license-partner-a-acme-2027"
ACME = tenant()
HOLD = PurgeHold(reason="legal hold 2027-17")


def lic(
    type_: Literal["full", "trial"] = "full",
    *,
    auto_renew: bool = False,
    grace: int | None = None,
    expires: datetime = EXP,
    hold: PurgeHold | None = None,
    emails: tuple[str, ...] = (),
    status: LicenseStatus | None = None,
) -> License:
    spec = LicenseSpec(
        tenant_ref=LocalObjectRef(name="acme"),
        type=type_,
        expires_at=expires,
        auto_renew=auto_renew,
        grace_period_days=grace,
        purge_hold=hold,
        notification_emails=list(emails),
    )
    return Obj(meta("License", "acme-2027"), spec, status or LicenseStatus())


def decide(license: License, now: datetime, tenant: Tenant | None = ACME, policy: Policy = POLICY) -> LicenseDecision:
    """Decide, and check that deciding again from the decided status changes nothing."""
    read = license.status.model_dump()
    decided = decide_license(license, tenant, policy, now)
    assert license.status.model_dump() == read, "deciding changed the status it read"
    again = decide_license(replace(license, status=decided.decision.status), tenant, policy, now)
    assert again.decision.transitions == ()
    assert again.decision.status == decided.decision.status
    assert again.notifications == decided.notifications
    assert (again.purge_due, again.wake_at) == (decided.purge_due, decided.wake_at)
    return decided


def seen_frozen_status() -> LicenseStatus:
    """The status of the default license as the operator left it when its grace ended (day 30):
    seen frozen on time, so its purge is due on day 60 (a license first seen later is frozen first)."""
    return decide(lic(), EXP + 30 * D).decision.status


def then(license: License, decided: LicenseDecision, **status: Any) -> License:
    """The license with the decided status (plus what the shell writes, e.g. purged_at)."""
    return replace(license, status=decided.decision.status.model_copy(update=status))


def keys(decided: LicenseDecision) -> list[str]:
    return [n.key.removeprefix(f"License/{UID}/") for n in decided.notifications]


def moves(decided: LicenseDecision) -> list[str]:
    return [f"{t.from_}>{t.to}:{t.reason}" for t in decided.decision.transitions]


def cond(decided: LicenseDecision, type_: str) -> tuple[str, str]:
    found = condition(decided.decision.status.conditions, type_)
    assert found is not None
    return found.status, found.reason


# ------------------------------------------------------------------------------------------ tables

Row = tuple[timedelta, str, list[str], str | None, timedelta | None, bool, list[str]]
"""at (from EXP), period, mail keys, next action, next at (from EXP), purge due, transitions."""

FULL_GRACE_30: list[Row] = [
    (-31 * D, "License", [], "Remind", -30 * D, False, ["None>License:Licensed"]),
    (-30 * D, "License", ["reminder/2027-01-01T00:00:00+00:00/30d"], "Remind", -14 * D, False, []),
    (-14 * D - S, "License", ["reminder/2027-01-01T00:00:00+00:00/30d"], "Remind", -14 * D, False, []),
    (-14 * D + S, "License", ["reminder/2027-01-01T00:00:00+00:00/14d"], "Remind", -7 * D, False, []),
    (-7 * D, "License", ["reminder/2027-01-01T00:00:00+00:00/7d"], "Remind", -1 * D, False, []),
    (-1 * D, "License", ["reminder/2027-01-01T00:00:00+00:00/1d"], "EnterGrace", 0 * D, False, []),
    (-S, "License", ["reminder/2027-01-01T00:00:00+00:00/1d"], "EnterGrace", 0 * D, False, []),
    (0 * D, "Grace", ["grace/2027-01-01T00:00:00+00:00"], "MXChangeNotice", 28 * D, False,
     ["License>Grace:GraceStarted"]),
    (28 * D - S, "Grace", ["grace/2027-01-01T00:00:00+00:00"], "MXChangeNotice", 28 * D, False, []),
    (28 * D, "Grace", ["grace/2027-01-01T00:00:00+00:00", "mx-change/2027-01-01T00:00:00+00:00"], "Freeze", 30 * D,
     False, []),
    (30 * D, "Freeze", ["freeze/2027-01-01T00:00:00+00:00"], "Purge", 60 * D, False, ["Grace>Freeze:Frozen"]),
    (60 * D - S, "Freeze", ["freeze/2027-01-01T00:00:00+00:00"], "Purge", 60 * D, False, []),
    (60 * D, "Purged", [], None, None, True, ["Freeze>Purged:Purged"]),
    (61 * D, "Purged", [], None, None, True, []),
]  # fmt: skip

FULL_AUTO_RENEW_GRACE_UNSET: list[Row] = [
    (-31 * D, "License", [], "EnterGrace", 0 * D, False, ["None>License:Licensed"]),
    (-30 * D, "License", [], "EnterGrace", 0 * D, False, []),
    (-1 * D, "License", [], "EnterGrace", 0 * D, False, []),
    (0 * D, "Grace", ["grace/2027-01-01T00:00:00+00:00"], "MXChangeNotice", 28 * D, False,
     ["License>Grace:GraceStarted"]),
    (28 * D, "Grace", ["grace/2027-01-01T00:00:00+00:00", "mx-change/2027-01-01T00:00:00+00:00"], "Freeze", 30 * D,
     False, []),
    (30 * D, "Freeze", ["freeze/2027-01-01T00:00:00+00:00"], "Purge", 60 * D, False, ["Grace>Freeze:Frozen"]),
    (60 * D - S, "Freeze", ["freeze/2027-01-01T00:00:00+00:00"], "Purge", 60 * D, False, []),
    (60 * D, "Purged", [], None, None, True, ["Freeze>Purged:Purged"]),
]  # fmt: skip

TRIAL_GRACE_45: list[Row] = [
    (-31 * D, "License", [], "Remind", -7 * D, False, ["None>License:Licensed"]),
    (-7 * D - S, "License", [], "Remind", -7 * D, False, []),
    (-7 * D, "License", ["reminder/2027-01-01T00:00:00+00:00/7d"], "Remind", -3 * D, False, []),
    (-3 * D, "License", ["reminder/2027-01-01T00:00:00+00:00/3d"], "Remind", -1 * D, False, []),
    (-1 * D, "License", ["reminder/2027-01-01T00:00:00+00:00/1d"], "EnterGrace", 0 * D, False, []),
    (0 * D, "Grace", ["grace/2027-01-01T00:00:00+00:00"], "MXChangeNotice", 43 * D, False,
     ["License>Grace:GraceStarted"]),
    (28 * D, "Grace", ["grace/2027-01-01T00:00:00+00:00"], "MXChangeNotice", 43 * D, False, []),
    (43 * D, "Grace", ["grace/2027-01-01T00:00:00+00:00", "mx-change/2027-01-01T00:00:00+00:00"], "Freeze", 45 * D,
     False, []),
    (45 * D, "Freeze", ["freeze/2027-01-01T00:00:00+00:00"], "Purge", 75 * D, False, ["Grace>Freeze:Frozen"]),
    (75 * D - S, "Freeze", ["freeze/2027-01-01T00:00:00+00:00"], "Purge", 75 * D, False, []),
    (75 * D, "Purged", [], None, None, True, ["Freeze>Purged:Purged"]),
]  # fmt: skip

TRIAL_AUTO_RENEW_GRACE_0: list[Row] = [
    (-8 * D, "License", [], "EnterGrace", 0 * D, False, ["None>License:Licensed"]),
    (-7 * D, "License", [], "EnterGrace", 0 * D, False, []),
    (-1 * D, "License", [], "EnterGrace", 0 * D, False, []),
    (0 * D, "Grace", ["grace/2027-01-01T00:00:00+00:00"], "MXChangeNotice", 28 * D, False,
     ["License>Grace:GraceStarted"]),
    (29 * D, "Grace", ["grace/2027-01-01T00:00:00+00:00", "mx-change/2027-01-01T00:00:00+00:00"], "Freeze", 30 * D,
     False, []),
    (30 * D, "Freeze", ["freeze/2027-01-01T00:00:00+00:00"], "Purge", 60 * D, False, ["Grace>Freeze:Frozen"]),
    (60 * D, "Purged", [], None, None, True, ["Freeze>Purged:Purged"]),
]  # fmt: skip

FULL_GRACE_45_AFTER_DOWNTIME: list[Row] = [
    # The operator was down from -31d to -5d: only the latest reminder due goes out, not 30d and 14d.
    (-31 * D, "License", [], "Remind", -30 * D, False, ["None>License:Licensed"]),
    (-5 * D, "License", ["reminder/2027-01-01T00:00:00+00:00/7d"], "Remind", -1 * D, False, []),
    (44 * D, "Grace", ["grace/2027-01-01T00:00:00+00:00", "mx-change/2027-01-01T00:00:00+00:00"], "Freeze", 45 * D,
     False, ["License>Grace:GraceStarted"]),
    # Down again until past the freeze's end: it was never seen frozen, so it is frozen now and
    # purged a full freeze later, not at once.
    (100 * D, "Freeze", ["freeze/2027-01-01T00:00:00+00:00"], "Purge", 130 * D, False, ["Grace>Freeze:Frozen"]),
    (130 * D, "Purged", [], None, None, True, ["Freeze>Purged:Purged"]),
]  # fmt: skip

TABLES: dict[str, tuple[License, list[Row]]] = {
    "full-grace-30": (lic("full", grace=30), FULL_GRACE_30),
    "full-auto-renew-grace-unset": (lic("full", auto_renew=True), FULL_AUTO_RENEW_GRACE_UNSET),
    "trial-grace-45": (lic("trial", grace=45), TRIAL_GRACE_45),
    "trial-auto-renew-grace-0": (lic("trial", auto_renew=True, grace=0), TRIAL_AUTO_RENEW_GRACE_0),
    "full-grace-45-after-downtime": (lic("full", grace=45), FULL_GRACE_45_AFTER_DOWNTIME),
}


@pytest.mark.parametrize("name", TABLES)
def test_the_license_period_over_time(name: str) -> None:
    license, rows = TABLES[name]
    for at, period, mails, action, next_at, purge_due, transitions in rows:
        now = EXP + at
        decided = decide(license, now)
        status = decided.decision.status
        nxt = (status.next.action, status.next.at) if status.next else (None, None)
        expected_next = (action, EXP + next_at if next_at is not None else None)
        observed = (status.period, keys(decided), nxt, decided.wake_at, decided.purge_due, moves(decided))
        assert observed == (period, mails, expected_next, expected_next[1], purge_due, transitions), f"at {at}"
        # Level-based: a license seen for the first time at this instant reads the same, until the
        # grace period is over; from then on it is frozen first, its purge a full freeze later.
        fresh = decide(replace(license, status=LicenseStatus()), now)
        if period in ("License", "Grace"):
            assert (fresh.decision.status.period, keys(fresh), fresh.decision.status.next) == (
                period,
                mails,
                status.next,
            )
        else:
            assert fresh.decision.status.period == "Freeze"
            assert fresh.decision.status.purge_at == max(now + POLICY.license.freeze, status.purge_at or now)
            assert fresh.purge_due is False
        license = then(license, decided)


# ------------------------------------------------------------------------------------------ deadlines


@pytest.mark.parametrize(
    ("days", "grace"),
    [(None, 30 * D), (0, 30 * D), (29, 30 * D), (30, 30 * D), (31, 31 * D), (45, 45 * D)],
)
def test_the_grace_period_is_the_synced_one_if_above_30_days(days: int | None, grace: timedelta) -> None:
    assert grace_period(lic(grace=days).spec, POLICY.license) == grace


@pytest.mark.parametrize(
    ("source", "days", "grace"),
    [
        ("lmp", None, 45 * D),  # LMP syncs 45 days: without gracePeriodDays, that is its grace
        ("clp", None, 30 * D),
        ("manual", None, 30 * D),
        ("lmp", 31, 31 * D),  # a synced value wins over the source's default
        ("lmp", 10, 30 * D),  # ... but never below the minimum
    ],
)
def test_without_a_synced_grace_period_the_source_decides(source: str, days: int | None, grace: timedelta) -> None:
    spec = lic(grace=days).spec.model_copy(update={"source": source})
    assert grace_period(spec, POLICY.license) == grace


def test_the_deadlines_are_written_to_status() -> None:
    status = decide(lic(grace=45), EXP - 40 * D).decision.status
    assert (status.expires_at, status.grace_ends_at, status.freeze_ends_at, status.purge_at, status.purged_at) == (
        EXP,
        EXP + 45 * D,
        EXP + 75 * D,
        EXP + 75 * D,
        None,
    )
    assert status.observed_generation == 1


def test_an_expiry_in_another_zone_or_without_zone_is_the_same_instant() -> None:
    zurich = timezone(timedelta(hours=1))
    for expires in (datetime(2027, 1, 1, 1, 0, tzinfo=zurich), datetime(2027, 1, 1)):
        decided = decide(lic(expires=expires), EXP - 30 * D)
        assert keys(decided) == ["reminder/2027-01-01T00:00:00+00:00/30d"]
        assert decided.decision.status.expires_at == EXP


def test_the_policy_sets_every_duration() -> None:
    policy = Policy(
        license=LicensePolicy(
            minimum_grace=timedelta(minutes=10),
            freeze=timedelta(minutes=5),
            reminders_full=[timedelta(minutes=2), timedelta(seconds=30)],
            mx_change_notice=timedelta(minutes=1),
        )
    )
    times = license_times(lic().spec, policy.license)
    assert (times.grace_ends_at, times.mx_change_at, times.purge_at) == (
        EXP + timedelta(minutes=10),
        EXP + timedelta(minutes=9),
        EXP + timedelta(minutes=15),
    )
    decided = decide(lic(), EXP - timedelta(seconds=90), policy=policy)
    assert keys(decided) == ["reminder/2027-01-01T00:00:00+00:00/2m"]
    assert decided.wake_at == EXP - timedelta(seconds=30)


def test_an_mx_notice_longer_than_the_grace_period_goes_out_at_expiry() -> None:
    policy = Policy(license=LicensePolicy(mx_change_notice=40 * D))
    before = decide(lic(auto_renew=True), EXP - D, policy=policy)
    assert before.decision.status.next is not None
    assert (before.decision.status.next.action, before.wake_at) == ("EnterGrace", EXP)
    assert keys(decide(lic(auto_renew=True), EXP, policy=policy)) == [
        "grace/2027-01-01T00:00:00+00:00",
        "mx-change/2027-01-01T00:00:00+00:00",
    ]


def test_no_mx_notice_when_it_is_zero() -> None:
    policy = Policy(license=LicensePolicy(mx_change_notice=timedelta(0)))
    decided = decide(lic(auto_renew=True), EXP + 29 * D, policy=policy)
    assert keys(decided) == ["grace/2027-01-01T00:00:00+00:00"]
    assert decided.decision.status.next is not None
    assert decided.decision.status.next.action == "Freeze"


def test_a_reminder_of_zero_is_refused() -> None:
    with pytest.raises(ValidationError):
        LicensePolicy.model_validate({"remindersFull": ["30d", "0s"]})


# ------------------------------------------------------------------------------------------ status


CONDITIONS: list[tuple[timedelta, list[tuple[str, str, str]]]] = [
    (-31 * D, [
        ("Expiring", "False", "NotDue"), ("InGrace", "False", "License"), ("Frozen", "False", "License"),
        ("PurgeScheduled", "False", "License"), ("Purged", "False", "NotPurged"),
        ("Ready", "True", "Licensed"), ("Reconciling", "False", "Licensed"), ("Stalled", "False", "Licensed"),
    ]),
    (-30 * D, [
        ("Expiring", "True", "ReminderDue"), ("InGrace", "False", "License"), ("Frozen", "False", "License"),
        ("PurgeScheduled", "False", "License"), ("Purged", "False", "NotPurged"),
        ("Ready", "True", "Licensed"), ("Reconciling", "False", "Licensed"), ("Stalled", "False", "Licensed"),
    ]),
    (0 * D, [
        ("Expiring", "False", "Expired"), ("InGrace", "True", "GraceStarted"), ("Frozen", "False", "Grace"),
        ("PurgeScheduled", "False", "Grace"), ("Purged", "False", "NotPurged"),
        ("Ready", "True", "InGrace"), ("Reconciling", "False", "InGrace"), ("Stalled", "False", "InGrace"),
    ]),
    (30 * D, [
        ("Expiring", "False", "Expired"), ("InGrace", "False", "Freeze"), ("Frozen", "True", "Frozen"),
        ("PurgeScheduled", "True", "Frozen"), ("Purged", "False", "NotPurged"),
        ("Ready", "False", "Frozen"), ("Reconciling", "False", "Frozen"), ("Stalled", "False", "Frozen"),
    ]),
    (60 * D, [
        ("Expiring", "False", "Expired"), ("InGrace", "False", "Purged"), ("Frozen", "False", "Purged"),
        ("PurgeScheduled", "True", "PurgeDue"), ("Purged", "False", "PurgeDue"),
        ("Ready", "False", "Purged"), ("Reconciling", "True", "Purged"), ("Stalled", "False", "Purged"),
    ]),
]  # fmt: skip


@pytest.mark.parametrize(("at", "expected"), CONDITIONS, ids=["license", "reminded", "grace", "freeze", "purging"])
def test_the_conditions_of_each_period(at: timedelta, expected: list[tuple[str, str, str]]) -> None:
    purging = at >= 60 * D  # a purge follows a freeze the operator saw
    conditions = decide(lic(status=seen_frozen_status() if purging else None), EXP + at).decision.status.conditions
    assert [(c.type, c.status, c.reason) for c in conditions] == expected
    if not purging:
        assert {c.last_transition_time for c in conditions} == {EXP + at}
    assert {c.observed_generation for c in conditions} == {1}


def test_the_conditions_once_purged() -> None:
    purging = lic(status=decide(lic(status=seen_frozen_status()), EXP + 60 * D).decision.status)
    purged = decide(then(purging, decide(purging, EXP + 60 * D), purged_at=EXP + 60 * D + S), EXP + 61 * D)
    assert [(c.type, c.status, c.reason) for c in purged.decision.status.conditions] == [
        ("Expiring", "False", "Expired"),
        ("InGrace", "False", "Purged"),
        ("Frozen", "False", "Purged"),
        ("PurgeScheduled", "False", "Purged"),
        ("Purged", "True", "Purged"),
        ("Ready", "False", "Purged"),
        ("Reconciling", "False", "Purged"),
        ("Stalled", "False", "Purged"),
    ]
    assert (purged.purge_due, purged.decision.transitions, purged.wake_at) == (False, (), None)


def test_a_condition_keeps_its_transition_time_while_its_status_holds() -> None:
    license = lic()
    first = decide(license, EXP - 31 * D)
    grace = decide(then(license, first), EXP)
    ready = condition(grace.decision.status.conditions, "Ready")
    in_grace = condition(grace.decision.status.conditions, "InGrace")
    assert ready is not None
    assert in_grace is not None
    assert (ready.status, ready.reason, ready.last_transition_time) == ("True", "InGrace", EXP - 31 * D)
    assert (in_grace.status, in_grace.last_transition_time) == ("True", EXP)


NOTICES: list[tuple[str, LicenseStatus | None, timedelta, str | None]] = [
    ("license", None, -31 * D, None),
    ("reminded", None, -30 * D,
     "Your seppmail.cloud full license expires on 2027-01-01. Renew it to avoid interruption."),
    ("grace", None, 0 * D,
     "Your seppmail.cloud license expired on 2027-01-01. Renew it before 2027-01-31: from then on mail traffic and "
     "console access are blocked."),
    ("freeze", None, 30 * D,
     "Mail traffic and console access are blocked since 2027-01-31; all data will be purged on 2027-03-02 unless the "
     "license is renewed."),
    ("purging", None, 60 * D,
     "All configuration and data was deleted on 2027-03-02; this cannot be undone."),
    ("purged", LicenseStatus(period=LicensePeriod.PURGED, purged_at=datetime(2027, 3, 2, 0, 5, tzinfo=UTC)), 61 * D,
     "All configuration and data was deleted on 2027-03-02 00:05 UTC; this cannot be undone."),
]  # fmt: skip


@pytest.mark.parametrize(("status", "at", "notice"), [n[1:] for n in NOTICES], ids=[n[0] for n in NOTICES])
def test_the_console_notice_of_each_period(status: LicenseStatus | None, at: timedelta, notice: str | None) -> None:
    if status is None and at >= 60 * D:
        status = seen_frozen_status()  # a purge follows a freeze the operator saw
    assert decide(lic(status=status), EXP + at).decision.status.notice == notice


def test_an_auto_renewing_license_shows_no_notice_before_expiry() -> None:
    decided = decide(lic(auto_renew=True), EXP - D)
    assert decided.decision.status.notice is None
    assert cond(decided, "Expiring") == ("False", "AutoRenew")


def test_the_first_observation_is_recorded_in_history() -> None:
    history = decide(lic(), EXP + 31 * D).decision.status.history
    assert [(h.from_, h.to, h.reason, h.at) for h in history] == [(None, "Freeze", "Frozen", EXP + 31 * D)]


@pytest.mark.parametrize(
    ("seen", "then_at", "path"),
    [
        (-31 * D, 31 * D, ["License", "Grace", "Freeze"]),  # down from before expiry to after the grace
        (-31 * D, 10 * D, ["License", "Grace"]),
        (5 * D, 31 * D, ["Grace", "Freeze"]),
    ],
    ids=["license-to-freeze", "license-to-grace", "grace-to-freeze"],
)
def test_periods_passed_while_nothing_decided_are_each_in_history(
    seen: timedelta, then_at: timedelta, path: list[str]
) -> None:
    """A decision after an outage goes through every period it passed, in one write."""
    first = then(lic(), decide(lic(), EXP + seen))
    later = decide(first, EXP + then_at)
    entries = later.decision.status.history[len(first.status.history) :]
    assert [h.from_ for h in entries] == path[:-1]
    assert [h.to for h in entries] == path[1:]
    assert [t.to for t in later.decision.transitions] == path[1:]
    assert {h.at for h in entries} == {EXP + then_at}
    assert decide(then(first, later), EXP + then_at).decision.transitions == ()  # idempotent


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (datetime(2027, 1, 1, tzinfo=UTC), "2027-01-01"),
        (datetime(2027, 1, 1, 9, 30, tzinfo=UTC), "2027-01-01 09:30 UTC"),
        (datetime(2027, 1, 1, 9, 30, 5, tzinfo=UTC), "2027-01-01 09:30:05 UTC"),
        (datetime(2027, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=1))), "2027-01-01"),
    ],
)
def test_instants_read_as_dates_at_midnight_utc(at: datetime, expected: str) -> None:
    assert when(at) == expected


# ------------------------------------------------------------------------------------------ renewal


def _run_to(license: License, *instants: timedelta) -> License:
    """The license with the status the operator wrote deciding at each instant in turn."""
    for at in instants:
        license = then(license, decide(license, EXP + at))
    return license


RENEWALS: list[tuple[str, PurgeHold | None, list[timedelta], timedelta, str]] = [
    ("license", None, [-31 * D, -5 * D], -5 * D, "License>License:Renewed"),
    ("grace", None, [-31 * D, 0 * D], 5 * D, "Grace>License:Renewed"),
    ("grace-after-mx-notice", None, [-31 * D, 0 * D, 29 * D], 29 * D, "Grace>License:Renewed"),
    ("freeze", None, [-31 * D, 0 * D, 30 * D], 40 * D, "Freeze>License:Renewed"),
    ("freeze-held-past-its-end", HOLD, [-31 * D, 0 * D, 30 * D, 70 * D], 70 * D, "Freeze>License:Renewed"),
    ("purge-not-carried-out", None, [-31 * D, 30 * D, 60 * D], 60 * D, "Purged>License:Renewed"),
]


@pytest.mark.parametrize(("hold", "path", "at", "transition"), [r[1:] for r in RENEWALS], ids=[r[0] for r in RENEWALS])
def test_a_renewal_before_the_purge_returns_to_license(
    hold: PurgeHold | None, path: list[timedelta], at: timedelta, transition: str
) -> None:
    license = _run_to(lic(hold=hold), *path)
    renewed = with_spec(license, expires_at=NEW)
    decided = decide(renewed, EXP + at)
    status = decided.decision.status
    assert (status.period, moves(decided), keys(decided), decided.purge_due) == ("License", [transition], [], False)
    assert status.next is not None
    assert (status.next.action, status.next.at) == ("Remind", NEW - 30 * D)
    assert (status.expires_at, status.grace_ends_at, status.purge_at, status.notice) == (
        NEW,
        NEW + 30 * D,
        NEW + 60 * D,
        None,
    )
    assert cond(decided, "Ready") == ("True", "Licensed")
    assert cond(decided, "Frozen") == ("False", "License")
    # The reminders of the new expiry have new keys: the old ones' ledger entries do not stop them.
    reminded = decide(then(renewed, decided), NEW - 30 * D)
    assert keys(reminded) == ["reminder/2028-01-01T00:00:00+00:00/30d"]
    assert moves(reminded) == []


def test_a_renewal_within_the_grace_period_that_is_still_expired_stays_in_grace() -> None:
    license = _run_to(lic(), -31 * D, 10 * D)
    decided = decide(with_spec(license, expires_at=EXP + 5 * D), EXP + 10 * D)
    assert (decided.decision.status.period, moves(decided), keys(decided)) == (
        "Grace",
        ["Grace>Grace:Renewed"],
        ["grace/2027-01-06T00:00:00+00:00"],
    )


def test_a_renewal_of_a_frozen_license_that_is_still_expired_returns_to_grace() -> None:
    license = _run_to(lic(), -31 * D, 35 * D)
    decided = decide(with_spec(license, expires_at=EXP + 10 * D), EXP + 35 * D)
    assert (decided.decision.status.period, moves(decided)) == ("Grace", ["Freeze>Grace:Unfrozen"])


def test_a_renewal_after_the_purge_changes_nothing_and_says_so() -> None:
    purging = _run_to(lic(), -31 * D, 30 * D, 60 * D)
    purged = then(purging, decide(purging, EXP + 60 * D), purged_at=EXP + 60 * D + S)
    renewed = with_spec(purged, expires_at=NEW)
    decided = decide(renewed, EXP + 90 * D)
    status = decided.decision.status
    assert (status.period, moves(decided), keys(decided), decided.purge_due, decided.wake_at) == (
        "Purged",
        ["Purged>Purged:PurgedCannotRenew"],
        [],
        False,
        None,
    )
    assert decided.decision.transitions[0].warning
    # The deadlines stay those the purge was carried out on.
    assert (status.expires_at, status.purge_at, status.purged_at) == (EXP, EXP + 60 * D, EXP + 60 * D + S)
    assert cond(decided, "Stalled") == ("True", "PurgedCannotRenew")
    assert cond(decided, "Ready") == ("False", "Purged")
    assert cond(decided, "Purged") == ("True", "Purged")
    assert status.notice == (
        "The tenant's data was purged on 2027-03-02 00:00:01 UTC and nothing can be restored: the renewal to "
        "2028-01-01 has no effect. Order a new license and tenant."
    )
    # Also long after the new expiry: purged forever.
    later = decide(then(renewed, decided), NEW + 100 * D)
    assert (later.decision.status.period, moves(later), keys(later)) == ("Purged", [], [])


# ------------------------------------------------------------------------------------------ hold


def test_a_hold_blocks_the_purge_and_its_release_purges() -> None:
    frozen = _run_to(lic(), -31 * D, 30 * D)
    held = with_spec(frozen, purge_hold=HOLD)

    during_freeze = decide(held, EXP + 40 * D)
    assert (during_freeze.decision.status.period, during_freeze.decision.status.next, during_freeze.wake_at) == (
        "Freeze",
        None,
        None,
    )
    assert cond(during_freeze, "PurgeScheduled") == ("False", "PurgeHold")
    purge_scheduled = condition(during_freeze.decision.status.conditions, "PurgeScheduled")
    assert purge_scheduled is not None
    assert "legal hold 2027-17" in purge_scheduled.message

    at_freeze_end = decide(then(held, during_freeze), EXP + 60 * D)
    status = at_freeze_end.decision.status
    assert (status.period, at_freeze_end.purge_due, moves(at_freeze_end), keys(at_freeze_end)) == (
        "Freeze",
        False,
        [],
        ["freeze/2027-01-01T00:00:00+00:00"],
    )
    assert at_freeze_end.notifications[0].params["purge_held"] == "true"
    assert cond(at_freeze_end, "PurgeScheduled") == ("False", "PurgeHold")
    assert cond(at_freeze_end, "Ready") == ("False", "Frozen")
    assert status.notice == (
        "Mail traffic and console access are blocked since 2027-01-31; all data is kept while a purge hold is in "
        "place. Renew the license to unblock."
    )

    released = with_spec(then(held, at_freeze_end), purge_hold=None)
    purging = decide(released, EXP + 100 * D)
    assert (purging.decision.status.period, purging.purge_due, moves(purging)) == (
        "Purged",
        True,
        ["Freeze>Purged:Purged"],
    )

    done = decide(then(released, purging, purged_at=EXP + 100 * D + S), EXP + 100 * D + 2 * S)
    assert (done.decision.status.period, done.purge_due, moves(done)) == ("Purged", False, [])


def test_a_hold_set_before_the_purge_was_carried_out_stops_it() -> None:
    purging = _run_to(lic(), -31 * D, 30 * D, 60 * D)
    decided = decide(with_spec(purging, purge_hold=HOLD), EXP + 60 * D + S)
    assert (decided.decision.status.period, decided.purge_due, moves(decided)) == (
        "Freeze",
        False,
        ["Purged>Freeze:PurgeHeld"],
    )


def test_a_hold_set_after_the_purge_changes_nothing() -> None:
    purging = _run_to(lic(), -31 * D, 30 * D, 60 * D)
    purged = then(purging, decide(purging, EXP + 60 * D), purged_at=EXP + 60 * D + S)
    decided = decide(with_spec(purged, purge_hold=HOLD), EXP + 61 * D)
    assert (decided.decision.status.period, decided.purge_due, moves(decided)) == ("Purged", False, [])
    assert cond(decided, "Purged") == ("True", "Purged")


def test_a_hold_before_expiry_removes_the_purge_from_the_schedule() -> None:
    license = lic(auto_renew=True, hold=HOLD)
    decided = decide(license, EXP + 29 * D)
    assert decided.decision.status.next is not None
    assert (decided.decision.status.next.action, decided.wake_at) == ("Freeze", EXP + 30 * D)
    assert cond(decided, "PurgeScheduled") == ("False", "PurgeHold")
    frozen = decide(then(license, decided), EXP + 30 * D)
    assert (frozen.decision.status.next, frozen.wake_at) == (None, None)
    transition = frozen.decision.transitions[0]
    assert (transition.reason, transition.message) == (
        "Frozen",
        "The grace period ended on 2027-01-31: mail traffic and console access are blocked; the purge is on hold: "
        "legal hold 2027-17.",
    )


# ------------------------------------------------------------------------------------------ mails


def test_the_mails_go_to_the_tenant_and_the_synced_addresses_each_once() -> None:
    acme = with_spec(tenant(), notifications=TenantNotifications(recipients=["Ops@Acme.example"]))
    license = lic(emails=("billing@acme.example", "OPS@acme.example", "admin@acme.example"))
    decided = decide(license, EXP - 30 * D, tenant=acme)
    assert decided.notifications[0].to == ("admin@acme.example", "ops@acme.example", "billing@acme.example")


def test_without_a_tenant_the_mails_go_to_the_synced_addresses() -> None:
    decided = decide(lic(emails=("Billing@acme.example",)), EXP - 30 * D, tenant=None)
    assert decided.notifications[0].to == ("billing@acme.example",)
    assert decided.notifications[0].params["tenant_name"] == "acme"


def test_without_a_tenant_or_synced_addresses_no_mail_goes_out() -> None:
    decided = decide(lic(), EXP + D, tenant=None)
    assert decided.notifications == ()
    assert decided.decision.status.period == "Grace"


MAILS: list[tuple[timedelta, str, str, str]] = [
    (-5 * D - 12 * timedelta(hours=1), "license-reminder", f"License/{UID}/reminder/2027-01-01T00:00:00+00:00/7d", "6"),
    (0 * D, "license-grace", f"License/{UID}/grace/2027-01-01T00:00:00+00:00", "30"),
    (28 * D, "license-mx-change", f"License/{UID}/mx-change/2027-01-01T00:00:00+00:00", "2"),
    (30 * D, "license-frozen", f"License/{UID}/freeze/2027-01-01T00:00:00+00:00", "30"),
]  # fmt: skip


@pytest.mark.parametrize(("at", "template", "key", "days_left"), MAILS, ids=[m[1] for m in MAILS])
def test_each_mail_names_the_license_and_its_dates(at: timedelta, template: str, key: str, days_left: str) -> None:
    mail = decide(lic(), EXP + at).notifications[-1]
    assert (mail.template, mail.key, mail.to) == (template, key, ("admin@acme.example",))
    assert mail.params == {
        "tenant_name": "Acme AG",
        "license_name": "acme-2027",
        "license_type": "full",
        "expires_on": "2027-01-01",
        "grace_ends_on": "2027-01-31",
        "purge_on": "2027-03-02",
        "days_left": days_left,
        "purge_held": "false",
    }


def test_the_mails_of_an_auto_renewing_license_start_at_grace() -> None:
    license = lic(auto_renew=True)
    assert [decide(license, EXP + at).notifications for at in (-30 * D, -7 * D, -D)] == [(), (), ()]
    assert [n.template for n in decide(license, EXP + 28 * D).notifications] == ["license-grace", "license-mx-change"]


def test_the_purge_can_be_recorded_on_the_status_read_before_it() -> None:
    """The shell may add purgedAt to the status it read (not the decided one) and decide again."""
    frozen = _run_to(lic(), -31 * D, 30 * D)
    assert decide(frozen, EXP + 60 * D).purge_due
    purged = decide(replace(frozen, status=frozen.status.model_copy(update={"purged_at": EXP + 60 * D})), EXP + 60 * D)
    status = purged.decision.status
    assert (status.period, purged.purge_due, moves(purged)) == ("Purged", False, ["Freeze>Purged:Purged"])
    assert (status.expires_at, status.purge_at, status.purged_at) == (EXP, EXP + 60 * D, EXP + 60 * D)
    assert cond(purged, "Stalled") == ("False", "Purged")


def test_a_renewal_too_late_to_stop_the_purge_is_not_mistaken_for_one_after_it() -> None:
    """The spec moved to a later expiry that is still past its freeze: purged on the new deadlines."""
    frozen = _run_to(lic(), -31 * D, 30 * D)
    moved = with_spec(frozen, expires_at=EXP + 10 * D)
    assert decide(moved, EXP + 80 * D).purge_due
    purged = decide(replace(moved, status=moved.status.model_copy(update={"purged_at": EXP + 80 * D})), EXP + 80 * D)
    assert (purged.decision.status.expires_at, cond(purged, "Stalled")) == (EXP + 10 * D, ("False", "Purged"))


# -------------------------------------------------------------------------- another license keeps the tenant


def _settled(license: License, others: list[License], now: datetime) -> tuple[LicenseDecision, list[object]]:
    """``settle_license`` as the operator drives it, with the effects it asked for."""
    effects: list[object] = []
    decided = drive_sync(settle_license(license, ACME, others, POLICY, now), effects.append)
    return decided, effects


def _other(period: LicensePeriod, purged: bool = False) -> License:
    status = LicenseStatus(period=period, purged_at=EXP if purged else None)
    return replace(lic(status=status), meta=meta("License", "acme-2028"))


@pytest.mark.parametrize("period", [LicensePeriod.LICENSE, LicensePeriod.GRACE, LicensePeriod.FREEZE])
def test_a_license_at_its_purge_while_another_keeps_the_tenant_ends_and_purges_nothing(
    period: LicensePeriod,
) -> None:
    frozen = lic(status=decide(lic(), EXP + 30 * D).decision.status)  # seen frozen when its grace ended
    decided, effects = _settled(frozen, [_other(period)], EXP + 60 * D)
    assert effects == []  # nothing purged
    status = decided.decision.status
    assert (status.period, status.purged_at, status.next, status.notice) == ("Purged", None, None, None)
    assert cond(decided, "Purged") == ("False", "KeptByLicense")
    assert cond(decided, "PurgeScheduled") == ("False", "KeptByLicense")
    assert cond(decided, "Reconciling") == ("False", "KeptByLicense")  # settled: nothing is under way
    ready = condition(status.conditions, "Ready")
    assert ready is not None
    assert "nothing was purged: license 'acme-2028' keeps the tenant's data" in ready.message
    assert moves(decided) == ["Freeze>Purged:Ended"]
    assert not decided.purge_due
    again, effects = _settled(then(frozen, decided), [_other(period)], EXP + 61 * D)
    assert (effects, again.decision.transitions, again.decision.status) == ([], (), status)


def test_once_the_keeping_license_reached_its_purge_too_the_tenant_is_purged() -> None:
    frozen = lic(status=decide(lic(), EXP + 30 * D).decision.status)  # seen frozen when its grace ended
    kept, _ = _settled(frozen, [_other(LicensePeriod.LICENSE)], EXP + 60 * D)
    now = EXP + 90 * D
    purged, effects = _settled(then(frozen, kept), [_other(LicensePeriod.PURGED)], now)
    assert [type(e).__name__ for e in effects] == ["PurgeTenant"]
    assert purged.decision.status.purged_at == now
    assert cond(purged, "Purged") == ("True", "Purged")
    assert moves(purged) == ["Purged>Purged:Purged"]
    again, effects = _settled(then(frozen, purged), [_other(LicensePeriod.PURGED, purged=True)], now + S)
    assert (effects, again.decision.transitions) == ([], ())


# -------------------------------------------------------------------------------- purge safety


@pytest.mark.parametrize("expires_at", ["0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "2200-01-01T00:00:00Z"])
def test_a_sentinel_expiry_is_not_a_license(expires_at: str) -> None:
    """A zero time or the epoch (what an empty field of a sync becomes) is refused: the object is
    reported invalid and never decided (the API server refuses it too: the CRD's pattern)."""
    with pytest.raises(ValidationError, match="not a plausible time"):
        LicenseSpec.model_validate({"tenantRef": {"name": "acme"}, "type": "full", "expiresAt": expires_at})


@pytest.mark.parametrize(
    "expires_at",
    [
        pytest.param(datetime(2000, 1, 1, tzinfo=UTC), id="year-2000"),
        pytest.param(EXP - 400 * D, id="a-year-long-past"),
        pytest.param(EXP - 61 * D, id="just-past-its-purge"),
    ],
)
def test_a_license_first_seen_past_its_freeze_is_frozen_first_never_purged_at_once(expires_at: datetime) -> None:
    """One implausible value (a typo, a stale sync) must never purge a tenant: the purge follows a
    full freeze the operator saw, with its frozen mail, whatever the dates say."""
    now = EXP + 5 * D
    fresh = lic(status=None)
    fresh = replace(fresh, spec=fresh.spec.model_copy(update={"expires_at": expires_at}))
    first = decide(fresh, now)
    status = first.decision.status
    assert (status.period, first.purge_due, status.frozen_since) == ("Freeze", False, now)
    assert status.purge_at == now + POLICY.license.freeze
    assert any(k.startswith("freeze/") for k in keys(first))  # the frozen mail says so
    assert moves(first) == ["None>Freeze:Frozen"]
    seen = then(fresh, first)
    assert decide(seen, now + POLICY.license.freeze - S).decision.status.period == "Freeze"
    due = decide(seen, now + POLICY.license.freeze)
    assert (due.decision.status.period, due.purge_due) == ("Purged", True)


def test_after_a_restart_a_freeze_seen_before_is_purged_on_time() -> None:
    """The catch-up after downtime: the freeze was seen on time, so the overdue purge goes ahead."""
    decided = decide(lic(status=seen_frozen_status()), EXP + 100 * D)
    assert (decided.decision.status.period, decided.purge_due) == ("Purged", True)
    assert decided.decision.status.frozen_since == EXP + 30 * D
