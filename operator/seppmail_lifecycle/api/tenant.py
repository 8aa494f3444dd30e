"""Tenant: a partner's customer, the owner of domains, contracts and licenses."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from seppmail_lifecycle.api.common import DisplayName, Email, LifecycleModel, StatusBase
from seppmail_lifecycle.api.kinds import AGE, READY, KindInfo, PrinterColumn


class TenantContact(LifecycleModel):
    """How to reach the tenant's administrator; action and notice mails go to `email`."""

    email: Email = Field(description="Contact e-mail address; receives partner-action and license mails.")
    phone: Annotated[str, StringConstraints(min_length=3, max_length=32, pattern=r"^\+?[0-9 ()./-]+$")] | None = Field(
        default=None, description="Phone number, digits with optional + ( ) . / - and spaces."
    )
    country: Annotated[str, StringConstraints(min_length=2, max_length=2, pattern=r"^[A-Z]{2}$")] | None = Field(
        default=None, description="Country as ISO 3166-1 alpha-2 code, e.g. CH, DE."
    )


class TenantNotifications(LifecycleModel):
    """Who else receives the tenant's notification mails."""

    recipients: list[Email] = Field(
        default_factory=list,
        max_length=20,
        description="Workflow_Mails addresses: receive every notification, have no API access.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )


class TenantSpec(LifecycleModel):
    """A partner's customer."""

    display_name: DisplayName = Field(description="Tenant name as given in the order.")
    contact: TenantContact = Field(description="The tenant's contact data.")
    notifications: TenantNotifications | None = Field(default=None, description="Additional notification recipients.")


class TenantStatus(StatusBase):
    """Identity and totals assigned and counted by the operator."""

    id: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="Unique, stable ID assigned by the operator."
    )
    managed_domains: int | None = Field(default=None, ge=0, description="Number of ordered domains.")
    total_services: int | None = Field(default=None, ge=0, description="Total of services booked across all domains.")


INFO = KindInfo(
    kind="Tenant",
    plural="tenants",
    short_names=("smtenant",),
    scope="Namespaced",
    description="A partner's customer in seppmail.cloud: contact data and notification recipients.",
    spec=TenantSpec,
    status=TenantStatus,
    printer_columns=(
        PrinterColumn("Display Name", ".spec.displayName", description="Tenant name."),
        PrinterColumn("ID", ".status.id", description="Unique ID assigned by the operator."),
        PrinterColumn("Domains", ".status.managedDomains", "integer", "Number of managed domains."),
        PrinterColumn("Services", ".status.totalServices", "integer", "Total booked services."),
        READY,
        AGE,
    ),
)
