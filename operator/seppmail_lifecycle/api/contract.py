"""Contract: groups services that renew together, with billing interval and trial."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from seppmail_lifecycle.api.common import LifecycleModel, LocalObjectRef, StatusBase, immutable
from seppmail_lifecycle.api.kinds import AGE, NEXT_ACTION, NEXT_AT, READY, TENANT, KindInfo, PrinterColumn


class ContractSpec(LifecycleModel):
    """Renewal terms shared by the services referring to this contract."""

    tenant_ref: LocalObjectRef = Field(
        description="The tenant the contract is with (immutable).",
        json_schema_extra=immutable("spec.tenantRef is immutable: a contract cannot move to another tenant"),
    )
    billing_interval: Literal["monthly", "quarterly", "yearly"] = Field(
        default="monthly", description="Length of one billing period: monthly, quarterly or yearly."
    )
    trial_days: int = Field(default=0, ge=0, le=365, description="Free trial before the first period, in days.")
    auto_renew: bool = Field(
        default=True, description="Renew the contract's services automatically by invoicing the next period."
    )


class ContractPeriod(LifecycleModel):
    """A billing period."""

    start: datetime = Field(description="Start of the period.")
    end: datetime = Field(description="End of the period (exclusive).")


class ContractStatus(StatusBase):
    """Trial and current period of the contract."""

    trial_ends_at: datetime | None = Field(default=None, description="End of the trial, if any.")
    current_period: ContractPeriod | None = Field(default=None, description="The period being served now.")


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
        PrinterColumn("Period End", ".status.currentPeriod.end", description="End of the current period (UTC)."),
        READY,
        NEXT_ACTION,
        NEXT_AT,
        AGE,
    ),
    selectable_fields=(".spec.tenantRef.name",),
)
