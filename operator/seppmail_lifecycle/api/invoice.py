"""Invoice: created by the operator for a contract's next period; paid, void or reimbursed."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from seppmail_lifecycle.api.common import (
    Decimal,
    LifecycleModel,
    LocalObjectRef,
    Money,
    ObjectName,
    ProductName,
    StatusBase,
)
from seppmail_lifecycle.api.kinds import AGE, READY, KindInfo, PrinterColumn
from seppmail_lifecycle.api.states import InvoiceState


class InvoicePeriod(LifecycleModel):
    """The period the invoice pays for."""

    start: date = Field(description="First day of the period.")
    end: date = Field(description="Last day of the period.")


class InvoiceLine(LifecycleModel):
    """One invoiced service."""

    service: ObjectName = Field(description="Name of the Service object.")
    product: ProductName = Field(description="The product.")
    description: Annotated[str, StringConstraints(max_length=256)] = Field(default="", description="Line text.")
    quantity: int = Field(ge=0, le=10_000_000, description="Billed users.")
    unit_price: Decimal = Field(description="Price per user and period.")
    discount_percent: int = Field(default=0, ge=0, le=100, description="Discount in percent.")
    amount: Decimal = Field(description="Line total after discount.")


class InvoiceSpec(LifecycleModel):
    """Written by the operator; partners read it."""

    contract_ref: LocalObjectRef = Field(description="The contract invoiced.")
    period: InvoicePeriod = Field(description="The period invoiced.")
    lines: list[InvoiceLine] = Field(
        default_factory=list, max_length=1000, description="One line per invoiced service."
    )
    total: Money = Field(description="Sum of the lines.")


class InvoiceStatus(StatusBase):
    """Payment state of the invoice."""

    state: InvoiceState | None = Field(default=None, description="open, paid, void or reimbursed.")
    paid_at: datetime | None = Field(default=None, description="When the payment was recorded.")


INFO = KindInfo(
    kind="Invoice",
    plural="invoices",
    short_names=("sminv",),
    scope="Namespaced",
    description="An invoice for a contract's next period, created by the operator.",
    spec=InvoiceSpec,
    status=InvoiceStatus,
    printer_columns=(
        PrinterColumn("Contract", ".spec.contractRef.name", description="The contract."),
        PrinterColumn("Start", ".spec.period.start", description="First day of the period."),
        PrinterColumn("End", ".spec.period.end", description="Last day of the period."),
        PrinterColumn("Total", ".spec.total.amount", description="Invoice total."),
        PrinterColumn("Currency", ".spec.total.currency", description="Currency."),
        PrinterColumn("State", ".status.state", description="open, paid, void or reimbursed."),
        READY,
        AGE,
    ),
    selectable_fields=(".spec.contractRef.name",),
)
