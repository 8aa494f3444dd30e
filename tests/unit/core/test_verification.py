"""DNS verification: the records a domain needs, what a lookup tells, when to look again, and the
domain's phase while the partner has not acted yet."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from seppmail_lifecycle.api.domain import DnsVerification, DomainStatus
from seppmail_lifecycle.api.policy import DnsPolicy
from seppmail_lifecycle.api.states import OrderPhase as P
from seppmail_lifecycle.core.orders import decide_domain, dns_lookups_due
from seppmail_lifecycle.core.schedule import backoff
from seppmail_lifecycle.core.verification import (
    REFRESH_ANNOTATION,
    DnsAnswer,
    DnsObservation,
    check_due,
    pending_actions,
    record_check,
    required_records,
    verification_token,
)

from .builders import DOMAIN_NAME, POLICY, T0, domain, routing, service, world

DNS = DnsPolicy(mx_gateways=["MX1.Gateway.test.", "mx2.gateway.test"], recheck_initial=timedelta(minutes=1))
CHECKING = POLICY.model_copy(update={"dns": DNS})
TXT_NAME = f"_seppmail-verification.{DOMAIN_NAME}"


def test_the_token_is_stable_per_domain_and_differs_between_domains() -> None:
    assert verification_token("uid-1") == verification_token("uid-1")
    assert verification_token("uid-1") != verification_token("uid-2")
    assert len(verification_token("uid-1")) == 32


def test_required_records_are_the_txt_ownership_record_and_one_mx_per_gateway() -> None:
    d = domain()
    records = [(r.record_type, r.name, r.expected) for r in required_records(d, DNS)]
    assert records == [
        ("TXT", TXT_NAME, f"seppmail-verification={verification_token(d.meta.uid)}"),
        ("MX", DOMAIN_NAME, "mx1.gateway.test"),
        ("MX", DOMAIN_NAME, "mx2.gateway.test"),
    ]


def _observation(txt: tuple[str, ...] = (), mx: tuple[str, ...] = (), error: str | None = None) -> DnsObservation:
    return DnsObservation(T0, {("TXT", TXT_NAME): DnsAnswer(txt, error), ("MX", DOMAIN_NAME): DnsAnswer(mx, error)})


@pytest.mark.parametrize(
    ("observation", "pending"),
    [
        (_observation(), {("TXT", "no record found"), ("MX", "no record found")}),
        (
            _observation(txt=("seppmail-verification=other",), mx=("mx1.gateway.test",)),
            {("TXT", "found: seppmail-verification=other"), ("MX", "found: mx1.gateway.test")},
        ),
        (_observation(error="timed out"), {("TXT", "lookup failed: timed out"), ("MX", "lookup failed: timed out")}),
        (DnsObservation(T0, {}), {("TXT", "not checked"), ("MX", "not checked")}),
    ],
    ids=["nothing", "wrong-values", "lookup-error", "not-looked-up"],
)
def test_pending_actions_name_the_record_and_what_was_found(
    observation: DnsObservation, pending: set[tuple[str, str]]
) -> None:
    d = domain()
    actions = pending_actions(required_records(d, DNS), observation)
    assert {(a.record_type, a.result) for a in actions} == pending
    assert all(a.last_checked == T0 for a in actions)


def test_everything_present_leaves_nothing_pending() -> None:
    d = domain()
    token = f"seppmail-verification={verification_token(d.meta.uid)}"
    observation = _observation(txt=("unrelated", token), mx=("mx1.gateway.test", "mx2.gateway.test"))
    assert pending_actions(required_records(d, DNS), observation) == []


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [
        (0, timedelta(minutes=1)),
        (1, timedelta(minutes=1)),
        (2, timedelta(minutes=2)),
        (3, timedelta(minutes=4)),
        (7, timedelta(minutes=60)),
        (50, timedelta(minutes=60)),
    ],
)
def test_backoff_doubles_up_to_the_maximum(attempts: int, delay: timedelta) -> None:
    assert backoff(attempts, timedelta(minutes=1), timedelta(hours=1)) == delay


def _status(**verification: object) -> DomainStatus:
    return DomainStatus(phase=P.PROVISIONING, verification=DnsVerification.model_validate(verification))


@pytest.mark.parametrize(
    ("status", "annotations", "due"),
    [
        (DomainStatus(phase=P.PROVISIONING), {}, True),
        (_status(attempts=1, nextCheckAt=T0 + timedelta(minutes=1)), {}, False),
        (_status(attempts=1, nextCheckAt=T0), {}, True),
        (_status(attempts=1, nextCheckAt=T0 + timedelta(minutes=1)), {REFRESH_ANNOTATION: "1"}, True),
        (
            _status(attempts=1, nextCheckAt=T0 + timedelta(minutes=1), refreshedFor="1"),
            {REFRESH_ANNOTATION: "1"},
            False,
        ),
        (_status(verifiedAt=T0), {REFRESH_ANNOTATION: "2"}, False),
    ],
    ids=["never-checked", "recheck-later", "recheck-due", "refresh-asked", "refresh-done", "verified"],
)
def test_when_a_check_is_due(status: DomainStatus, annotations: dict[str, str], due: bool) -> None:
    assert check_due(status, annotations, T0) is due


def test_a_missing_record_keeps_the_domain_provisioning_and_schedules_the_recheck() -> None:
    d = domain(status=DomainStatus(phase=P.PROVISIONING, confirmed_at=T0 - timedelta(hours=1)))
    w = world(service("acme-base"), domain=d, routing=routing(("acme-base", "base")))
    first = decide_domain(w, CHECKING, T0)
    assert dns_lookups_due(w, first, CHECKING, T0) == [("TXT", TXT_NAME), ("MX", DOMAIN_NAME)]
    outcome = decide_domain(replace(w, dns=_observation(mx=("mx1.gateway.test", "mx2.gateway.test"))), CHECKING, T0)
    assert outcome.domain is not None
    status = outcome.domain.status
    assert status.phase is P.PROVISIONING
    assert [(a.record_type, a.name) for a in status.pending_actions] == [("TXT", TXT_NAME)]
    assert status.verification is not None
    assert status.verification.attempts == 1
    assert status.next is not None
    assert (status.next.action, status.next.at) == ("RecheckDNS", T0 + timedelta(minutes=1))
    awaiting = next(c for c in status.conditions if c.type == "AwaitingPartner")
    assert awaiting.status == "True"
    assert TXT_NAME in awaiting.message
    ready = next(c for c in status.conditions if c.type == "Ready")
    assert (ready.status, ready.reason) == ("False", "AwaitingPartner")


def test_every_record_present_provisions_the_domain() -> None:
    d = domain(status=DomainStatus(phase=P.PROVISIONING, confirmed_at=T0 - timedelta(hours=1)))
    w = world(service("acme-base"), domain=d, routing=routing(("acme-base", "base")))
    token = f"seppmail-verification={verification_token(d.meta.uid)}"
    observed = _observation(txt=(token,), mx=("mx1.gateway.test", "mx2.gateway.test"))
    outcome = decide_domain(replace(w, dns=observed), CHECKING, T0)
    assert outcome.domain is not None
    assert outcome.domain.status.phase is P.PROVISIONED
    assert outcome.domain.status.pending_actions == []
    assert outcome.domain.status.verification is not None
    assert outcome.domain.status.verification.verified_at == T0


def test_without_verification_no_lookup_is_asked_for() -> None:
    no_check = POLICY.model_copy(update={"dns": DnsPolicy(verify=False)})
    d = domain(status=DomainStatus(phase=P.PROVISIONING, confirmed_at=T0 - timedelta(hours=1)))
    w = world(service("acme-base"), domain=d, routing=routing(("acme-base", "base")))
    outcome = decide_domain(w, no_check, T0)
    assert dns_lookups_due(w, outcome, no_check, T0) == []
    assert outcome.domain is not None
    assert outcome.domain.status.phase is P.PROVISIONED


def test_ownership_is_recorded_when_the_txt_record_is_found_and_stays_proven() -> None:
    d = domain()
    token = f"seppmail-verification={verification_token(d.meta.uid)}"
    records = required_records(d, DNS)
    unproven = _observation(mx=("mx1.gateway.test",))
    first = record_check(None, pending_actions(records, unproven), unproven, {}, DNS)
    assert first.ownership_verified_at is None
    txt_only = _observation(txt=(token,))
    second = record_check(first, pending_actions(records, txt_only), txt_only, {}, DNS)
    assert (second.ownership_verified_at, second.verified_at) == (T0, None)
    # The record taken away again (or a lookup failing) does not undo the proof.
    later = replace(_observation(error="SERVFAIL"), at=T0 + timedelta(hours=1))
    third = record_check(second, pending_actions(records, later), later, {}, DNS)
    assert third.ownership_verified_at == T0
