"""The license period of one License (seed 003): ``License -> Grace -> Freeze -> Purged``.

``decide_license(license, tenant, policy, now)`` is one table over time: the period follows from
``spec.expiresAt``, the grace period and the freeze period; reminders go out before expiry (none
for auto-renewing licenses), mails at grace start, before the grace period ends (change the MX
records) and at freeze; the purge is due at the end of the freeze unless a purge hold blocks it.

Purged is irreversible: once ``status.purgedAt`` is set (by the shell, after it purged the
tenant's backend objects) the period stays Purged and the deadlines in status stay those of the
purge, whatever ``spec.expiresAt`` says later; a renewal after the purge is reported (Stalled,
PurgedCannotRenew) and changes nothing else.

Notifications are level-based: the mails the state calls for now, each with an idempotency key;
the caller's ledger sends each key once. Pure: no I/O, no clock.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from seppmail_lifecycle.api.common import NextTransition
from seppmail_lifecycle.api.license import LicenseSpec, LicenseStatus, PurgeHold
from seppmail_lifecycle.api.policy import Audience, LicensePolicy, Policy, format_duration
from seppmail_lifecycle.api.states import LicensePeriod
from seppmail_lifecycle.core import conditions as c
from seppmail_lifecycle.core.conditions import Cond, Transition, append_history, merge_conditions
from seppmail_lifecycle.core.model import License, Partner, Tenant
from seppmail_lifecycle.core.notifications import Notification
from seppmail_lifecycle.core.orders import Decision
from seppmail_lifecycle.core.partners import addressed_to
from seppmail_lifecycle.core.schedule import earliest

LicenseTemplate = Literal["license-reminder", "license-grace", "license-mx-change", "license-frozen"]

EXPIRING = "Expiring"
IN_GRACE = "InGrace"
FROZEN = "Frozen"
PURGE_SCHEDULED = "PurgeScheduled"
PURGED = "Purged"
KEPT_BY_LICENSE = "KeptByLicense"

LICENSE = LicensePeriod.LICENSE
GRACE = LicensePeriod.GRACE
FREEZE = LicensePeriod.FREEZE
PURGED_PERIOD = LicensePeriod.PURGED

_RANK = {LICENSE: 0, GRACE: 1, FREEZE: 2, PURGED_PERIOD: 3}
_ORDER = list(_RANK)
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class LicenseTimes:
    """The deadlines of one license, as instants."""

    expires_at: datetime
    grace_ends_at: datetime
    freeze_ends_at: datetime
    mx_change_at: datetime
    """When the MX-change mail is due: ``graceEndsAt - mxChangeNotice``, not before expiry."""

    @property
    def purge_at(self) -> datetime:
        return self.freeze_ends_at


@dataclass(frozen=True)
class LicenseDecision:
    decision: Decision[LicenseStatus]
    """The new status and the transitions to record in history and post as events."""
    notifications: tuple[Notification, ...]
    """The mails the state calls for now (level-based; the ledger sends each key once)."""
    purge_due: bool
    """The period is Purged and ``status.purgedAt`` is not set: the shell purges the tenant's
    backend objects, then writes ``status.purgedAt``."""
    wake_at: datetime | None


def _utc(value: datetime) -> datetime:
    """An instant in UTC; a time without zone (the schema asks for RFC 3339) is read as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def when(value: datetime) -> str:
    """An instant for people: the date alone at midnight UTC, else date and time in UTC."""
    value = _utc(value)
    if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
        return value.date().isoformat()
    if value.second == 0 and value.microsecond == 0:
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def grace_period(spec: LicenseSpec, policy: LicensePolicy) -> timedelta:
    """The synced grace period (without one: its source's, CLP 30 or LMP 45 days) if it is
    longer than the minimum (30 days), else the minimum."""
    granted: timedelta | None = getattr(policy.grace_by_source, spec.source)
    if spec.grace_period_days is not None:
        granted = timedelta(days=spec.grace_period_days)
    return policy.minimum_grace if granted is None else max(granted, policy.minimum_grace)


def license_times(spec: LicenseSpec, policy: LicensePolicy) -> LicenseTimes:
    expires = _utc(spec.expires_at)
    grace_ends = expires + grace_period(spec, policy)
    return LicenseTimes(
        expires_at=expires,
        grace_ends_at=grace_ends,
        freeze_ends_at=grace_ends + policy.freeze,
        mx_change_at=max(grace_ends - policy.mx_change_notice, expires),
    )


def reminders(spec: LicenseSpec, policy: LicensePolicy) -> list[timedelta]:
    """The reminders of the license's type, longest before expiry first; none when it auto-renews."""
    if spec.auto_renew:
        return []
    chosen = policy.reminders_full if spec.type == "full" else policy.reminders_trial
    return sorted(set(chosen), reverse=True)


def _times(license: License, policy: LicensePolicy) -> LicenseTimes:
    """The deadlines from the spec; once purged, those the purge was decided on (the status of the
    decision that said Purged; a status of an earlier period plus ``purgedAt`` reads the spec)."""
    status = license.status
    if (
        status.purged_at is not None
        and status.period is PURGED_PERIOD
        and status.expires_at is not None
        and status.grace_ends_at is not None
        and status.freeze_ends_at is not None
    ):
        grace_ends = _utc(status.grace_ends_at)
        return LicenseTimes(
            expires_at=_utc(status.expires_at),
            grace_ends_at=grace_ends,
            freeze_ends_at=_utc(status.freeze_ends_at),
            mx_change_at=max(grace_ends - policy.mx_change_notice, _utc(status.expires_at)),
        )
    return license_times(license.spec, policy)


def _frozen_since(current: LicenseStatus, times: LicenseTimes, now: datetime) -> datetime | None:
    """When the license was (or is now) first seen frozen; None while it is not frozen. A status
    frozen before this was recorded was frozen on time, at the end of the grace period."""
    if now < times.grace_ends_at:
        return None
    if current.frozen_since is not None:
        return _utc(current.frozen_since)
    if current.period in (FREEZE, PURGED_PERIOD):
        return times.grace_ends_at
    return now  # this decision is the first to see it frozen


def _seen_frozen(times: LicenseTimes, frozen_since: datetime | None, freeze: timedelta) -> LicenseTimes:
    """A purge follows a full freeze the operator saw, never a date alone: a license first seen
    past its freeze (an implausible date such as a zero time, or a long outage) is frozen first."""
    if frozen_since is None:
        return times
    return replace(times, freeze_ends_at=max(times.freeze_ends_at, frozen_since + freeze))


def _period(times: LicenseTimes, purged_at: datetime | None, held: bool, now: datetime) -> LicensePeriod:
    if purged_at is not None:
        return PURGED_PERIOD
    if now < times.expires_at:
        return LICENSE
    if now < times.grace_ends_at:
        return GRACE
    if now < times.freeze_ends_at or held:
        return FREEZE
    return PURGED_PERIOD


def _due_reminder(due: Sequence[timedelta], times: LicenseTimes, now: datetime) -> timedelta | None:
    """The latest reminder whose time has passed: after downtime only the most recent goes out."""
    passed = [d for d in due if times.expires_at - d <= now]
    return min(passed) if passed else None


@dataclass(frozen=True)
class _State:
    """Everything decided about the license at ``now``, for its status, conditions and mails."""

    license: License
    tenant: Tenant | None
    times: LicenseTimes
    period: LicensePeriod
    reminders: tuple[timedelta, ...]
    reminder: timedelta | None
    """The latest reminder due (License period only)."""
    purged_at: datetime | None
    renewal_after_purge: bool
    now: datetime
    kept_by: str | None = None
    """Another license of the tenant that keeps its data: this one's purge deletes nothing."""
    partner: Partner | None = None
    audiences: tuple[Audience, ...] = ("tenant",)

    @property
    def kept(self) -> bool:
        """At its purge, but another license keeps the tenant: ended, nothing purged."""
        return self.period is PURGED_PERIOD and self.purged_at is None and self.kept_by is not None

    @property
    def spec(self) -> LicenseSpec:
        return self.license.spec

    @property
    def hold(self) -> PurgeHold | None:
        return self.license.spec.purge_hold

    @property
    def purged_on(self) -> str:
        return when(self.purged_at or self.times.purge_at)

    @property
    def expires(self) -> str:
        return when(self.times.expires_at)

    @property
    def grace_ends(self) -> str:
        return when(self.times.grace_ends_at)

    @property
    def purge(self) -> str:
        return when(self.times.purge_at)


# ------------------------------------------------------------------------------------------ mails


def _recipients(state: _State) -> tuple[str, ...]:
    """Those the policy addresses customer notices to (the tenant's recipients by default) and the
    addresses synced with the license, each once, lowercase."""
    audience = addressed_to(state.audiences, state.tenant, state.partner) if state.tenant else ()
    addresses = [*audience, *state.spec.notification_emails]
    return tuple(dict.fromkeys(a.lower() for a in addresses))


def _notification(
    state: _State, to: tuple[str, ...], kind: str, template: LicenseTemplate, deadline: datetime, suffix: str = ""
) -> Notification:
    spec, times = state.spec, state.times
    params: dict[str, str | tuple[str, ...]] = {
        "tenant_name": state.tenant.spec.display_name if state.tenant else spec.tenant_ref.name,
        "license_name": state.license.name,
        "license_type": spec.type,
        "expires_on": when(times.expires_at),
        "grace_ends_on": when(times.grace_ends_at),
        "purge_on": when(times.purge_at),
        "days_left": str(max(0, math.ceil((deadline - state.now) / _DAY))),
        "purge_held": "true" if state.hold else "false",
    }
    key = f"License/{state.license.meta.uid}/{kind}/{times.expires_at.isoformat()}{suffix}"
    # LicenseTemplate is a part of Template once core.notifications lists the license mails.
    return Notification(key=key, template=template, to=to, params=params)


def _notifications(state: _State) -> tuple[Notification, ...]:
    to = _recipients(state)
    if not to:
        return ()
    times = state.times
    if state.period is LICENSE and state.reminder is not None:
        suffix = f"/{format_duration(state.reminder)}"
        return (_notification(state, to, "reminder", "license-reminder", times.expires_at, suffix),)
    if state.period is GRACE:
        grace = _notification(state, to, "grace", "license-grace", times.grace_ends_at)
        if state.now < times.mx_change_at:
            return (grace,)
        return (grace, _notification(state, to, "mx-change", "license-mx-change", times.grace_ends_at))
    if state.period is FREEZE:
        return (_notification(state, to, "freeze", "license-frozen", times.purge_at),)
    return ()


# ------------------------------------------------------------------------------------------ status


def _next(state: _State) -> NextTransition | None:
    if state.period is PURGED_PERIOD:
        return None
    times, now = state.times, state.now
    upcoming = [times.expires_at - d for d in state.reminders if times.expires_at - d > now]
    candidates = [
        NextTransition(action="Remind", at=min(upcoming)) if upcoming else None,
        NextTransition(action="EnterGrace", at=times.expires_at),
        NextTransition(action="MXChangeNotice", at=times.mx_change_at)
        if times.mx_change_at < times.grace_ends_at
        else None,
        NextTransition(action="Freeze", at=times.grace_ends_at),
        None if state.hold else NextTransition(action="Purge", at=times.purge_at),
    ]
    # min() keeps the first of equal times, and the list is in lifecycle order.
    return earliest(n for n in candidates if n is not None and n.at > now)


def _purged_cannot_renew(state: _State) -> str:
    return (
        f"The tenant's data was purged on {state.purged_on} and nothing can be restored: the renewal to "
        f"{when(state.spec.expires_at)} has no effect. Order a new license and tenant."
    )


def _notice(state: _State) -> str | None:
    """What consoles show as popup and top banner."""
    if state.period is LICENSE:
        if state.reminder is None:
            return None
        return (
            f"Your seppmail.cloud {state.spec.type} license expires on {state.expires}. Renew it to avoid interruption."
        )
    if state.period is GRACE:
        return (
            f"Your seppmail.cloud license expired on {state.expires}. Renew it before {state.grace_ends}: "
            "from then on mail traffic and console access are blocked."
        )
    if state.period is FREEZE:
        blocked = f"Mail traffic and console access are blocked since {state.grace_ends}"
        if state.hold:
            return f"{blocked}; all data is kept while a purge hold is in place. Renew the license to unblock."
        return f"{blocked}; all data will be purged on {state.purge} unless the license is renewed."
    if state.renewal_after_purge:
        return _purged_cannot_renew(state)
    if state.kept:
        return None  # the tenant runs on another license: nothing to tell its users about this one
    return f"All configuration and data was deleted on {state.purged_on}; this cannot be undone."


def _expiring(state: _State) -> Cond:
    if state.period is not LICENSE:
        return Cond(EXPIRING, "False", "Expired", f"The license expired on {state.expires}.")
    if state.reminder is not None:
        return Cond(EXPIRING, "True", "ReminderDue", f"The {state.spec.type} license expires on {state.expires}.")
    if state.spec.auto_renew:
        return Cond(EXPIRING, "False", "AutoRenew", "The license renews automatically: no reminders.")
    first = max(state.reminders, default=None)
    due = f"; the first reminder is due on {when(state.times.expires_at - first)}" if first else ""
    return Cond(EXPIRING, "False", "NotDue", f"The license expires on {state.expires}{due}.")


def _purge_conditions(state: _State) -> list[Cond]:
    """PurgeScheduled and Purged."""
    if state.kept:
        nothing = f"Nothing was purged: license {state.kept_by!r} keeps the tenant's data."
        return [
            Cond(PURGE_SCHEDULED, "False", KEPT_BY_LICENSE, nothing),
            Cond(PURGED, "False", KEPT_BY_LICENSE, nothing),
        ]
    if state.period is PURGED_PERIOD and state.purged_at is None:
        return [
            Cond(PURGE_SCHEDULED, "True", "PurgeDue", f"The purge was due on {state.purge}; it is being carried out."),
            Cond(PURGED, "False", "PurgeDue", "The purge is being carried out."),
        ]
    if state.period is PURGED_PERIOD:
        gone = f"All configuration and data of the tenant was deleted on {state.purged_on}; this cannot be undone."
        return [
            Cond(PURGE_SCHEDULED, "False", "Purged", f"The purge was carried out on {state.purged_on}."),
            Cond(PURGED, "True", "Purged", gone),
        ]
    kept = Cond(PURGED, "False", "NotPurged", "The tenant's data is kept.")
    if state.hold:
        held = f"The purge is on hold: {state.hold.reason}. Nothing is deleted until the hold is removed."
        return [Cond(PURGE_SCHEDULED, "False", "PurgeHold", held), kept]
    if state.period is FREEZE:
        scheduled = f"All configuration and data will be purged on {state.purge} unless the license is renewed."
        return [Cond(PURGE_SCHEDULED, "True", "Frozen", scheduled), kept]
    not_yet = f"Not before the end of the freeze period, on {state.purge}."
    return [Cond(PURGE_SCHEDULED, "False", state.period.value, not_yet), kept]


def _summary(state: _State) -> list[Cond]:
    """Ready, Reconciling, Stalled: the service works in License and Grace."""
    if state.period is LICENSE:
        return c.summary("Licensed", f"Licensed until {state.expires}.", ready=True)
    if state.period is GRACE:
        return c.summary(
            "InGrace", f"Expired on {state.expires}; the service still works until {state.grace_ends}.", ready=True
        )
    if state.period is FREEZE:
        purge = f"the purge is on hold: {state.hold.reason}" if state.hold else f"purge on {state.purge}"
        return c.summary("Frozen", f"Frozen since {state.grace_ends}: renew the license; {purge}.", ready=False)
    if state.kept:
        ended = f"Ended on {state.purge}; nothing was purged: license {state.kept_by!r} keeps the tenant's data."
        return c.summary(KEPT_BY_LICENSE, ended, ready=False)
    message = f"Purged on {state.purged_on}: this cannot be undone."
    if state.renewal_after_purge:
        return [
            Cond(c.READY, "False", "Purged", message),
            Cond(c.RECONCILING, "False", "Purged", message),
            Cond(c.STALLED, "True", "PurgedCannotRenew", _purged_cannot_renew(state)),
        ]
    if state.purged_at is None:
        return c.summary("Purged", "The purge is due: being carried out.", ready=False, reconciling=True)
    return c.summary("Purged", message, ready=False)


def _conditions(state: _State) -> list[Cond]:
    period = state.period
    in_grace = (
        Cond(
            IN_GRACE,
            "True",
            "GraceStarted",
            f"Expired on {state.expires}; the grace period ends on {state.grace_ends}.",
        )
        if period is GRACE
        else Cond(IN_GRACE, "False", period.value, f"Not in the grace period ({period.value}).")
    )
    frozen = (
        Cond(FROZEN, "True", "Frozen", f"Mail traffic and console access are blocked since {state.grace_ends}.")
        if period is FREEZE
        else Cond(FROZEN, "False", period.value, f"Not frozen ({period.value}).")
    )
    return [_expiring(state), in_grace, frozen, *_purge_conditions(state), *_summary(state)]


# ------------------------------------------------------------------------------------------ history


def _period_change(state: _State, previous: LicensePeriod | None) -> Transition | None:
    """The transition from ``previous`` (None: first observed) to the decided period, if it moved."""
    period = state.period
    if previous is period:
        return None
    source, to = (previous.value if previous else None), period.value
    backwards = previous is not None and _RANK[previous] > _RANK[period]
    expires, grace_ends = state.expires, state.grace_ends
    purge = f"the purge is on hold: {state.hold.reason}" if state.hold else f"purge on {state.purge}"
    if period is LICENSE:
        if previous is None:
            return Transition(None, to, "Licensed", f"Licensed until {expires}.")
        return Transition(source, to, "Renewed", f"Renewed: the license now expires on {expires}.")
    if period is GRACE and backwards:
        return Transition(source, to, "Unfrozen", f"The license now expires on {expires}: grace until {grace_ends}.")
    if period is GRACE:
        return Transition(
            source, to, "GraceStarted", f"The license expired on {expires}; grace until {grace_ends}.", warning=True
        )
    if period is FREEZE and backwards and state.hold:
        return Transition(source, to, "PurgeHeld", f"The purge was stopped before it was carried out; {purge}.")
    if period is FREEZE and backwards:
        return Transition(source, to, "PurgePostponed", f"The license now expires on {expires}: {purge}.")
    if period is FREEZE:
        message = f"The grace period ended on {grace_ends}: mail traffic and console access are blocked; {purge}."
        return Transition(source, to, "Frozen", message, warning=True)
    if state.kept:
        message = (
            f"The freeze period ended on {state.purge}: nothing is purged, license {state.kept_by!r} keeps the tenant."
        )
        return Transition(source, to, "Ended", message)
    message = f"The freeze period ended on {state.purge}: every configuration and datum of the tenant is purged."
    return Transition(source, to, "Purged", message, warning=True)


def _period_changes(state: _State, previous: LicensePeriod | None) -> list[Transition]:
    """The transitions from ``previous`` to the decided period: each period passed on the way is
    one (a license that expired and ended its grace while the operator could not act goes through
    Grace into Freeze in one decision, and its history says both)."""
    if previous is None or _RANK[state.period] <= _RANK[previous]:
        moved = _period_change(state, previous)
        return [] if moved is None else [moved]
    passed = _ORDER[_RANK[previous] : _RANK[state.period] + 1]
    changes = (_period_change(replace(state, period=step), came) for came, step in itertools.pairwise(passed))
    return [t for t in changes if t is not None]


def _transitions(state: _State, current: LicenseStatus) -> list[Transition]:
    """Period changes; a new expiry within the same period; a renewal that came after the purge."""
    out: list[Transition] = []
    moved = _period_changes(state, current.period)
    to = state.period.value
    if moved:
        out += moved
    elif (
        state.period is PURGED_PERIOD
        and state.purged_at is not None
        and (was := c.condition(current.conditions, PURGED)) is not None
        and was.reason == KEPT_BY_LICENSE
    ):
        # Kept by another license until that one ended too: now the purge is carried out.
        message = "No other license keeps the tenant any more: every configuration and datum is purged."
        out.append(Transition(to, to, "Purged", message, warning=True))
    elif state.period is not PURGED_PERIOD and current.expires_at is not None:
        before = _utc(current.expires_at)
        if before != state.times.expires_at:
            reason = "Renewed" if state.times.expires_at > before else "ExpiryChanged"
            out.append(Transition(to, to, reason, f"The license now expires on {state.expires}."))
    if state.renewal_after_purge and not c.is_true(current.conditions, c.STALLED):
        out.append(Transition(to, to, "PurgedCannotRenew", _purged_cannot_renew(state), warning=True))
    return out


# ------------------------------------------------------------------------------------------ decision


def decide_license(
    license: License,
    tenant: Tenant | None,
    policy: Policy,
    now: datetime,
    kept_by: str | None = None,
    partner: Partner | None = None,
) -> LicenseDecision:
    """The license's period, status, mails and purge at ``now``; ``tenant`` is its Tenant, if it
    exists; ``kept_by`` another license of the tenant that keeps its data (no purge then)."""
    current, rules = license.status, policy.license
    now = _utc(now)
    times = _times(license, rules)
    if current.purged_at is None:
        frozen_since = _frozen_since(current, times, now)
        times = _seen_frozen(times, frozen_since, rules.freeze)
    else:  # purged: the times are those of the purge
        frozen_since = current.frozen_since
    period = _period(times, current.purged_at, license.spec.purge_hold is not None, now)
    due = tuple(reminders(license.spec, rules))
    state = _State(
        license=license,
        tenant=tenant,
        times=times,
        period=period,
        reminders=due,
        reminder=_due_reminder(due, times, now) if period is LICENSE else None,
        purged_at=current.purged_at,
        # Once purged, the times are those of the purge: a later expiry is a renewal that came too late.
        renewal_after_purge=current.purged_at is not None and _utc(license.spec.expires_at) > times.expires_at,
        now=now,
        kept_by=kept_by,
        partner=partner,
        audiences=tuple(policy.mail.customer_notices_to),
    )
    transitions = _transitions(state, current)
    nxt = _next(state)
    status = current.model_copy()  # shallow: each field decided is assigned anew
    status.period = period
    status.expires_at = times.expires_at
    status.grace_ends_at = times.grace_ends_at
    status.freeze_ends_at = times.freeze_ends_at
    status.purge_at = times.purge_at
    status.frozen_since = frozen_since
    status.notice = _notice(state)
    status.next = nxt
    status.observed_generation = license.meta.generation
    status.conditions = merge_conditions(current.conditions, _conditions(state), license.meta.generation, now)
    status.history = append_history(current.history, transitions, now)
    return LicenseDecision(
        decision=Decision(license.name, status, tuple(transitions)),
        notifications=_notifications(state),
        purge_due=period is PURGED_PERIOD and current.purged_at is None and kept_by is None,
        wake_at=nxt.at if nxt else None,
    )
