"""Partner actions a domain's provisioning waits for: the DNS records it must have, what the
last lookup found, when to look again (backoff, or at once on the refresh annotation).

Pure: the shell does the lookups and passes their answers in as a ``DnsObservation``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from seppmail_lifecycle import GROUP
from seppmail_lifecycle.api.domain import DnsVerification, DomainStatus, PendingAction
from seppmail_lifecycle.api.policy import DnsPolicy
from seppmail_lifecycle.core.model import Domain
from seppmail_lifecycle.core.schedule import backoff

REFRESH_ANNOTATION = f"{GROUP}/refresh"
RecordType = Literal["TXT", "MX"]
OWNERSHIP_RECORD: RecordType = "TXT"
"""The record that proves the partner controls the name: its token is derived from the Domain's UID."""
DnsLookup = tuple[RecordType, str]


@dataclass(frozen=True)
class DnsAnswer:
    """What one lookup found: normalised values (TXT text, MX exchange host), or an error."""

    values: tuple[str, ...]
    error: str | None = None


@dataclass(frozen=True)
class RequiredRecord:
    record_type: RecordType
    name: str
    expected: str


@dataclass(frozen=True)
class DnsObservation:
    at: datetime
    answers: Mapping[DnsLookup, DnsAnswer]


def verification_token(domain_uid: str) -> str:
    """The per-domain ownership token: stable for the Domain's life, unguessable without its UID."""
    return hashlib.sha256(f"seppmail-verification/{domain_uid}".encode()).hexdigest()[:32]


def required_records(domain: Domain, policy: DnsPolicy) -> list[RequiredRecord]:
    name = domain.spec.domain_name
    records = [
        RequiredRecord(
            OWNERSHIP_RECORD,
            f"{policy.verification_record}.{name}",
            f"seppmail-verification={verification_token(domain.meta.uid)}",
        )
    ]
    records += [RequiredRecord("MX", name, gateway.lower().rstrip(".")) for gateway in policy.mx_gateways]
    return records


def lookups(records: Sequence[RequiredRecord]) -> list[DnsLookup]:
    """The distinct (type, name) lookups that answer ``records``."""
    return list(dict.fromkeys((r.record_type, r.name) for r in records))


def _found(answer: DnsAnswer | None) -> str:
    if answer is None:
        return "not checked"
    if answer.error:
        return f"lookup failed: {answer.error}"
    if not answer.values:
        return "no record found"
    return "found: " + ", ".join(answer.values)


def pending_actions(records: Sequence[RequiredRecord], observation: DnsObservation) -> list[PendingAction]:
    """Each required record the observation did not find, exactly as the partner must create it."""
    pending = []
    for record in records:
        answer = observation.answers.get((record.record_type, record.name))
        if answer is not None and record.expected in answer.values:
            continue
        pending.append(
            PendingAction(
                type="DNSRecord",
                record_type=record.record_type,
                name=record.name,
                expected=record.expected,
                last_checked=observation.at,
                result=_found(answer)[:512],
            )
        )
    return pending


def recheck_delay(attempts: int, policy: DnsPolicy) -> timedelta:
    return backoff(attempts, policy.recheck_initial, policy.recheck_max)


def check_due(status: DomainStatus, annotations: Mapping[str, str], now: datetime) -> bool:
    """Whether the shell should look the records up now (the domain is provisioning)."""
    verification = status.verification or DnsVerification()
    if verification.verified_at is not None and status.pending_actions == []:
        return False
    refresh = annotations.get(REFRESH_ANNOTATION)
    if refresh is not None and refresh != verification.refreshed_for:
        return True
    return verification.next_check_at is None or verification.next_check_at <= now


def record_check(
    verification: DnsVerification | None,
    pending: Sequence[PendingAction],
    observation: DnsObservation,
    annotations: Mapping[str, str],
    policy: DnsPolicy,
) -> DnsVerification:
    """The verification status after a check."""
    before = verification or DnsVerification()
    attempts = before.attempts + 1 if pending else 0
    owner_found = not any(p.record_type == OWNERSHIP_RECORD for p in pending)
    return DnsVerification(
        attempts=attempts,
        last_checked_at=observation.at,
        next_check_at=observation.at + recheck_delay(attempts, policy) if pending else None,
        # Once proven, ownership stays proven: the name is held by this claim, not re-won each check.
        ownership_verified_at=ownership_verified(before) or (observation.at if owner_found else None),
        verified_at=None if pending else observation.at,
        refreshed_for=annotations.get(REFRESH_ANNOTATION, before.refreshed_for),
    )


def ownership_verified(verification: DnsVerification | None) -> datetime | None:
    """When the domain's owner proved it with the TXT record (a domain verified before that was
    recorded on its own proved it with every record)."""
    if verification is None:
        return None
    return verification.ownership_verified_at or verification.verified_at


def ownership_proven(status: DomainStatus) -> datetime | None:
    """Since when the domain's claim on its name is proven: by the TXT record, or by having been
    deployed (provisioned while no proof was asked for)."""
    return ownership_verified(status.verification) or status.provisioned_at


def describe(pending: Sequence[PendingAction]) -> str:
    return "; ".join(f"{p.record_type} {p.name} must be {p.expected!r} ({p.result})" for p in pending)
