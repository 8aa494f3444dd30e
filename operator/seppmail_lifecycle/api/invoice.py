"""Invoice: created by the operator for a contract's period; open, paid, void or reimbursed."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from seppmail_lifecycle.api.common import (
    Decimal,
    LifecycleModel,
    LocalObjectRef,
    Money,
    ObjectName,
    ProductName,
    StatusBase,
    cel,
)
from seppmail_lifecycle.api.kinds import AGE, READY, KindInfo, PrinterColumn
from seppmail_lifecycle.api.states import InvoiceState

LineKind = Literal["renewal", "proration", "one-time"]


class InvoicePeriod(LifecycleModel):
    """The period the invoice pays for, in calendar days of the business time zone."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [cel("self.end >= self.start", "period.end is before period.start")]
        }
    )

    start: date = Field(description="First day of the period.")
    end: date = Field(description="Last day of the period.")

    @model_validator(mode="after")
    def _in_order(self) -> InvoicePeriod:
        if self.end < self.start:
            raise ValueError("period.end is before period.start")
        return self


class InvoiceLine(LifecycleModel):
    """One invoiced item of a service."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [cel("self.lastDay >= self.firstDay", "lastDay is before firstDay")]
        }
    )

    service: ObjectName = Field(description="Name of the Service object.")
    product: ProductName = Field(description="The product.")
    kind: LineKind = Field(
        default="renewal",
        description="renewal: the service for the invoiced period (paying renews it); proration: the days of "
        "the previous period a service added mid-period was used; one-time: a one-time product.",
    )
    first_day: date = Field(description="First day the line bills.")
    last_day: date = Field(description="Last day the line bills.")
    description: Annotated[str, StringConstraints(max_length=256)] = Field(default="", description="Line text.")
    quantity: int = Field(ge=0, le=10_000_000, description="Billed users.")
    unit_price: Decimal = Field(description="Price per user for the line's days.")
    discount_percent: int = Field(default=0, ge=0, le=100, description="Discount in percent.")
    discount_reason: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="Why the discount was given."
    )
    amount: Decimal = Field(description="Line total after discount.")

    @model_validator(mode="after")
    def _in_order(self) -> InvoiceLine:
        if self.last_day < self.first_day:
            raise ValueError("lastDay is before firstDay")
        return self


class InvoiceSpec(LifecycleModel):
    """Written by the operator when it creates the invoice; never changed after."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "self == oldSelf",
                    "an issued Invoice cannot be changed: what a period bills anew is a new revision (the operator "
                    "voids this one)",
                )
            ]
        }
    )

    contract_ref: LocalObjectRef = Field(description="The contract invoiced.")
    tenant_ref: LocalObjectRef = Field(description="The contract's tenant.")
    period: InvoicePeriod = Field(description="The period invoiced.")
    revision: int = Field(
        default=1, ge=1, description="1 for the period's first invoice; each replacement for the period counts up."
    )
    due_date: date = Field(description="Payment is due by the end of this day: the current period's last day.")
    lines: list[InvoiceLine] = Field(default_factory=list, max_length=1000, description="The invoiced items.")
    total: Money = Field(description="Sum of the lines.")


class InvoiceStatus(StatusBase):
    """Payment state of the invoice."""

    state: InvoiceState | None = Field(default=None, description="open, paid, void or reimbursed.")
    paid: Money | None = Field(default=None, description="Sum of the applied payments.")
    paid_at: datetime | None = Field(default=None, description="When the payments first covered the total.")
    closed_at: datetime | None = Field(default=None, description="When it was voided or reimbursed.")
    closed_reason: Annotated[str, StringConstraints(max_length=512)] | None = Field(
        default=None, description="Why it was voided or reimbursed."
    )


INFO = KindInfo(
    kind="Invoice",
    plural="invoices",
    short_names=("sminv",),
    scope="Namespaced",
    description="An invoice for a contract's period, created by the operator; paid by Payments.",
    spec=InvoiceSpec,
    status=InvoiceStatus,
    printer_columns=(
        PrinterColumn("Contract", ".spec.contractRef.name", description="The contract."),
        PrinterColumn("Start", ".spec.period.start", description="First day of the period."),
        PrinterColumn("End", ".spec.period.end", description="Last day of the period."),
        PrinterColumn("Total", ".spec.total.amount", description="Invoice total."),
        PrinterColumn("Currency", ".spec.total.currency", description="Currency."),
        PrinterColumn("Due", ".spec.dueDate", description="Due by the end of this day."),
        PrinterColumn("State", ".status.state", description="open, paid, void or reimbursed."),
        PrinterColumn("Paid", ".status.paid.amount", description="Sum of the applied payments."),
        READY,
        PrinterColumn("Revision", ".spec.revision", "integer", "Replacement count for the period.", priority=1),
        AGE,
    ),
    selectable_fields=(".spec.contractRef.name",),
)
