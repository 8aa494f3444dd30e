"""Conditions in metav1.Condition form and the transition history; the routing config; products."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from seppmail_lifecycle.api.common import MAX_HISTORY
from seppmail_lifecycle.api.service import ServiceStatus
from seppmail_lifecycle.core import conditions as c
from seppmail_lifecycle.core.conditions import Cond, Transition, append_history, invalid_spec_status, merge_conditions
from seppmail_lifecycle.core.products import decide_product
from seppmail_lifecycle.core.routing import RoutedService, RoutingConfig

from .builders import T0, condition, product

LATER = T0 + timedelta(hours=1)


def test_a_condition_keeps_its_transition_time_while_its_status_is_unchanged() -> None:
    current = [condition("Ready", "False", "Checking", "waiting", since=T0)]
    (ready,) = merge_conditions(current, [Cond("Ready", "False", "TenantNotFound", "no tenant")], 2, LATER)
    assert (ready.status, ready.reason, ready.message) == ("False", "TenantNotFound", "no tenant")
    assert ready.last_transition_time == T0
    assert ready.observed_generation == 2


def test_a_condition_changing_status_gets_a_new_transition_time() -> None:
    current = [condition("Ready", "False", since=T0)]
    (ready,) = merge_conditions(current, [Cond("Ready", "True", "Provisioned")], 1, LATER)
    assert ready.last_transition_time == LATER


def test_a_new_condition_starts_now() -> None:
    (ready,) = merge_conditions([], [Cond("Ready", "Unknown", "Checking")], 1, LATER)
    assert ready.last_transition_time == LATER
    assert ready.message == ""


def test_undecided_conditions_are_kept_after_the_decided_ones() -> None:
    current = [condition("Deployed", "True", "Provisioned"), condition("Ready", "True", "Provisioned")]
    merged = merge_conditions(current, [Cond("Ready", "False", "Cancelled"), Cond("Cancelled", "True", "X")], 1, LATER)
    assert [(x.type, x.status) for x in merged] == [("Ready", "False"), ("Cancelled", "True"), ("Deployed", "True")]
    assert merged[2] == current[0]


def test_condition_lookup() -> None:
    conditions = [condition("Ready", "True"), condition("Stalled", "False")]
    assert c.condition(conditions, "Ready") == conditions[0]
    assert c.condition(conditions, "Confirmed") is None
    assert c.is_true(conditions, "Ready")
    assert not c.is_true(conditions, "Stalled")
    assert not c.is_true(conditions, "Confirmed")


def test_history_appends_newest_last_and_keeps_the_last_entries() -> None:
    history = append_history([], [Transition(None, "ordered", "Created", "new")], T0)
    history = append_history(history, [Transition("ordered", "confirmed", "ConsistencyCheckPassed", "ok")], LATER)
    assert [(h.at, h.from_, h.to, h.reason, h.message) for h in history] == [
        (T0, None, "ordered", "Created", "new"),
        (LATER, "ordered", "confirmed", "ConsistencyCheckPassed", "ok"),
    ]
    assert append_history(history, [], LATER) == history
    many = [Transition("a", "b", f"R{i}", "") for i in range(MAX_HISTORY + 5)]
    kept = append_history(history, many, LATER)
    assert len(kept) == MAX_HISTORY
    assert kept[0].reason == "R5"
    assert kept[-1].reason == f"R{MAX_HISTORY + 4}"


def test_an_invalid_spec_stalls_the_object_and_keeps_the_rest_of_its_status() -> None:
    current = ServiceStatus(number=3, conditions=[condition("Ready", "True", "Provisioned", since=T0)])
    status = invalid_spec_status(current, 5, "spec.users: must be at least 0", LATER)
    assert status.number == 3
    assert status.observed_generation == 5
    ready, reconciling, stalled = status.conditions
    assert (ready.status, ready.reason, ready.last_transition_time) == ("False", "InvalidSpec", LATER)
    assert (reconciling.status, stalled.status) == ("False", "True")
    assert "spec.users: must be at least 0" in stalled.message
    assert current.conditions[0].status == "True"  # the input is not changed


def test_routing_config_lists_its_services() -> None:
    config = RoutingConfig("acme", "acme-com", "acme.com", True, None, (RoutedService("acme-base", "base"),))
    assert config.has_service("acme-base")
    assert not config.has_service("acme-sig")


def test_a_product_is_available_once_observed() -> None:
    catalogue = {p.name: p for p in (product("archive", "sig-only", "base"), product("sig-only"), product("base"))}
    decision = decide_product(product("archive", "sig-only", "base"), catalogue, T0)
    ready, reconciling, stalled = decision.status.conditions
    assert (ready.status, ready.reason) == ("True", "Available")
    assert ready.message == "seppmail.cloud archive can be booked. Requires: sig-only, base."
    assert (reconciling.status, stalled.status) == ("False", "False")
    assert decide_product(product("base"), catalogue, T0).status.conditions[0].message == (
        "seppmail.cloud base can be booked."
    )


@pytest.mark.parametrize(
    ("catalogue", "name", "reason", "ready", "says"),
    [
        ({"a": ["b"], "b": ["a"]}, "a", "RequirementCycle", "True", "a requires b requires a"),
        ({"a": ["b"], "b": ["c"], "c": ["a"]}, "b", "RequirementCycle", "True", "b requires c requires a requires b"),
        ({"a": ["b"], "b": ["b"]}, "a", "Available", "True", "can be booked"),  # b's cycle, not a's
        ({"a": ["gone"]}, "a", "RequiredProductMissing", "False", "'gone'"),
        ({"a": ["b", "gone"], "b": ["a"]}, "a", "RequiredProductMissing", "False", "'gone'"),
    ],
    ids=["two", "three", "not-on-the-cycle", "missing", "missing-and-cycle"],
)
def test_requirements_that_cannot_be_met_or_loop_are_reported(
    catalogue: dict[str, list[str]], name: str, reason: str, ready: str, says: str
) -> None:
    products = {n: product(n, *requires) for n, requires in catalogue.items()}
    decision = decide_product(products[name], products, T0)
    ready_cond, _, stalled = decision.status.conditions
    assert (ready_cond.reason, ready_cond.status) == (reason, ready)
    assert stalled.status == ("True" if reason == "RequiredProductMissing" else "False")
    assert says in ready_cond.message
    assert decide_product(replace(products[name], status=decision.status), products, T0).status == decision.status
