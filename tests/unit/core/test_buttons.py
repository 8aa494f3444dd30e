"""The seed's buttons (``core.buttons``): what each one writes, when it refuses, and that a spec
change of an object Git manages is handed back to be committed instead."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from seppmail_lifecycle.api.common import Money
from seppmail_lifecycle.api.service import Cancellation, SubscriptionStatus
from seppmail_lifecycle.api.states import InvoiceState
from seppmail_lifecycle.api.states import OrderPhase as P
from seppmail_lifecycle.core import buttons
from seppmail_lifecycle.core.buttons import ButtonError, Change, Refusal
from seppmail_lifecycle.core.model import Service
from seppmail_lifecycle.core.orders import EXPEDITE_ANNOTATION

from .builders import NS, domain, invoice, line, service, with_meta, with_spec, with_status

NOW = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
ARGO = {"argocd.argoproj.io/tracking-id": "partner-a:lifecycle.seppmail.cloud/Service:partner-a/acme-sig"}


def provisioned(**status: Any) -> Service:
    return with_status(service("acme-sig", "sig-only", users=5), phase=P.PROVISIONED, **status)


@pytest.mark.parametrize(
    ("press", "patch", "says"),
    [
        pytest.param(
            lambda s: buttons.cancel(s), {"spec": {"cancellation": {}}}, "cancel service acme-sig", id="cancel"
        ),
        pytest.param(
            lambda s: buttons.cancel(s, date(2026, 12, 31), "moving"),
            {"spec": {"cancellation": {"endBillingDate": "2026-12-31", "reason": "moving"}}},
            "cancel service acme-sig, billed until 2026-12-31",
            id="cancel-with-end-billing",
        ),
        pytest.param(
            lambda s: buttons.set_auto_renew(s, renew=False),
            {"spec": {"autoRenew": False}},
            "discontinue service acme-sig",
            id="discontinue",
        ),
        pytest.param(
            lambda s: buttons.set_auto_renew(with_spec(s, auto_renew=False), renew=True),
            {"spec": {"autoRenew": True}},
            "continue service acme-sig",
            id="continue",
        ),
        pytest.param(
            lambda s: buttons.expedite(s, "Service"),
            {"metadata": {"annotations": {EXPEDITE_ANNOTATION: "true"}}},
            "expedite the removal of service acme-sig",
            id="expedite",
        ),
    ],
)
def test_the_service_buttons_patch_exactly_their_field(press: Any, patch: dict[str, Any], says: str) -> None:
    change: Change = press(provisioned())
    assert (change.kind, change.namespace, change.name) == ("Service", NS, "acme-sig")
    assert change.patch == patch
    assert change.says.startswith(says)
    assert change.create is None


@pytest.mark.parametrize(
    ("press", "refused"),
    [
        pytest.param(
            lambda: buttons.cancel(with_spec(provisioned(), cancellation=Cancellation())),
            "cancelled already",
            id="cancel-twice",
        ),
        pytest.param(
            lambda: buttons.set_auto_renew(
                provisioned(subscription=SubscriptionStatus(state="DISCONTINUED", discontinued_at=NOW)), renew=True
            ),
            "cannot be renewed any more",
            id="continue-discontinued",
        ),
        pytest.param(
            lambda: buttons.set_auto_renew(with_spec(provisioned(), cancellation=Cancellation()), renew=True),
            "is cancelled",
            id="continue-cancelled",
        ),
        pytest.param(
            lambda: buttons.set_auto_renew(provisioned(), renew=True), "already has autoRenew: true", id="noop"
        ),
        pytest.param(
            lambda: buttons.pay(invoice(line("renewal", date(2027, 1, 1), date(2027, 1, 31))), None, "tx", NOW),
            "is paid: nothing is due",
            id="pay-paid",
        ),
        pytest.param(
            lambda: buttons.pay(
                invoice(line("renewal", date(2027, 1, 1), date(2027, 1, 31)), state=InvoiceState.VOID), None, "tx", NOW
            ),
            "pay the invoice that replaced it",
            id="pay-void",
        ),
        pytest.param(
            lambda: buttons.pay(
                invoice(line("renewal", date(2027, 1, 1), date(2027, 1, 31)), state=InvoiceState.OPEN), "ten", "t", NOW
            ),
            "not a decimal amount",
            id="pay-not-a-number",
        ),
    ],
)
def test_a_button_that_cannot_be_pressed_says_why(press: Any, refused: str) -> None:
    with pytest.raises(ButtonError, match=refused):
        press()


def test_a_spec_change_of_an_object_git_manages_is_handed_back_unless_forced() -> None:
    managed = with_meta(provisioned(), annotations=ARGO)
    change = buttons.set_auto_renew(managed, renew=False)
    refused = buttons.live(change, managed.meta)
    assert isinstance(refused, Refusal)
    assert refused.manager.startswith("Argo CD")
    assert refused.change.patch == {"spec": {"autoRenew": False}}
    assert buttons.live(change, managed.meta, force=True) == change
    # An annotation is not undone by a sync: made live.
    expedite = buttons.expedite(managed, "Service")
    assert buttons.live(expedite, managed.meta) == expedite
    flux = with_meta(provisioned(), labels={"kustomize.toolkit.fluxcd.io/name": "partner-a"})
    refused_flux = buttons.live(buttons.cancel(flux), flux.meta)
    assert isinstance(refused_flux, Refusal)
    assert refused_flux.manager.startswith("Flux")
    assert buttons.live(buttons.cancel(provisioned()), provisioned().meta) == buttons.cancel(provisioned())


def test_refresh_and_deploy() -> None:
    refresh = buttons.refresh(domain(), NOW)
    assert refresh.patch == {"metadata": {"annotations": {buttons.REFRESH_ANNOTATION: str(int(NOW.timestamp()))}}}
    deploy = buttons.deploy(NS, ["acme-com", "acme-com", "b"], NOW)
    assert deploy.create is not None
    assert deploy.create["metadata"]["name"] == "deploy-20261203-140000"
    assert deploy.create["spec"] == {"domains": ["acme-com", "b"]}
    assert buttons.deploy(NS, [], NOW).says == f"deploy every confirmed domain of namespace {NS}"


def test_pay_records_what_is_still_open_by_default() -> None:
    open_invoice = with_status(
        invoice(line("renewal", date(2027, 1, 1), date(2027, 1, 31), amount="100.00"), state=InvoiceState.OPEN),
        paid=Money(amount="40.00", currency="CHF"),
    )
    change = buttons.pay(open_invoice, None, "Bank TX 42", NOW)
    assert change.create is not None
    assert change.create["spec"] == {
        "invoiceRef": {"name": open_invoice.name},
        "amount": {"amount": "60.00", "currency": "CHF"},
        "paidAt": "2026-12-03T14:00:00Z",
        "reference": "Bank TX 42",
    }
    assert change.create["metadata"]["name"].startswith(f"{open_invoice.name}-bank-tx-42-")
    # The same press names the same object (a retry cannot record it twice).
    assert buttons.pay(open_invoice, None, "Bank TX 42", NOW).name == change.name
    assert buttons.pay(open_invoice, "10", "Bank TX 42", NOW).create["spec"]["amount"]["amount"] == "10.00"  # type: ignore[index]
