"""Partner: the reseller whose namespace holds its tenants; who gets the partner-action mails."""

from __future__ import annotations

from pydantic import Field

from seppmail_lifecycle.api.common import DisplayName, Email, LifecycleModel, StatusBase
from seppmail_lifecycle.api.kinds import AGE, READY, KindInfo, PrinterColumn


class PartnerAdmin(LifecycleModel):
    """An administrator of the partner."""

    name: DisplayName | None = Field(default=None, description="The person's name, for the mail's greeting.")
    email: Email = Field(description="Receives the partner-action mails (DNS records to set, deployment done).")


class PartnerSpec(LifecycleModel):
    """A partner of seppmail.cloud: one per partner namespace (the oldest counts)."""

    display_name: DisplayName = Field(description="The partner's name.")
    admins: list[PartnerAdmin] = Field(
        min_length=1,
        max_length=20,
        description="The partner's administrators: partner-action mails go to them.",
    )
    workflow_mails: list[Email] = Field(
        default_factory=list,
        max_length=20,
        description="Workflow_Mails addresses: receive the partner-action mails too, have no API access.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )


class PartnerStatus(StatusBase):
    """Whether this is the namespace's partner, and how many tenants it serves."""

    tenants: int | None = Field(default=None, ge=0, description="Tenants in the partner's namespace.")


INFO = KindInfo(
    kind="Partner",
    plural="partners",
    short_names=("smpartner",),
    scope="Namespaced",
    description="A partner of seppmail.cloud: its administrators and Workflow_Mails addresses, who receive "
    "the partner-action mails of the tenants in its namespace.",
    spec=PartnerSpec,
    status=PartnerStatus,
    printer_columns=(
        PrinterColumn("Display Name", ".spec.displayName", description="The partner's name."),
        PrinterColumn("Tenants", ".status.tenants", "integer", "Tenants in the partner's namespace."),
        READY,
        AGE,
    ),
)
