"""The one event message of a status write: the whole path its transitions took, then each message."""

from __future__ import annotations

import pytest

from seppmail_lifecycle.core.conditions import Transition
from seppmail_lifecycle.runtime.writer import transitions_message

CONFIRM = Transition("ordered", "confirmed", "ConsistencyCheckPassed", "The consistency check passed.")
DEPLOY = Transition("confirmed", "provisioning", "DeploymentStarted", "Deployment started by X.")
APPLIED = Transition("provisioning", "provisioned", "Provisioned", "The backend applied it.")
NOTICE = Transition("provisioned", "provisioned", "Notice", "Nothing moved.")


@pytest.mark.parametrize(
    ("transitions", "message"),
    [
        ((CONFIRM,), "ordered -> confirmed: The consistency check passed."),
        ((NOTICE,), "Nothing moved."),
        (
            (DEPLOY, APPLIED),
            "confirmed -> provisioning -> provisioned: Deployment started by X. The backend applied it.",
        ),
        (
            (CONFIRM, DEPLOY, APPLIED),
            "ordered -> confirmed -> provisioning -> provisioned: The consistency check passed. "
            "Deployment started by X. The backend applied it.",
        ),
        ((APPLIED, NOTICE), "provisioning -> provisioned: The backend applied it. Nothing moved."),
        ((Transition(None, "License", "Issued", "Issued."), NOTICE), "License -> provisioned: Issued. Nothing moved."),
    ],
    ids=["one", "one-without-a-move", "two", "three", "a-move-then-none", "from-nothing"],
)
def test_one_message_for_the_transitions_of_a_write(transitions: tuple[Transition, ...], message: str) -> None:
    assert transitions_message(transitions) == message


def test_the_message_is_bounded() -> None:
    long = Transition("a", "b", "R", "x" * 2000)
    assert len(transitions_message((long, long))) == 1024
