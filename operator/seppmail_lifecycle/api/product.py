"""Product: a cluster-wide catalogue entry that Services book."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from seppmail_lifecycle.api.common import (
    DisplayName,
    LifecycleModel,
    Money,
    ProductName,
    StatusBase,
)
from seppmail_lifecycle.api.kinds import AGE, READY, KindInfo, PrinterColumn, RootRule


class ProductBilling(LifecycleModel):
    """How the product is charged."""

    type: Literal["recurring", "one-time"] = Field(
        description="recurring: billed every contract period; one-time: billed once when provisioned."
    )
    price: Money | None = Field(
        default=None,
        description="List price per user and month of a recurring product (a quarterly contract bills 3 months, "
        "a yearly one 12); of a one-time product, per user once.",
    )


class ProductSpec(LifecycleModel):
    """A product partners can book on a domain."""

    display_name: DisplayName = Field(description="Name shown to partners, e.g. seppmail.cloud base service.")
    requires: list[ProductName] = Field(
        default_factory=list,
        max_length=16,
        description="Products that must be booked (and not cancelled) on the same domain first.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    billing: ProductBilling = Field(description="How the product is charged.")
    needs_gina_host: bool = Field(
        default=False,
        description="Whether the domain needs spec.deploymentSettings.ginaHost (e.g. SIG-ENC).",
    )


class ProductStatus(StatusBase):
    """What the operator observed about the product."""


INFO = KindInfo(
    kind="Product",
    plural="products",
    short_names=("smprod",),
    scope="Cluster",
    description="A catalogue entry of seppmail.cloud: what can be booked, what it requires, how it is billed.",
    spec=ProductSpec,
    status=ProductStatus,
    printer_columns=(
        PrinterColumn("Display Name", ".spec.displayName", description="Name shown to partners."),
        PrinterColumn("Billing", ".spec.billing.type", description="recurring or one-time."),
        PrinterColumn("Price", ".spec.billing.price.amount", description="List price."),
        PrinterColumn("Currency", ".spec.billing.price.currency", description="Currency of the price."),
        PrinterColumn("GINA", ".spec.needsGinaHost", "boolean", "Needs a GINA host.", priority=1),
        READY,
        AGE,
    ),
    root_rules=(
        RootRule(
            "self.metadata.name.size() <= 63",
            "metadata.name: a product name is a DNS label, at most 63 characters",
        ),
        RootRule(
            "!has(self.spec.requires) || !(self.metadata.name in self.spec.requires)",
            "spec.requires: a product cannot require itself",
            ".spec.requires",
        ),
    ),
)
