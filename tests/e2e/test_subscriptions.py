"""Subscriptions (seed 004) on the real control plane with a real SMTP sink: trial, invoice,
payment and renewal; unpaid -> EXPIRED (routing blocked) -> DISCONTINUED -> removed; Discontinue
and Continue Service; a cancellation voids (or reimburses) the invoice it was on; a one-time
product is DISPATCHED and invoiced once; a restart creates no duplicate invoice or mail.

Contract periods are calendar months, so the scenarios that need a period to end run the operator
with ``--time-offset`` (it decides as if it were that much later) instead of waiting a month.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from seppmail_lifecycle.core.periods import period
from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from tests import manifests
from tests.e2e.conftest import StartOperator
from tests.kube import apply, condition, get, items, merge_patch, wait_for, wait_phases
from tests.servers import MailSink

pytestmark = pytest.mark.e2e

Body = dict[str, Any]
BASE_POLICY: dict[str, Any] = {"autoDeploy": {"every": "1s", "offset": "0s"}, "dns": {"verify": False}}


def policy(**billing: str) -> dict[str, Any]:
    return {**BASE_POLICY, "cancellationDelay": "2s", "retention": "1s", "billing": billing}


def booking(name: str, contract: dict[str, Any], *services: tuple[str, str, int]) -> list[Body]:
    """Tenant, domain and contract ``name`` and the services (suffix, product, users) on it (not
    named ``<domain>-base``: the operator books that one for a domain without a base service)."""
    return [
        manifests.tenant(name),
        manifests.domain(name),
        manifests.obj("Contract", name, {"tenantRef": {"name": name}, **contract}),
        *(
            manifests.service(f"{name}-{suffix}", name, product, users=users, contractRef={"name": name})
            for suffix, product, users in services
        ),
    ]


def invoices(plane: ControlPlane, namespace: str) -> dict[str, Body]:
    return {i["metadata"]["name"]: i for i in items(plane, "invoices.lifecycle", namespace)}


def invoice_in(plane: ControlPlane, namespace: str, name: str, state: str, timeout: float = 20) -> Body:
    def reached() -> Body | None:
        body = get(plane, "invoices.lifecycle", namespace, name)
        return body if ((body or {}).get("status") or {}).get("state") == state else None

    return wait_for(f"invoice {name} {state}", reached, timeout)


def service_state(plane: ControlPlane, namespace: str, name: str, state: str, timeout: float = 20) -> Body:
    def reached() -> Body | None:
        body = get(plane, "services.lifecycle", namespace, name)
        subscription = ((body or {}).get("status") or {}).get("subscription") or {}
        return body if subscription.get("state") == state else None

    return wait_for(f"service {name} {state}", reached, timeout)


def pay(plane: ControlPlane, namespace: str, name: str, invoice: str, amount: str) -> None:
    apply(plane, namespace, manifests.payment(name, invoice, amount, reference=f"bank-{name}"))


def smtp(sink: MailSink) -> tuple[str, ...]:
    return ("--smtp-host", sink.host, "--smtp-port", str(sink.port))


def keys(sink: MailSink, prefix: str) -> list[str]:
    return [m.key for m in sink.messages if m.key and m.key.startswith(prefix)]


def test_trial_invoice_payment_renews_and_a_restart_duplicates_nothing(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator, mail_sink: MailSink
) -> None:
    # A lead time longer than the trial: the first period's invoice is due at once.
    operator_policy = policy(invoiceLeadTime="40d")
    first_run = start_operator(operator_policy, *smtp(mail_sink))
    apply(
        catalogue,
        namespace,
        *booking("wayne", {"trialDays": 14}, ("main", "base", 10), ("sign", "sign-only", 10), ("onb", "onboarding", 1)),
    )
    wait_phases(catalogue, namespace, "services.lifecycle", "provisioned")
    contract = get(catalogue, "contracts.lifecycle", namespace, "wayne")
    created = datetime.fromisoformat(contract["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    first = period(created, 14, "monthly", UTC, 0)
    name = f"wayne-{first.start:%Y%m%d}-r1"
    invoice = invoice_in(catalogue, namespace, name, "open", timeout=40)

    # base 2.50 and sign-only 1.50 per user and month for 10 users; onboarding 250.00 once.
    lines = {(x["service"], x["kind"]): x["amount"] for x in invoice["spec"]["lines"]}
    assert lines == {
        ("wayne-main", "renewal"): "25.00",
        ("wayne-sign", "renewal"): "15.00",
        ("wayne-onb", "one-time"): "250.00",
    }
    assert invoice["spec"]["total"] == {"amount": "290.00", "currency": "CHF"}
    assert invoice["spec"]["period"] == {
        "start": f"{first.start:%Y-%m-%d}",
        "end": f"{first.end - timedelta(days=1):%Y-%m-%d}",
    }
    assert condition(invoice, "Ready")["reason"] == "AwaitingPayment"
    assert invoice["metadata"]["ownerReferences"][0]["name"] == "wayne"
    contract = wait_for(
        "the contract to show what is due",
        lambda: (
            (c := get(catalogue, "contracts.lifecycle", namespace, "wayne"))
            and (c.get("status") or {}).get("openInvoice") == name
            and c
        ),
    )
    assert contract["status"]["state"] == "trial"
    assert contract["status"]["amountDue"] == {"amount": "290.00", "currency": "CHF"}
    assert condition(contract, "PaymentDue")["status"] == "True"
    in_trial = service_state(catalogue, namespace, "wayne-main", "OK")
    assert in_trial["status"]["subscription"]["expiresAt"].startswith(f"{first.start:%Y-%m-%d}")
    assert condition(in_trial, "Contracted")["reason"] == "Paid"
    assert service_state(catalogue, namespace, "wayne-onb", "DISPATCHED")
    mail_sink.wait_for(1, key=f"Invoice/{invoice['metadata']['uid']}/created")

    # A restart mid-way decides everything again: no second invoice, no second mail.
    assert first_run.stop() == 0
    second_run = start_operator(operator_policy, *smtp(mail_sink))
    wait_for("the restarted operator to decide everything", lambda: (second_run.liveness() or {}).get("queued") == 0)
    assert list(invoices(catalogue, namespace)) == [name]
    prefix = f"Invoice/{invoice['metadata']['uid']}/"
    assert keys(mail_sink, prefix) == [prefix + "created"]

    # Paid in two parts: the first keeps it open, the second covers it.
    pay(catalogue, namespace, "wayne-1", name, "90.00")
    wait_for(
        "the partial payment counted",
        lambda: (
            ((get(catalogue, "invoices.lifecycle", namespace, name) or {}).get("status") or {})
            .get("paid", {})
            .get("amount")
            == "90.00"
        ),
    )
    assert get(catalogue, "invoices.lifecycle", namespace, name)["status"]["state"] == "open"
    pay(catalogue, namespace, "wayne-2", name, "200.00")
    paid = invoice_in(catalogue, namespace, name, "paid")
    assert paid["status"]["paidAt"]
    renewed = wait_for(
        "the services renewed for the first period",
        lambda: (
            (s := get(catalogue, "services.lifecycle", namespace, "wayne-main"))
            and s["status"]["subscription"].get("expiresAt", "").startswith(f"{first.end:%Y-%m-%d}")
            and s
        ),
    )
    assert renewed["status"]["subscription"]["state"] == "OK"
    payment = wait_for(
        "the payment applied",
        lambda: (
            (p := get(catalogue, "payments.lifecycle", namespace, "wayne-2"))
            and (p.get("status") or {}).get("state") == "applied"
            and p
        ),
    )
    assert condition(payment, "Ready")["reason"] == "Applied"
    mail_sink.wait_for(1, key=f"Invoice/{invoice['metadata']['uid']}/paid")

    # A payment is a fact: the API server refuses changing it.
    changed = catalogue.kubectl(
        "patch", "payments.lifecycle", "wayne-1", "-n", namespace, "--type=merge",
        "-p", '{"spec": {"amount": {"amount": "1.00"}}}', check=False,
    )  # fmt: skip
    assert changed.returncode != 0
    assert "cannot be changed" in changed.stderr

    # What support reads.
    table = catalogue.kubectl("get", "smcontract,sminv", "-n", namespace).stdout
    for shown in ("trial", "paid", "290.00"):
        assert shown in table

    assert sorted(keys(mail_sink, prefix)) == [prefix + "created", prefix + "paid"]
    assert list(invoices(catalogue, namespace)) == [name]


def test_unpaid_service_expires_blocked_then_is_discontinued_and_removed(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator, mail_sink: MailSink
) -> None:
    operator_policy = policy(expiredAfter="3s", discontinuedAfter="4s")
    first_run = start_operator(operator_policy, *smtp(mail_sink))
    apply(catalogue, namespace, *booking("oscorp", {}, ("main", "base", 5)))
    wait_phases(catalogue, namespace, "services.lifecycle", "provisioned")
    service_state(catalogue, namespace, "oscorp-main", "OK")
    assert invoices(catalogue, namespace) == {}  # the period's end is weeks away
    assert first_run.stop() == 0

    # As if it were 2 seconds before the first period ends.
    contract = get(catalogue, "contracts.lifecycle", namespace, "oscorp")
    created = datetime.fromisoformat(contract["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    ends = period(created, 0, "monthly", UTC, 0).end
    offset = ends - datetime.now(UTC) - timedelta(seconds=2)
    start_operator(operator_policy, "--time-offset", f"{int(offset.total_seconds())}s", *smtp(mail_sink))
    expired = service_state(catalogue, namespace, "oscorp-main", "EXPIRED", timeout=30)
    assert expired["status"]["subscription"]["expiresAt"].startswith(f"{ends:%Y-%m-%d}")
    ready = condition(expired, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "Expired")
    routing = items(catalogue, "configmaps", namespace, "lifecycle.seppmail.cloud/role=routing")[0]
    assert routing["data"]["blocked"] == "oscorp-main=expired\n"
    assert expired["status"]["next"]["action"] == "Discontinue"
    mail_sink.wait_for(1, key_prefix=f"Service/{expired['metadata']['uid']}/expired/")

    discontinued = service_state(catalogue, namespace, "oscorp-main", "DISCONTINUED", timeout=30)
    assert discontinued["status"]["subscription"]["discontinuedAt"]
    last_paid = f"{ends - timedelta(days=1):%Y-%m-%d}"
    removed = wait_for(
        "the discontinued service removed",
        lambda: (
            (x := get(catalogue, "services.lifecycle", namespace, "oscorp-main"))
            and x["status"]["phase"] == "deprovisioned"
            and x
        ),
    )
    assert removed["status"]["billing"]["end"] == last_paid
    assert removed["status"]["subscription"]["state"] == "DISCONTINUED"
    mail_sink.wait_for(1, key=f"Service/{expired['metadata']['uid']}/discontinued")
    # Each once: the expiry (for this lapse) and the discontinuation.
    assert len(keys(mail_sink, f"Service/{expired['metadata']['uid']}/")) == 2
    # The next period's invoice went out before the expiry and is replaced: nothing renews any
    # more, but the month it was used (joined that period: billed in arrears) is still owed.
    stem = f"oscorp-{ends:%Y%m%d}"
    assert invoice_in(catalogue, namespace, f"{stem}-r1", "void")["status"]["closedReason"]
    owed = invoice_in(catalogue, namespace, f"{stem}-r2", "open")
    assert [(x["service"], x["kind"], x["amount"]) for x in owed["spec"]["lines"]] == [
        ("oscorp-main", "proration", "12.50")
    ]


def test_discontinue_and_continue_and_cancelling_reimburses_a_paid_invoice(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator
) -> None:
    start_operator(policy(invoiceLeadTime="40d"))  # the next period is invoiced at once
    apply(catalogue, namespace, *booking("stark", {}, ("main", "base", 4), ("sign", "sign-only", 4)))
    wait_phases(catalogue, namespace, "services.lifecycle", "provisioned")
    contract = get(catalogue, "contracts.lifecycle", namespace, "stark")
    created = datetime.fromisoformat(contract["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    second = period(created, 0, "monthly", UTC, 1)
    stem = f"stark-{second.start:%Y%m%d}"

    def renewal_lines(name: str) -> set[str]:
        body = get(catalogue, "invoices.lifecycle", namespace, name)
        return {x["service"] for x in body["spec"]["lines"] if x["kind"] == "renewal"}

    first = invoice_in(catalogue, namespace, f"{stem}-r1", "open", timeout=40)
    assert renewal_lines(first["metadata"]["name"]) == {"stark-main", "stark-sign"}
    # Joined this period: its days are prorated on the next period's invoice.
    assert {x["kind"] for x in first["spec"]["lines"]} == {"renewal", "proration"}

    # Discontinue Service: excluded from the next invoice.
    merge_patch(catalogue, namespace, "services.lifecycle", "stark-sign", {"spec": {"autoRenew": False}})
    assert invoice_in(catalogue, namespace, f"{stem}-r1", "void")["status"]["closedReason"]
    invoice_in(catalogue, namespace, f"{stem}-r2", "open")
    assert renewal_lines(f"{stem}-r2") == {"stark-main"}
    # Continue Service: a new invoice that renews it again.
    merge_patch(catalogue, namespace, "services.lifecycle", "stark-sign", {"spec": {"autoRenew": True}})
    third = invoice_in(catalogue, namespace, f"{stem}-r3", "open")
    assert renewal_lines(f"{stem}-r3") == {"stark-main", "stark-sign"}
    invoice_in(catalogue, namespace, f"{stem}-r2", "void")

    # Paid, then a service on it is cancelled before the period starts: reimbursed and replaced.
    pay(catalogue, namespace, "stark-1", f"{stem}-r3", third["spec"]["total"]["amount"])
    invoice_in(catalogue, namespace, f"{stem}-r3", "paid")
    merge_patch(catalogue, namespace, "services.lifecycle", "stark-sign", {"spec": {"cancellation": {}}})
    reimbursed = invoice_in(catalogue, namespace, f"{stem}-r3", "reimbursed")
    assert "stark-sign" in reimbursed["status"]["closedReason"]
    invoice_in(catalogue, namespace, f"{stem}-r4", "open")
    assert renewal_lines(f"{stem}-r4") == {"stark-main"}
    payment = wait_for(
        "the payment to say it is refunded",
        lambda: (
            (p := get(catalogue, "payments.lifecycle", namespace, "stark-1"))
            and condition(p, "Ready")
            and condition(p, "Ready")["reason"] == "Reimbursed"
            and p
        ),
    )
    assert "refunded" in condition(payment, "Ready")["message"]
    # Cancelled while on an open invoice: voided; what is still owed (the prorated first month) follows.
    merge_patch(catalogue, namespace, "services.lifecycle", "stark-main", {"spec": {"cancellation": {}}})
    assert invoice_in(catalogue, namespace, f"{stem}-r4", "void")["status"]["closedReason"]
    owed = invoice_in(catalogue, namespace, f"{stem}-r5", "open")
    assert {x["kind"] for x in owed["spec"]["lines"]} == {"proration"}
    # Only one invoice of the period is open at any time.
    states = [(i["status"] or {}).get("state") for i in invoices(catalogue, namespace).values()]
    assert states.count("open") == 1


def test_a_service_on_another_tenants_contract_is_reported_on_both(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator
) -> None:
    start_operator(policy())
    apply(catalogue, namespace, *booking("lex", {}), manifests.tenant("bruce"), manifests.domain("bruce"))
    apply(
        catalogue,
        namespace,
        manifests.service("bruce-base", "bruce", "base", users=1, contractRef={"name": "lex"}),
        manifests.service("bruce-sign", "bruce", "sign-only", users=1, contractRef={"name": "missing"}),
    )
    wait_phases(catalogue, namespace, "services.lifecycle", "provisioned")
    foreign = wait_for(
        "the foreign contract reported on the service",
        lambda: (
            (s := get(catalogue, "services.lifecycle", namespace, "bruce-base"))
            and (cond := condition(s, "Contracted"))
            and cond["reason"] == "ContractOfOtherTenant"
            and s
        ),
    )
    assert condition(foreign, "Ready")["status"] == "True"  # the order itself is fine
    missing = get(catalogue, "services.lifecycle", namespace, "bruce-sign")
    assert condition(missing, "Contracted")["reason"] == "ContractNotFound"
    contract = wait_for(
        "the contract to report it",
        lambda: (
            (c := get(catalogue, "contracts.lifecycle", namespace, "lex"))
            and (cond := condition(c, "Billable"))
            and cond["status"] == "False"
            and c
        ),
    )
    assert "bruce-base" in condition(contract, "Billable")["message"]
