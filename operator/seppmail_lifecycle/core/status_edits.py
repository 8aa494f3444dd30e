"""Status written by someone other than the operator: who wrote which status fields and when (read
from the object's ``metadata.managedFields``), and the ``StatusEdited`` condition that says so.

A status is the operator's memory (order phases, periods, history, billing). RBAC keeps partners
from writing it (only the operator's service account and cluster admins may), and the CRD schema
refuses a status no operator would write. What an admin writes within those rules is taken as
written, since it may be a deliberate repair, and reported: the condition names the writer, the
time and the fields for as long as that writer still owns any of them (until the operator has
written each one again).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from seppmail_lifecycle.api.common import Condition, StatusBase

STATUS_EDITED = "StatusEdited"
REASON = "WrittenByAnotherManager"
FIELD_MANAGER = "seppmail-lifecycle"
"""The field manager of every write of the operator (its user agent's product name)."""
_OWN_MANAGERS = frozenset({FIELD_MANAGER, "OpenAPI-Generator"})
"""Ours; the second is the client library's default, under which versions before 0.1.0 wrote."""

StatusT = TypeVar("StatusT", bound=StatusBase)


@dataclass(frozen=True)
class StatusEdit:
    """The latest write of status fields by another manager that still owns some of them."""

    manager: str
    at: datetime | None
    fields: tuple[str, ...]
    """Top-level status fields it owns, as ``status.<field>``."""


def status_edit(managed_fields: Sequence[Mapping[str, Any]] | None) -> StatusEdit | None:
    """The latest status write by another field manager, from an object's managedFields."""
    edits: list[StatusEdit] = []
    for entry in managed_fields or ():
        manager = entry.get("manager")
        if entry.get("subresource") != "status" or not isinstance(manager, str) or manager in _OWN_MANAGERS:
            continue
        owned = (entry.get("fieldsV1") or {}).get("f:status")
        fields = tuple(sorted(f"status.{key[2:]}" for key in owned or {} if key.startswith("f:")))
        if fields:
            edits.append(StatusEdit(manager, _time(entry.get("time")), fields))
    return max(edits, key=lambda e: (e.at.timestamp() if e.at else float("-inf"), e.manager)) if edits else None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def has_edit_condition(status: StatusBase) -> bool:
    return any(c.type == STATUS_EDITED for c in status.conditions)


def mark_status_edit(status: StatusT, edit: StatusEdit | None, generation: int, plural: str) -> StatusT:
    """``status`` with the StatusEdited condition as ``edit`` says (none without an edit)."""
    others = [c for c in status.conditions if c.type != STATUS_EDITED]
    if edit is None:
        return status if len(others) == len(status.conditions) else status.model_copy(update={"conditions": others})
    when = f" at {edit.at.isoformat().replace('+00:00', 'Z')}" if edit.at else ""
    wanted = Condition(
        type=STATUS_EDITED,
        status="True",
        reason=REASON,
        message=(
            f"{', '.join(edit.fields)} written by {edit.manager!r}{when}, not by the operator, which decides "
            f"from it as written; only the operator should write {plural}/status (check who else may)."
        )[:32768],
        last_transition_time=edit.at or datetime.fromtimestamp(0, UTC),
        observed_generation=generation,
    )
    if wanted in status.conditions:
        return status
    return status.model_copy(update={"conditions": [*others, wanted]})
