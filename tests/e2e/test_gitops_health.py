"""How Argo CD and Flux judge live objects on the real control plane: the chart's Argo CD health
check (Lua, in a real Lua VM), cli-utils' kstatus (the Go library Flux's health checks use) and
Flux's own evaluation of the chart's healthCheckExprs (both built by the harness) on every object
of a scenario that holds each kind in a telling state: settled, stalled on a mistake, waiting for
the partner's DNS records, waiting for a payment, cancelled, and changed while no operator
observed it."""

from __future__ import annotations

from typing import Any

import pytest

from seppmail_lifecycle.core.verification import verification_token
from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from tests import manifests
from tests.e2e.conftest import StartOperator
from tests.gitops import ARGO_TO_FLUX, argocd_health, flux_health, kstatus
from tests.kube import apply, get, items, merge_patch, phase, wait_for
from tests.servers import DnsServer

pytestmark = pytest.mark.e2e

GATEWAY = "mx.gateway.test"
OURS = (
    "tenants,domains,services,contracts,invoices,payments,licenses,products".replace(",", ".lifecycle,") + ".lifecycle"
)
Body = dict[str, Any]


def judged(plane: ControlPlane, namespace: str) -> dict[tuple[str, str], tuple[str, str, str]]:
    """Every live object of ours: (kind, name) -> (Argo CD health, kstatus, Argo CD's message).
    Flux with the chart's healthCheckExprs must judge each as Argo CD does (``ARGO_TO_FLUX``)."""
    flux = kstatus(plane, namespace, OURS)
    bodies = items(plane, OURS, namespace)
    verdicts = {}
    for body, (by_exprs, why) in zip(bodies, flux_health(bodies), strict=True):
        key = (body["kind"], body["metadata"]["name"])
        argo, message = argocd_health(body)
        assert by_exprs == ARGO_TO_FLUX[argo], f"{key}: Argo CD {argo}, Flux's healthCheckExprs {by_exprs} {why}"
        verdicts[key] = (argo, flux[key][0], message)
    return verdicts


def unsettled(plane: ControlPlane, namespace: str) -> list[str]:
    """What the scenario still waits for."""
    ready = (get(plane, "domains.lifecycle", namespace, "ready") or {}).get("status") or {}
    waiting = (get(plane, "domains.lifecycle", namespace, "waiting") or {}).get("status") or {}
    invoices = [(i.get("status") or {}).get("state") for i in items(plane, "invoices.lifecycle", namespace)]
    payment = (get(plane, "payments.lifecycle", namespace, "typo") or {}).get("status") or {}
    missing = {
        f"domain ready {ready.get('phase')}": ready.get("phase") == "provisioned",
        "domain waiting without pending actions": bool(waiting.get("pendingActions")),
        f"invoices {invoices}": "open" in invoices,
        f"payment {payment.get('state')}": payment.get("state") == "rejected",
    }
    return [what for what, done in missing.items() if not done]


def test_argo_cd_and_kstatus_judge_live_objects_as_the_design_says(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator, dns_server: DnsServer
) -> None:
    dns_server.set_mx("ready.test", GATEWAY)
    dns_server.set_mx("waiting.test", GATEWAY)  # its verification record is never set
    policy = {
        "autoDeploy": {"every": "1s", "offset": "0s"},
        "cancellationDelay": "1h",
        "billing": {"invoiceLeadTime": "40d"},  # the next month's invoice at once
        "dns": {
            "nameservers": [dns_server.address],
            "timeout": "1s",
            "recheckInitial": "1s",
            "recheckMax": "1s",
            "mxGateways": [GATEWAY],
        },
    }
    operator = start_operator(policy)
    apply(
        catalogue,
        namespace,
        manifests.tenant("ready"),
        manifests.license("ready", "ready", "2030-01-01T00:00:00Z"),
        manifests.obj("Contract", "ready", {"tenantRef": {"name": "ready"}, "trialDays": 0}),
        manifests.domain("ready"),
        manifests.service("ready-sign-only", "ready", "sign-only", users=5, contractRef={"name": "ready"}),
        manifests.tenant("waiting"),
        manifests.domain("waiting"),
        manifests.service("broken", "nowhere", "sign-only"),  # its domain does not exist: stalled
        manifests.payment("typo", "no-such-invoice", "10.00"),
    )
    ready = wait_for("the domain ready created", lambda: get(catalogue, "domains.lifecycle", namespace, "ready"))
    dns_server.set_txt(
        "_seppmail-verification.ready.test", f"seppmail-verification={verification_token(ready['metadata']['uid'])}"
    )
    wait_for("every state reached", lambda: unsettled(catalogue, namespace) == [], timeout=60)
    invoice = next(i["metadata"]["name"] for i in items(catalogue, "invoices.lifecycle", namespace))

    verdicts = judged(catalogue, namespace)
    expected = {
        ("Tenant", "ready"): ("Healthy", "Current"),
        ("Tenant", "waiting"): ("Healthy", "Current"),
        ("License", "ready"): ("Healthy", "Current"),
        # Active, its invoice due: healthy, with the amount due in the message.
        ("Contract", "ready"): ("Healthy", "Current"),
        # Waiting for a payment: Argo CD Suspended; kstatus InProgress (Ready=False).
        ("Invoice", invoice): ("Suspended", "InProgress"),
        ("Domain", "ready"): ("Healthy", "Current"),
        ("Service", "ready-sign-only"): ("Healthy", "Current"),
        ("Service", "ready-base"): ("Healthy", "Current"),
        # Waiting for the partner's DNS record: Argo CD Suspended, kstatus InProgress (Reconciling).
        ("Domain", "waiting"): ("Suspended", "InProgress"),
        ("Service", "waiting-base"): ("Progressing", "InProgress"),
        # Mistakes to fix in Git: Degraded / Failed.
        ("Service", "broken"): ("Degraded", "Failed"),
        ("Payment", "typo"): ("Degraded", "Failed"),
    }
    products = {k: v[:2] for k, v in verdicts.items() if k[0] == "Product"}
    assert products
    assert set(products.values()) == {("Healthy", "Current")}
    assert {k: v[:2] for k, v in verdicts.items() if k[0] != "Product"} == expected, verdicts
    messages = {k: v[2] for k, v in verdicts.items()}
    assert "_seppmail-verification.waiting.test" in messages[("Domain", "waiting")]
    assert "no-such-invoice" in messages[("Payment", "typo")]
    assert "due" in messages[("Contract", "ready")]

    # Cancelled: its removal is scheduled (support can expedite it): Suspended, not Progressing.
    merge_patch(catalogue, namespace, "services.lifecycle", "ready-sign-only", {"spec": {"cancellation": {}}})
    wait_for("cancelled", lambda: phase(catalogue, "services.lifecycle", namespace, "ready-sign-only") == "cancelled")
    assert judged(catalogue, namespace)[("Service", "ready-sign-only")][:2] == ("Suspended", "InProgress")

    # A change nobody observed yet (the operator is down): Progressing / InProgress until it is.
    assert operator.stop() == 0
    merge_patch(catalogue, namespace, "tenants.lifecycle", "ready", {"spec": {"displayName": "Ready Ltd"}})
    argo, flux, message = judged(catalogue, namespace)[("Tenant", "ready")]
    assert (argo, flux) == ("Progressing", "InProgress")
    assert "generation 2" in message
    start_operator(policy)
    wait_for("observed again", lambda: judged(catalogue, namespace)[("Tenant", "ready")][:2] == ("Healthy", "Current"))
