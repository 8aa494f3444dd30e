"""What the CRD of a kind says beyond its field schema: names, scope, printer columns,
selectable fields and whole-object validation rules.

Each kind module declares one ``KindInfo``; ``api.crdgen`` turns it, with the kind's spec and
status models, into the CustomResourceDefinition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel

from seppmail_lifecycle import GROUP, VERSION

CATEGORY = "lifecycle"


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    json_path: str
    type: Literal["string", "integer", "number", "boolean", "date"] = "string"
    description: str = ""
    priority: int = 0
    format: str | None = None


AGE = PrinterColumn("Age", ".metadata.creationTimestamp", "date", "Time since the object was created.")
READY = PrinterColumn("Ready", '.status.conditions[?(@.type=="Ready")].status', description="The Ready condition.")
NEXT_ACTION = PrinterColumn("Next", ".status.next.action", description="The next scheduled transition.")
# Future times must be string columns: a `date` column shows an age, and "<invalid>" for the future.
NEXT_AT = PrinterColumn("At", ".status.next.at", description="When the next transition is due (UTC).")
TENANT = PrinterColumn("Tenant", ".spec.tenantRef.name", description="The tenant this object belongs to.")


@dataclass(frozen=True)
class RootRule:
    """A CEL rule on the whole object (the only place that may read ``metadata.name``)."""

    rule: str
    message: str
    field_path: str | None = None
    message_expression: str | None = None


@dataclass(frozen=True)
class KindInfo:
    kind: str
    plural: str
    short_names: tuple[str, ...]
    scope: Literal["Namespaced", "Cluster"]
    description: str
    spec: type[BaseModel]
    status: type[BaseModel]
    printer_columns: tuple[PrinterColumn, ...]
    selectable_fields: tuple[str, ...] = ()
    root_rules: tuple[RootRule, ...] = ()
    spec_required: bool = True
    extra_categories: tuple[str, ...] = field(default=())

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"

    @property
    def group(self) -> str:
        return GROUP

    @property
    def version(self) -> str:
        return VERSION

    @property
    def namespaced(self) -> bool:
        return self.scope == "Namespaced"
