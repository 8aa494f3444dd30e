"""The contract aggregate: a Contract with its invoices and their payments, gathered from the
store, decided by the core (``core.contracts.decide_contract``); the invoices it calls for are
created (owned by the Contract) and decided again in the same reconcile."""

from __future__ import annotations

from seppmail_lifecycle import API_VERSION
from seppmail_lifecycle.backend.labels import MANAGED_BY, MANAGER
from seppmail_lifecycle.core.contracts import ContractOutcome, decide_contract
from seppmail_lifecycle.core.invoicing import ContractWorld, NewInvoice
from seppmail_lifecycle.core.model import Contract, Invoice, Payment, Service
from seppmail_lifecycle.kube.convert import controller_reference
from seppmail_lifecycle.kube.store import Store
from seppmail_lifecycle.runtime.context import Context
from seppmail_lifecycle.runtime.reconcilers.domain import products_of

ROUNDS = 2
"""Decide, create the invoices the decision calls for, decide again on them (their first status)."""


def service_tenant(store: Store, namespace: str, service: Service) -> str | None:
    """The tenant a service is booked for: its domain's (None while the domain is missing)."""
    entry = store.get("Domain", namespace, service.spec.domain_ref.name)
    return entry.obj.spec.tenant_ref.name if entry is not None and entry.obj is not None else None


def gather_contract(store: Store, namespace: str, contract: Contract) -> ContractWorld:
    services: list[Service] = []
    foreign: list[tuple[str, str | None]] = []
    for service in store.objects("services_by_contract", (namespace, contract.name)):
        tenant = service_tenant(store, namespace, service)
        if tenant is None or tenant == contract.spec.tenant_ref.name:
            services.append(service)
        else:
            foreign.append((service.name, tenant))
    invoices: list[Invoice] = [
        i
        for i in store.objects("invoices_by_contract", (namespace, contract.name))
        if not i.meta.owner_uids or contract.meta.uid in i.meta.owner_uids
    ]
    payments: list[Payment] = [
        p for invoice in invoices for p in store.objects("payments_by_invoice", (namespace, invoice.name))
    ]
    return ContractWorld(
        contract=contract,
        services=tuple(services),
        products=products_of(store),
        invoices=tuple(invoices),
        payments=tuple(payments),
        foreign=tuple(foreign),
    )


def invoice_body(contract: Contract, new: NewInvoice) -> dict[str, object]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Invoice",
        "metadata": {
            "name": new.name,
            "labels": {MANAGED_BY: MANAGER},
            "ownerReferences": [controller_reference("Contract", contract.name, contract.meta.uid)],
        },
        "spec": new.spec.model_dump(by_alias=True, exclude_none=True, mode="json"),
    }


async def reconcile_contract(ctx: Context, namespace: str, name: str) -> None:
    now = ctx.clock()
    outcome: ContractOutcome | None = None
    for _ in range(ROUNDS):
        entry = ctx.store.get("Contract", namespace, name)
        if entry is None:
            return
        if entry.obj is None:
            await ctx.writer.write_invalid("Contract", entry, now)
            return
        outcome = decide_contract(gather_contract(ctx.store, namespace, entry.obj), ctx.policy, now)
        created = 0
        for new in outcome.create:
            made = await ctx.writer.create("Invoice", namespace, invoice_body(entry.obj, new))
            if made is not None:
                created += 1
                ctx.post_event(
                    entry.raw,
                    type="Normal",
                    reason="InvoiceCreated",
                    message=f"Invoice {new.name} for {new.spec.period.start} to {new.spec.period.end}: "
                    f"{new.spec.total.amount} {new.spec.total.currency}, due {new.spec.due_date}.",
                )
        if not created:
            break
    assert outcome is not None
    for decision in outcome.invoices:
        invoice = ctx.store.get("Invoice", namespace, decision.name)
        if invoice is not None:
            await ctx.writer.write_status("Invoice", invoice, decision.status, decision.transitions)
    entry = ctx.store.get("Contract", namespace, name)
    if entry is not None:
        await ctx.writer.write_status("Contract", entry, outcome.contract.status, outcome.contract.transitions)
    ctx.wake_at(("Contract", namespace, name), outcome.wake_at)
