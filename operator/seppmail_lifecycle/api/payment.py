"""Payment: money received for an invoice, recorded by a billing system or platform support."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from seppmail_lifecycle.api.common import (
    LifecycleModel,
    LocalObjectRef,
    Money,
    PlausibleTime,
    ShortText,
    StatusBase,
    cel,
)
from seppmail_lifecycle.api.kinds import AGE, READY, KindInfo, PrinterColumn


class PaymentSpec(LifecycleModel):
    """A payment is a fact: it cannot be changed once recorded (record a correcting one instead)."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel("self == oldSelf", "a Payment cannot be changed once recorded; record a new one instead")
            ]
        }
    )

    invoice_ref: LocalObjectRef = Field(description="The Invoice paid (in the same namespace).")
    amount: Money = Field(description="The amount received, in the invoice's currency.")
    paid_at: PlausibleTime = Field(description="When the money was received (RFC 3339, the years 2000 to 2199).")

    reference: ShortText = Field(default="", description="The billing system's reference, e.g. a transaction id.")


class PaymentStatus(StatusBase):
    """Whether the payment was counted towards its invoice."""

    state: Literal["applied", "rejected"] | None = Field(
        default=None, description="applied: counted towards the invoice; rejected: not counted (see Ready)."
    )


INFO = KindInfo(
    kind="Payment",
    plural="payments",
    short_names=("smpay",),
    scope="Namespaced",
    description="A payment received for an invoice; immutable. Billing and platform support record them.",
    spec=PaymentSpec,
    status=PaymentStatus,
    printer_columns=(
        PrinterColumn("Invoice", ".spec.invoiceRef.name", description="The invoice paid."),
        PrinterColumn("Amount", ".spec.amount.amount", description="Amount received."),
        PrinterColumn("Currency", ".spec.amount.currency", description="Currency."),
        PrinterColumn("Paid At", ".spec.paidAt", description="When the money was received (UTC)."),
        PrinterColumn("State", ".status.state", description="applied or rejected."),
        READY,
        PrinterColumn("Reference", ".spec.reference", description="Billing system reference.", priority=1),
        AGE,
    ),
    selectable_fields=(".spec.invoiceRef.name",),
)
