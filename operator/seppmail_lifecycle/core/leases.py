"""Leader election, one round at a time (client-go's leaderelection, as pure decisions).

A replica reads the Lease, and this module says what to do: create it, renew it, take it over,
or wait. Expiry is judged by when *this replica* first saw the current record plus the record's
lease duration, never by the holder's renewTime: clocks of different nodes may disagree, the
local observation time cannot. A released lease (no holder) can be taken at once.

Every time is a parameter (``now``, ``observed_at``): nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

Body = dict[str, Any]

__all__ = [
    "Acquire",
    "Body",
    "Create",
    "Decision",
    "LeaseRecord",
    "Renew",
    "Wait",
    "decide_round",
    "expires_at",
    "from_spec",
    "micro_time",
    "observed_since",
    "released",
    "to_spec",
]


@dataclass(frozen=True)
class LeaseRecord:
    """The election's state in a Lease's spec (client-go's LeaderElectionRecord)."""

    holder: str | None
    """``holderIdentity``; None (or empty on the wire) when released."""
    lease_duration: timedelta
    acquired_at: datetime | None = None
    renewed_at: datetime | None = None
    transitions: int = 0


@dataclass(frozen=True)
class Create:
    """No Lease yet: create it with ``record`` (an AlreadyExists means another replica won)."""

    record: LeaseRecord


@dataclass(frozen=True)
class Renew:
    """This replica holds the lease: write ``record`` (new renewTime), conditional on the version read."""

    record: LeaseRecord


@dataclass(frozen=True)
class Acquire:
    """Take over an expired or released lease (leaseTransitions + 1), conditional on the version read."""

    record: LeaseRecord
    previous_holder: str | None


@dataclass(frozen=True)
class Wait:
    """Another replica holds a lease that has not expired; it expires at ``until`` unless renewed."""

    holder: str
    until: datetime


Decision = Create | Renew | Acquire | Wait


def observed_since(
    previous: LeaseRecord | None, previous_at: datetime | None, current: LeaseRecord | None, now: datetime
) -> datetime:
    """When this replica first saw ``current``: still ``previous_at`` if the record did not change
    since the last read, else ``now``. Any change (a renewal too) restarts the lease's clock."""
    if previous_at is not None and current == previous:
        return previous_at
    return now


def expires_at(observed: LeaseRecord, observed_at: datetime) -> datetime:
    """When a lease held by another replica expires, by this replica's clock."""
    return observed_at + observed.lease_duration


def decide_round(
    observed: LeaseRecord | None,
    observed_at: datetime | None,
    me: str,
    now: datetime,
    lease_duration: timedelta,
) -> Decision:
    """What this replica (identity ``me``) does with the lease record it read.

    ``observed_at``: when it first saw exactly this record, by its own clock (None: just now).
    ``lease_duration``: the duration this replica writes when it creates, renews or takes over.
    """
    if observed is None:
        return Create(LeaseRecord(me, lease_duration, now, now, 0))
    if observed.holder == me:
        return Renew(replace(observed, lease_duration=lease_duration, renewed_at=now))
    if observed.holder:
        until = expires_at(observed, observed_at if observed_at is not None else now)
        if now < until:
            return Wait(observed.holder, until)
    return Acquire(LeaseRecord(me, lease_duration, now, now, observed.transitions + 1), observed.holder or None)


def released(record: LeaseRecord, now: datetime) -> LeaseRecord:
    """The record a holder writes when it steps down (client-go's ReleaseOnCancel): no holder, so
    a standby takes it at once; the transitions count stays."""
    return replace(record, holder=None, lease_duration=timedelta(seconds=1), acquired_at=now, renewed_at=now)


def micro_time(value: datetime) -> str:
    """A Kubernetes ``MicroTime``: RFC 3339 in UTC with microseconds (``2006-01-02T15:04:05.000000Z``)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def to_spec(record: LeaseRecord) -> Body:
    """The Lease spec (coordination.k8s.io/v1) of a record; times as MicroTime, the duration in
    whole seconds (at least 1)."""
    return {
        "holderIdentity": record.holder or None,
        "leaseDurationSeconds": max(1, round(record.lease_duration.total_seconds())),
        "acquireTime": micro_time(record.acquired_at) if record.acquired_at else None,
        "renewTime": micro_time(record.renewed_at) if record.renewed_at else None,
        "leaseTransitions": record.transitions,
    }


def from_spec(spec: Body | None) -> LeaseRecord:
    """The record in a Lease's spec as read (missing fields: no holder, zero duration, no times)."""
    spec = spec or {}
    return LeaseRecord(
        holder=spec.get("holderIdentity") or None,
        lease_duration=timedelta(seconds=int(spec.get("leaseDurationSeconds") or 0)),
        acquired_at=_parse(spec.get("acquireTime")),
        renewed_at=_parse(spec.get("renewTime")),
        transitions=int(spec.get("leaseTransitions") or 0),
    )
