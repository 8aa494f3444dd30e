"""The metrics catalogue and its exposition: counters and histograms by name and labels, gauges
read from the running operator at scrape time, nothing undocumented."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pytest
from prometheus_client.parser import text_string_to_metric_families

from seppmail_lifecycle.api.service import ServiceStatus, SubscriptionStatus
from seppmail_lifecycle.api.states import OrderPhase, SubscriptionState
from seppmail_lifecycle.kube.store import state_of
from seppmail_lifecycle.runtime.metrics import METRICS, Counters, OperatorCollector, exposition
from tests.unit.core.builders import service


@dataclass
class Held:
    """What a running operator holds, as the collector reads it."""

    objects: list[tuple[str, str, str | None]] = field(default_factory=list)

    def states(self) -> Iterable[tuple[str, str, str | None]]:
        return self.objects

    def gauges(self) -> dict[str, float]:
        return {"queue_depth": 3, "timers": 7, "workers": 4}

    def totals(self) -> dict[str, int]:
        return {"events_posted_total": 5}


def scrape(counters: Counters) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = exposition(counters.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_counters_and_histograms_are_exposed_with_their_labels_and_in_the_snapshot() -> None:
    counters = Counters()
    counters.inc("transitions_total", kind="Service", **{"from": "ordered", "to": "confirmed"})
    counters.inc("transitions_total", 2, kind="Service", **{"from": "ordered", "to": "confirmed"})
    counters.inc("tenants_purged_total")
    counters.observe("reconcile_duration_seconds", 0.003, aggregate="Domain")
    counters.observe("deadline_lateness_seconds", 0.2)
    found = scrape(counters)
    labels = (("from", "ordered"), ("kind", "Service"), ("to", "confirmed"))
    assert found[("seppmail_lifecycle_transitions_total", labels)] == 3
    assert found[("seppmail_lifecycle_tenants_purged_total", ())] == 1
    assert found[("seppmail_lifecycle_reconcile_duration_seconds_count", (("aggregate", "Domain"),))] == 1
    assert (
        found[("seppmail_lifecycle_reconcile_duration_seconds_bucket", (("aggregate", "Domain"), ("le", "0.005")))] == 1
    )
    assert found[("seppmail_lifecycle_deadline_lateness_seconds_bucket", (("le", "0.1"),))] == 0
    assert counters.snapshot() == {
        "tenants_purged_total": 1,
        'transitions_total{from="ordered",kind="Service",to="confirmed"}': 3,
    }


@pytest.mark.parametrize(("name", "call"), [("no_such_total", "inc"), ("reconciles_total", "observe")])
def test_a_metric_outside_the_catalogue_or_of_another_type_is_refused(name: str, call: str) -> None:
    with pytest.raises(KeyError, match="catalogue"):
        getattr(Counters(), call)(name, 1)


def test_every_metric_of_the_catalogue_is_documented() -> None:
    assert all(spec.help.endswith(".") and len(spec.help) > 20 for spec in METRICS.values())


def test_the_collector_reads_objects_queue_and_leadership_at_scrape_time() -> None:
    counters = Counters()
    held = Held()
    running: list[Held] = []
    counters.registry.register(
        OperatorCollector("1.2.3", lambda: running[0] if running else None, lambda: bool(running))
    )
    standby = scrape(counters)
    assert standby[("seppmail_lifecycle_leader", ())] == 0
    assert standby[("seppmail_lifecycle_info", (("version", "1.2.3"),))] == 1
    assert not any(name == "seppmail_lifecycle_objects" for name, _ in standby)
    running.append(held)
    held.objects += [
        ("Service", "provisioned", "OK"),
        ("Service", "provisioned", "EXPIRED"),
        ("License", "Grace", None),
    ]
    leading = scrape(counters)
    assert leading[("seppmail_lifecycle_leader", ())] == 1
    assert leading[("seppmail_lifecycle_objects", (("kind", "Service"), ("state", "provisioned")))] == 2
    assert leading[("seppmail_lifecycle_objects", (("kind", "License"), ("state", "Grace")))] == 1
    assert leading[("seppmail_lifecycle_subscriptions", (("state", "EXPIRED"),))] == 1
    assert leading[("seppmail_lifecycle_queue_depth", ())] == 3
    assert leading[("seppmail_lifecycle_events_posted_total", ())] == 5
    assert leading[("seppmail_lifecycle_events_dropped_total", ())] == 0
    held.objects.pop()
    assert ("seppmail_lifecycle_objects", (("kind", "License"), ("state", "Grace"))) not in scrape(counters)


def test_an_objects_state_is_its_phase_period_or_state_and_a_services_subscription() -> None:
    provisioned = service(
        "acme-base",
        "base",
        status=ServiceStatus(
            phase=OrderPhase.PROVISIONED, subscription=SubscriptionStatus(state=SubscriptionState.EXPIRED)
        ),
    )
    assert state_of(provisioned) == ("provisioned", "EXPIRED")
    assert state_of(service("acme-new", "base")) == ("NotReady", None)
    assert state_of(None) == ("Invalid", None)
