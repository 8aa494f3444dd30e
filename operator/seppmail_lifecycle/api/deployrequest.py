"""DeployRequest: the "Deploy domains and services" button; only the Tech role may create one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints

from seppmail_lifecycle.api.common import LifecycleModel, Message, ObjectName, StatusBase, cel
from seppmail_lifecycle.api.kinds import AGE, READY, KindInfo, PrinterColumn
from seppmail_lifecycle.api.states import DeployRequestPhase


class DeployRequestSpec(LifecycleModel):
    """What to deploy now. A request is a one-off event and cannot be changed."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [cel("self == oldSelf", "a DeployRequest cannot be changed; create a new one")]
        }
    )

    domains: list[ObjectName] = Field(
        default_factory=list,
        max_length=500,
        description="Domain object names to deploy; empty means every confirmed domain in the namespace.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )


class SkippedDomain(LifecycleModel):
    """A covered domain that was not deployed, and why."""

    name: ObjectName = Field(description="The Domain object.")
    reason: Annotated[str, StringConstraints(max_length=512)] = Field(description="Why it was not deployed.")


MAX_LISTED = 100
"""How many names each status list shows; the counts beside them say how many there are in all
(a request over every domain of a namespace may cover tens of thousands)."""


class DeployRequestStatus(StatusBase):
    """The result message of the deployment."""

    phase: DeployRequestPhase | None = Field(default=None, description="Pending or Completed.")
    deployed_domains: list[ObjectName] = Field(
        default_factory=list,
        max_length=MAX_LISTED,
        description=f"Domains whose deployment this request started (the first {MAX_LISTED}).",
    )
    deployed_domain_count: int | None = Field(
        default=None, ge=0, description="How many domains this request started deploying."
    )
    deployed_services: list[ObjectName] = Field(
        default_factory=list,
        max_length=MAX_LISTED,
        description=f"Services whose deployment this request started (the first {MAX_LISTED}).",
    )
    deployed_service_count: int | None = Field(
        default=None, ge=0, description="How many services this request started deploying."
    )
    skipped: list[SkippedDomain] = Field(
        default_factory=list,
        max_length=MAX_LISTED,
        description=f"Covered domains not deployed, with the reason (the first {MAX_LISTED}).",
    )
    skipped_count: int | None = Field(default=None, ge=0, description="How many covered domains were not deployed.")
    message: Message | None = Field(default=None, description="Result message, as the console shows it.")
    completed_at: datetime | None = Field(default=None, description="When the request was carried out.")


INFO = KindInfo(
    kind="DeployRequest",
    plural="deployrequests",
    short_names=("smdeploy",),
    scope="Namespaced",
    description='The "Deploy domains and services" button: deploys confirmed domains and services now.',
    spec=DeployRequestSpec,
    status=DeployRequestStatus,
    printer_columns=(
        PrinterColumn("Phase", ".status.phase", description="Pending or Completed."),
        PrinterColumn("Message", ".status.message", description="Result message."),
        READY,
        AGE,
    ),
    spec_required=False,
)
