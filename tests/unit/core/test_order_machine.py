"""The order-phase transition table (seed 000): every (phase, event) pair, allowed or refused.

The expected table is written out literally, so a change to ``TRANSITIONS`` fails here.
"""

from __future__ import annotations

import itertools

import pytest

from seppmail_lifecycle.api.states import OrderPhase as P
from seppmail_lifecycle.core.order_machine import (
    ACTIVE_PHASES,
    DEPLOYED_PHASES,
    ENDING_PHASES,
    REASONS,
    TRANSITIONS,
    InvalidTransition,
    OrderEvent,
    allowed,
    next_phase,
)

E = OrderEvent

EXPECTED: dict[tuple[P, OrderEvent], P] = {
    (P.ORDERED, E.CHECK_PASSED): P.CONFIRMED,
    (P.ORDERED, E.CANCEL): P.CANCELLED,
    (P.CONFIRMED, E.CHECK_FAILED): P.ORDERED,
    (P.CONFIRMED, E.DEPLOY): P.PROVISIONING,
    (P.CONFIRMED, E.CANCEL): P.CANCELLED,
    (P.PROVISIONING, E.APPLIED): P.PROVISIONED,
    (P.PROVISIONING, E.CHECK_FAILED): P.ORDERED,
    (P.PROVISIONING, E.CANCEL): P.CANCELLED,
    (P.PROVISIONED, E.CANCEL): P.CANCELLED,
    (P.CANCELLED, E.REMOVAL_DUE): P.DEPROVISIONING,
    (P.DEPROVISIONING, E.REMOVED): P.DEPROVISIONED,
    (P.ORDERED, E.PURGED): P.DEPROVISIONED,
    (P.CONFIRMED, E.PURGED): P.DEPROVISIONED,
    (P.PROVISIONING, E.PURGED): P.DEPROVISIONED,
    (P.PROVISIONED, E.PURGED): P.DEPROVISIONED,
    (P.CANCELLED, E.PURGED): P.DEPROVISIONED,
    (P.DEPROVISIONING, E.PURGED): P.DEPROVISIONED,
}

ALL_PAIRS = list(itertools.product(P, E))


def test_the_table_has_seven_phases_and_eight_events() -> None:
    assert [p.value for p in P] == [
        "ordered",
        "confirmed",
        "provisioning",
        "provisioned",
        "cancelled",
        "deprovisioning",
        "deprovisioned",
    ]
    assert [e.value for e in E] == [
        "CheckPassed",
        "CheckFailed",
        "Deploy",
        "Applied",
        "Cancel",
        "RemovalDue",
        "Removed",
        "Purged",
    ]
    assert len(ALL_PAIRS) == 56


@pytest.mark.parametrize(("phase", "event"), ALL_PAIRS, ids=[f"{p.value}-{e.value}" for p, e in ALL_PAIRS])
def test_every_phase_and_event(phase: P, event: OrderEvent) -> None:
    expected = EXPECTED.get((phase, event))
    assert allowed(phase, event) is (expected is not None)
    if expected is None:
        with pytest.raises(InvalidTransition, match=rf"{event.value} is not allowed in phase {phase.value}"):
            next_phase(phase, event)
    else:
        assert next_phase(phase, event) is expected


def test_the_table_is_exactly_the_expected_one() -> None:
    assert TRANSITIONS == EXPECTED


def test_invalid_transition_is_a_value_error() -> None:
    assert issubclass(InvalidTransition, ValueError)


def test_deprovisioned_is_final() -> None:
    assert not any(allowed(P.DEPROVISIONED, e) for e in E)


def test_every_event_has_a_condition_reason() -> None:
    assert REASONS == {
        E.CHECK_PASSED: "ConsistencyCheckPassed",
        E.CHECK_FAILED: "ConsistencyCheckFailed",
        E.DEPLOY: "DeploymentStarted",
        E.APPLIED: "Provisioned",
        E.CANCEL: "Cancelled",
        E.REMOVAL_DUE: "RemovalStarted",
        E.REMOVED: "Deprovisioned",
        E.PURGED: "Purged",
    }


def test_phase_groups() -> None:
    assert frozenset({P.ORDERED, P.CONFIRMED, P.PROVISIONING, P.PROVISIONED}) == ACTIVE_PHASES
    assert frozenset({P.PROVISIONING, P.PROVISIONED}) == DEPLOYED_PHASES
    assert frozenset({P.CANCELLED, P.DEPROVISIONING, P.DEPROVISIONED}) == ENDING_PHASES
    assert frozenset(P) == ACTIVE_PHASES | ENDING_PHASES
    assert not ACTIVE_PHASES & ENDING_PHASES


@pytest.mark.parametrize("phase", sorted(ACTIVE_PHASES))
def test_every_active_phase_can_be_cancelled(phase: P) -> None:
    assert next_phase(phase, E.CANCEL) is P.CANCELLED


@pytest.mark.parametrize("phase", sorted(ENDING_PHASES))
def test_an_ending_phase_cannot_be_cancelled_again(phase: P) -> None:
    with pytest.raises(InvalidTransition):
        next_phase(phase, E.CANCEL)
