"""Service: one booked product on one domain, with order phase, subscription and billing."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from seppmail_lifecycle.api.common import (
    Fqdn,
    LifecycleModel,
    LocalObjectRef,
    ObjectName,
    ProductName,
    Reason64,
    Reason256,
    ShortText,
    cel,
    immutable,
)
from seppmail_lifecycle.api.kinds import AGE, NEXT_ACTION, NEXT_AT, READY, KindInfo, PrinterColumn
from seppmail_lifecycle.api.order_status import OrderStatus
from seppmail_lifecycle.api.states import SubscriptionState, SuspensionReason

MAX_USERS = 10_000_000


class Discount(LifecycleModel):
    """A discount on the service's price, always with its reason."""

    percent: int = Field(default=0, ge=0, le=100, description="Discount in percent, 0 to 100.")
    reason: Reason64 | None = Field(default=None, description='Why, e.g. "nfr" or "test"; required when percent > 0.')

    @model_validator(mode="after")
    def _reason_when_discounted(self) -> Discount:
        # The CRD's CEL rule says the same at apply time; this keeps the operator's view identical.
        if self.percent > 0 and not self.reason:
            raise ValueError("spec.discount.reason is required when spec.discount.percent is above 0")
        return self


class Suspension(LifecycleModel):
    """Suspends the service until removed: access is limited (Suspended=True, Ready=False, and the
    routing config lists it under `limited`); the phase stays."""

    reason: Literal["insufficient-funds", "misuse"] = Field(
        description="Why the service is suspended: insufficient-funds (set and lifted by billing) or misuse "
        "(by platform support); the chart's admission policy enforces who."
    )


class Cancellation(LifecycleModel):
    """Cancels (terminates) the service. Cannot be withdrawn once set."""

    end_billing_date: date | None = Field(
        default=None,
        description="Last billed day (YYYY-MM-DD). Default: end of the month; earliest: the day after "
        "the cancellation was seen. A billed service runs, and is removed not before, the end of this day "
        "(or the cancellation delay, if later). Cancelling the base service ends its domain's services on "
        "the base service's date.",
    )
    reason: Reason256 | None = Field(default=None, description="Why the service is cancelled.")


class ServiceSpec(LifecycleModel):
    """A product booked on a domain."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "has(oldSelf.cancellation) ? has(self.cancellation) : true",
                    "spec.cancellation cannot be removed once set; book a new service instead",
                    ".cancellation",
                )
            ]
        }
    )

    domain_ref: LocalObjectRef = Field(
        description="The Domain object the service is booked on (immutable).",
        json_schema_extra=immutable("spec.domainRef is immutable: book the service on the other domain instead"),
    )
    product: ProductName = Field(
        description="Name of the booked Product (immutable).",
        json_schema_extra=immutable("spec.product is immutable: cancel this service and book another"),
    )
    users: int = Field(
        default=0, ge=0, le=MAX_USERS, description="Number of users; billing starts once > 0 and provisioned."
    )
    discount: Discount | None = Field(
        default=None,
        description="Discount with its reason; only platform support may set or change it (the chart's "
        "admission policy, custom verb set-discount).",
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "!has(self.percent) || self.percent == 0 || has(self.reason)",
                    "spec.discount.reason is required when spec.discount.percent is above 0",
                    ".reason",
                )
            ]
        },
    )
    contract_ref: LocalObjectRef | None = Field(
        default=None, description="The Contract the service renews and is invoiced with."
    )
    auto_renew: bool = Field(
        default=True,
        description="Include the service in the next invoice. false = Discontinue Service; true again = "
        "Continue Service.",
    )
    suspension: Suspension | None = Field(default=None, description="Suspends the service while set.")
    cancellation: Cancellation | None = Field(
        default=None, description="Cancels the service. Cannot be removed once set."
    )


class SubscriptionStatus(LifecycleModel):
    """The subscription state of seed 004."""

    state: SubscriptionState | None = Field(default=None, description="Subscription state.")
    reason: SuspensionReason | None = Field(default=None, description="Why the service is suspended.")
    expires_at: datetime | None = Field(
        default=None, description="End of the paid (or trial) period the service is in, or was last in."
    )
    contract: ObjectName | None = Field(default=None, description="The contract that invoices the service.")
    discontinued_at: datetime | None = Field(
        default=None, description="When it was discontinued for not being renewed (it cannot be renewed since)."
    )


class BillingStatus(LifecycleModel):
    """The billed span of the service."""

    start: date | None = Field(default=None, description="First billed day: provisioned with users > 0.")
    end: date | None = Field(default=None, description="Last billed day, once cancelled.")


class ServiceStatus(OrderStatus):
    """Identity, order phase, subscription and billing of the service."""

    number: int | None = Field(default=None, ge=1, description="Sequential number within the domain, never reused.")
    domain_name: Fqdn | None = Field(default=None, description="The mail domain the service is booked on.")
    subscription: SubscriptionStatus | None = Field(default=None, description="Subscription state.")
    billing: BillingStatus | None = Field(default=None, description="Billing start and end.")
    discount: ShortText | None = Field(default=None, description='Discount as shown, e.g. "10 (nfr)".')


INFO = KindInfo(
    kind="Service",
    plural="services",
    short_names=("smsvc",),
    scope="Namespaced",
    description="One booked product on one domain: order phase, subscription state, billing.",
    spec=ServiceSpec,
    status=ServiceStatus,
    printer_columns=(
        PrinterColumn("Number", ".status.number", "integer", "Sequential number within the domain."),
        PrinterColumn("Domain", ".spec.domainRef.name", description="The Domain object."),
        PrinterColumn("Product", ".spec.product", description="The booked product."),
        PrinterColumn("Phase", ".status.phase", description="Order phase."),
        PrinterColumn("Subscription", ".status.subscription.state", description="Subscription state."),
        PrinterColumn("Billing Start", ".status.billing.start", description="First billed day."),
        READY,
        NEXT_ACTION,
        NEXT_AT,
        PrinterColumn("Users", ".spec.users", "integer", "Number of users.", priority=1),
        PrinterColumn("Discount", ".status.discount", description="Discount (reason).", priority=1),
        PrinterColumn("Contract", ".spec.contractRef.name", description="The contract.", priority=1),
        PrinterColumn(
            "Expires", ".status.subscription.expiresAt", description="End of the paid (or trial) period.", priority=1
        ),
        AGE,
    ),
    selectable_fields=(".spec.domainRef.name", ".spec.product"),
)
