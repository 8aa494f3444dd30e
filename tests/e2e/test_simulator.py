"""``kubectl lifecycle simulate`` tells what the operator does: the same manifests and policy on the
real control plane (the operator as a process, seconds-scale durations) and in the simulator end
with the same history on every object, transition by transition, each within 2 s of the other."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from seppmail_lifecycle.api.policy import Policy
from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from seppmail_lifecycle.runtime.simulator import simulate
from tests import manifests
from tests.e2e.conftest import StartOperator
from tests.kube import apply, get, items, wait_for

pytestmark = pytest.mark.e2e

POLICY: dict[str, Any] = {
    "autoDeploy": {"every": "1s", "offset": "0s"},
    "dns": {"verify": False},
    "cancellationDelay": "2s",
    "retention": "1s",
    "license": {"minimumGrace": "3s", "freeze": "3s", "remindersFull": ["2s"], "mxChangeNotice": "1s"},
}
KINDS = {
    "Domain": "domains",
    "Service": "services",
    "License": "licenses",
    "Tenant": "tenants",
    "Contract": "contracts",
    "Invoice": "invoices",
}
EXAMPLES = Path(__file__).parents[2] / "manifests" / "examples"
Objects = dict[tuple[str, str], dict[str, Any]]


def history(body: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    return [(h.get("from"), h["to"], h["reason"]) for h in (body.get("status") or {}).get("history", [])]


def moments(body: dict[str, Any]) -> list[datetime]:
    entries = (body.get("status") or {}).get("history", [])
    return [datetime.fromisoformat(h["at"].replace("Z", "+00:00")) for h in entries]


def run_both(
    plane: ControlPlane, namespace: str, docs: list[dict[str, Any]], started: datetime
) -> tuple[Objects, Objects]:
    """Every object of ours as the cluster holds it now, and as the simulator ends from
    ``started`` (when ``docs`` were applied) until now: the same stretch of time."""
    real = {
        (kind, body["metadata"]["name"]): body
        for kind, plural in KINDS.items()
        for body in items(plane, f"{plural}.lifecycle", namespace)
    }
    products = [
        {
            "apiVersion": p["apiVersion"],
            "kind": "Product",
            "metadata": {"name": p["metadata"]["name"]},
            "spec": p["spec"],
        }
        for p in items(plane, "products.lifecycle", "")
    ]
    timeline = asyncio.run(
        simulate([*products, *docs], Policy.model_validate(POLICY), namespace, started, datetime.now(UTC))
    )
    simulated = {(kind, name): body for (kind, _, name), body in timeline.objects.items() if kind in KINDS}
    return real, simulated


def assert_same_story(real: Objects, simulated: Objects) -> None:
    """The same objects, each with the same transitions in the same order, each within 2 s of the
    operator's (the operator sees a commit's objects arrive over a few hundred milliseconds)."""
    assert simulated.keys() == real.keys()
    for key, body in real.items():
        assert history(simulated[key]) == history(body), key
        for at_real, at_simulated in zip(moments(body), moments(simulated[key]), strict=True):
            assert abs(at_real - at_simulated) < timedelta(seconds=2), (key, at_real, at_simulated)


def test_the_simulator_ends_where_the_operator_ends(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator
) -> None:
    expires = (datetime.now(UTC) + timedelta(seconds=8)).replace(microsecond=0)
    docs = [
        manifests.tenant("soylent"),
        manifests.license("soylent", "soylent", expires.isoformat().replace("+00:00", "Z")),
        manifests.domain("soylent"),
        manifests.service("soylent-sign", "soylent", "sign-only", users=3),
        manifests.service("soylent-archive", "soylent", "archiving", users=3),  # waits for a dependency
    ]
    start_operator(POLICY)
    started = datetime.now(UTC)
    apply(catalogue, namespace, *docs)
    wait_for(
        "the purge",
        lambda: (
            (get(catalogue, "licenses.lifecycle", namespace, "soylent").get("status") or {}).get("period") == "Purged"
        ),
        timeout=40,
    )
    wait_for(
        "every service removed",
        lambda: (
            {s["status"].get("phase") for s in items(catalogue, "services.lifecycle", namespace)} == {"deprovisioned"}
        ),
    )
    real, simulated = run_both(catalogue, namespace, docs, started)
    assert_same_story(real, simulated)
    assert [t[1] for t in history(real[("License", "soylent")])] == ["License", "Grace", "Freeze", "Purged"]
    assert history(real[("Service", "soylent-sign")])[-1][1:] == ("deprovisioned", "Purged")
    assert ("Service", "soylent-base") in real  # booked by the operator, in both


def test_the_examples_tell_the_same_story_in_the_simulator(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator
) -> None:
    docs = [
        d
        for f in sorted(EXAMPLES.glob("*.yaml"))
        if f.name != "00-products.yaml"
        for d in yaml.safe_load_all(f.read_text())
        if d
    ]
    start_operator(POLICY)
    started = datetime.now(UTC)
    apply(catalogue, namespace, *docs)
    wait_for(
        "the examples provisioned and the yearly contract invoiced",
        lambda: (
            {s["status"].get("phase") for s in items(catalogue, "services.lifecycle", namespace) if s.get("status")}
            == {"provisioned"}
            and any((i.get("status") or {}).get("state") for i in items(catalogue, "invoices.lifecycle", namespace))
        ),
        timeout=40,
    )
    real, simulated = run_both(catalogue, namespace, docs, started)
    assert_same_story(real, simulated)
    assert len(real) > 10
