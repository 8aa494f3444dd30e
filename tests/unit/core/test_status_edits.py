"""Status written by another field manager: found in managedFields, reported as StatusEdited."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from seppmail_lifecycle.api.common import Condition
from seppmail_lifecycle.api.service import ServiceStatus
from seppmail_lifecycle.core.status_edits import (
    FIELD_MANAGER,
    STATUS_EDITED,
    StatusEdit,
    has_edit_condition,
    mark_status_edit,
    status_edit,
)

AT = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


def entry(manager: str, *fields: str, subresource: str | None = "status", time: str = "2026-12-03T09:30:00Z") -> Any:
    body: dict[str, Any] = {
        "manager": manager,
        "operation": "Update",
        "time": time,
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:status": {f"f:{f}": {} for f in fields}} if subresource == "status" else {"f:spec": {}},
    }
    if subresource:
        body["subresource"] = subresource
    return body


@pytest.mark.parametrize(
    ("managed", "expected"),
    [
        (None, None),
        ([], None),
        ([entry(FIELD_MANAGER, "phase", "history")], None),
        # What the operator wrote before it named its field manager, under the client's default.
        ([entry("OpenAPI-Generator", "phase")], None),
        # A spec write by kubectl is the user's business, not an edit of the status.
        ([entry("kubectl-client-side-apply", subresource=None)], None),
        (
            [entry(FIELD_MANAGER, "phase"), entry("kubectl-patch", "phase")],
            StatusEdit("kubectl-patch", AT, ("status.phase",)),
        ),
        (
            [entry("kubectl-edit", "history", "phase", time="2026-12-01T00:00:00Z"), entry("kubectl-patch", "billing")],
            StatusEdit("kubectl-patch", AT, ("status.billing",)),
        ),
        ([entry("kubectl-patch", "phase", time="garbage")], StatusEdit("kubectl-patch", None, ("status.phase",))),
        # An entry left without status fields (the operator wrote them all again) is no edit.
        ([{**entry("kubectl-patch"), "fieldsV1": {"f:status": {}}}], None),
    ],
    ids=[
        "none",
        "empty",
        "only-ours",
        "ours-before-it-was-named",
        "spec-write",
        "kubectl-patch",
        "the-latest-of-two",
        "unreadable-time",
        "nothing-left-owned",
    ],
)
def test_status_edit_is_the_latest_status_write_of_another_manager(managed: Any, expected: StatusEdit | None) -> None:
    assert status_edit(managed) == expected


def test_an_edit_is_reported_by_a_condition_naming_writer_time_and_fields() -> None:
    edit = StatusEdit("kubectl-patch", AT, ("status.phase", "status.subscription"))
    marked = mark_status_edit(ServiceStatus(), edit, 3, "services")
    [cond] = marked.conditions
    assert (cond.type, cond.status, cond.reason) == (STATUS_EDITED, "True", "WrittenByAnotherManager")
    assert cond.message.startswith(
        "status.phase, status.subscription written by 'kubectl-patch' at 2026-12-03T09:30:00Z, not by the operator"
    )
    assert "services/status" in cond.message
    assert (cond.last_transition_time, cond.observed_generation) == (AT, 3)
    # Idempotent: marked again, the same status object comes back (nothing to write).
    assert mark_status_edit(marked, edit, 3, "services") is marked
    assert has_edit_condition(marked)


def test_the_condition_goes_once_no_status_field_is_another_managers_any_more() -> None:
    other = Condition(type="Ready", status="True", reason="Provisioned", last_transition_time=AT)
    marked = mark_status_edit(
        ServiceStatus(conditions=[other]), StatusEdit("kubectl-patch", AT, ("status.phase",)), 1, "x"
    )
    assert len(marked.conditions) == 2
    cleared = mark_status_edit(marked, None, 1, "x")
    assert cleared.conditions == [other]
    assert not has_edit_condition(cleared)
    assert mark_status_edit(cleared, None, 1, "x") is cleared
