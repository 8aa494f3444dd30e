"""Leader election, one round at a time (client-go's leaderelection, as pure decisions).

A replica reads the Lease, and this module says what to do: create it, renew it, take it over,
or wait. Expiry is judged by when *this replica* first saw the current record plus the lease
duration, never by the holder's renewTime: clocks of different nodes may disagree, the local
observation time cannot. A released lease (no holder) can be taken at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

Body = dict[str, Any]


@dataclass(frozen=True)
class LeaseRecord:
    """The election's state in a Lease's spec."""

    holder: str | None
    lease_duration: timedelta
    acquired_at: datetime | None = None
    renewed_at: datetime | None = None
    transitions: int = 0


@dataclass(frozen=True)
class Create:
    record: LeaseRecord


@dataclass(frozen=True)
class Write:
    """Replace the Lease's spec with ``record`` (conditional on the version read)."""

    record: LeaseRecord
    took_over: bool


@dataclass(frozen=True)
class Wait:
    """Another replica holds a lease that has not expired; try again, at the latest at ``until``."""

    holder: str
    until: datetime


Round = Create | Write | Wait


def decide_round(
    observed: LeaseRecord | None, observed_at: datetime | None, me: str, lease_duration: timedelta, now: datetime
) -> Round:
    """What this replica does with the lease it read. ``observed_at``: when it first saw exactly
    this record (by its own clock)."""
    if observed is None:
        return Create(LeaseRecord(me, lease_duration, now, now, 0))
    if observed.holder == me:
        return Write(replace(observed, lease_duration=lease_duration, renewed_at=now), took_over=False)
    if observed.holder and observed_at is not None and now < observed_at + observed.lease_duration:
        return Wait(observed.holder, observed_at + observed.lease_duration)
    return Write(LeaseRecord(me, lease_duration, now, now, observed.transitions + 1), took_over=True)


def released(record: LeaseRecord, now: datetime) -> LeaseRecord:
    """The record a holder writes when it steps down: no holder, so a standby takes it at once."""
    return replace(record, holder=None, lease_duration=timedelta(seconds=1), renewed_at=now)


def _micro_time(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def to_spec(record: LeaseRecord) -> Body:
    """The Lease spec (coordination.k8s.io/v1) of a record; times as MicroTime."""
    return {
        "holderIdentity": record.holder or None,
        "leaseDurationSeconds": max(1, round(record.lease_duration.total_seconds())),
        "acquireTime": _micro_time(record.acquired_at),
        "renewTime": _micro_time(record.renewed_at),
        "leaseTransitions": record.transitions,
    }


def from_spec(spec: Body | None) -> LeaseRecord:
    spec = spec or {}
    return LeaseRecord(
        holder=spec.get("holderIdentity") or None,
        lease_duration=timedelta(seconds=int(spec.get("leaseDurationSeconds") or 0)),
        acquired_at=_parse(spec.get("acquireTime")),
        renewed_at=_parse(spec.get("renewTime")),
        transitions=int(spec.get("leaseTransitions") or 0),
    )
