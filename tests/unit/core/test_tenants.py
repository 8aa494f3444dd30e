"""A tenant's identity and totals (the seed's tenant table): managed domains and booked services."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from seppmail_lifecycle.api.states import OrderPhase as P
from seppmail_lifecycle.api.tenant import TenantStatus
from seppmail_lifecycle.core.ids import object_id
from seppmail_lifecycle.core.license_effects import NONE, LicenseEffects
from seppmail_lifecycle.core.model import Domain, Service
from seppmail_lifecycle.core.tenants import decide_tenant

from .builders import T0, cancellation, domain, service, tenant


def dom(name: str, phase: P | None = P.PROVISIONED, **kw: Any) -> Domain:
    return domain(name, domain_name=f"{name}.example", phase=phase, **kw)


def svc(name: str, on: str, phase: P | None = P.PROVISIONED, **kw: Any) -> Service:
    return service(name, "base", domain=on, phase=phase, **kw)


CASES = [
    # (id, domains, services, managed domains, booked services)
    ("nothing", [], [], 0, 0),
    ("one-of-each", [dom("a")], [svc("a-1", "a")], 1, 1),
    (
        "every-active-phase-counts",
        [dom("a", None), dom("b", P.ORDERED), dom("c", P.CONFIRMED), dom("d", P.PROVISIONING), dom("e")],
        [svc("a-1", "a", None), svc("b-1", "b", P.ORDERED), svc("c-1", "c", P.CONFIRMED), svc("d-1", "d")],
        5,
        4,
    ),
    (
        "ending-domains-do-not-count",
        [dom("a"), dom("b", P.CANCELLED), dom("c", P.DEPROVISIONING), dom("d", P.DEPROVISIONED)],
        [],
        1,
        0,
    ),
    ("deleted-domains-do-not-count", [dom("a"), dom("b", deleted=T0)], [], 1, 0),
    (
        "ending-services-do-not-count",
        [dom("a")],
        [
            svc("a-1", "a"),
            svc("a-2", "a", P.CANCELLED),
            svc("a-3", "a", P.DEPROVISIONING),
            svc("a-4", "a", P.DEPROVISIONED),
        ],
        1,
        1,
    ),
    (
        "services-being-cancelled-or-deleted-do-not-count",
        [dom("a")],
        [svc("a-1", "a"), svc("a-2", "a", cancelled=cancellation()), svc("a-3", "a", deleted=T0)],
        1,
        1,
    ),
    (
        "services-of-cancelled-or-unknown-domains-do-not-count",
        [dom("a"), dom("b", P.CANCELLED)],
        [svc("a-1", "a"), svc("b-1", "b", P.PROVISIONED), svc("z-1", "zzz")],
        1,
        1,
    ),
    (
        "across-domains",
        [dom("a"), dom("b")],
        [svc("a-1", "a"), svc("a-2", "a"), svc("b-1", "b")],
        2,
        3,
    ),
]


NO_PARTNER = (
    "No Partner in this namespace: partner-action mails (DNS records to set, deployment done) go to the tenant's "
    "contact and recipients. Create a Partner to send them to the partner's admins."
)


@pytest.mark.parametrize(
    ("domains", "services", "managed", "booked"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_counts(domains: Sequence[Domain], services: Sequence[Service], managed: int, booked: int) -> None:
    decision = decide_tenant(tenant(), domains, services, NONE, T0)
    status = decision.status
    assert (status.managed_domains, status.total_services) == (managed, booked)
    message = f"{managed} managed domain(s), {booked} booked service(s)."
    assert [(x.type, x.status, x.reason, x.message) for x in status.conditions] == [
        ("Ready", "True", "Registered", message),
        ("Reconciling", "False", "Registered", message),
        ("Stalled", "False", "Registered", message),
        ("ConsoleAccessBlocked", "False", "Licensed", "Console access is allowed."),
        ("PartnerFound", "False", "NoPartner", NO_PARTNER),
    ]
    assert decision.transitions == ()
    assert not decision.release_finalizer


def test_identity_and_generation() -> None:
    t = tenant(generation=4)
    status = decide_tenant(t, [], [], NONE, T0).status
    assert status.id == object_id("Tenant", t.meta.uid)
    assert status.observed_generation == 4
    kept = decide_tenant(replace(t, status=TenantStatus(id="TEN-LEGACY0001")), [], [], NONE, T0).status
    assert kept.id == "TEN-LEGACY0001"


def test_deciding_again_is_idempotent_and_keeps_transition_times() -> None:
    t = tenant()
    first = decide_tenant(t, [dom("a")], [svc("a-1", "a")], NONE, T0).status
    t = replace(t, status=first)
    later = T0 + timedelta(hours=1)
    assert decide_tenant(t, [dom("a")], [svc("a-1", "a")], NONE, later).status == first
    changed = decide_tenant(t, [dom("a"), dom("b")], [svc("a-1", "a")], NONE, later).status
    assert changed.managed_domains == 2
    assert {x.last_transition_time for x in changed.conditions} == {T0}


@pytest.mark.parametrize(
    ("effects", "status", "reason"),
    [
        (NONE, "False", "Licensed"),
        (LicenseEffects(frozen=True, license="acme-full"), "True", "LicenseFrozen"),
        (LicenseEffects(frozen=True, purged_at=T0, license="acme-full"), "True", "LicensePurged"),
    ],
    ids=["licensed", "frozen", "purged"],
)
def test_console_access_is_blocked_while_the_license_is_frozen(
    effects: LicenseEffects, status: str, reason: str
) -> None:
    conditions = decide_tenant(tenant(), [], [], effects, T0).status.conditions
    console = next(c for c in conditions if c.type == "ConsoleAccessBlocked")
    assert (console.status, console.reason) == (status, reason)
