"""A tenant's identity and totals: managed domains and booked services (the seed's tenant table)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from seppmail_lifecycle.api.tenant import TenantStatus
from seppmail_lifecycle.core.conditions import Cond, merge_conditions, summary
from seppmail_lifecycle.core.consistency import is_booked
from seppmail_lifecycle.core.ids import object_id
from seppmail_lifecycle.core.license_effects import LicenseEffects
from seppmail_lifecycle.core.model import Domain, Partner, Service, Tenant
from seppmail_lifecycle.core.order_machine import ENDING_PHASES
from seppmail_lifecycle.core.orders import Decision
from seppmail_lifecycle.core.partners import partner_condition

CONSOLE_ACCESS_BLOCKED = "ConsoleAccessBlocked"


def decide_tenant(
    tenant: Tenant,
    domains: Sequence[Domain],
    services: Sequence[Service],
    licenses: LicenseEffects,
    now: datetime,
    partner: Partner | None = None,
) -> Decision[TenantStatus]:
    """``domains`` are the tenant's Domain objects; ``services`` the services booked on them;
    ``partner`` its namespace's partner, if it has one."""
    managed = [d for d in domains if d.status.phase not in ENDING_PHASES and d.meta.deleted is None]
    managed_names = {d.name for d in managed}
    booked = [s for s in services if s.spec.domain_ref.name in managed_names and is_booked(s)]
    status = tenant.status.model_copy()  # shallow: each field decided is assigned anew
    status.id = tenant.status.id or object_id("Tenant", tenant.meta.uid)
    status.managed_domains = len(managed)
    status.total_services = len(booked)
    status.observed_generation = tenant.meta.generation
    message = f"{len(managed)} managed domain(s), {len(booked)} booked service(s)."
    if licenses.purged:
        console = Cond(CONSOLE_ACCESS_BLOCKED, "True", "LicensePurged", f"License {licenses.license!r} was purged.")
    elif licenses.frozen:
        console = Cond(
            CONSOLE_ACCESS_BLOCKED,
            "True",
            "LicenseFrozen",
            f"Admin and end-user console access is blocked: license {licenses.license!r} is frozen.",
        )
    else:
        console = Cond(CONSOLE_ACCESS_BLOCKED, "False", "Licensed", "Console access is allowed.")
    status.conditions = merge_conditions(
        tenant.status.conditions,
        [*summary("Registered", message, ready=True), console, partner_condition(partner)],
        tenant.meta.generation,
        now,
    )
    return Decision(tenant.name, status)
