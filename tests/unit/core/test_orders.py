"""Scenario tables over ``decide_domain``: the order lifecycle of a domain and its services.

``reconcile`` runs one reconcile as the operator does: the core's own plan (``settle_domain``)
driven by the core's driver, with its effects on an in-memory backend (``ApplyRouting`` sets the
observed routing, ``RemoveRouting`` clears it) and resolver; then the decided statuses are
written back into the world. ``settle`` reconciles until nothing moves at one instant and then
checks that deciding once more is a no-op: every decision is idempotent.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seppmail_lifecycle.api.common import Condition, LocalObjectRef, NextTransition
from seppmail_lifecycle.api.policy import Policy
from seppmail_lifecycle.api.service import SubscriptionStatus, Suspension
from seppmail_lifecycle.api.states import InvoiceState
from seppmail_lifecycle.api.states import OrderPhase as P
from seppmail_lifecycle.core import conditions as c
from seppmail_lifecycle.core.consistency import claim_of
from seppmail_lifecycle.core.driver import Effect, LookUpDns, drive_sync, settle_domain
from seppmail_lifecycle.core.ids import object_id
from seppmail_lifecycle.core.license_effects import NONE as NO_LICENSE_EFFECTS
from seppmail_lifecycle.core.license_effects import LicenseEffects
from seppmail_lifecycle.core.model import DeployRequest, Invoice, Service
from seppmail_lifecycle.core.orders import (
    EXPEDITE_ANNOTATION,
    ApplyRouting,
    Decision,
    DomainOutcome,
    DomainWorld,
    RemoveRouting,
    decide_domain,
    dns_lookups_due,
)
from seppmail_lifecycle.core.periods import period, period_at
from seppmail_lifecycle.core.routing import RoutedService, RoutingConfig
from seppmail_lifecycle.core.verification import DnsAnswer, DnsLookup, DnsObservation, required_records

from .builders import (
    CREATED,
    DOMAIN,
    DOMAIN_NAME,
    EXPEDITE,
    GINA,
    NS,
    POLICY,
    PRODUCTS,
    T0,
    TENANT,
    cancellation,
    claim,
    contract,
    deploy_request,
    domain,
    invoice,
    line,
    own_claim,
    product,
    routing,
    service,
    tenant,
    with_meta,
    with_spec,
    world,
)

WINDOW = datetime(2026, 11, 2, 14, 0, tzinfo=T0.tzinfo)
"""The first automatic deployment window after T0 (10:00 UTC)."""
T1 = T0 + timedelta(days=1)
"""When something is cancelled in the scenarios: 2026-11-03 10:00 UTC."""
DUE = T1 + POLICY.cancellation_delay
SECOND = timedelta(seconds=1)

# --------------------------------------------------------------------------------------- helpers


def zone_with_every_record(w: DomainWorld, now: datetime) -> DnsObservation:
    """The partner did everything: every required record exists."""
    assert w.domain is not None
    answers: dict[DnsLookup, list[str]] = {}
    for record in required_records(w.domain, POLICY.dns):
        answers.setdefault((record.record_type, record.name), []).append(record.expected)
    return DnsObservation(now, {key: DnsAnswer(tuple(values)) for key, values in answers.items()})


def decide(
    w: DomainWorld,
    now: datetime,
    zone: Callable[[DomainWorld, datetime], DnsObservation] = zone_with_every_record,
    policy: Policy = POLICY,
) -> DomainOutcome:
    """One decision with the DNS answers it asks for, before any routing effect is carried out."""
    outcome = decide_domain(w, policy, now)
    if dns_lookups_due(w, outcome, policy, now):
        outcome = decide_domain(replace(w, dns=zone(w, now)), policy, now)
    return outcome


def apply(w: DomainWorld, outcome: DomainOutcome, routing: Any = ...) -> DomainWorld:
    """The world after the decided statuses are written and the backend holds ``routing`` (by
    default: what the outcome asks for)."""
    d = w.domain
    if d is not None and outcome.domain is not None:
        d = replace(d, status=outcome.domain.status)
    decided = {s.name: s.status for s in outcome.services}
    services = tuple(replace(s, status=decided.get(s.name, s.status)) for s in w.services)
    observed = w.routing if routing is ... else routing
    if routing is ... and isinstance(outcome.routing, ApplyRouting):
        observed = outcome.routing.config
    elif routing is ... and isinstance(outcome.routing, RemoveRouting):
        observed = None
    return replace(w, domain=d, services=services, routing=observed)


@dataclass(frozen=True)
class Reconciled:
    """One reconcile: the outcome written and the effects the plan asked for on the way."""

    outcome: DomainOutcome
    effects: tuple[Effect, ...]

    @property
    def routing(self) -> ApplyRouting | RemoveRouting | None:
        """The routing change the reconcile carried out (the last, if several)."""
        changes = [e for e in self.effects if isinstance(e, ApplyRouting | RemoveRouting)]
        return changes[-1] if changes else None

    @property
    def domain(self) -> Decision[Any] | None:
        return self.outcome.domain

    @property
    def services(self) -> tuple[Decision[Any], ...]:
        return self.outcome.services

    @property
    def wake_at(self) -> datetime | None:
        return self.outcome.wake_at

    @property
    def book_base_service(self) -> bool:
        return self.outcome.book_base_service


def reconcile(
    w: DomainWorld,
    now: datetime,
    zone: Callable[[DomainWorld, datetime], DnsObservation] = zone_with_every_record,
    policy: Policy = POLICY,
) -> tuple[DomainWorld, Reconciled]:
    """One reconcile as the operator runs it: the core's plan with effects on an in-memory
    backend and resolver, then the writes."""
    held = {"routing": w.routing}
    effects: list[Effect] = []

    def perform(effect: Effect) -> Any:
        effects.append(effect)
        if isinstance(effect, ApplyRouting):
            held["routing"] = effect.config
            return effect.config
        if isinstance(effect, RemoveRouting):
            held["routing"] = None
            return None
        assert isinstance(effect, LookUpDns)
        return zone(w, now)

    read = _statuses(w)
    outcome = drive_sync(settle_domain(w, policy, now), perform)
    # Decisions copy statuses shallowly: deciding must never change what it read.
    assert _statuses(w) == read, "a decision changed the statuses it read"
    return apply(w, outcome, held["routing"]), Reconciled(outcome, tuple(effects))


def _statuses(w: DomainWorld) -> list[dict[str, Any]]:
    return [o.status.model_dump() for o in (*([w.domain] if w.domain else []), *w.services)]


def moves(outcome: DomainOutcome | Reconciled) -> list[tuple[str, str | None, str, str]]:
    """Every transition of an outcome as (object, from, to, reason)."""
    if isinstance(outcome, Reconciled):
        outcome = outcome.outcome
    decisions: list[Decision[Any]] = [*([outcome.domain] if outcome.domain else []), *outcome.services]
    return [(d.name, t.from_, t.to, t.reason) for d in decisions for t in d.transitions]


def assert_idempotent(w: DomainWorld, now: datetime, policy: Policy = POLICY) -> None:
    again = decide(w, now, policy=policy)
    assert moves(again) == []
    assert again.routing is None
    if w.domain is not None:
        assert again.domain is not None
        assert again.domain.status == w.domain.status
    assert [d.status for d in again.services] == [s.status for s in w.services]


def settle(
    w: DomainWorld,
    now: datetime,
    policy: Policy = POLICY,
    zone: Callable[[DomainWorld, datetime], DnsObservation] = zone_with_every_record,
) -> tuple[DomainWorld, list[Reconciled]]:
    """Reconcile at one instant until nothing moves (the watch event of each write triggers the
    next reconcile, as in the operator)."""
    rounds = []
    for _ in range(3):
        w, reconciled = reconcile(w, now, zone, policy)
        rounds.append(reconciled)
        if not moves(reconciled) and not reconciled.effects:
            break
    else:
        pytest.fail("the decisions did not settle")
    assert_idempotent(w, now, policy)
    return w, rounds


def all_moves(outcomes: list[Reconciled]) -> list[tuple[str, str | None, str, str]]:
    return [m for o in outcomes for m in moves(o)]


def phases(w: DomainWorld) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    if w.domain is not None:
        out[w.domain.name] = w.domain.status.phase
    out.update({s.name: s.status.phase for s in w.services})
    return out


def svc(w: DomainWorld, name: str) -> Service:
    return next(s for s in w.services if s.name == name)


def edit(w: DomainWorld, name: str, **spec: object) -> DomainWorld:
    return replace(w, services=tuple(with_spec(s, **spec) if s.name == name else s for s in w.services))


def edit_meta(w: DomainWorld, name: str, **meta: object) -> DomainWorld:
    if w.domain is not None and w.domain.name == name:
        return replace(w, domain=with_meta(w.domain, **meta))
    return replace(w, services=tuple(with_meta(s, **meta) if s.name == name else s for s in w.services))


def add(w: DomainWorld, *services: Service) -> DomainWorld:
    return replace(w, services=(*w.services, *services))


def cond(w: DomainWorld, name: str, type_: str) -> Condition:
    obj = w.domain if w.domain is not None and w.domain.name == name else svc(w, name)
    found = c.condition(obj.status.conditions, type_)
    assert found is not None, f"{name} has no {type_} condition"
    return found


def base(**kw: Any) -> Service:
    return service("acme-base", created=CREATED, **kw)


def sig(**kw: Any) -> Service:
    return service("acme-sig", "sig-only", created=CREATED + timedelta(minutes=1), **kw)


def enc(**kw: Any) -> Service:
    return service("acme-enc", "sig-enc", created=CREATED + timedelta(minutes=2), **kw)


def archive(**kw: Any) -> Service:
    return service("acme-archive", "archive", created=CREATED + timedelta(minutes=3), **kw)


def confirmed(*services: Service, **kw: Any) -> DomainWorld:
    w, _ = settle(world(*services, **kw), T0)
    return w


def provisioned(*services: Service, **kw: Any) -> DomainWorld:
    w, _ = settle(confirmed(*services, **kw), WINDOW)
    assert set(phases(w).values()) == {P.PROVISIONED}
    return w


def started(w: DomainWorld) -> DomainWorld:
    """Deployment started at WINDOW; the backend has not applied the routing yet."""
    return replace(apply(w, decide(w, WINDOW)), routing=None)


def standard() -> DomainWorld:
    """acme.com provisioned at WINDOW with base (5 users), sig-only and sig-enc (GINA host set)."""
    return provisioned(base(users=5), sig(users=5), enc(users=5), domain=domain(gina_host=GINA))


# --------------------------------------------------------------------------------------- confirm


def test_an_order_is_confirmed_when_the_checks_pass() -> None:
    w, outcomes = settle(world(base(), sig()), T0)
    assert phases(w) == {DOMAIN: P.CONFIRMED, "acme-base": P.CONFIRMED, "acme-sig": P.CONFIRMED}
    assert all_moves(outcomes) == [
        (DOMAIN, "ordered", "confirmed", "ConsistencyCheckPassed"),
        ("acme-base", "ordered", "confirmed", "ConsistencyCheckPassed"),
        ("acme-sig", "ordered", "confirmed", "ConsistencyCheckPassed"),
    ]
    assert w.domain is not None
    for status in (w.domain.status, svc(w, "acme-base").status, svc(w, "acme-sig").status):
        assert status.confirmed_at == T0
        assert status.next == NextTransition(action="Deploy", at=WINDOW)
    for name in (DOMAIN, "acme-base", "acme-sig"):
        assert (cond(w, name, "Confirmed").status, cond(w, name, "Confirmed").reason) == (
            "True",
            "ConsistencyCheckPassed",
        )
        assert cond(w, name, "Stalled").status == "False"
        assert (cond(w, name, "Ready").status, cond(w, name, "Ready").reason) == ("False", "AwaitingDeployment")
        assert cond(w, name, "Reconciling").status == "True"
    assert outcomes[0].routing is None
    assert outcomes[0].wake_at == WINDOW
    assert not outcomes[0].book_base_service


FAILING = [
    # (id, world, object, its reason, a fragment of its message, the domain's phase)
    ("no-tenant", world(base(), tenant=None), DOMAIN, "TenantNotFound", "'acme'", P.ORDERED),
    (
        "no-tenant-reaches-the-services",
        world(base(), tenant=None),
        "acme-base",
        "TenantNotFound",
        "Domain 'acme-com': Tenant 'acme'",
        P.ORDERED,
    ),
    (
        "domain-proven-by-another-tenant",
        world(base(), claims=[claim("other-acme", created=CREATED + timedelta(days=1), proven=T0)]),
        DOMAIN,
        "DomainConflict",
        "already claimed by a tenant of another partner, whose owner proved it in DNS",
        P.ORDERED,
    ),
    ("no-base-service", world(sig()), DOMAIN, "BaseServiceMissing", "'base'", P.ORDERED),
    ("no-gina-host-on-the-domain", world(base(), enc()), DOMAIN, "MissingGinaHost", "sig-enc", P.ORDERED),
    ("no-gina-host-for-the-service", world(base(), enc()), "acme-enc", "MissingGinaHost", "'sig-enc'", P.ORDERED),
    (
        "no-gina-host-reaches-the-other-services",
        world(base(), enc()),
        "acme-base",
        "MissingGinaHost",
        "Domain 'acme-com': Product(s) sig-enc",
        P.ORDERED,
    ),
    (
        "unknown-product",
        world(base(), service("acme-x", "premium")),
        "acme-x",
        "ProductNotFound",
        "'premium'",
        P.CONFIRMED,
    ),
    ("missing-dependency", world(base(), archive()), "acme-archive", "MissingDependency", "'sig-only'", P.CONFIRMED),
    ("no-domain", world(base(), domain=None), "acme-base", "DomainNotFound", "'acme-com'", None),
]


@pytest.mark.parametrize(
    ("w", "name", "reason", "fragment", "domain_phase"), [f[1:] for f in FAILING], ids=[f[0] for f in FAILING]
)
def test_a_failing_check_leaves_the_order_ordered_and_says_why(
    w: DomainWorld, name: str, reason: str, fragment: str, domain_phase: P | None
) -> None:
    w, outcomes = settle(w, T0)
    assert phases(w)[name] is P.ORDERED
    assert (w.domain.status.phase if w.domain else None) is domain_phase
    assert not [m for m in all_moves(outcomes) if m[0] == name]
    for type_, status in (("Confirmed", "False"), ("Stalled", "True"), ("Ready", "False"), ("Reconciling", "False")):
        found = cond(w, name, type_)
        assert (found.status, found.reason) == (status, reason), type_
        assert fragment in found.message, type_
    obj = w.domain if w.domain and name == DOMAIN else svc(w, name)
    assert obj.status.next is None
    assert obj.status.confirmed_at is None


def test_a_confirmed_order_goes_back_to_ordered_when_a_dependency_is_cancelled() -> None:
    w = confirmed(base(), sig(), archive())
    w, outcomes = settle(edit(w, "acme-sig", cancellation=cancellation()), T0 + timedelta(hours=1))
    assert phases(w) == {
        DOMAIN: P.CONFIRMED,
        "acme-base": P.CONFIRMED,
        "acme-sig": P.CANCELLED,
        "acme-archive": P.ORDERED,
    }
    archived = next(o for o in outcomes[0].services if o.name == "acme-archive")
    (transition,) = archived.transitions
    assert (transition.from_, transition.to, transition.reason) == ("confirmed", "ordered", "ConsistencyCheckFailed")
    assert transition.warning
    assert "'sig-only'" in transition.message
    assert svc(w, "acme-archive").status.confirmed_at is None
    assert cond(w, "acme-archive", "Confirmed").reason == "MissingDependency"
    assert cond(w, "acme-archive", "Stalled").status == "True"


def test_a_confirmed_domain_and_its_services_go_back_to_ordered_when_the_tenant_disappears() -> None:
    w = confirmed(base(), sig())
    w, outcomes = settle(replace(w, tenant=None), T0 + timedelta(hours=1))
    assert set(phases(w).values()) == {P.ORDERED}
    assert {(m[0], m[1], m[2]) for m in all_moves(outcomes)} == {
        (DOMAIN, "confirmed", "ordered"),
        ("acme-base", "confirmed", "ordered"),
        ("acme-sig", "confirmed", "ordered"),
    }
    assert cond(w, "acme-sig", "Confirmed").reason == "TenantNotFound"


def test_a_domain_waits_until_the_proven_claim_is_given_up() -> None:
    older = claim("other-acme", created=CREATED - timedelta(days=1), proven=T0 - timedelta(hours=1))
    w, _ = settle(world(base(), claims=[older]), T0)
    assert phases(w)[DOMAIN] is P.ORDERED
    w, _ = settle(replace(w, claims=(replace(older, active=False),)), T0 + timedelta(hours=1))
    assert phases(w)[DOMAIN] is P.CONFIRMED


# --------------------------------------------------------------------------------------- squatters

SQUATTER_NS = "partner-m"


def _squatter_world(owner: DomainWorld | None = None) -> DomainWorld:
    """mallory's order of the owner's name, made a day earlier from another partner's namespace."""
    d = domain("acme-com", tenant="mallory", namespace=SQUATTER_NS, created=CREATED - timedelta(days=1))
    claims = [claim_of(d)] + ([claim_of(owner.domain)] if owner is not None and owner.domain else [])
    return world(
        service("acme-base", namespace=SQUATTER_NS, created=d.meta.created),
        domain=d,
        tenant=tenant("mallory", namespace=SQUATTER_NS),
        namespace=SQUATTER_NS,
        claims=claims,
    )


def _owners_zone(owner: DomainWorld) -> Callable[[DomainWorld, datetime], DnsObservation]:
    """The name's real DNS: the records the owner published, whoever asks."""
    return lambda _w, now: zone_with_every_record(owner, now)


def test_a_squatter_that_ordered_first_neither_blocks_nor_delays_the_owner() -> None:
    alone, alone_rounds = settle(confirmed(base()), WINDOW)
    squatter = _squatter_world()
    squatter, _ = settle(squatter, T0, zone=_owners_zone(alone))
    owner = world(base(), claims=[own_claim(domain()), claim_of(squatter.domain)])  # type: ignore[arg-type]
    owner, _ = settle(owner, T0)
    owner, rounds = settle(owner, WINDOW)
    # Exactly what the owner does with no squatter around.
    assert [moves(r) for r in rounds] == [moves(r) for r in alone_rounds]
    assert set(phases(owner).values()) == {P.PROVISIONED}
    assert owner.routing is not None
    assert owner.routing.accepted
    # The squatter deployed at the same window but cannot prove the name: it never routes.
    squatter, squatter_rounds = settle(squatter, WINDOW, zone=_owners_zone(owner))
    assert phases(squatter)[DOMAIN] is P.PROVISIONING
    assert squatter.routing is None
    assert all(r.routing is None for r in squatter_rounds)
    assert squatter.domain is not None
    assert squatter.domain.status.pending_actions[0].record_type == "TXT"
    # Once the owner's proof is seen, the squatter gives the name up, services and all.
    given_up = replace(squatter, claims=(claim_of(squatter.domain), claim_of(owner.domain)))  # type: ignore[arg-type]
    given_up, last = settle(given_up, WINDOW + timedelta(minutes=1), zone=_owners_zone(owner))
    assert set(phases(given_up).values()) == {P.ORDERED}
    assert (cond(given_up, DOMAIN, "Confirmed").reason, cond(given_up, "acme-base", "Confirmed").reason) == (
        "DomainConflict",
        "DomainConflict",
    )
    message = cond(given_up, DOMAIN, "Confirmed").message
    assert "a tenant of another partner" in message
    assert NS not in message
    assert given_up.domain is not None
    assert given_up.domain.status.pending_actions == []
    assert given_up.routing is None
    assert all(r.routing is None for r in last)


def _deploying_unchecked() -> DomainWorld:
    """Deployment started at WINDOW, before any DNS lookup."""
    w = confirmed(base())
    deploying = decide_domain(w, POLICY, WINDOW)
    assert deploying.routing is None
    return replace(apply(w, deploying), routing=None)


def test_routing_waits_for_the_ownership_record_and_not_for_the_mx() -> None:
    w = _deploying_unchecked()
    assert w.domain is not None
    txt, mx = required_records(w.domain, POLICY.dns)[0], required_records(w.domain, POLICY.dns)[1:]

    def only(*records: Any) -> Callable[[DomainWorld, datetime], DnsObservation]:
        return lambda _w, now: DnsObservation(now, {(r.record_type, r.name): DnsAnswer((r.expected,)) for r in records})

    nothing = decide(w, WINDOW, zone=only())
    assert nothing.routing is None
    mx_first = decide(w, WINDOW, zone=only(*mx))
    assert mx_first.routing is None
    proven = decide(w, WINDOW, zone=only(txt))
    assert isinstance(proven.routing, ApplyRouting)
    assert proven.domain is not None
    assert proven.domain.status.phase is P.PROVISIONING
    verification = proven.domain.status.verification
    assert verification is not None
    assert (verification.ownership_verified_at, verification.verified_at) == (WINDOW, None)


def test_a_routing_applied_before_the_owner_proved_the_name_is_withdrawn() -> None:
    w = _deploying_unchecked()
    held = routing(("acme-base", "base"))
    outcome = decide(replace(w, routing=held), WINDOW, zone=lambda _w, now: DnsObservation(now, {}))
    assert isinstance(outcome.routing, RemoveRouting)


def test_fixing_the_spec_confirms_and_records_the_generation() -> None:
    w, _ = settle(world(base(), enc()), T0)
    assert phases(w)[DOMAIN] is P.ORDERED
    assert w.domain is not None
    fixed = with_meta(
        with_spec(w.domain, deployment_settings=domain(gina_host=GINA).spec.deployment_settings), generation=2
    )
    w, _ = settle(replace(w, domain=fixed), T0 + timedelta(minutes=5))
    assert set(phases(w).values()) == {P.CONFIRMED}
    assert w.domain is not None
    assert w.domain.status.observed_generation == 2
    assert {x.observed_generation for x in w.domain.status.conditions} == {2}


# --------------------------------------------------------------------------------------- deploy


def _request(completed_at: datetime, *covered: str) -> DeployRequest:
    return deploy_request("deploy-1", *covered, completed_at=completed_at)


@pytest.mark.parametrize(
    ("completed_at", "covered", "deploys"),
    [
        (T0 + timedelta(minutes=5), (DOMAIN,), True),
        (T0, (DOMAIN,), True),
        (T0 + timedelta(minutes=5), (), True),
        (T0 + timedelta(minutes=5), ("other-com", DOMAIN), True),
        (T0 - SECOND, (DOMAIN,), False),
        (T0 - SECOND, (), False),
        (T0 + timedelta(minutes=5), ("other-com",), False),
    ],
    ids=[
        "after-confirmation",
        "at-confirmation",
        "every-domain",
        "among-others",
        "before-confirmation",
        "every-domain-before-confirmation",
        "another-domain",
    ],
)
def test_a_deploy_request_deploys_what_it_covers_that_was_confirmed_by_then(
    completed_at: datetime, covered: tuple[str, ...], deploys: bool
) -> None:
    w = confirmed(base(), sig())
    request = _request(completed_at, *covered)
    w, outcomes = settle(replace(w, deploy_requests=(request,)), T0 + timedelta(minutes=10))
    if not deploys:
        assert set(phases(w).values()) == {P.CONFIRMED}
        assert all_moves(outcomes) == []
        return
    # The domain and its services start together and, once the backend applied the routing in the
    # same reconcile, finish: one write per object carries both transitions.
    assert moves(outcomes[0]) == [
        (DOMAIN, "confirmed", "provisioning", "DeploymentStarted"),
        (DOMAIN, "provisioning", "provisioned", "Provisioned"),
        ("acme-base", "confirmed", "provisioning", "DeploymentStarted"),
        ("acme-base", "provisioning", "provisioned", "Provisioned"),
        ("acme-sig", "confirmed", "provisioning", "DeploymentStarted"),
        ("acme-sig", "provisioning", "provisioned", "Provisioned"),
    ]
    assert outcomes[0].domain is not None
    assert outcomes[0].domain.transitions[0].message == "Deployment started by DeployRequest 'deploy-1'."
    assert isinstance(outcomes[0].routing, ApplyRouting)
    assert all_moves(outcomes[1:]) == []
    assert set(phases(w).values()) == {P.PROVISIONED}


@pytest.mark.parametrize(
    ("now", "phase"),
    [
        (WINDOW - SECOND, P.CONFIRMED),
        (WINDOW, P.PROVISIONED),
        (WINDOW + timedelta(hours=3), P.PROVISIONED),  # catching up on a missed window
    ],
    ids=["one-second-before", "at-the-window", "after-the-window"],
)
def test_confirmed_orders_deploy_at_the_automatic_window(now: datetime, phase: P) -> None:
    w = confirmed(base(), sig())
    assert w.domain is not None
    assert w.domain.status.next == NextTransition(action="Deploy", at=WINDOW)
    w, outcomes = settle(w, now)
    assert set(phases(w).values()) == {phase}
    if phase is P.PROVISIONED:
        assert outcomes[0].domain is not None
        assert outcomes[0].domain.transitions[0].message == (
            "Deployment started by automatic deployment window 2026-11-02T14:00:00+00:00."
        )
        assert w.domain is not None
        assert w.domain.status.provisioned_at == now
        assert w.domain.status.next is None


def test_an_order_confirmed_exactly_at_a_window_waits_for_the_next_one() -> None:
    w, outcomes = settle(world(base()), WINDOW)
    assert w.domain is not None
    assert w.domain.status.next == NextTransition(action="Deploy", at=WINDOW + timedelta(hours=6))
    assert outcomes[-1].wake_at == WINDOW + timedelta(hours=6)


def test_provisioning_becomes_provisioned_only_once_the_routing_is_observed() -> None:
    w = confirmed(base(), sig())
    deploying = decide(w, WINDOW)
    assert isinstance(deploying.routing, ApplyRouting)
    assert deploying.routing.config == RoutingConfig(
        tenant=TENANT,
        domain_object=DOMAIN,
        domain_name=DOMAIN_NAME,
        accepted=True,
        gina_host=None,
        services=(RoutedService("acme-base", "base"), RoutedService("acme-sig", "sig-only")),
    )
    # The backend has not applied it (yet): nothing is provisioned, however long it takes.
    pending = replace(apply(w, deploying), routing=None)
    for later in (WINDOW, WINDOW + timedelta(hours=1), WINDOW + timedelta(days=3)):
        outcome = decide(pending, later)
        assert moves(outcome) == []
        assert isinstance(outcome.routing, ApplyRouting)
    assert set(phases(pending).values()) == {P.PROVISIONING}
    for name in (DOMAIN, "acme-base"):
        assert (cond(pending, name, "Deployed").status, cond(pending, name, "Deployed").reason) == (
            "False",
            "Provisioning",
        )
    # Once observed, everything is provisioned.
    done, _ = settle(replace(pending, routing=deploying.routing.config), WINDOW + timedelta(hours=1))
    assert set(phases(done).values()) == {P.PROVISIONED}
    assert done.domain is not None
    assert done.domain.status.provisioned_at == WINDOW + timedelta(hours=1)
    assert (cond(done, DOMAIN, "Ready").status, cond(done, DOMAIN, "Deployed").status) == ("True", "True")


def test_a_service_is_never_provisioned_before_its_domain() -> None:
    w = started(confirmed(base(), sig()))
    # A config that lists the services but is not the domain's (another domain name) proves nothing.
    stale = routing(("acme-base", "base"), ("acme-sig", "sig-only"), domain_name="other.com")
    outcome = decide(replace(w, routing=stale), WINDOW + timedelta(minutes=1))
    assert moves(outcome) == []
    assert {d.status.phase for d in outcome.services} == {P.PROVISIONING}


def test_a_service_waiting_for_a_dependency_is_not_deployed_with_its_domain() -> None:
    w = confirmed(base(), archive())
    assert phases(w)["acme-archive"] is P.ORDERED
    w, _ = settle(w, WINDOW)
    assert phases(w) == {DOMAIN: P.PROVISIONED, "acme-base": P.PROVISIONED, "acme-archive": P.ORDERED}
    assert w.routing is not None
    assert not w.routing.has_service("acme-archive")


@pytest.mark.parametrize("by_request", [True, False], ids=["deploy-request", "automatic-window"])
def test_a_service_added_to_a_provisioned_domain_is_deployed_on_its_own(by_request: bool) -> None:
    w = provisioned(base())
    added_at = T1
    w, _ = settle(add(w, sig()), added_at)
    assert phases(w)["acme-sig"] is P.CONFIRMED
    window = datetime(2026, 11, 3, 14, 0, tzinfo=T0.tzinfo)
    assert svc(w, "acme-sig").status.next == NextTransition(action="Deploy", at=window)
    if by_request:
        request = _request(added_at + timedelta(minutes=1), DOMAIN)
        w = replace(w, deploy_requests=(request,))
        now = added_at + timedelta(minutes=2)
    else:
        w2, _ = settle(w, window - SECOND)
        assert phases(w2)["acme-sig"] is P.CONFIRMED
        now = window
    w, outcomes = settle(w, now)
    assert moves(outcomes[0]) == [
        ("acme-sig", "confirmed", "provisioning", "DeploymentStarted"),
        ("acme-sig", "provisioning", "provisioned", "Provisioned"),
    ]
    assert isinstance(outcomes[0].routing, ApplyRouting)
    assert outcomes[0].routing.config.has_service("acme-sig")
    assert phases(w)["acme-sig"] is P.PROVISIONED
    assert phases(w)[DOMAIN] is P.PROVISIONED


def test_a_deploy_request_completed_before_a_service_was_confirmed_does_not_deploy_it() -> None:
    w = provisioned(base())
    w, _ = settle(add(w, sig()), T1)
    request = _request(T1 - SECOND, DOMAIN)
    w, outcomes = settle(replace(w, deploy_requests=(request,)), T1 + timedelta(minutes=1))
    assert phases(w)["acme-sig"] is P.CONFIRMED
    assert all_moves(outcomes) == []


# --------------------------------------------------------------------------------------- cancel


def test_cancelling_a_service_via_spec() -> None:
    w = standard()
    w, outcomes = settle(edit(w, "acme-sig", cancellation=cancellation()), T1)
    assert phases(w) == {
        DOMAIN: P.PROVISIONED,
        "acme-base": P.PROVISIONED,
        "acme-sig": P.CANCELLED,
        "acme-enc": P.PROVISIONED,
    }
    assert all_moves(outcomes) == [("acme-sig", "provisioned", "cancelled", "Cancelled")]
    status = svc(w, "acme-sig").status
    assert status.cancelled_at == T1
    assert status.next == NextTransition(action="Deprovision", at=DUE)
    assert outcomes[0].wake_at == DUE
    assert (cond(w, "acme-sig", "Cancelled").status, cond(w, "acme-sig", "Cancelled").reason) == (
        "True",
        "CancelledByPartner",
    )
    # Nothing is removed from the systems yet.
    assert outcomes[0].routing is None
    assert w.routing is not None
    assert w.routing.has_service("acme-sig")


def test_deleting_a_service_cancels_it_as_of_the_deletion() -> None:
    deleted = T1 - timedelta(hours=3)
    w = standard()
    w, _ = settle(edit_meta(w, "acme-sig", deleted=deleted), T1)
    status = svc(w, "acme-sig").status
    assert status.phase is P.CANCELLED
    assert status.cancelled_at == deleted
    assert status.next == NextTransition(action="Deprovision", at=deleted + POLICY.cancellation_delay)
    assert cond(w, "acme-sig", "Cancelled").reason == "Deleted"
    assert phases(w)[DOMAIN] is P.PROVISIONED


@pytest.mark.parametrize("phase", [P.ORDERED, P.CONFIRMED, P.PROVISIONING, P.PROVISIONED])
def test_a_service_is_cancelled_from_every_active_phase(phase: P) -> None:
    services = (base(), archive()) if phase is P.ORDERED else (base(), sig(), archive())
    w = confirmed(*services)
    if phase is P.PROVISIONING:
        w = started(w)
    elif phase is P.PROVISIONED:
        w = provisioned(*services)
    assert phases(w)["acme-archive"] is phase
    outcome = decide(edit(w, "acme-archive", cancellation=cancellation()), T1)
    (decision,) = [d for d in outcome.services if d.name == "acme-archive"]
    assert [(t.from_, t.to) for t in decision.transitions] == [(phase.value, "cancelled")]
    assert decision.status.cancelled_at == T1


def test_cancelling_the_base_service_cancels_every_service_and_the_domain() -> None:
    w = standard()
    w, outcomes = settle(edit(w, "acme-base", cancellation=cancellation()), T1)
    assert set(phases(w).values()) == {P.CANCELLED}
    assert sorted(all_moves(outcomes)) == sorted(
        (name, "provisioned", "cancelled", "Cancelled") for name in (DOMAIN, "acme-base", "acme-sig", "acme-enc")
    )
    assert w.domain is not None
    assert w.domain.status.cancelled_at == T1
    assert all(s.status.cancelled_at == T1 for s in w.services)
    assert all(s.status.next == NextTransition(action="Deprovision", at=DUE) for s in w.services)
    assert cond(w, "acme-base", "Cancelled").reason == "CancelledByPartner"
    for name in (DOMAIN, "acme-sig", "acme-enc"):
        assert cond(w, name, "Cancelled").reason == "BaseServiceCancelled"
        assert "'acme-base'" in cond(w, name, "Cancelled").message
    # The cancelled domain keeps its routing until removal.
    assert w.routing is not None
    assert len(w.routing.services) == 3


def test_deleting_the_base_service_cancels_everything_as_of_the_deletion() -> None:
    deleted = T1 - timedelta(hours=2)
    w, _ = settle(edit_meta(standard(), "acme-base", deleted=deleted), T1)
    assert set(phases(w).values()) == {P.CANCELLED}
    assert w.domain is not None
    assert w.domain.status.cancelled_at == deleted
    assert {s.status.cancelled_at for s in w.services} == {deleted}


def test_deleting_the_domain_cancels_it_and_every_service() -> None:
    deleted = T1 - timedelta(hours=2)
    w, outcomes = settle(edit_meta(standard(), DOMAIN, deleted=deleted), T1)
    assert set(phases(w).values()) == {P.CANCELLED}
    assert w.domain is not None
    assert w.domain.status.cancelled_at == deleted
    assert {s.status.cancelled_at for s in w.services} == {deleted}
    assert cond(w, DOMAIN, "Cancelled").reason == "Deleted"
    assert not outcomes[0].book_base_service


NEVER_DEPLOYED = [
    ("confirmed-base-cancelled", world(base(), sig()), lambda w: edit(w, "acme-base", cancellation=cancellation())),
    ("ordered-domain-deleted", world(base(), tenant=None), lambda w: edit_meta(w, DOMAIN, deleted=T1)),
    (
        "conflicting-domain-deleted",  # the name belongs to another tenant's older Domain
        world(base(), claims=[claim("other-acme", created=CREATED - timedelta(days=1))]),
        lambda w: edit_meta(w, DOMAIN, deleted=T1),
    ),
]


@pytest.mark.parametrize(("w", "cancel"), [n[1:] for n in NEVER_DEPLOYED], ids=[n[0] for n in NEVER_DEPLOYED])
def test_cancelling_a_domain_that_was_never_deployed_does_not_deploy_it(
    w: DomainWorld, cancel: Callable[[DomainWorld], DomainWorld]
) -> None:
    w, _ = settle(w, T0)
    assert phases(w)[DOMAIN] in (P.ORDERED, P.CONFIRMED)
    w, outcomes = settle(cancel(w), T1)
    assert phases(w)[DOMAIN] is P.CANCELLED
    assert [o.routing for o in outcomes] == [None] * len(outcomes)
    assert w.routing is None


# --------------------------------------------------------------------------------------- removal


@pytest.mark.parametrize(
    ("now", "phase"),
    [(DUE - SECOND, P.CANCELLED), (DUE, P.DEPROVISIONED), (DUE + timedelta(days=5), P.DEPROVISIONED)],
    ids=["one-second-before", "at-the-due-time", "later"],
)
def test_a_cancelled_service_is_removed_not_before_the_delay(now: datetime, phase: P) -> None:
    w, _ = settle(edit(standard(), "acme-sig", cancellation=cancellation()), T1)
    w, outcomes = settle(w, now)
    assert phases(w)["acme-sig"] is phase
    assert phases(w)[DOMAIN] is P.PROVISIONED
    if phase is P.DEPROVISIONED:
        assert moves(outcomes[0]) == [
            ("acme-sig", "cancelled", "deprovisioning", "RemovalStarted"),
            ("acme-sig", "deprovisioning", "deprovisioned", "Deprovisioned"),
        ]
        assert isinstance(outcomes[0].routing, ApplyRouting)
        assert not outcomes[0].routing.config.has_service("acme-sig")
        assert svc(w, "acme-sig").status.deprovisioned_at == now
        assert w.routing is not None
        assert not w.routing.has_service("acme-sig")
        assert w.routing.has_service("acme-base")


def test_deprovisioning_waits_for_the_backend_to_remove_the_service() -> None:
    w, _ = settle(edit(standard(), "acme-sig", cancellation=cancellation()), T1)
    w = apply(w, decide(w, DUE))
    assert phases(w)["acme-sig"] is P.DEPROVISIONING
    held = replace(w, routing=standard().routing)  # the backend still routes the service
    outcome = decide(held, DUE + timedelta(hours=1))
    assert moves(outcome) == []
    assert cond(held, "acme-sig", "Ready").reason == "Deprovisioning"


@pytest.mark.parametrize(
    ("now", "domain_phase"),
    [(DUE - SECOND, P.CANCELLED), (DUE, P.DEPROVISIONED)],
    ids=["one-second-before", "at-the-due-time"],
)
def test_a_cancelled_domain_is_removed_not_before_the_delay(now: datetime, domain_phase: P) -> None:
    w, _ = settle(edit(standard(), "acme-base", cancellation=cancellation()), T1)
    w, outcomes = settle(w, now)
    assert set(phases(w).values()) == {domain_phase}
    if domain_phase is P.DEPROVISIONED:
        assert outcomes[0].routing == RemoveRouting(DOMAIN, NS)
        assert [m[2] for m in moves(outcomes[0])] == ["deprovisioning", "deprovisioned"] * 4
        assert w.routing is None
        assert w.domain is not None
        assert w.domain.status.deprovisioned_at == DUE
        assert w.domain.status.next is None
        assert (cond(w, DOMAIN, "Ready").status, cond(w, DOMAIN, "Ready").reason) == ("True", "Deprovisioned")


@pytest.mark.parametrize(
    ("value", "expedited"),
    [("true", True), ("True", True), ("TRUE", True), ("false", False), ("yes", False), ("", False)],
)
def test_the_expedite_annotation_skips_the_delay(value: str, expedited: bool) -> None:
    w, _ = settle(edit(standard(), "acme-sig", cancellation=cancellation()), T1)
    w, _ = settle(edit_meta(w, "acme-sig", annotations={EXPEDITE_ANNOTATION: value}), T1 + timedelta(hours=1))
    assert phases(w)["acme-sig"] is (P.DEPROVISIONED if expedited else P.CANCELLED)


def test_an_expedite_annotation_before_the_cancellation_removes_at_once() -> None:
    w = edit_meta(standard(), "acme-sig", annotations=EXPEDITE)
    w, outcomes = settle(edit(w, "acme-sig", cancellation=cancellation()), T1)
    assert phases(w)["acme-sig"] is P.DEPROVISIONED
    assert [m[2] for m in all_moves(outcomes)] == ["cancelled", "deprovisioning", "deprovisioned"]
    (decision,) = [d for d in outcomes[0].services if d.name == "acme-sig"]
    assert decision.transitions[1].message == "Removal expedited by support."


def test_expediting_the_domain_expedites_the_cascaded_services() -> None:
    w, _ = settle(edit(standard(), "acme-base", cancellation=cancellation()), T1)
    w, _ = settle(edit_meta(w, DOMAIN, annotations=EXPEDITE), T1 + timedelta(hours=1))
    assert set(phases(w).values()) == {P.DEPROVISIONED}
    assert w.routing is None


def test_expediting_the_base_service_removes_every_service_of_the_domain() -> None:
    w, _ = settle(edit(standard(), "acme-base", cancellation=cancellation()), T1)
    w, _ = settle(edit_meta(w, "acme-base", annotations=EXPEDITE), T1 + timedelta(hours=1))
    assert w.routing is None
    assert phases(w)[DOMAIN] is P.DEPROVISIONED
    assert set(phases(w).values()) == {P.DEPROVISIONED}


def test_releasing_an_expedited_base_service_does_not_break_the_other_services() -> None:
    short = POLICY.model_copy(update={"retention": timedelta(hours=1)})
    w, _ = settle(edit_meta(standard(), "acme-base", deleted=T1, annotations=EXPEDITE), T1)
    assert decide_domain(w, short, T1 + timedelta(hours=2)).services[0].release_finalizer
    released = replace(w, services=tuple(s for s in w.services if s.name != "acme-base"))
    # Deciding without the released base must not fail; expedited with it, they were removed too.
    outcome = decide_domain(released, short, T1 + timedelta(hours=2))
    assert {d.name: d.status.phase for d in outcome.services} == {
        "acme-sig": P.DEPROVISIONED,
        "acme-enc": P.DEPROVISIONED,
    }


def test_a_service_never_deployed_is_deprovisioned_right_when_removal_is_due() -> None:
    w, _ = settle(world(base(), archive()), T0)
    w, _ = settle(edit(w, "acme-archive", cancellation=cancellation()), T1)
    w, outcomes = settle(w, DUE)
    assert phases(w)["acme-archive"] is P.DEPROVISIONED
    assert [m[2] for m in all_moves(outcomes)] == ["deprovisioning", "deprovisioned"]


# --------------------------------------------------------------------------------------- finalizer


def _released(w: DomainWorld, now: datetime) -> dict[str, bool]:
    outcome = decide(w, now)
    out = {d.name: d.release_finalizer for d in outcome.services}
    if outcome.domain is not None:
        out[outcome.domain.name] = outcome.domain.release_finalizer
    return out


def test_the_finalizer_of_a_deleted_service_is_released_only_after_retention() -> None:
    w, _ = settle(edit_meta(standard(), "acme-sig", deleted=T1), T1)
    w, _ = settle(w, DUE)
    status = svc(w, "acme-sig").status
    assert status.phase is P.DEPROVISIONED
    release_at = DUE + POLICY.retention
    assert status.next == NextTransition(action="ReleaseFinalizer", at=release_at)
    assert decide(w, DUE).wake_at == release_at
    for now, expected in ((DUE, False), (release_at - SECOND, False), (release_at, True), (release_at + SECOND, True)):
        assert _released(w, now) == {DOMAIN: False, "acme-base": False, "acme-sig": expected, "acme-enc": False}


def test_the_finalizer_of_a_deleted_domain_is_released_only_after_retention() -> None:
    w, _ = settle(edit_meta(standard(), DOMAIN, deleted=T1), T1)
    w, _ = settle(w, DUE)
    assert set(phases(w).values()) == {P.DEPROVISIONED}
    release_at = DUE + POLICY.retention
    assert w.domain is not None
    assert w.domain.status.next == NextTransition(action="ReleaseFinalizer", at=release_at)
    assert _released(w, release_at - SECOND)[DOMAIN] is False
    # The services were not deleted themselves: their finalizers are never released.
    assert _released(w, release_at) == {DOMAIN: True, "acme-base": False, "acme-sig": False, "acme-enc": False}
    assert _released(w, release_at + timedelta(days=3650))[DOMAIN] is True


def test_a_cancelled_object_that_is_not_deleted_keeps_its_finalizer_for_ever() -> None:
    w, _ = settle(edit(standard(), "acme-base", cancellation=cancellation()), T1)
    w, _ = settle(w, DUE)
    assert set(phases(w).values()) == {P.DEPROVISIONED}
    assert not any(_released(w, DUE + timedelta(days=3650)).values())
    assert all(s.status.next is None for s in w.services)


# --------------------------------------------------------------------------------------- billing


@pytest.mark.parametrize(
    ("requested", "end", "adjusted"),
    [
        (None, date(2026, 11, 30), False),
        (date(2026, 12, 15), date(2026, 12, 15), False),
        (date(2026, 11, 4), date(2026, 11, 4), False),
        (date(2026, 11, 3), date(2026, 11, 4), True),
        (date(2026, 10, 1), date(2026, 11, 4), True),
    ],
    ids=["default-end-of-month", "given", "next-day", "same-day", "past"],
)
def test_the_end_billing_date(requested: date | None, end: date, adjusted: bool) -> None:
    w, outcomes = settle(edit(standard(), "acme-sig", cancellation=cancellation(requested)), T1)
    status = svc(w, "acme-sig").status
    assert status.billing is not None
    assert status.billing.end == end
    cancelled = cond(w, "acme-sig", "Cancelled")
    assert f"End-billing date {end.isoformat()}." in cancelled.message
    adjustments = [m for m in all_moves(outcomes) if m[3] == "EndBillingDateAdjusted"]
    assert adjustments == ([("acme-sig", None, "cancelled", "EndBillingDateAdjusted")] if adjusted else [])
    if adjusted:
        assert requested is not None
        assert f"The requested {requested.isoformat()} is before the earliest allowed date" in cancelled.message
        (transition,) = [t for d in outcomes[0].services for t in d.transitions if t.reason == "EndBillingDateAdjusted"]
        assert transition.warning
    # Exactly once, however often it is decided again, through removal.
    for now in (T1 + timedelta(hours=1), T1 + timedelta(days=3), DUE):
        w, more = settle(w, now)
        assert not [m for m in all_moves(more) if m[3] == "EndBillingDateAdjusted"]
    recorded = [h for h in svc(w, "acme-sig").status.history if h.reason == "EndBillingDateAdjusted"]
    assert len(recorded) == (1 if adjusted else 0)


END_OF_MARCH = datetime(2027, 4, 1, tzinfo=T0.tzinfo)
"""The end of the last billed day of a cancellation that ends billing on 2027-03-31."""


@pytest.mark.parametrize(
    ("requested", "expedite", "removed_at", "billed_until", "why"),
    [
        # End of November, but the delay runs until 3 December: usage (and billing) continue until then.
        (None, False, DUE, DUE.date(), "Cancellation delay over."),
        # Billed until the end of March: it runs (and is removed) not before that day is over.
        (date(2027, 3, 31), False, END_OF_MARCH, date(2027, 3, 31), "End-billing date over."),
        (None, True, T1, date(2026, 11, 30), "Removal expedited by support."),
        (date(2027, 3, 31), True, T1, date(2027, 3, 31), "Removal expedited by support."),
    ],
    ids=["delay-later", "end-billing-date-later", "expedited", "expedited-billed-on"],
)
def test_a_billed_service_runs_until_the_later_of_the_delay_and_its_end_billing_date(
    requested: date | None, expedite: bool, removed_at: datetime, billed_until: date, why: str
) -> None:
    w = standard()
    if expedite:
        w = edit_meta(w, "acme-sig", annotations=EXPEDITE)
    w, _ = settle(edit(w, "acme-sig", cancellation=cancellation(requested)), T1)
    if removed_at > T1:
        w, _ = settle(w, removed_at - SECOND)
        status = svc(w, "acme-sig").status
        assert status.phase is P.CANCELLED
        assert status.next == NextTransition(action="Deprovision", at=removed_at)
        assert decide(w, removed_at - SECOND).wake_at == removed_at
    w, _ = settle(w, removed_at)
    status = svc(w, "acme-sig").status
    assert status.phase is P.DEPROVISIONED
    assert [t.message for t in status.history if t.to == "deprovisioning"] == [why]
    assert status.billing is not None
    assert status.billing.end == billed_until
    assert status.billing.start == WINDOW.date()


def test_cancelling_the_base_service_ends_every_service_on_its_end_billing_date() -> None:
    w, _ = settle(edit(standard(), "acme-base", cancellation=cancellation(date(2027, 3, 31))), T1)
    for name in ("acme-base", "acme-sig", "acme-enc"):
        status = svc(w, name).status
        assert status.billing is not None
        assert status.billing.end == date(2027, 3, 31), name
        assert "End-billing date 2027-03-31." in cond(w, name, "Cancelled").message
    # The domain carries them: nothing is removed before the last billed day is over.
    w, _ = settle(w, END_OF_MARCH - SECOND)
    assert set(phases(w).values()) == {P.CANCELLED}
    assert w.domain is not None
    assert w.domain.status.next == NextTransition(action="Deprovision", at=END_OF_MARCH)
    w, _ = settle(w, END_OF_MARCH)
    assert set(phases(w).values()) == {P.DEPROVISIONED}


def test_a_service_with_its_own_end_billing_date_keeps_it_when_the_base_is_cancelled() -> None:
    w, _ = settle(edit(standard(), "acme-sig", cancellation=cancellation(date(2026, 12, 15))), T1)
    w, _ = settle(edit(w, "acme-base", cancellation=cancellation(date(2027, 3, 31))), T1 + timedelta(hours=1))
    ends = {s.name: s.status.billing.end if s.status.billing else None for s in w.services}
    assert ends == {"acme-base": date(2027, 3, 31), "acme-sig": date(2026, 12, 15), "acme-enc": date(2027, 3, 31)}
    w, _ = settle(w, datetime(2026, 12, 16, tzinfo=T0.tzinfo))
    assert phases(w) == {
        DOMAIN: P.CANCELLED,
        "acme-base": P.CANCELLED,
        "acme-sig": P.DEPROVISIONED,
        "acme-enc": P.CANCELLED,
    }


def billing_start(w: DomainWorld, name: str) -> date | None:
    billing = svc(w, name).status.billing
    return billing.start if billing else None


def test_billing_starts_when_provisioned_with_users_and_not_before() -> None:
    w = confirmed(base(users=3), sig(users=0))
    assert all(s.status.billing is None for s in w.services)
    deploying = started(w)
    assert set(phases(deploying).values()) == {P.PROVISIONING}
    assert all(s.status.billing is None for s in deploying.services)
    w, _ = settle(w, WINDOW)
    assert billing_start(w, "acme-base") == WINDOW.date()
    assert svc(w, "acme-sig").status.billing is None
    # Users entered later: billing starts then, and never moves afterwards.
    entered = T0 + timedelta(days=5)
    w, outcomes = settle(edit(w, "acme-sig", users=12), entered)
    assert all_moves(outcomes) == []
    assert billing_start(w, "acme-sig") == entered.date()
    w, _ = settle(edit(w, "acme-sig", users=0), entered + timedelta(days=1))
    w, _ = settle(edit(w, "acme-sig", users=20), entered + timedelta(days=2))
    assert billing_start(w, "acme-sig") == entered.date()


def test_the_discount_is_shown_with_its_reason() -> None:
    w, _ = settle(world(base(discount=(10, "nfr")), sig(discount=(0, None))), T0)
    assert svc(w, "acme-base").status.discount == "10 (nfr)"
    assert svc(w, "acme-sig").status.discount is None
    assert svc(w, "acme-base").status.domain_name == DOMAIN_NAME


# --------------------------------------------------------------------------------------- business time zone

ZURICH_SITE = POLICY.model_copy(update={"business_time_zone": "Europe/Zurich"})


def test_dates_are_calendar_days_of_the_business_time_zone() -> None:
    # Cancelled at 00:30 on 1 December in Zurich (23:30 UTC on 30 November): December's end.
    cancelled_at = datetime(2026, 11, 30, 23, 30, tzinfo=T0.tzinfo)
    w, _ = settle(edit(standard(), "acme-sig", cancellation=cancellation()), cancelled_at, ZURICH_SITE)
    billing = svc(w, "acme-sig").status.billing
    assert billing is not None
    assert billing.end == date(2026, 12, 31)
    # It runs until 31 December is over in Zurich: 23:00 UTC.
    assert svc(w, "acme-sig").status.next == NextTransition(
        action="Deprovision", at=datetime(2026, 12, 31, 23, tzinfo=T0.tzinfo)
    )
    # The same instant on a UTC site is still November.
    w, _ = settle(edit(standard(), "acme-sig", cancellation=cancellation()), cancelled_at)
    billing = svc(w, "acme-sig").status.billing
    assert billing is not None
    assert billing.end == date(2026, 11, 30) + timedelta(days=1)  # earliest: the day after


def test_billing_starts_on_the_local_day() -> None:
    late = datetime(2026, 11, 2, 23, 30, tzinfo=T0.tzinfo)  # 00:30 on 3 November in Zurich
    w, _ = settle(confirmed(base(users=3), domain=domain()), late, ZURICH_SITE)
    assert billing_start(w, "acme-base") == date(2026, 11, 3)


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        Policy.model_validate({"businessTimeZone": "Mars/Olympus"})


# --------------------------------------------------------------------------------------- suspension

FROZEN = LicenseEffects(frozen=True, license="acme-license")


@pytest.mark.parametrize(
    ("suspension", "license", "reason", "limited"),
    [
        ("misuse", NO_LICENSE_EFFECTS, "Misuse", "misuse"),
        ("insufficient-funds", NO_LICENSE_EFFECTS, "InsufficientFunds", "insufficient-funds"),
        (None, FROZEN, "LicenseFrozen", "license-frozen"),
    ],
    ids=["misuse", "insufficient-funds", "license-frozen"],
)
def test_a_suspended_service_is_not_ready_and_the_gateways_limit_it(
    suspension: str | None, license: LicenseEffects, reason: str, limited: str
) -> None:
    w = standard()
    if suspension:
        w = edit(w, "acme-sig", suspension=Suspension(reason=suspension))  # type: ignore[arg-type]
    w, rounds = settle(replace(w, license=license), WINDOW + timedelta(days=1))
    assert all_moves(rounds) == []  # the phase stays: it is still deployed
    assert svc(w, "acme-sig").status.phase is P.PROVISIONED
    assert svc(w, "acme-sig").status.subscription is not None
    assert svc(w, "acme-sig").status.subscription.state == "SUSPENDED"
    for type_ in ("Suspended", "Ready"):
        assert (cond(w, "acme-sig", type_).status, cond(w, "acme-sig", type_).reason) == (
            "True" if type_ == "Suspended" else "False",
            reason,
        )
    assert cond(w, "acme-sig", "Ready").message.startswith("Access is limited: suspended")
    assert w.routing is not None
    assert {s.name: s.limited for s in w.routing.services}["acme-sig"] == limited
    # Lifted: ready again and routed without limit.
    lifted = replace(edit(w, "acme-sig", suspension=None), license=NO_LICENSE_EFFECTS)
    w, _ = settle(lifted, WINDOW + timedelta(days=2))
    assert (cond(w, "acme-sig", "Suspended").status, cond(w, "acme-sig", "Ready").status) == ("False", "True")
    assert w.routing is not None
    assert all(s.limited is None for s in w.routing.services)


def test_a_purged_tenants_services_are_billed_until_their_last_day_in_use() -> None:
    """Removed by the purge, not cancelled: their billing ends the day the purge removed them (an
    open end billed them, and prorated them, for the rest of the period)."""
    purge = WINDOW + timedelta(days=40, hours=3)
    w = replace(standard(), license=LicenseEffects(frozen=True, purged_at=purge, license="acme-license"))
    w, _ = settle(w, purge)
    assert set(phases(w).values()) == {P.DEPROVISIONED}
    for name in ("acme-base", "acme-sig", "acme-enc"):
        billing = svc(w, name).status.billing
        assert billing is not None
        assert (billing.start, billing.end) == (WINDOW.date(), purge.date())
    # Decided again later: the end stays the day of the purge.
    w, _ = settle(w, purge + timedelta(days=5))
    assert {svc(w, n).status.billing.end for n in ("acme-base", "acme-sig", "acme-enc")} == {purge.date()}  # type: ignore[union-attr]


def test_a_confidential_domain_is_routed_as_confidential_and_can_be_switched_in_any_phase() -> None:
    w = provisioned(base(users=5), domain=domain(confidential=True))
    assert w.routing is not None
    assert w.routing.confidential
    switched = replace(w, domain=with_spec(w.domain, confidential=False)) if w.domain else w
    w, rounds = settle(switched, WINDOW + timedelta(days=1))
    assert all_moves(rounds) == []  # the lifecycle does not change ...
    assert w.routing is not None
    assert not w.routing.confidential  # ... the gateways are told
    assert [type(e).__name__ for r in rounds for e in r.effects] == ["ApplyRouting"]


# --------------------------------------------------------------------------------------- subscription state


@pytest.mark.parametrize("phase", [P.PROVISIONING, P.PROVISIONED])
def test_a_backend_failure_makes_the_services_erroneous_until_it_recovers(phase: P) -> None:
    w = started(confirmed(base(users=5), sig(users=5))) if phase is P.PROVISIONING else standard()
    broken = replace(w, backend_error='configmaps "routing-acme-com" is immutable')
    outcome = decide(broken, WINDOW + timedelta(minutes=1))
    states = {d.name: d.status.subscription.state if d.status.subscription else None for d in outcome.services}
    assert set(states.values()) == {"ERRONEOUS"}
    # A suspension says more than the backend's trouble.
    suspended = edit(broken, "acme-sig", suspension=Suspension(reason="misuse"))
    by_name = {d.name: d.status.subscription for d in decide(suspended, WINDOW + timedelta(minutes=1)).services}
    assert by_name["acme-sig"] is not None
    assert by_name["acme-sig"].state == "SUSPENDED"
    w, _ = settle(w, WINDOW + timedelta(minutes=2))  # the backend works again
    assert {s.status.subscription.state for s in w.services if s.status.subscription} == {"OK"}


def test_a_service_cancelled_before_it_was_ever_provisioned_never_reads_ok() -> None:
    w, _ = settle(edit(confirmed(base(users=5), sig(users=5)), "acme-sig", cancellation=cancellation()), T0)
    sig_status = svc(w, "acme-sig").status
    assert sig_status.phase is P.CANCELLED
    assert sig_status.subscription is not None
    assert sig_status.subscription.state == "DISCONTINUED"
    # A provisioned one is still in use until it is removed.
    w, _ = settle(edit(standard(), "acme-sig", cancellation=cancellation()), T1)
    assert svc(w, "acme-sig").status.subscription is not None
    assert svc(w, "acme-sig").status.subscription.state == "OK"


# --------------------------------------------------------------------------------------- numbers


def test_services_are_numbered_in_order_of_creation() -> None:
    later = service("aaa-late", "sig-only", created=CREATED + timedelta(hours=1))
    tie_b = service("bbb-tie", "sig-only", created=CREATED + timedelta(minutes=30))
    tie_a = service("aaa-tie", "sig-only", created=CREATED + timedelta(minutes=30))
    w, _ = settle(world(later, tie_b, base(), tie_a), T0)
    assert {s.name: s.status.number for s in w.services} == {"acme-base": 1, "aaa-tie": 2, "bbb-tie": 3, "aaa-late": 4}
    assert w.domain is not None
    assert w.domain.status.last_service_number == 4


def test_service_numbers_are_never_reused() -> None:
    w, _ = settle(world(base(), sig(), enc(), domain=domain(gina_host=GINA)), T0)
    assert [s.status.number for s in w.services] == [1, 2, 3]
    # The highest-numbered service disappears (deleted and released): its number stays taken.
    w = replace(w, services=w.services[:2])
    w, _ = settle(w, T0 + timedelta(hours=1))
    assert w.domain is not None
    assert w.domain.status.last_service_number == 3
    w, _ = settle(add(w, archive()), T0 + timedelta(hours=2))
    assert svc(w, "acme-archive").status.number == 4
    assert [s.status.number for s in w.services] == [1, 2, 4]


def test_a_service_without_its_domain_gets_no_number_until_the_domain_exists() -> None:
    w, _ = settle(world(base(), sig(), domain=None), T0)
    assert [s.status.number for s in w.services] == [None, None]
    w, _ = settle(replace(w, domain=domain()), T0 + timedelta(minutes=1))
    assert [s.status.number for s in w.services] == [1, 2]


# --------------------------------------------------------------------------------------- base service


@pytest.mark.parametrize(
    ("w", "book"),
    [
        (world(), True),
        (world(sig()), True),
        (world(base()), False),
        (world(base(cancelled=cancellation())), False),
        (world(domain=domain(deleted=T0)), False),
        (world(domain=None), False),
        (world(tenant=None), True),
    ],
    ids=[
        "no-service",
        "only-other-services",
        "base-exists",
        "base-cancelled",
        "domain-deleted",
        "no-domain",
        "no-tenant",
    ],
)
def test_the_base_service_is_booked_when_missing(w: DomainWorld, book: bool) -> None:
    assert decide(w, T0).book_base_service is book


def test_no_base_service_is_booked_once_the_domain_is_confirmed_with_one() -> None:
    w, outcomes = settle(world(), T0)
    assert outcomes[0].book_base_service
    assert cond(w, DOMAIN, "Confirmed").reason == "BaseServiceMissing"
    w, outcomes = settle(add(w, service("acme-com-base", "base")), T0 + timedelta(seconds=5))
    assert phases(w) == {DOMAIN: P.CONFIRMED, "acme-com-base": P.CONFIRMED}
    assert not any(o.book_base_service for o in outcomes)


# --------------------------------------------------------------------------------------- identity and history


def test_the_id_is_derived_from_the_uid_and_stable() -> None:
    w = standard()
    assert w.domain is not None
    assert w.domain.status.id == object_id("Domain", w.domain.meta.uid)
    assert svc(w, "acme-sig").status.id == object_id("Service", svc(w, "acme-sig").meta.uid)
    ids = (w.domain.status.id, [s.status.id for s in w.services])
    w, _ = settle(edit(w, "acme-base", cancellation=cancellation()), T1)
    w, _ = settle(w, DUE)
    assert w.domain is not None
    assert (w.domain.status.id, [s.status.id for s in w.services]) == ids
    assert len({w.domain.status.id, *ids[1]}) == 4


def test_an_assigned_id_is_kept() -> None:
    d = domain(status=domain().status.model_copy(update={"id": "DOM-LEGACY0001"}))
    w, _ = settle(world(base(), domain=d), T0)
    assert w.domain is not None
    assert w.domain.status.id == "DOM-LEGACY0001"


def test_history_records_every_transition() -> None:
    w = standard()
    w, _ = settle(edit(w, "acme-base", cancellation=cancellation()), T1)
    w, _ = settle(w, DUE)
    expected = [
        (T0, "ordered", "confirmed", "ConsistencyCheckPassed"),
        (WINDOW, "confirmed", "provisioning", "DeploymentStarted"),
        (WINDOW, "provisioning", "provisioned", "Provisioned"),
        (T1, "provisioned", "cancelled", "Cancelled"),
        (DUE, "cancelled", "deprovisioning", "RemovalStarted"),
        (DUE, "deprovisioning", "deprovisioned", "Deprovisioned"),
    ]
    assert w.domain is not None
    for status in (w.domain.status, *(s.status for s in w.services)):
        assert [(h.at, h.from_, h.to, h.reason) for h in status.history] == expected


def test_conditions_keep_their_last_transition_time_while_unchanged() -> None:
    w, _ = settle(world(base(), tenant=None), T0)
    assert cond(w, DOMAIN, "Stalled").last_transition_time == T0
    w, _ = settle(w, T0 + timedelta(hours=1))
    assert cond(w, DOMAIN, "Stalled").last_transition_time == T0
    # Confirmed: Stalled flips (new time), Ready stays False (time kept though its reason changed).
    w, _ = settle(replace(w, tenant=world().tenant), T0 + timedelta(hours=2))
    assert cond(w, DOMAIN, "Stalled").status == "False"
    assert cond(w, DOMAIN, "Stalled").last_transition_time == T0 + timedelta(hours=2)
    assert cond(w, DOMAIN, "Ready").reason == "AwaitingDeployment"
    assert cond(w, DOMAIN, "Ready").last_transition_time == T0
    w, _ = settle(w, WINDOW)
    assert cond(w, DOMAIN, "Ready").last_transition_time == WINDOW
    assert cond(w, DOMAIN, "Confirmed").last_transition_time == T0 + timedelta(hours=2)


# --------------------------------------------------------------------------------------- idempotency and purity


def _stages() -> list[tuple[str, DomainWorld, datetime]]:
    cancelled, _ = settle(edit(standard(), "acme-base", cancellation=cancellation(date(2020, 1, 1))), T1)
    deprovisioning = apply(cancelled, decide(cancelled, DUE))
    return [
        ("new", world(base(), sig()), T0),
        ("failing", world(base(), enc()), T0),
        ("no-domain", world(base(), domain=None), T0),
        ("confirmed", confirmed(base(), sig()), T0 + timedelta(hours=1)),
        ("provisioning", started(confirmed(base())), WINDOW),
        ("provisioned", standard(), WINDOW + timedelta(days=1)),
        ("cancelled", cancelled, T1 + timedelta(days=1)),
        ("deprovisioning", deprovisioning, DUE),
        ("deprovisioned", settle(deprovisioning, DUE)[0], DUE + timedelta(days=400)),
    ]


STAGES = _stages()


@pytest.mark.parametrize(("w", "now"), [s[1:] for s in STAGES], ids=[s[0] for s in STAGES])
def test_every_decision_is_idempotent(w: DomainWorld, now: datetime) -> None:
    settled, _ = settle(w, now)
    assert_idempotent(settled, now)
    assert_idempotent(settled, now + timedelta(seconds=1))


@pytest.mark.parametrize(("w", "now"), [s[1:] for s in STAGES], ids=[s[0] for s in STAGES])
def test_deciding_does_not_change_the_world(w: DomainWorld, now: datetime) -> None:
    before = copy.deepcopy(w)
    decide(w, now)
    assert w == before


def test_the_wake_up_is_the_earliest_next_transition() -> None:
    w, _ = settle(edit(standard(), "acme-sig", cancellation=cancellation()), T1)
    w, _ = settle(edit(w, "acme-enc", cancellation=cancellation()), T1 + timedelta(days=2))
    outcome = decide(w, T1 + timedelta(days=3))
    assert outcome.wake_at == DUE
    assert decide(standard(), WINDOW + timedelta(hours=1)).wake_at is None


# --------------------------------------------------------------------------------- subscriptions of a contract

ACME = "acme-main"
PERIOD_END = datetime(2026, 12, 2, tzinfo=T0.tzinfo)
"""The first period of ``contracted()`` ends here: the contract was created on 2 November."""
EXPIRES = PERIOD_END + POLICY.billing.expired_after
DISCONTINUES = EXPIRES + POLICY.billing.discontinued_after


def contracted(*invoices: Invoice, contract_tenant: str = TENANT) -> DomainWorld:
    """acme.com provisioned at WINDOW with base and sig-only (5 users each) on contract acme-main,
    created on 2 November (monthly periods from the 2nd, no trial): both are billed from then and
    covered until the period's end, 2 December."""
    w = provisioned(base(users=5), sig(users=5))
    for name in ("acme-base", "acme-sig"):
        w = edit(w, name, contract_ref=LocalObjectRef(name=ACME))
    the_contract = with_spec(contract(ACME, created=CREATED), tenant_ref=LocalObjectRef(name=contract_tenant))
    return replace(w, contracts={ACME: the_contract}, invoices={ACME: invoices})


def renewed(state: InvoiceState = InvoiceState.PAID) -> Invoice:
    """The invoice renewing both services for the second period (2 December to 1 January)."""
    days = (date(2026, 12, 2), date(2027, 1, 1))
    return invoice(
        line("renewal", *days, service="acme-base"),
        line("renewal", *days, service="acme-sig", product="sig-only"),
        state=state,
        contract=ACME,
    )


def subscription(w: DomainWorld, name: str) -> SubscriptionStatus:
    found = svc(w, name).status.subscription
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("now", "invoices", "state", "expires", "next_action"),
    [
        pytest.param(T1, (), "OK", PERIOD_END, ("Expire", EXPIRES), id="in-the-joined-period"),
        pytest.param(PERIOD_END + timedelta(hours=12), (), "OK", PERIOD_END, ("Expire", EXPIRES), id="ended-not-yet"),
        pytest.param(EXPIRES, (), "EXPIRED", PERIOD_END, ("Discontinue", DISCONTINUES), id="expired"),
        pytest.param(EXPIRES, (renewed(InvoiceState.OPEN),), "EXPIRED", PERIOD_END, None, id="invoiced-unpaid"),
        pytest.param(
            EXPIRES,
            (renewed(),),
            "OK",
            datetime(2027, 1, 2, tzinfo=T0.tzinfo),
            ("Expire", datetime(2027, 1, 3, tzinfo=T0.tzinfo)),
            id="paid-renewed",
        ),
        pytest.param(DISCONTINUES, (), "DISCONTINUED", PERIOD_END, None, id="discontinued"),
    ],
)
def test_the_contract_decides_expiry_and_discontinuation(
    now: datetime,
    invoices: tuple[Invoice, ...],
    state: str,
    expires: datetime,
    next_action: tuple[str, datetime] | None,
) -> None:
    w, _ = settle(contracted(*invoices), now)
    sub = subscription(w, "acme-base")
    assert (sub.state, sub.expires_at, sub.contract) == (state, expires, ACME)
    if next_action is not None:
        assert svc(w, "acme-base").status.next == NextTransition(action=next_action[0], at=next_action[1])
    assert w.routing is not None
    blocked = {s.name: s.blocked for s in w.routing.services}
    if state == "EXPIRED":
        ready = cond(w, "acme-base", "Ready")
        assert (ready.status, ready.reason) == ("False", "Expired")
        assert ready.message.startswith("No longer accessible")
        assert blocked == {"acme-base": "expired", "acme-sig": "expired"}
        expiry = svc(w, "acme-base").status.history[-1]
        assert (expiry.from_, expiry.to, expiry.reason) == ("OK", "EXPIRED", "Expired")
        assert "discontinued at 2027-01-02" in expiry.message
    elif state == "OK":
        assert cond(w, "acme-base", "Ready").status == "True"
        assert cond(w, "acme-base", "Contracted").reason == ("Paid" if now < PERIOD_END or invoices else "PaymentDue")
        assert set(blocked.values()) == {None}
    else:  # discontinued: cancelled for good, the end-billing date the last paid day
        base_status = svc(w, "acme-base").status
        assert base_status.phase is P.CANCELLED
        assert sub.discontinued_at == DISCONTINUES
        assert base_status.billing is not None
        assert base_status.billing.end == date(2026, 12, 1)


def test_a_discontinued_service_is_never_renewed_by_a_later_payment() -> None:
    w, _ = settle(contracted(), DISCONTINUES)
    assert subscription(w, "acme-base").state == "DISCONTINUED"
    paid_late = replace(w, invoices={ACME: (renewed(),)})
    for later in (DISCONTINUES + timedelta(hours=1), DISCONTINUES + POLICY.cancellation_delay):
        w, _ = settle(paid_late, later)
        assert subscription(w, "acme-base").state == "DISCONTINUED"
        assert svc(w, "acme-base").status.phase in (P.CANCELLED, P.DEPROVISIONED)
    w, _ = settle(w, DISCONTINUES + POLICY.cancellation_delay + timedelta(seconds=1))
    assert svc(w, "acme-base").status.phase is P.DEPROVISIONED
    billing = svc(w, "acme-base").status.billing
    assert billing is not None
    assert billing.end == date(2026, 12, 1)  # blocked since it expired: not billed while removed


def test_paying_an_expired_service_renews_it_and_unblocks_it() -> None:
    w, _ = settle(contracted(renewed(InvoiceState.OPEN)), EXPIRES + timedelta(days=3))
    assert subscription(w, "acme-sig").state == "EXPIRED"
    w, rounds = settle(replace(w, invoices={ACME: (renewed(),)}), EXPIRES + timedelta(days=4))
    assert subscription(w, "acme-sig").state == "OK"
    assert w.routing is not None
    assert all(s.blocked is None for s in w.routing.services)
    renewal = svc(w, "acme-sig").status.history[-1]
    assert (renewal.from_, renewal.to, renewal.reason) == ("EXPIRED", "OK", "Renewed")
    assert [type(e).__name__ for r in rounds for e in r.effects] == ["ApplyRouting"]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        pytest.param(lambda: edit(contracted(), "acme-sig", contract_ref=None), "NoContract", id="no-contract-ref"),
        pytest.param(
            lambda: edit(contracted(), "acme-sig", contract_ref=LocalObjectRef(name="missing")),
            "ContractNotFound",
            id="no-such-contract",
        ),
        pytest.param(lambda: contracted(contract_tenant="globex"), "ContractOfOtherTenant", id="other-tenant"),
    ],
)
def test_a_service_the_contract_cannot_invoice_says_why_and_never_expires(
    make: Callable[[], DomainWorld], reason: str
) -> None:
    w, _ = settle(make(), DISCONTINUES)
    assert cond(w, "acme-sig", "Contracted").status == "False"
    assert cond(w, "acme-sig", "Contracted").reason == reason
    assert subscription(w, "acme-sig").state == "OK"
    assert cond(w, "acme-sig", "Ready").status == "True"


def test_a_one_time_product_is_dispatched_and_never_expires() -> None:
    products = {**PRODUCTS, "setup": product("setup", "base", one_time=True)}
    w = provisioned(base(users=5), service("acme-setup", "setup", users=1), products=products)
    w = edit(w, "acme-setup", contract_ref=LocalObjectRef(name=ACME))
    w = replace(w, contracts={ACME: contract(ACME, created=CREATED)})
    w, _ = settle(w, DISCONTINUES)
    assert subscription(w, "acme-setup").state == "DISPATCHED"
    assert cond(w, "acme-setup", "Contracted").reason == "OneTime"


def test_a_change_waiting_for_the_backend_reads_processing() -> None:
    w = edit(contracted(), "acme-sig", suspension=Suspension(reason="misuse"))
    first = decide(w, T1)  # before the routing effect is carried out
    states = {d.name: d.status.subscription.state for d in first.services if d.status.subscription}
    assert states == {"acme-base": "OK", "acme-sig": "PROCESSING"}
    w, _ = settle(w, T1)  # the driver applies it and decides again
    assert subscription(w, "acme-sig").state == "SUSPENDED"


RenewalEvent = tuple[str, int]
"""("advance", hours) or ("pay", periods ahead of the current one)."""


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            # Time passes more often than money arrives: most runs lapse, and some are discontinued.
            *[st.tuples(st.just("advance"), st.integers(1, 40 * 24))] * 3,
            st.tuples(st.just("pay"), st.integers(0, 2)),
        ),
        min_size=4,
        max_size=25,
    )
)
def test_no_sequence_of_payments_renews_a_discontinued_service(events: list[RenewalEvent]) -> None:
    """Whatever is paid when, a service once DISCONTINUED stays so, cancelled for good, its
    end-billing date the last day it was paid for."""
    w, now = contracted(), T1
    paid: list[Invoice] = []
    discontinued_end: date | None = None
    for what, amount in events:
        if what == "advance":
            now += timedelta(hours=amount)
        else:
            current = period_at(CREATED, 0, "monthly", POLICY.zone, now)
            p = period(CREATED, 0, "monthly", POLICY.zone, (current.index if current else 0) + amount)
            renewal = line("renewal", p.start.date(), (p.end - timedelta(days=1)).date(), service="acme-base")
            paid.append(invoice(renewal, contract=ACME, revision=len(paid) + 1))
            w = replace(w, invoices={ACME: tuple(paid)})
        w, _ = settle(w, now)
        base_status = svc(w, "acme-base").status
        sub = subscription(w, "acme-base")
        if discontinued_end is not None:
            assert sub.state == "DISCONTINUED"
            assert base_status.phase in (P.CANCELLED, P.DEPROVISIONING, P.DEPROVISIONED)
            assert base_status.billing is not None
            assert base_status.billing.end == discontinued_end
        elif sub.state == "DISCONTINUED":
            assert sub.discontinued_at is not None
            assert sub.expires_at is not None
            assert base_status.billing is not None
            discontinued_end = base_status.billing.end
            assert discontinued_end == (sub.expires_at - timedelta(days=1)).date()
