"""The contract aggregate (seed 004): a Contract with its invoices, and the payments of each.

``decide_contract`` turns the invoice plan (``core.invoicing``) into the statuses to write: the
contract's state, period and what is due; each invoice's state, what was paid and why it closed;
and the invoices to create. ``decide_payment`` says whether one payment counts. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal as D

from seppmail_lifecycle.api.common import Money, NextTransition
from seppmail_lifecycle.api.contract import ContractPeriod, ContractStatus
from seppmail_lifecycle.api.invoice import InvoiceStatus
from seppmail_lifecycle.api.payment import PaymentStatus
from seppmail_lifecycle.api.policy import Policy
from seppmail_lifecycle.api.states import ContractState, InvoiceState
from seppmail_lifecycle.core import conditions as c
from seppmail_lifecycle.core.conditions import Cond, Transition, append_history, merge_conditions
from seppmail_lifecycle.core.invoicing import (
    ContractWorld,
    InvoiceChange,
    LineIssue,
    NewInvoice,
    applied,
    billed,
    contract_trial_end,
    coverage,
    covered_at,
    current_period,
    money,
    paid_amount,
    plan_invoices,
    price_issue,
    renews,
)
from seppmail_lifecycle.core.model import Invoice, Payment
from seppmail_lifecycle.core.orders import Decision

PAYMENT_DUE = "PaymentDue"
BILLABLE = "Billable"
OVERPAID = "Overpaid"


@dataclass(frozen=True)
class ContractOutcome:
    contract: Decision[ContractStatus]
    invoices: tuple[Decision[InvoiceStatus], ...]
    create: tuple[NewInvoice, ...]
    wake_at: datetime | None


def _invoice_status(
    invoice: Invoice, change: InvoiceChange | None, payments: Sequence[Payment], now: datetime
) -> Decision[InvoiceStatus]:
    current = invoice.status
    status = current.model_copy()  # every field it changes is assigned anew, none changed in place
    state = change.state if change else (current.state or InvoiceState.OPEN)
    status.state = state
    status.observed_generation = invoice.meta.generation
    currency = invoice.spec.total.currency
    received = paid_amount(invoice, payments)
    status.paid = Money(amount=money(received), currency=currency)
    transitions: list[Transition] = []
    if change is not None:
        transitions.append(
            Transition(
                current.state.value if current.state else None,
                state.value,
                change.reason,
                change.message,
                warning=change.state is InvoiceState.REIMBURSED,
            )
        )
        if state is InvoiceState.PAID:
            # When the money arrived that covered it: the payment that completed the total.
            running, total = D(0), D(invoice.spec.total.amount)
            for payment in applied(invoice, payments):
                running += D(payment.spec.amount.amount)
                if running >= total:
                    status.paid_at = payment.spec.paid_at
                    break
            else:
                status.paid_at = now  # a zero total is paid when invoiced
        else:
            status.closed_at, status.closed_reason = now, change.message
    elif current.state is None:
        transitions.append(Transition(None, state.value, "Invoiced", f"Total {invoice.spec.total.amount} {currency}."))
    total = D(invoice.spec.total.amount)
    ready = {
        InvoiceState.OPEN: Cond(
            c.READY,
            "False",
            "AwaitingPayment",
            f"Due by {invoice.spec.due_date.isoformat()}: {money(received)} of {money(total)} {currency} paid.",
        ),
        InvoiceState.PAID: Cond(c.READY, "True", "Paid", f"Paid {money(received)} {currency}."),
        InvoiceState.VOID: Cond(c.READY, "True", "Void", status.closed_reason or "Void."),
        InvoiceState.REIMBURSED: Cond(c.READY, "True", "Reimbursed", status.closed_reason or "Reimbursed."),
    }[state]
    over = received - total if state is InvoiceState.PAID else D(0)
    decided = [
        ready,
        Cond(OVERPAID, "True", "Overpaid", f"Payments exceed the total by {money(over)} {currency}: refund it.")
        if over > 0
        else Cond(OVERPAID, "False", "NotOverpaid", "Payments do not exceed the total."),
    ]
    status.conditions = merge_conditions(current.conditions, decided, invoice.meta.generation, now)
    status.history = append_history(current.history, transitions, now)
    return Decision(invoice.name, status, tuple(transitions))


def decide_contract(world: ContractWorld, policy: Policy, now: datetime) -> ContractOutcome:
    contract, zone = world.contract, policy.zone
    plan = plan_invoices(world, policy, now)
    changes = {x.name: x for x in plan.changes}
    invoices = tuple(_invoice_status(i, changes.get(i.name), world.payments, now) for i in world.invoices)
    current = contract.status
    status = current.model_copy()  # every field it changes is assigned anew, none changed in place
    status.observed_generation = contract.meta.generation
    trial = contract_trial_end(contract, zone)
    status.trial_ends_at = trial
    period = current_period(contract, zone, now)
    status.current_period = ContractPeriod(start=period.start, end=period.end) if period else None
    billed_services = [s for s in world.services if billed(s) and s.meta.deleted is None]
    after = _after(world, invoices)
    paid_now = [s for s in billed_services if covered_at(coverage(s, contract, after, zone), now)]
    if trial is not None and now < trial:
        state = ContractState.TRIAL
    elif billed_services and not paid_now:
        state = ContractState.EXPIRED
    else:
        state = ContractState.ACTIVE
    status.state = state
    status.services = len(world.services)
    status.renewing = sum(1 for s in world.services if renews(s, contract, world.products))
    open_ones = sorted(
        (d for d in invoices if d.status.state is InvoiceState.OPEN),
        key=lambda d: d.name,
    )
    new_total = sum((D(n.spec.total.amount) for n in plan.create), D(0))
    open_names = {d.name for d in open_ones}
    # What is still owed: an open invoice's total less what was paid towards it (a partial
    # payment keeps it open), and the invoices being created now.
    due = sum(
        (D(i.spec.total.amount) - paid_amount(i, world.payments) for i in world.invoices if i.name in open_names),
        D(0),
    )
    due += new_total
    status.open_invoice = plan.create[-1].name if plan.create else (open_ones[-1].name if open_ones else None)
    status.amount_due = Money(amount=money(due), currency=policy.billing.currency)
    end = period.end if period else trial
    status.next = (
        NextTransition(action="CreateInvoice", at=plan.next_invoice_at)
        if plan.next_invoice_at is not None
        else NextTransition(action="EndPeriod", at=end)
        if end is not None
        else None
    )
    transitions = (
        [
            Transition(
                current.state.value if current.state else None,
                state.value,
                _STATE_REASONS[state],
                _state_message(state, trial, period.end if period else None),
            )
        ]
        if state is not current.state
        else []
    )
    # Every service's price is checked now, not only when its invoice is due.
    issues = [
        issue
        for service in world.services
        if (product := world.products.get(service.spec.product)) is not None
        and (issue := price_issue(service, product, policy)) is not None
    ]
    decided = _contract_conditions(world, state, status, issues)
    status.conditions = merge_conditions(current.conditions, decided, contract.meta.generation, now)
    status.history = append_history(current.history, transitions, now)
    return ContractOutcome(
        contract=Decision(contract.name, status, tuple(transitions)),
        invoices=invoices,
        create=plan.create,
        wake_at=plan.wake_at,
    )


def _after(world: ContractWorld, decided: Sequence[Decision[InvoiceStatus]]) -> list[Invoice]:
    """The invoices with the states just decided (a payment renews in the same decision)."""
    by_name = {d.name: d.status for d in decided}
    return [replace(i, status=by_name.get(i.name, i.status)) for i in world.invoices]


_STATE_REASONS = {
    ContractState.TRIAL: "TrialStarted",
    ContractState.ACTIVE: "Active",
    ContractState.EXPIRED: "Expired",
}


def _state_message(state: ContractState, trial: datetime | None, period_end: datetime | None) -> str:
    if state is ContractState.TRIAL and trial is not None:
        return f"In the trial until {trial.isoformat()}."
    if state is ContractState.EXPIRED:
        return "No billed service of the contract is paid for: pay the open invoice to renew them."
    return f"Paid for; the period ends {period_end.isoformat()}." if period_end else "Active."


def _contract_conditions(
    world: ContractWorld, state: ContractState, status: ContractStatus, issues: Sequence[LineIssue]
) -> list[Cond]:
    ready = Cond(
        c.READY,
        "False" if state is ContractState.EXPIRED else "True",
        _STATE_REASONS[state],
        _state_message(state, status.trial_ends_at, status.current_period.end if status.current_period else None),
    )
    due = status.amount_due
    payment_due = (
        Cond(
            PAYMENT_DUE,
            "True",
            "InvoiceOpen",
            f"Invoice {status.open_invoice!r} is open: {due.amount} {due.currency} due.",
        )
        if status.open_invoice and due is not None
        else Cond(PAYMENT_DUE, "False", "NothingDue", "No invoice is open.")
    )
    problems = [
        f"service {name!r} belongs to tenant {tenant!r}, not {world.contract.spec.tenant_ref.name!r}"
        for name, tenant in world.foreign
    ]
    problems += [f"service {i.service!r}: {i.message}" for i in issues]
    billable = (
        Cond(BILLABLE, "False", "ServicesNotBillable", "Not invoiced: " + "; ".join(problems) + ".")
        if problems
        else Cond(BILLABLE, "True", "AllServicesBillable", "Every service of the contract can be invoiced.")
    )
    return [ready, payment_due, billable]


def decide_payment(payment: Payment, invoice: Invoice | None, now: datetime) -> Decision[PaymentStatus]:
    """Whether the payment counts towards its invoice, and if not, what to do about it."""
    current = payment.status
    status = current.model_copy()  # every field it changes is assigned anew, none changed in place
    status.observed_generation = payment.meta.generation
    amount = f"{payment.spec.amount.amount} {payment.spec.amount.currency}"
    if invoice is None:
        cond = Cond(
            c.READY,
            "False",
            "InvoiceNotFound",
            f"Invoice {payment.spec.invoice_ref.name!r} does not exist: check spec.invoiceRef.",
        )
    elif payment.spec.amount.currency != invoice.spec.total.currency:
        cond = Cond(
            c.READY,
            "False",
            "CurrencyMismatch",
            f"Paid in {payment.spec.amount.currency}; invoice {invoice.name!r} is in "
            f"{invoice.spec.total.currency}: record the payment in the invoice's currency.",
        )
    elif invoice.status.state is InvoiceState.VOID:
        cond = Cond(
            c.READY,
            "False",
            "InvoiceVoid",
            f"Invoice {invoice.name!r} is void ({invoice.status.closed_reason or 'replaced'}): refund "
            f"{amount} or record it for the invoice that replaced it.",
        )
    elif invoice.status.state is InvoiceState.REIMBURSED:
        cond = Cond(
            c.READY,
            "True",
            "Reimbursed",
            f"Counted towards invoice {invoice.name!r}, which was reimbursed: {amount} is refunded.",
        )
    else:
        cond = Cond(c.READY, "True", "Applied", f"Counted towards invoice {invoice.name!r}.")
    status.state = "applied" if cond.status == "True" else "rejected"
    # A rejected payment needs someone to act (kstatus: Stalled, Flux: Failed, Argo CD: Degraded).
    applied_ = cond.status == "True"
    decided = c.summary(cond.reason, cond.message, ready=applied_, stalled=not applied_)
    status.conditions = merge_conditions(current.conditions, decided, payment.meta.generation, now)
    moved = status.state != current.state or cond.reason != (c.condition(current.conditions, c.READY) or cond).reason
    transitions = (
        (Transition(current.state, status.state, cond.reason, cond.message, warning=cond.status == "False"),)
        if moved
        else ()
    )
    status.history = append_history(current.history, transitions, now)
    return Decision(payment.name, status, transitions)
