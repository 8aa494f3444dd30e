"""Conditions in metav1.Condition form, and the transitions recorded in status history.

``lastTransitionTime`` changes only when a condition's status changes, as the Kubernetes API
conventions require; everything else about a condition may be refreshed freely.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeVar

from seppmail_lifecycle.api.common import MAX_HISTORY, Condition, HistoryEntry, StatusBase

StatusT = TypeVar("StatusT", bound=StatusBase)

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
CONFIRMED = "Confirmed"
DEPLOYED = "Deployed"
CANCELLED = "Cancelled"

Status = Literal["True", "False", "Unknown"]


@dataclass(frozen=True)
class Cond:
    """A condition as decided, before times are attached."""

    type: str
    status: Status
    reason: str
    message: str = ""


def _flag(value: bool) -> Status:
    return "True" if value else "False"


def summary(reason: str, message: str, *, ready: bool, reconciling: bool = False, stalled: bool = False) -> list[Cond]:
    """The three conditions every kind carries (Ready, Reconciling, Stalled), with one reason."""
    return [
        Cond(READY, _flag(ready), reason, message),
        Cond(RECONCILING, _flag(reconciling), reason, message),
        Cond(STALLED, _flag(stalled), reason, message),
    ]


def merge_conditions(
    current: Sequence[Condition], decided: Sequence[Cond], generation: int, now: datetime
) -> list[Condition]:
    """The new condition list: decided ones replace current ones of the same type, keeping
    lastTransitionTime when the status did not change; undecided current ones are kept."""
    by_type = {c.type: c for c in current}
    out: list[Condition] = []
    for cond in decided:
        previous = by_type.pop(cond.type, None)
        if previous is not None and (
            previous.status,
            previous.reason,
            previous.message,
            previous.observed_generation,
        ) == (cond.status, cond.reason, cond.message, generation):
            out.append(previous)  # unchanged: conditions are never changed in place, so it is shared
            continue
        since = previous.last_transition_time if previous and previous.status == cond.status else now
        out.append(
            Condition(
                type=cond.type,
                status=cond.status,
                reason=cond.reason,
                message=cond.message,
                last_transition_time=since,
                observed_generation=generation,
            )
        )
    out.extend(by_type.values())
    return out


def condition(conditions: Sequence[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)


def is_true(conditions: Sequence[Condition], type_: str) -> bool:
    found = condition(conditions, type_)
    return found is not None and found.status == "True"


@dataclass(frozen=True)
class Transition:
    """A state change the core decided: recorded in history, posted as an event."""

    from_: str | None
    to: str
    reason: str
    message: str
    warning: bool = False


def append_history(
    history: Sequence[HistoryEntry], transitions: Sequence[Transition], now: datetime
) -> list[HistoryEntry]:
    entries = list(history) + [
        HistoryEntry(at=now, from_=t.from_, to=t.to, reason=t.reason, message=t.message) for t in transitions
    ]
    return entries[-MAX_HISTORY:]


def invalid_spec_status(current: StatusT, generation: int, error: str, now: datetime) -> StatusT:
    """The status of an object whose spec cannot be read: Stalled until the spec is fixed."""
    message = f"The spec is invalid: {error}. Fix the object; nothing else is affected."
    status = current.model_copy(deep=True)
    status.observed_generation = generation
    status.conditions = merge_conditions(
        current.conditions, summary("InvalidSpec", message, ready=False, stalled=True), generation, now
    )
    return status
