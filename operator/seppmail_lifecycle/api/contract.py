"""Contract: groups services that renew together, with billing interval and trial."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from seppmail_lifecycle.api.common import LifecycleModel, LocalObjectRef, Money, ObjectName, StatusBase, immutable
from seppmail_lifecycle.api.kinds import AGE, NEXT_ACTION, NEXT_AT, READY, TENANT, KindInfo, PrinterColumn
from seppmail_lifecycle.api.states import ContractState


class ContractSpec(LifecycleModel):
    """Renewal terms shared by the services referring to this contract."""

    tenant_ref: LocalObjectRef = Field(
        description="The tenant the contract is with (immutable).",
        json_schema_extra=immutable("spec.tenantRef is immutable: a contract cannot move to another tenant"),
    )
    billing_interval: Literal["monthly", "quarterly", "yearly"] = Field(
        default="monthly",
        description="Length of one billing period: monthly, quarterly or yearly (immutable: the periods and "
        "their invoices follow from it).",
        json_schema_extra=immutable(
            "spec.billingInterval is immutable: the periods already invoiced follow from it; create a new contract"
        ),
    )
    trial_days: int = Field(
        default=0,
        ge=0,
        le=365,
        description="Free trial before the first period, in days (immutable: the periods start after it).",
        json_schema_extra=immutable(
            "spec.trialDays is immutable: the periods start after the trial; create a new contract"
        ),
    )
    auto_renew: bool = Field(
        default=True,
        description="Renew the contract's services automatically by invoicing the next period; false: no service "
        "of the contract renews (each expires at the end of its paid period).",
    )


class ContractPeriod(LifecycleModel):
    """A billing period."""

    start: datetime = Field(description="Start of the period.")
    end: datetime = Field(description="End of the period (exclusive).")


class ContractStatus(StatusBase):
    """Trial, current period, state and invoicing of the contract."""

    state: ContractState | None = Field(
        default=None,
        description="trial: in the trial; active: its billed services are paid for now; expired: none is.",
    )
    trial_ends_at: datetime | None = Field(default=None, description="End of the trial, if any.")
    current_period: ContractPeriod | None = Field(default=None, description="The period being served now.")
    services: int | None = Field(default=None, ge=0, description="Services referring to the contract.")
    renewing: int | None = Field(default=None, ge=0, description="Of those, the ones renewing (auto-renew, billed).")
    open_invoice: ObjectName | None = Field(default=None, description="The invoice waiting for payment, if any.")
    amount_due: Money | None = Field(
        default=None,
        description="What is still owed: the open invoices' totals less the payments counted towards them.",
    )


INFO = KindInfo(
    kind="Contract",
    plural="contracts",
    short_names=("smcontract",),
    scope="Namespaced",
    description="Groups services that renew together and follow the same billing interval.",
    spec=ContractSpec,
    status=ContractStatus,
    printer_columns=(
        TENANT,
        PrinterColumn("Interval", ".spec.billingInterval", description="Billing interval."),
        PrinterColumn("Auto Renew", ".spec.autoRenew", "boolean", "Renew automatically."),
        PrinterColumn("State", ".status.state", description="trial, active or expired."),
        PrinterColumn("Period End", ".status.currentPeriod.end", description="End of the current period (UTC)."),
        PrinterColumn("Due", ".status.amountDue.amount", description="Still owed on the open invoices."),
        READY,
        NEXT_ACTION,
        NEXT_AT,
        AGE,
    ),
    selectable_fields=(".spec.tenantRef.name",),
)
