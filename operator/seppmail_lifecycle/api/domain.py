"""Domain: a mail domain of a tenant, with its order phase and deployment settings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from seppmail_lifecycle.api.common import (
    Fqdn,
    LifecycleModel,
    LocalObjectRef,
    cel,
    immutable,
)
from seppmail_lifecycle.api.kinds import AGE, NEXT_ACTION, NEXT_AT, READY, TENANT, KindInfo, PrinterColumn, RootRule
from seppmail_lifecycle.api.order_status import OrderStatus

PLATFORM_DOMAIN = "seppmail.cloud"
"""The platform's own domain: neither it nor a subdomain of it is a tenant's mail domain."""
INTERNAL_SUFFIXES = (".svc", ".local", ".internal", ".localhost", ".home.arpa")
"""Names that resolve only inside a cluster or a site (``.svc``, ``.cluster.local``, ...): a GINA
host the gateways must reach from outside cannot be one of them."""


def _not_platform(name: str) -> str:
    if name == PLATFORM_DOMAIN or name.endswith("." + PLATFORM_DOMAIN):
        raise ValueError(f"{name} is the platform's own domain ({PLATFORM_DOMAIN}), not a tenant's")
    return name


def _not_internal(name: str | None) -> str | None:
    if name is not None and name.endswith(INTERNAL_SUFFIXES):
        raise ValueError(
            f"{name} is a cluster-internal name ({', '.join(INTERNAL_SUFFIXES)}): not reachable as a GINA host"
        )
    return name


class DeploymentSettings(LifecycleModel):
    """Settings the backend needs to deploy the domain."""

    gina_host: Fqdn | None = Field(
        default=None,
        description="GINA host name (FQDN) for SIG-ENC domains, reachable from outside (not .svc, .local, "
        ".internal ...). Changeable only while the domain is ordered, confirmed or provisioning.",
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    " && ".join(f"!self.endsWith('{suffix}')" for suffix in INTERNAL_SUFFIXES),
                    "spec.deploymentSettings.ginaHost is a cluster-internal name: the GINA host must be reachable "
                    "from outside",
                )
            ]
        },
    )

    _internal = field_validator("gina_host")(_not_internal)


class DomainSpec(LifecycleModel):
    """A mail domain ordered for a tenant."""

    tenant_ref: LocalObjectRef = Field(
        description="The tenant owning the domain (immutable).",
        json_schema_extra=immutable("spec.tenantRef is immutable: a domain cannot move to another tenant"),
    )
    domain_name: Fqdn = Field(
        description="The mail domain, a lowercase fully qualified domain name (immutable); never the platform's "
        "own (seppmail.cloud and its subdomains).",
        json_schema_extra={
            **immutable("spec.domainName is immutable: order a new Domain instead"),
            "x-kubernetes-validations": [
                cel(
                    f"self != '{PLATFORM_DOMAIN}' && !self.endsWith('.{PLATFORM_DOMAIN}')",
                    f"spec.domainName: {PLATFORM_DOMAIN} and its subdomains are the platform's own, not a tenant's",
                )
            ],
        },
    )

    _platform = field_validator("domain_name")(_not_platform)
    confidential: bool = Field(
        default=False,
        description="Confidential (partner admins, expert mode): the domain's routing config says so "
        '(confidential: "true"), and the mail gateways then keep its message logs and message contents out '
        "of support views. It changes nothing in the lifecycle; it can be switched in any phase.",
    )
    deployment_settings: DeploymentSettings | None = Field(
        default=None, description="Deployment settings such as the GINA host."
    )


class PendingAction(LifecycleModel):
    """Something the partner must do before provisioning can complete."""

    type: Literal["DNSRecord"] = Field(description="Kind of action.")
    record_type: Literal["TXT", "MX"] = Field(description="DNS record type.")
    name: Annotated[str, StringConstraints(min_length=1, max_length=253)] = Field(
        description="DNS name the record must exist at."
    )
    expected: Annotated[str, StringConstraints(max_length=512)] = Field(description="The value the record must have.")
    last_checked: datetime | None = Field(default=None, description="When the record was last checked.")
    result: Annotated[str, StringConstraints(max_length=512)] = Field(
        default="", description="What the last check found."
    )


class DnsVerification(LifecycleModel):
    """The schedule and outcome of the DNS checks while the domain is provisioning."""

    attempts: int = Field(default=0, ge=0, description="Checks that found a record missing, in a row.")
    last_checked_at: datetime | None = Field(default=None, description="When the records were last checked.")
    next_check_at: datetime | None = Field(default=None, description="When they are checked again.")
    ownership_verified_at: datetime | None = Field(
        default=None,
        description="When the ownership record (TXT) was first found: from then on the name is this tenant's "
        "and its routing is applied.",
    )
    verified_at: datetime | None = Field(default=None, description="When every record was found.")
    refreshed_for: Annotated[str, StringConstraints(max_length=256)] | None = Field(
        default=None, description="The refresh annotation value last acted upon."
    )


class DomainStatus(OrderStatus):
    """Identity, order phase and pending partner actions of the domain."""

    last_service_number: int | None = Field(
        default=None, ge=0, description="The last sequential number given to a service of the domain."
    )
    pending_actions: list[PendingAction] = Field(
        default_factory=list, max_length=16, description="Partner actions provisioning waits for."
    )
    verification: DnsVerification | None = Field(default=None, description="DNS checks of the partner actions.")


INFO = KindInfo(
    kind="Domain",
    plural="domains",
    short_names=("smdom",),
    scope="Namespaced",
    description="A mail domain of a tenant in seppmail.cloud, with its order phase.",
    spec=DomainSpec,
    status=DomainStatus,
    printer_columns=(
        PrinterColumn("Domain", ".spec.domainName", description="The mail domain."),
        TENANT,
        PrinterColumn("Phase", ".status.phase", description="Order phase."),
        READY,
        NEXT_ACTION,
        NEXT_AT,
        PrinterColumn("ID", ".status.id", description="Unique ID.", priority=1),
        PrinterColumn(
            "Confidential",
            ".spec.confidential",
            type="boolean",
            description="No message logs in support views.",
            priority=1,
        ),
        AGE,
    ),
    selectable_fields=(".spec.tenantRef.name", ".spec.domainName"),
    root_rules=(
        # Seed 001: deployment settings change only while the order is not yet deployed (the
        # partner may still fix a missing GINA host while it is ordered). The stored status
        # is visible to a root-level transition rule, so this is refused at apply time.
        RootRule(
            "!has(oldSelf.status) || !has(oldSelf.status.phase) || "
            "oldSelf.status.phase in ['ordered', 'confirmed', 'provisioning'] || "
            "(has(self.spec.deploymentSettings) && has(self.spec.deploymentSettings.ginaHost) "
            "? self.spec.deploymentSettings.ginaHost : '') == "
            "(has(oldSelf.spec.deploymentSettings) && has(oldSelf.spec.deploymentSettings.ginaHost) "
            "? oldSelf.spec.deploymentSettings.ginaHost : '')",
            "spec.deploymentSettings.ginaHost can change only while the domain is ordered, confirmed or provisioning",
            ".spec.deploymentSettings.ginaHost",
            message_expression="'spec.deploymentSettings.ginaHost can change only while the domain is ordered, "
            "confirmed or provisioning; this domain is ' + oldSelf.status.phase + "
            "': ask support to change a deployed domain'",
        ),
    ),
)
