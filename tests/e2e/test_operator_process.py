"""The operator process: starts against the real API server, answers liveness, logs JSON on
request, and stops cleanly on SIGTERM."""

from __future__ import annotations

from pathlib import Path

import pytest

from seppmail_lifecycle import __version__
from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from tests.conftest import CRD_DIR, EXAMPLES_DIR
from tests.e2e.conftest import StartOperator
from tests.kube import get, wait_for, wait_phases
from tests.operator_process import OperatorProcess

pytestmark = pytest.mark.e2e


def test_operator_runs_answers_liveness_and_stops_cleanly(crds: ControlPlane, namespace: str, tmp_path: Path) -> None:
    # Scoped to its own namespace: other tests' namespaces may be terminating meanwhile.
    operator = OperatorProcess(crds, tmp_path / "operator.log", namespaces=[namespace])
    operator.start()
    health = operator.liveness()
    assert health is not None
    assert health["version"] == __version__
    assert operator.stop() == 0
    lines = operator.log_lines()
    assert lines
    assert not any(line.get("unparsed") for line in lines), operator.log_tail()
    assert any("authentication has finished" in line["message"] for line in lines)
    assert not any(line.get("severity") in ("error", "critical") for line in lines), operator.log_tail()


def test_handlers_run_on_the_event_loop_and_the_log_says_one_line_per_transition(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator
) -> None:
    # asyncio's debug mode raises on any loop operation from another thread (a sync kopf handler
    # runs in kopf's thread pool); the store and queue refuse a foreign thread in any mode.
    operator = start_operator(
        {"autoDeploy": {"every": "2s", "offset": "0s"}, "dns": {"verify": False}}, env={"PYTHONASYNCIODEBUG": "1"}
    )
    catalogue.kubectl("apply", "-n", namespace, "-f", str(EXAMPLES_DIR))
    wait_phases(catalogue, namespace, "domains.lifecycle", "provisioned")
    messages = [line["message"] for line in operator.log_lines()]
    assert not [m for m in messages if "thread" in m.lower() and "safe" in m.lower()]
    # kopf's per-event "Handler ... succeeded." lines are for --verbose only.
    assert not [m for m in messages if m.startswith("Handler ") and m.endswith("succeeded.")]
    # One INFO line per transition: exactly the domain's history, in order.
    logged = [m for m in messages if m.startswith(f"Domain {namespace}/acme-ch ")]
    history = get(catalogue, "domains.lifecycle", namespace, "acme-ch")["status"]["history"]
    assert [h["to"] for h in history][-2:] == ["provisioning", "provisioned"]
    assert logged == [
        f"Domain {namespace}/acme-ch "
        + (f"{h['from']} -> {h['to']}: " if h.get("from") != h["to"] else "")
        + f"{h['message']} ({h['reason']})"
        for h in history
    ]


def test_a_crd_missing_after_a_helm_upgrade_is_reported_and_the_rest_runs(
    catalogue: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    # `helm upgrade` never installs a CRD that is new in the chart (here: Partner).
    crd = CRD_DIR / "partners.lifecycle.seppmail.cloud.yaml"
    catalogue.kubectl("delete", "-f", str(crd), "--wait=true")
    try:
        operator = OperatorProcess(catalogue, tmp_path / "operator.log", namespaces=[namespace])
        operator.start()
        try:
            catalogue.kubectl("apply", "-n", namespace, "-f", str(EXAMPLES_DIR / "10-tenant-acme.yaml"))
            tenant = wait_for(
                "the tenant decided without partners",
                lambda: ((get(catalogue, "tenants.lifecycle", namespace, "acme") or {}).get("status") or {}).get("id"),
            )
            assert tenant
        finally:
            assert operator.stop() == 0, operator.log_tail()
        errors = [line["message"] for line in operator.log_lines() if line.get("severity") in ("error", "critical")]
        assert any("CRD partners.lifecycle.seppmail.cloud is not installed" in e for e in errors), errors
    finally:
        catalogue.kubectl("apply", "--server-side", "-f", str(crd))
        catalogue.kubectl(
            "wait", "--for=condition=Established", "--timeout=60s", "crd/partners.lifecycle.seppmail.cloud"
        )
