"""The metrics endpoint on the real control plane: scraped as Prometheus scrapes it, it shows the
transitions that happened, the objects by state, the writes, the reconciles and their duration,
how late deadlines were taken up, and that this replica leads."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from tests.conftest import EXAMPLES_DIR
from tests.e2e.conftest import StartOperator
from tests.e2e.test_orders import FAST
from tests.kube import items, wait_phases
from tests.operator_process import samples, value

pytestmark = pytest.mark.e2e


def test_a_scrape_shows_what_the_operator_did_and_holds(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator
) -> None:
    operator = start_operator(FAST)
    catalogue.kubectl("apply", "-n", namespace, "-f", str(EXAMPLES_DIR))
    wait_phases(catalogue, namespace, "services.lifecycle", "provisioned")
    services = items(catalogue, "services.lifecycle", namespace)
    scraped = samples(operator.scrape())
    prefix = "seppmail_lifecycle_"

    assert value(scraped, prefix + "leader") == 1
    assert value(scraped, prefix + "info") == 1
    # Every service went ordered -> confirmed -> provisioning -> provisioned once.
    for source, target in (("ordered", "confirmed"), ("confirmed", "provisioning"), ("provisioning", "provisioned")):
        counted = value(scraped, prefix + "transitions_total", kind="Service", **{"from": source, "to": target})
        assert counted == len(services), (source, target)
    assert value(scraped, prefix + "objects", kind="Service", state="provisioned") == len(services)
    assert value(scraped, prefix + "subscriptions", state="OK") + value(
        scraped, prefix + "subscriptions", state="DISPATCHED"
    ) == len(services)
    assert value(scraped, prefix + "objects", kind="Product", state="Ready") >= 1
    # One status write per transition at most, and the reconciles that made them, timed.
    assert value(scraped, prefix + "api_writes_total", kind="Service", verb="patch-status") > 0
    assert value(scraped, prefix + "reconciles_total", aggregate="Domain") >= 1
    assert value(scraped, prefix + "reconcile_duration_seconds_count", aggregate="Domain") >= 1
    # The domains waited for a deploy window (a deadline): how late each was taken up is measured.
    assert value(scraped, prefix + "deadline_lateness_seconds_count") >= 1
    assert value(scraped, prefix + "queue_depth") >= 0
    assert value(scraped, prefix + "reconcile_errors_total") == 0
    # Each metric says what it is.
    families = {f.name: f for f in text_string_to_metric_families(operator.scrape())}
    assert all(f.documentation for f in families.values() if f.name.startswith(prefix))
