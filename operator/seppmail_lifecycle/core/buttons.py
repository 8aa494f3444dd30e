"""The seed's buttons as changes to objects: what "Deploy", "Refresh data", "Cancel", "Discontinue
Service", "Continue Service", "Expedite removal" and "Pay" write, and whether a change may be made
live or belongs in Git.

A button is a pure function of the objects it acts on (and ``now``) returning a ``Change``: a
merge patch of one object or a new object to create, with one line saying what it does. A spec
change of an object Argo CD or Flux manages would be undone by the next sync, so ``live`` turns it
into a ``Refusal`` carrying the change to commit instead (an annotation, or a new object, is not
undone and is always made live). Invalid presses (continuing a discontinued service, paying a void
invoice) raise ``ButtonError`` with what to do instead. The shell (``kubectl lifecycle``) applies.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from seppmail_lifecycle import API_VERSION, GROUP
from seppmail_lifecycle.api.states import InvoiceState
from seppmail_lifecycle.api.states import OrderPhase as P
from seppmail_lifecycle.core.model import GITOPS_ANNOTATIONS, GITOPS_LABELS, Domain, Invoice, Meta, Obj, Service
from seppmail_lifecycle.core.orders import EXPEDITE_ANNOTATION

Body = dict[str, Any]
REFRESH_ANNOTATION = f"{GROUP}/refresh"


class ButtonError(ValueError):
    """The button cannot be pressed on this object; the message says why and what to do."""


@dataclass(frozen=True)
class Change:
    kind: str
    namespace: str
    name: str
    says: str
    patch: Body | None = None
    """A JSON merge patch of the object (None: ``create`` it)."""
    create: Body | None = None
    spec_change: bool = False
    """Whether it changes the spec (which a GitOps sync would undo)."""


@dataclass(frozen=True)
class Refusal:
    """A spec change of an object Git manages: commit ``change.patch`` to Git instead."""

    change: Change
    manager: str


def manager_of(meta: Meta) -> str | None:
    """Who syncs the object from Git (its tracking label or annotation), if anybody."""
    for key in GITOPS_ANNOTATIONS:
        if key in meta.annotations:
            return f"Argo CD ({key})"
    for key in GITOPS_LABELS:
        if key in meta.labels:
            return f"Flux ({key})" if "fluxcd" in key else f"Argo CD ({key})"
    return None


def live(change: Change, meta: Meta, force: bool = False) -> Change | Refusal:
    """The change, or a refusal if it is a spec change of an object Git manages (unless ``force``)."""
    manager = manager_of(meta)
    if change.spec_change and manager is not None and not force:
        return Refusal(change, manager)
    return change


def _service_patch(service: Service, spec: Body, says: str) -> Change:
    return Change("Service", service.meta.namespace or "", service.name, says, patch={"spec": spec}, spec_change=True)


def cancel(service: Service, end_billing_date: date | None = None, reason: str | None = None) -> Change:
    """Cancel (terminate) a service: ``spec.cancellation``; cannot be withdrawn."""
    if service.spec.cancellation is not None:
        raise ButtonError(f"service {service.name!r} is cancelled already (a cancellation cannot be changed)")
    cancellation: Body = {}
    if end_billing_date is not None:
        cancellation["endBillingDate"] = end_billing_date.isoformat()
    if reason:
        cancellation["reason"] = reason
    until = f", billed until {end_billing_date.isoformat()}" if end_billing_date else ""
    return _service_patch(service, {"cancellation": cancellation}, f"cancel service {service.name}{until}")


def set_auto_renew(service: Service, renew: bool) -> Change:
    """Discontinue Service (``autoRenew: false``) or Continue Service (``true``), seed 004."""
    subscription = service.status.subscription
    if subscription is not None and subscription.discontinued_at is not None:
        raise ButtonError(
            f"service {service.name!r} was discontinued at {subscription.discontinued_at.isoformat()} and cannot be "
            "renewed any more; book it again"
        )
    if service.spec.cancellation is not None or service.status.phase in (P.DEPROVISIONING, P.DEPROVISIONED):
        raise ButtonError(f"service {service.name!r} is cancelled: it does not renew either way")
    if service.spec.auto_renew is renew:
        raise ButtonError(
            f"service {service.name!r} already has autoRenew: {'true' if renew else 'false'}"
            + ("" if renew else " (it expires at the end of its paid period)")
        )
    says = (
        f"continue service {service.name}: renewed with the contract's next invoice"
        if renew
        else f"discontinue service {service.name}: left off the next invoice, expires at the end of its paid period"
    )
    return _service_patch(service, {"autoRenew": renew}, says)


def expedite(obj: Obj[Any, Any], kind: str) -> Change:
    """Platform support: remove a cancelled Service or Domain without waiting for the delay."""
    return Change(
        kind,
        obj.meta.namespace or "",
        obj.name,
        f"expedite the removal of {kind.lower()} {obj.name}",
        patch={"metadata": {"annotations": {EXPEDITE_ANNOTATION: "true"}}},
    )


def refresh(domain: Domain, now: datetime) -> Change:
    """ "Refresh data": recheck the domain's DNS records at once."""
    stamp = str(int(now.timestamp()))
    return Change(
        "Domain",
        domain.meta.namespace or "",
        domain.name,
        f"recheck the DNS records of domain {domain.name} now",
        patch={"metadata": {"annotations": {REFRESH_ANNOTATION: stamp}}},
    )


def deploy(namespace: str, domains: list[str], now: datetime) -> Change:
    """ "Deploy domains and services": a DeployRequest (every confirmed domain when none is named)."""
    name = f"deploy-{now:%Y%m%d-%H%M%S}"
    what = ", ".join(domains) if domains else "every confirmed domain"
    body = {
        "apiVersion": API_VERSION,
        "kind": "DeployRequest",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"domains": sorted(set(domains))},
    }
    return Change("DeployRequest", namespace, name, f"deploy {what} of namespace {namespace}", create=body)


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:40].strip("-")


def pay(invoice: Invoice, amount: str | None, reference: str, paid_at: datetime, currency: str | None = None) -> Change:
    """Record a payment for an invoice (by default: what is still open of it, in its currency)."""
    state = invoice.status.state or InvoiceState.OPEN
    if state is not InvoiceState.OPEN:
        raise ButtonError(
            f"invoice {invoice.name!r} is {state.value}: "
            + ("nothing is due" if state is InvoiceState.PAID else "pay the invoice that replaced it")
        )
    total = Decimal(invoice.spec.total.amount)
    paid = Decimal(invoice.status.paid.amount) if invoice.status.paid else Decimal(0)
    try:
        value = Decimal(amount) if amount is not None else total - paid
    except InvalidOperation:
        raise ButtonError(f"--amount {amount!r} is not a decimal amount like 40.00") from None
    if value <= 0:
        raise ButtonError(f"the amount must be above 0 (invoice {invoice.name!r}: {paid} of {total} paid)")
    written = str(value.quantize(Decimal("0.01")))
    digest = hashlib.sha256(f"{invoice.name}/{reference}/{paid_at.isoformat()}".encode()).hexdigest()[:8]
    name = f"{invoice.name[:200]}-{_slug(reference) or 'payment'}-{digest}"
    body = {
        "apiVersion": API_VERSION,
        "kind": "Payment",
        "metadata": {"name": name, "namespace": invoice.meta.namespace},
        "spec": {
            "invoiceRef": {"name": invoice.name},
            "amount": {"amount": written, "currency": currency or invoice.spec.total.currency},
            "paidAt": paid_at.isoformat().replace("+00:00", "Z"),
            "reference": reference,
        },
    }
    return Change(
        "Payment",
        invoice.meta.namespace or "",
        name,
        f"record a payment of {written} {currency or invoice.spec.total.currency} for invoice {invoice.name}",
        create=body,
    )
