"""Status fields shared by the kinds that go through the order phases (Domain, Service)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from seppmail_lifecycle.api.common import StatusBase
from seppmail_lifecycle.api.states import OrderPhase


class OrderStatus(StatusBase):
    """Identity, order phase and the times the phase machine keys its deadlines on."""

    id: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="Unique, stable ID assigned by the operator."
    )
    phase: OrderPhase | None = Field(default=None, description="Order phase summary; conditions are the truth.")
    confirmed_at: datetime | None = Field(default=None, description="When the consistency check passed.")
    provisioned_at: datetime | None = Field(default=None, description="When deployment completed.")
    cancelled_at: datetime | None = Field(
        default=None, description="When the cancellation (or deletion) was first seen."
    )
    deprovisioned_at: datetime | None = Field(default=None, description="When the backend config was removed.")
