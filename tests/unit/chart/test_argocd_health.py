"""The Argo CD health check (the chart's ``argocd/health.lua``, run in a real Lua VM) on every kind
in every state the operator writes; and the argocd-cm keys generated from it are current."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from seppmail_lifecycle.api import ALL_KINDS
from seppmail_lifecycle.api.crdgen import argocd_files
from tests.gitops import HEALTH_LUA, argocd_health

Body = dict[str, Any]


def obj(
    kind: str,
    *conditions: tuple[str, str, str],
    generation: int = 1,
    observed: int | None = 1,
    **status: Any,
) -> Body:
    """An object of ``kind`` with ``conditions`` as (type, status, message) and other status fields."""
    body: Body = {
        "apiVersion": "lifecycle.seppmail.cloud/v1alpha1",
        "kind": kind,
        "metadata": {"generation": generation},
    }
    if observed is not None:
        body["status"] = {
            "observedGeneration": observed,
            "conditions": [{"type": t, "status": s, "reason": "R", "message": m} for t, s, m in conditions],
            **status,
        }
    return body


def ready(message: str) -> tuple[str, str, str]:
    return ("Ready", "True", message)


def not_ready(message: str, *, reconciling: bool = False, stalled: bool = False) -> tuple[tuple[str, str, str], ...]:
    return (
        ("Ready", "False", message),
        ("Reconciling", "True" if reconciling else "False", message),
        ("Stalled", "True" if stalled else "False", message),
    )


CASES = [
    # Every kind: not decided yet, or a spec change not observed yet; an unreadable spec.
    ("Domain", obj("Domain", observed=None), "Progressing", "Waiting for the operator to decide"),
    ("Service", obj("Service", generation=3, observed=2), "Progressing", "observe generation 3"),
    (
        "Product",
        obj("Product", *not_ready("The spec is invalid: spec.billing.price: ...", stalled=True)),
        "Degraded",
        "spec is invalid",
    ),
    ("Product", obj("Product", ready("Available to order.")), "Healthy", "Available"),
    ("Partner", obj("Partner", ready("The namespace's partner.")), "Healthy", "partner"),
    (
        "Partner",
        obj("Partner", *not_ready("Another partner is older here.", stalled=True)),
        "Degraded",
        "Another partner",
    ),
    ("Tenant", obj("Tenant", ready("1 managed domain(s).")), "Healthy", "1 managed"),
    (
        "Tenant",
        obj(
            "Tenant",
            ready("1 managed domain(s)."),
            ("ConsoleAccessBlocked", "True", "Console access is blocked: license 'x' is frozen."),
        ),
        "Healthy",
        "1 managed domain(s). Console access is blocked",
    ),
    # Orders: the check, the deploy window, the partner's DNS records, provisioned, blocked, cancelled, removed.
    (
        "Domain",
        obj("Domain", *not_ready("Waiting for the check.", reconciling=True), phase="ordered"),
        "Progressing",
        "check",
    ),
    (
        "Domain",
        obj("Domain", *not_ready("Tenant 'nobody' does not exist.", stalled=True), phase="ordered"),
        "Degraded",
        "nobody",
    ),
    (
        "Domain",
        obj("Domain", *not_ready("Confirmed; deploys ...", reconciling=True), phase="confirmed"),
        "Progressing",
        "deploys",
    ),
    (
        "Domain",
        obj(
            "Domain",
            *not_ready("Waiting for the partner: MX record.", reconciling=True),
            ("AwaitingPartner", "True", "Set the MX record of acme.ch to mx.seppmail.cloud."),
            phase="provisioning",
        ),
        "Suspended",
        "Set the MX record",
    ),
    (
        "Domain",
        obj("Domain", ready("Deployment is complete."), ("AwaitingPartner", "False", "-"), phase="provisioned"),
        "Healthy",
        "complete",
    ),
    (
        "Domain",
        obj(
            "Domain",
            ready("Deployment is complete."),
            ("Blocked", "True", "Mail traffic is blocked: license 'x' is frozen."),
            phase="provisioned",
        ),
        "Suspended",
        "blocked",
    ),
    (
        "Domain",
        obj("Domain", *not_ready("Cancelled; removal starts at ...", reconciling=True), phase="cancelled"),
        "Suspended",
        "removal",
    ),
    (
        "Service",
        obj("Service", *not_ready("Removal is in progress.", reconciling=True), phase="deprovisioning"),
        "Progressing",
        "Removal",
    ),
    ("Service", obj("Service", ready("Removed from the systems."), phase="deprovisioned"), "Healthy", "Removed"),
    # Subscriptions.
    ("Service", obj("Service", ready("Ready."), phase="provisioned", subscription={"state": "OK"}), "Healthy", "Ready"),
    (
        "Service",
        obj("Service", ready("Dispatched."), phase="provisioned", subscription={"state": "DISPATCHED"}),
        "Healthy",
        "Dispatched",
    ),
    (
        "Service",
        obj(
            "Service",
            ("Ready", "False", "Access is limited: suspended (insufficient-funds)."),
            ("Suspended", "True", "Access is limited: suspended (insufficient-funds) until the suspension is lifted."),
            phase="provisioned",
            subscription={"state": "SUSPENDED"},
        ),
        "Suspended",
        "insufficient-funds",
    ),
    (
        "Service",
        obj(
            "Service",
            ("Ready", "False", "No longer accessible: not paid since ..."),
            phase="provisioned",
            subscription={"state": "EXPIRED"},
        ),
        "Suspended",
        "not paid",
    ),
    # Billing.
    (
        "Contract",
        obj("Contract", ready("In the trial until ..."), ("PaymentDue", "False", "No invoice is open."), state="trial"),
        "Healthy",
        "trial",
    ),
    (
        "Contract",
        obj(
            "Contract",
            ready("Paid for."),
            ("PaymentDue", "True", "Invoice 'x' is open: 40.00 CHF due."),
            state="active",
        ),
        "Healthy",
        "Paid for. Invoice 'x' is open",
    ),
    (
        "Contract",
        obj("Contract", ("Ready", "False", "Pay the open invoice to renew them."), state="expired"),
        "Suspended",
        "Pay",
    ),
    (
        "Contract",
        obj("Contract", ready("Active."), ("Billable", "False", "product 'x' has no price"), state="active"),
        "Degraded",
        "no price",
    ),
    (
        "Invoice",
        obj("Invoice", ("Ready", "False", "Due by 2027-01-16: 0.00 of 40.00 CHF paid."), state="open"),
        "Suspended",
        "Due by",
    ),
    ("Invoice", obj("Invoice", ready("Paid 40.00 CHF."), state="paid"), "Healthy", "Paid"),
    ("Invoice", obj("Invoice", ready("Its period ended unpaid."), state="void"), "Healthy", "ended"),
    ("Payment", obj("Payment", ready("Counted towards invoice 'x'."), state="applied"), "Healthy", "Counted"),
    (
        "Payment",
        obj("Payment", ("Ready", "False", "Invoice 'x' does not exist."), state="rejected"),
        "Degraded",
        "does not exist",
    ),
    # Licenses.
    ("License", obj("License", ready("Licensed until 2027-06-30."), period="License"), "Healthy", "Licensed"),
    (
        "License",
        obj(
            "License",
            ready("Expired on ...; works until ..."),
            ("InGrace", "True", "Expired on 2027-06-30."),
            period="Grace",
        ),
        "Healthy",
        "Expired on 2027-06-30.",
    ),
    (
        "License",
        obj("License", *not_ready("Frozen since ...: renew the license."), period="Freeze"),
        "Suspended",
        "renew",
    ),
    (
        "License",
        obj("License", *not_ready("Purged on ...: this cannot be undone."), period="Purged"),
        "Healthy",
        "Purged",
    ),
    (
        "License",
        obj("License", *not_ready("Renewing cannot bring it back.", stalled=True), period="Purged"),
        "Degraded",
        "cannot",
    ),
    (
        "DeployRequest",
        obj("DeployRequest", *not_ready("Waiting for checks.", reconciling=True), phase="Pending"),
        "Progressing",
        "checks",
    ),
    ("DeployRequest", obj("DeployRequest", ready("Deployed 2 domain(s)."), phase="Completed"), "Healthy", "Deployed"),
]


@pytest.mark.parametrize(
    ("kind", "body", "status", "says"), CASES, ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(CASES)]
)
def test_the_health_of_every_kind_in_every_state(kind: str, body: Body, status: str, says: str) -> None:
    assert body["kind"] == kind
    found, message = argocd_health(body)
    assert (found, says in message) == (status, True), message


def test_every_kind_and_every_argo_health_status_is_covered() -> None:
    assert {c[0] for c in CASES} == {info.kind for info in ALL_KINDS}
    assert {c[2] for c in CASES} == {"Healthy", "Progressing", "Degraded", "Suspended"}


def test_the_generated_argocd_keys_carry_the_script_for_every_kind() -> None:
    lua = HEALTH_LUA.read_text()
    for name, text in argocd_files(lua).items():
        committed = HEALTH_LUA.with_name(name)
        assert committed.read_text() == text, f"{committed} is stale: run `make crds`"
    patch = yaml.safe_load(HEALTH_LUA.with_name("argocd-cm.yaml").read_text())
    values = yaml.safe_load(HEALTH_LUA.with_name("values-argo-cd.yaml").read_text())
    assert values["configs"]["cm"] == patch["data"]
    assert set(patch["data"]) == {
        f"resource.customizations.health.lifecycle.seppmail.cloud_{i.kind}" for i in ALL_KINDS
    }
    assert all(script == lua for script in patch["data"].values())
