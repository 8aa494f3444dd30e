"""The order-phase state machine of Services and Domains (seed 000), as one transition table.

Like h11's tables: a phase and an event give the next phase, or the event is not allowed in that
phase. Guards (is the check passing, is the delay over) are decided by the callers; this table
only says which moves exist.
"""

from __future__ import annotations

from enum import StrEnum

from seppmail_lifecycle.api.states import OrderPhase as P


class OrderEvent(StrEnum):
    CHECK_PASSED = "CheckPassed"
    CHECK_FAILED = "CheckFailed"
    DEPLOY = "Deploy"
    APPLIED = "Applied"
    CANCEL = "Cancel"
    REMOVAL_DUE = "RemovalDue"
    REMOVED = "Removed"
    PURGED = "Purged"


E = OrderEvent
_ACTIVE = (P.ORDERED, P.CONFIRMED, P.PROVISIONING, P.PROVISIONED)

TRANSITIONS: dict[tuple[P, OrderEvent], P] = {
    (P.ORDERED, E.CHECK_PASSED): P.CONFIRMED,
    # A confirmed order whose check fails again (a dependency was cancelled) waits once more.
    (P.CONFIRMED, E.CHECK_FAILED): P.ORDERED,
    (P.CONFIRMED, E.DEPLOY): P.PROVISIONING,
    # A provisioning order whose name another tenant proved in DNS first gives it up and waits.
    (P.PROVISIONING, E.CHECK_FAILED): P.ORDERED,
    (P.PROVISIONING, E.APPLIED): P.PROVISIONED,
    **{(phase, E.CANCEL): P.CANCELLED for phase in _ACTIVE},
    (P.CANCELLED, E.REMOVAL_DUE): P.DEPROVISIONING,
    (P.DEPROVISIONING, E.REMOVED): P.DEPROVISIONED,
    # The tenant's license was purged: every configuration is already gone, at once and for good.
    **{(phase, E.PURGED): P.DEPROVISIONED for phase in P if phase is not P.DEPROVISIONED},
}

# The reason recorded (condition, event, history) when an event moves an object.
REASONS: dict[OrderEvent, str] = {
    E.CHECK_PASSED: "ConsistencyCheckPassed",
    E.CHECK_FAILED: "ConsistencyCheckFailed",
    E.DEPLOY: "DeploymentStarted",
    E.APPLIED: "Provisioned",
    E.CANCEL: "Cancelled",
    E.REMOVAL_DUE: "RemovalStarted",
    E.REMOVED: "Deprovisioned",
    E.PURGED: "Purged",
}


class InvalidTransition(ValueError):
    pass


def next_phase(phase: P, event: OrderEvent) -> P:
    try:
        return TRANSITIONS[(phase, event)]
    except KeyError:
        raise InvalidTransition(f"{event} is not allowed in phase {phase}") from None


def allowed(phase: P, event: OrderEvent) -> bool:
    return (phase, event) in TRANSITIONS


ACTIVE_PHASES = frozenset(_ACTIVE)
DEPLOYED_PHASES = frozenset({P.PROVISIONING, P.PROVISIONED})
ENDING_PHASES = frozenset({P.CANCELLED, P.DEPROVISIONING, P.DEPROVISIONED})
