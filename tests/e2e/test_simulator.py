"""``kubectl lifecycle simulate`` tells what the operator does: the same manifests and policy on the
real control plane (the operator as a process, seconds-scale durations) and in the simulator end
with the same history on every object, transition by transition."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

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
KINDS = {"Domain": "domains", "Service": "services", "License": "licenses", "Tenant": "tenants"}


def history(body: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    return [(h.get("from"), h["to"], h["reason"]) for h in (body.get("status") or {}).get("history", [])]


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
    real = {
        (kind, body["metadata"]["name"]): history(body)
        for kind, plural in KINDS.items()
        for body in items(catalogue, f"{plural}.lifecycle", namespace)
    }
    products = [p for p in items(catalogue, "products.lifecycle", "") if p["metadata"]["name"]]
    catalogue_docs = [{k: p[k] for k in ("apiVersion", "kind", "spec")} | {"metadata": {"name": p["metadata"]["name"]}}
                      for p in products]  # fmt: skip
    # Simulated from when they were applied until now: the same stretch of time.
    timeline = asyncio.run(
        simulate([*catalogue_docs, *docs], Policy.model_validate(POLICY), namespace, started, datetime.now(UTC))
    )
    simulated = {(kind, name): history(body) for (kind, _, name), body in timeline.objects.items() if kind in KINDS}
    assert simulated.keys() == real.keys()
    for key, transitions in real.items():
        assert simulated[key] == transitions, key
    assert ("License", "soylent") in real
    assert [t[1] for t in real[("License", "soylent")]] == ["License", "Grace", "Freeze", "Purged"]
    assert real[("Service", "soylent-sign")][-1][1:] == ("deprovisioned", "Purged")
    assert ("Service", "soylent-base") in real  # booked by the operator, in both
