"""License: a tenant's full or trial license and its periods License, Grace, Freeze, Purged."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from seppmail_lifecycle.api.common import (
    Email,
    LifecycleModel,
    LocalObjectRef,
    Message,
    PlausibleTime,
    Reason256,
    StatusBase,
    immutable,
)
from seppmail_lifecycle.api.kinds import AGE, NEXT_ACTION, NEXT_AT, READY, TENANT, KindInfo, PrinterColumn
from seppmail_lifecycle.api.states import LicensePeriod


class PurgeHold(LifecycleModel):
    """Blocks the purge while set (e.g. a legal hold)."""

    reason: Reason256 = Field(description="Why the tenant's data must not be purged, e.g. legal hold.")


class LicenseSpec(LifecycleModel):
    """A license as synced from CLP or LMP, or entered manually."""

    tenant_ref: LocalObjectRef = Field(
        description="The licensed tenant (immutable).",
        json_schema_extra=immutable("spec.tenantRef is immutable: a license cannot move to another tenant"),
    )
    type: Literal["full", "trial"] = Field(description="full or trial license.")
    expires_at: PlausibleTime = Field(
        description="License expiry (RFC 3339), in the years 2000 to 2199 (a zero time or a typo never purges "
        "a tenant). A later value renews the license.",
    )

    auto_renew: bool = Field(default=False, description="Auto-renewing licenses get no expiry reminders.")
    source: Literal["clp", "lmp", "manual"] = Field(
        default="manual", description="Where the license is synced from: clp, lmp or manual."
    )
    grace_period_days: int | None = Field(
        default=None,
        ge=0,
        le=365,
        description="Grace period synced from the source. Without it the source's default (CLP 30, LMP 45 "
        "days, the policy's license.graceBySource); values up to 30 mean 30 days.",
    )
    purge_hold: PurgeHold | None = Field(default=None, description="Blocks the purge while set.")
    notification_emails: list[Email] = Field(
        default_factory=list,
        max_length=20,
        description="Addresses synced from CLP/LMP that receive license reminders, besides the tenant contact.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )


class LicenseStatus(StatusBase):
    """The license period and its deadlines."""

    period: LicensePeriod | None = Field(default=None, description="License, Grace, Freeze or Purged.")
    expires_at: datetime | None = Field(default=None, description="End of the license period.")
    grace_ends_at: datetime | None = Field(default=None, description="End of the grace period.")
    freeze_ends_at: datetime | None = Field(default=None, description="End of the freeze period.")
    purge_at: datetime | None = Field(default=None, description="When the tenant's data is purged.")
    purged_at: datetime | None = Field(default=None, description="When the tenant's data was purged; irreversible.")
    frozen_since: datetime | None = Field(
        default=None,
        description="When the operator first saw the license frozen: the purge follows a full freeze after this, "
        "never earlier, whatever the dates say.",
    )
    notice: Message | None = Field(default=None, description="The message consoles show as popup and top banner.")


INFO = KindInfo(
    kind="License",
    plural="licenses",
    short_names=("smlic",),
    scope="Namespaced",
    description="A tenant's license: reminders before expiry, then grace, freeze and purge.",
    spec=LicenseSpec,
    status=LicenseStatus,
    printer_columns=(
        TENANT,
        PrinterColumn("Type", ".spec.type", description="full or trial."),
        PrinterColumn("Period", ".status.period", description="License, Grace, Freeze or Purged."),
        PrinterColumn("Expires", ".spec.expiresAt", description="License expiry (UTC)."),
        READY,
        NEXT_ACTION,
        NEXT_AT,
        AGE,
    ),
    selectable_fields=(".spec.tenantRef.name", ".spec.type"),
)
