"""The order lifecycle of one domain and its services, decided together.

A domain and its services depend on each other (services follow their domain, cancelling the
base service cancels them all, a service's number comes from its domain), so they are decided as
one aggregate: ``decide_domain(world, policy, now)`` takes everything observed about the domain
and returns each object's new status, the transitions to record and announce, the routing config
the backend must hold, and when to wake up next. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, tzinfo
from typing import Generic, TypeVar

from pydantic import BaseModel

from seppmail_lifecycle import GROUP
from seppmail_lifecycle.api.common import NextTransition
from seppmail_lifecycle.api.domain import DomainStatus
from seppmail_lifecycle.api.order_status import OrderStatus
from seppmail_lifecycle.api.policy import Policy
from seppmail_lifecycle.api.service import BillingStatus, ServiceStatus, SubscriptionStatus
from seppmail_lifecycle.api.states import OrderPhase as P
from seppmail_lifecycle.api.states import SubscriptionState, SuspensionReason
from seppmail_lifecycle.core import conditions as c
from seppmail_lifecycle.core.billing import EndBillingDate, billed_until, discount_label, end_billing_date
from seppmail_lifecycle.core.conditions import Cond, Transition, append_history, merge_conditions
from seppmail_lifecycle.core.consistency import (
    DOMAIN_CONFLICT,
    CheckFailure,
    DomainClaim,
    check_domain,
    check_service,
    is_cancel_requested,
)
from seppmail_lifecycle.core.ids import object_id
from seppmail_lifecycle.core.invoicing import ServiceTerm, service_term
from seppmail_lifecycle.core.license_effects import NONE as NO_LICENSE_EFFECTS
from seppmail_lifecycle.core.license_effects import LicenseEffects
from seppmail_lifecycle.core.model import Contract, DeployRequest, Domain, Invoice, Meta, Product, Service, Tenant
from seppmail_lifecycle.core.order_machine import (
    ACTIVE_PHASES,
    DEPLOYED_PHASES,
    REASONS,
    OrderEvent,
    next_phase,
)
from seppmail_lifecycle.core.periods import local_day, local_midnight
from seppmail_lifecycle.core.routing import RoutedService, RoutingConfig
from seppmail_lifecycle.core.schedule import earliest, next_deploy_window
from seppmail_lifecycle.core.verification import (
    DnsLookup,
    DnsObservation,
    check_due,
    describe,
    lookups,
    ownership_verified,
    pending_actions,
    record_check,
    required_records,
)

EXPEDITE_ANNOTATION = f"{GROUP}/expedite-removal"

StatusT = TypeVar("StatusT", bound=BaseModel)


@dataclass(frozen=True)
class DomainWorld:
    """Everything the decision for one domain and its services depends on."""

    namespace: str
    domain_ref: str
    """The Domain object name the aggregate is keyed on (services refer to it even if it is missing)."""
    domain: Domain | None
    tenant: Tenant | None
    services: tuple[Service, ...]
    products: Mapping[str, Product]
    claims: tuple[DomainClaim, ...] = ()
    deploy_requests: tuple[DeployRequest, ...] = ()
    routing: RoutingConfig | None = None
    dns: DnsObservation | None = None
    """Lookups the shell made this round (it makes them when ``check_due`` says so)."""
    backend_error: str | None = None
    """The error of this round's backend effect, if it failed (recorded, then retried)."""
    license: LicenseEffects = NO_LICENSE_EFFECTS
    """What the tenant's licenses mean here: mail blocked while frozen, everything gone once purged."""
    contracts: Mapping[str, Contract] = field(default_factory=dict)
    """The contracts the services name, by name."""
    invoices: Mapping[str, tuple[Invoice, ...]] = field(default_factory=dict)
    """Each of those contracts' invoices, by contract name."""


@dataclass(frozen=True)
class Decision(Generic[StatusT]):
    name: str
    status: StatusT
    transitions: tuple[Transition, ...] = ()
    release_finalizer: bool = False
    routed: RoutedService | None = None
    """A service's entry in its domain's routing config while it is routed."""


@dataclass(frozen=True)
class ApplyRouting:
    """Make the backend hold ``config`` for the Domain object ``owner_uid`` in ``namespace``."""

    config: RoutingConfig
    namespace: str
    owner_uid: str


@dataclass(frozen=True)
class RemoveRouting:
    """Remove the routing config of the Domain object ``domain_object`` in ``namespace``."""

    domain_object: str
    namespace: str


@dataclass(frozen=True)
class DomainOutcome:
    domain: Decision[DomainStatus] | None
    services: tuple[Decision[ServiceStatus], ...]
    book_base_service: bool = False
    routing: ApplyRouting | RemoveRouting | None = None
    wake_at: datetime | None = None


@dataclass(frozen=True)
class CancelCause:
    at: datetime
    reason: str
    message: str
    end_billing: date | None = None
    """The end-billing date the cause asked for (a cancelled base service's, for the services it
    cancels with it); None: the default."""
    fixed_end: bool = False
    """``end_billing`` stands as it is, even in the past (a discontinued service was last paid then)."""


@dataclass
class _Phase:
    """A phase being moved through the table, with the times keyed on it."""

    phase: P
    status: OrderStatus
    transitions: list[Transition] = field(default_factory=list)
    deploy_trigger: str | None = None
    removal_not_before: datetime | None = None
    """The end of the last billed day: a billed order runs until then, whatever the delay."""

    def move(self, event: OrderEvent, now: datetime, message: str, warning: bool = False) -> None:
        target = next_phase(self.phase, event)
        self.transitions.append(Transition(self.phase.value, target.value, REASONS[event], message, warning))
        self.phase = target
        stamp = {
            P.CONFIRMED: "confirmed_at",
            P.PROVISIONED: "provisioned_at",
            P.DEPROVISIONED: "deprovisioned_at",
        }.get(target)
        if stamp is not None:
            setattr(self.status, stamp, now)
        if target is P.ORDERED:
            self.status.confirmed_at = None


def _expedited(*metas: Meta) -> bool:
    return any(m.annotations.get(EXPEDITE_ANNOTATION, "").lower() == "true" for m in metas)


def _own_cancel(meta: Meta, cancelled: bool, kind: str, now: datetime) -> CancelCause | None:
    if meta.deleted is not None:
        return CancelCause(meta.deleted, "Deleted", f"The {kind} object was deleted: cancelled, removed later.")
    if cancelled:
        return CancelCause(now, "CancelledByPartner", f"spec.cancellation is set on the {kind}.")
    return None


def _domain_cancel(world: DomainWorld, base_product: str, now: datetime) -> CancelCause | None:
    domain = world.domain
    assert domain is not None
    own = _own_cancel(domain.meta, False, "Domain", now)
    if own is not None:
        return own
    base = [s for s in world.services if s.spec.product == base_product]
    # Only when no base service remains booked (two can exist briefly: ours and one from Git).
    if base and all(is_cancel_requested(s) for s in base):
        first = min(base, key=lambda s: s.status.cancelled_at or s.meta.deleted or now)
        return CancelCause(
            first.status.cancelled_at or first.meta.deleted or now,
            "BaseServiceCancelled",
            f"The {base_product!r} service {first.name!r} was cancelled: every service of the domain is.",
            first.spec.cancellation.end_billing_date if first.spec.cancellation else None,
        )
    return None


def _requested_end(service: Service, cancel: CancelCause | None) -> date | None:
    """The end-billing date asked for: the service's own cancellation's, else its cause's."""
    if service.spec.cancellation is not None:
        return service.spec.cancellation.end_billing_date
    return cancel.end_billing if cancel else None


def _end_billing(service: Service, cancel: CancelCause | None, cancelled_at: datetime, zone: tzinfo) -> EndBillingDate:
    """The end-billing date of a service cancelled at ``cancelled_at`` for ``cancel``."""
    billing = service.status.billing
    if cancel is not None and cancel.fixed_end and cancel.end_billing is not None:
        return EndBillingDate(cancel.end_billing)
    if cancel is None and billing is not None and billing.end is not None:
        # The cause is gone (a released base service): what it ended the billing on stays.
        requested: date | None = billing.end
    else:
        requested = _requested_end(service, cancel)
    return end_billing_date(requested, local_day(cancelled_at, zone))


def _runs_until(service: Service, cancel: CancelCause | None, zone: tzinfo) -> datetime | None:
    """When a cancelled, billed service may be removed at the earliest: the end of its last
    billed day (seed 004: it runs until its end-billing date). None if it was never billed."""
    cancelled_at = service.status.cancelled_at or (max(cancel.at, service.meta.created) if cancel else None)
    billing = service.status.billing
    if cancelled_at is None or billing is None or billing.start is None:
        return None
    return local_midnight(_end_billing(service, cancel, cancelled_at, zone).date + timedelta(days=1), zone)


def _last_day_used(current: OrderStatus, moving: _Phase, now: datetime, zone: tzinfo) -> date | None:
    """The last day a removed service was in use: the day its removal started (the day before,
    if it started at midnight: a service removed as its last billed day ends used no more)."""
    if moving.status.deprovisioned_at is None:
        return None
    started = next(
        (now for t in moving.transitions if t.to == P.DEPROVISIONING.value),
        next((h.at for h in reversed(current.history) if h.to == P.DEPROVISIONING.value), None),
    )
    return local_day((started or moving.status.deprovisioned_at) - timedelta(microseconds=1), zone)


def _removal_due(status: OrderStatus, policy: Policy, not_before: datetime | None = None) -> datetime | None:
    if status.cancelled_at is None:
        return None
    due = status.cancelled_at + policy.cancellation_delay
    return max(due, not_before) if not_before is not None else due


def _release_due(meta: Meta, status: OrderStatus, policy: Policy) -> datetime | None:
    if meta.deleted is None or status.deprovisioned_at is None:
        return None
    return status.deprovisioned_at + policy.retention


def _latest(*times: datetime | None) -> datetime | None:
    """The latest of ``times``; None if any is None (not all of them have happened)."""
    return None if any(t is None for t in times) else max(t for t in times if t is not None)


def covers(request: DeployRequest, domain_object: str) -> bool:
    """Whether ``request`` covers the Domain object ``domain_object`` (no names: every domain)."""
    return not request.spec.domains or domain_object in request.spec.domains


def deployed_by(request: DeployRequest, domain_object: str, confirmed_at: datetime) -> bool:
    """Whether ``request`` deployed what was confirmed at ``confirmed_at`` on ``domain_object``.

    A request is carried out once and deploys every covered order confirmed by then, so this is
    decided from its spec and completion time, not from its status lists (those are bounded
    summaries: a request over 10,000 domains lists the first names and counts the rest)."""
    completed = request.status.completed_at
    return completed is not None and completed >= confirmed_at and covers(request, domain_object)


def _deploy_trigger(
    domain_object: str,
    confirmed_at: datetime | None,
    requests: Sequence[DeployRequest],
    policy: Policy,
    now: datetime,
    *,
    requested_since: datetime | None,
) -> str | None:
    """What deploys an order confirmed at ``confirmed_at`` now: a DeployRequest carried out at or
    after ``requested_since`` (None: none can), or the first deploy window after confirmation."""
    if confirmed_at is None:
        return None
    if requested_since is not None:
        for request in requests:
            if deployed_by(request, domain_object, requested_since):
                return f"DeployRequest {request.name!r}"
    window = next_deploy_window(confirmed_at, policy.auto_deploy)
    if window <= now:
        return f"automatic deployment window {window.isoformat()}"
    return None


def _next(moving: _Phase, meta: Meta, policy: Policy) -> NextTransition | None:
    phase, status = moving.phase, moving.status
    if phase is P.CONFIRMED and status.confirmed_at is not None:
        return NextTransition(action="Deploy", at=next_deploy_window(status.confirmed_at, policy.auto_deploy))
    if phase is P.CANCELLED:
        due = _removal_due(status, policy, moving.removal_not_before)
        return NextTransition(action="Deprovision", at=due) if due else None
    release = _release_due(meta, status, policy)
    if phase is P.DEPROVISIONED and release is not None:
        return NextTransition(action="ReleaseFinalizer", at=release)
    return None


@dataclass(frozen=True)
class _PhaseView:
    """How an order in a phase reads in its conditions (ordered is decided by its check)."""

    reason: str
    message: str
    ready: bool
    reconciling: bool
    deployed: c.Status | None = None
    """The Deployed condition's status; None keeps the one from before (a cancelled order is
    still deployed until its removal)."""


_PHASE_VIEWS: dict[P, _PhaseView] = {
    P.CONFIRMED: _PhaseView(
        "AwaitingDeployment",
        "Confirmed; deploys with a DeployRequest or at the next automatic window{when}.",
        ready=False,
        reconciling=True,
        deployed="False",
    ),
    P.PROVISIONING: _PhaseView(
        "Provisioning",
        "Deployment is in progress: waiting for the backend to apply the routing config.",
        ready=False,
        reconciling=True,
        deployed="False",
    ),
    P.PROVISIONED: _PhaseView(
        "Provisioned", "Deployment is complete; the service is ready.", ready=True, reconciling=False, deployed="True"
    ),
    P.CANCELLED: _PhaseView(
        "AwaitingRemoval", "Cancelled; removal starts{when} (support can expedite).", ready=False, reconciling=True
    ),
    P.DEPROVISIONING: _PhaseView(
        "Deprovisioning",
        "Removal is in progress: waiting for the backend to remove the routing config.",
        ready=False,
        reconciling=True,
        deployed="False",
    ),
    P.DEPROVISIONED: _PhaseView(
        "Deprovisioned",
        "Removed from the systems; the entry is kept for usage settlement.",
        ready=True,
        reconciling=False,
        deployed="False",
    ),
}


AWAITING_PARTNER = "AwaitingPartner"
BACKEND_READY = "BackendReady"
BLOCKED = "Blocked"
SUSPENDED = "Suspended"
_SUSPENSION_REASONS = {
    SuspensionReason.INSUFFICIENT_FUNDS: "InsufficientFunds",
    SuspensionReason.MISUSE: "Misuse",
    SuspensionReason.LICENSE_FROZEN: "LicenseFrozen",
}


def _conditions(
    phase: P,
    failure: CheckFailure | None,
    cancel: CancelCause | None,
    nxt: NextTransition | None,
    cancel_message: str,
    awaiting: str | None = None,
) -> list[Cond]:
    """The conditions of an order in ``phase``: Confirmed, Cancelled, Deployed and the summary
    (Ready, Reconciling, Stalled). ``phase`` is the summary; these are the truth."""
    if phase is not P.ORDERED:
        confirmed = Cond(
            c.CONFIRMED, "True", "ConsistencyCheckPassed", "Tenant, domain, product and dependencies agree."
        )
    elif failure is not None:
        confirmed = Cond(c.CONFIRMED, "False", failure.reason, failure.message)
    else:
        confirmed = Cond(c.CONFIRMED, "Unknown", "Checking", "The consistency check has not run yet.")
    if phase in ACTIVE_PHASES:
        cancelled = Cond(c.CANCELLED, "False", "Active", "Not cancelled.")
    else:
        cancelled = Cond(c.CANCELLED, "True", cancel.reason if cancel else "Cancelled", cancel_message)
    if phase is P.ORDERED:
        reason, message = (failure.reason, failure.message) if failure else ("Checking", "Waiting for the check.")
        not_deployed = Cond(c.DEPLOYED, "False", "NotConfirmed", "Deployment waits for the consistency check.")
        return [
            confirmed,
            not_deployed,
            cancelled,
            *c.summary(reason, message, ready=False, reconciling=failure is None, stalled=failure is not None),
        ]
    view = _PHASE_VIEWS[phase]
    if phase is P.PROVISIONING and awaiting:
        view = replace(
            view, reason=AWAITING_PARTNER, message=f"Waiting for the partner: {awaiting}. Rechecked{{when}}."
        )
    message = view.message.format(when=f" at {nxt.at.isoformat()}" if nxt else "")
    deployed = [Cond(c.DEPLOYED, view.deployed, view.reason, message)] if view.deployed else []
    return [
        confirmed,
        *deployed,
        cancelled,
        *c.summary(view.reason, message, ready=view.ready, reconciling=view.reconciling),
    ]


def _finish(
    kind: str,
    meta: Meta,
    current: OrderStatus,
    moving: _Phase,
    failure: CheckFailure | None,
    cancel: CancelCause | None,
    cancel_message: str,
    policy: Policy,
    now: datetime,
    recheck_at: datetime | None = None,
    awaiting: str | None = None,
    backend_error: str | None = None,
    suspended: SuspensionReason | None = None,
    blocked_by: str | None = None,
    subscription: Sequence[Cond] = (),
    later: NextTransition | None = None,
) -> tuple[NextTransition | None, bool]:
    """Fill in the common status fields of an order object; returns its next and finalizer release."""
    status = moving.status
    status.id = current.id or object_id(kind, meta.uid)
    status.phase = moving.phase
    status.observed_generation = meta.generation
    nxt = _next(moving, meta, policy)
    if nxt is None and moving.phase is P.PROVISIONING and recheck_at is not None:
        nxt = NextTransition(action="RecheckDNS", at=recheck_at)
    status.next = nxt or later
    decided = _conditions(moving.phase, failure, cancel, nxt, cancel_message, awaiting)
    if kind == "Domain":
        decided.append(
            Cond(AWAITING_PARTNER, "True", "DNSRecordsMissing", awaiting)
            if awaiting and moving.phase is P.PROVISIONING
            else Cond(AWAITING_PARTNER, "False", "NothingPending", "No partner action is pending.")
        )
        if backend_error is not None:
            decided.append(Cond(BACKEND_READY, "False", "BackendError", f"{backend_error} (retried with backoff)"))
        elif moving.phase in (P.PROVISIONING, P.PROVISIONED, P.CANCELLED, P.DEPROVISIONING):
            decided.append(Cond(BACKEND_READY, "True", "Applied", "The backend holds the desired routing config."))
        decided.append(
            Cond(BLOCKED, "True", "LicenseFrozen", f"Mail traffic is blocked: license {blocked_by!r} is frozen.")
            if blocked_by
            else Cond(BLOCKED, "False", "NotBlocked", "Mail traffic is accepted.")
        )
    if kind == "Service":
        if suspended:
            reason = _SUSPENSION_REASONS[suspended]
            message = f"Access is limited: suspended ({suspended.value}) until the suspension is lifted."
            # Seed 004: a suspended service is not ready; its phase stays (it is still deployed).
            decided = [Cond(c.READY, "False", reason, message) if d.type == c.READY else d for d in decided]
            decided.append(Cond(SUSPENDED, "True", reason, message))
        else:
            decided.append(Cond(SUSPENDED, "False", "NotSuspended", "Not suspended."))
        state = status.subscription.state if isinstance(status, ServiceStatus) and status.subscription else None
        if state in (SubscriptionState.EXPIRED, SubscriptionState.DISCONTINUED) and moving.phase is P.PROVISIONED:
            paid = next((x for x in subscription if x.type == CONTRACTED), None)
            message = "No longer accessible: " + (paid.message if paid else "not renewed.")
            decided = [Cond(c.READY, "False", "Expired", message) if d.type == c.READY else d for d in decided]
        decided += subscription
    status.conditions = merge_conditions(current.conditions, decided, meta.generation, now)
    status.history = append_history(current.history, moving.transitions, now)
    release = (
        moving.phase is P.DEPROVISIONED and (due := _release_due(meta, status, policy)) is not None and (due <= now)
    )
    return nxt, release


def _step_purge(moving: _Phase, world: DomainWorld, now: datetime) -> bool:
    """The tenant's data was purged: the order is gone at once, whatever its phase."""
    if not world.license.purged or moving.phase is P.DEPROVISIONED:
        return False
    moving.move(
        OrderEvent.PURGED, now, f"License {world.license.license!r} was purged: every configuration is deleted."
    )
    return True


def _step_cancel_and_removal(
    moving: _Phase, cancel: CancelCause | None, expedited: bool, policy: Policy, now: datetime
) -> bool:
    """The moves every order shares: cancel, and start removal when due. True if one was made."""
    if moving.phase in ACTIVE_PHASES and cancel is not None:
        moving.status.cancelled_at = moving.status.cancelled_at or cancel.at
        moving.move(OrderEvent.CANCEL, now, cancel.message)
        return True
    if moving.phase is P.CANCELLED:
        due = _removal_due(moving.status, policy, moving.removal_not_before)
        if expedited or (due is not None and due <= now):
            billed_longer = moving.removal_not_before is not None and due == moving.removal_not_before
            moving.move(
                OrderEvent.REMOVAL_DUE,
                now,
                "Removal expedited by support."
                if expedited
                else "End-billing date over."
                if billed_longer
                else "Cancellation delay over.",
            )
            return True
    return False


def _verified(moving: _Phase, domain: Domain, world: DomainWorld, policy: Policy) -> bool:
    """Record this round's DNS lookups in the status; True once every required record exists."""
    status = moving.status
    assert isinstance(status, DomainStatus)
    if not policy.dns.verify:
        return True
    if world.dns is not None and (status.verification is None or status.verification.last_checked_at != world.dns.at):
        records = required_records(domain, policy.dns)
        status.pending_actions = pending_actions(records, world.dns)
        status.verification = record_check(
            status.verification, status.pending_actions, world.dns, domain.meta.annotations, policy.dns
        )
    verification = status.verification
    return verification is not None and verification.verified_at is not None and not status.pending_actions


def _decide_domain_phase(
    world: DomainWorld, policy: Policy, now: datetime
) -> tuple[_Phase, CheckFailure | None, CancelCause | None, bool]:
    domain = world.domain
    assert domain is not None
    # Shallow: every field decided is assigned anew, none changed in place.
    moving = _Phase(domain.status.phase or P.ORDERED, domain.status.model_copy())
    cancel = _domain_cancel(world, policy.base_product, now)
    # The domain carries its services: it is removed only once the last billed one may be.
    moving.removal_not_before = max(
        (t for s in world.services if (t := _runs_until(s, cancel, policy.zone)) is not None), default=None
    )
    failure = check_domain(
        domain,
        world.tenant,
        world.services,
        world.products,
        world.claims,
        policy.base_product,
        proof_required=policy.dns.verify,
    )
    base = [s for s in world.services if s.spec.product == policy.base_product]
    expedited = _expedited(domain.meta, *(s.meta for s in base))
    for _ in range(len(P)):
        if _step_purge(moving, world, now) or _step_cancel_and_removal(moving, cancel, expedited, policy, now):
            continue
        if moving.phase is P.ORDERED and failure is None:
            moving.move(OrderEvent.CHECK_PASSED, now, "The consistency check passed.")
        elif (moving.phase is P.CONFIRMED and failure is not None) or (
            moving.phase is P.PROVISIONING and failure is not None and failure.reason == DOMAIN_CONFLICT
        ):
            moving.move(OrderEvent.CHECK_FAILED, now, failure.message, warning=True)
        elif moving.phase is P.CONFIRMED and (
            trigger := _deploy_trigger(
                domain.name,
                moving.status.confirmed_at,
                world.deploy_requests,
                policy,
                now,
                requested_since=moving.status.confirmed_at,
            )
        ):
            moving.deploy_trigger = trigger
            moving.move(OrderEvent.DEPLOY, now, f"Deployment started by {trigger}.")
        elif (
            moving.phase is P.PROVISIONING
            and _verified(moving, domain, world, policy)
            and (world.routing is not None and world.routing.domain_name == domain.spec.domain_name)
        ):
            moving.move(OrderEvent.APPLIED, now, "The backend applied the routing config; DNS records verified.")
        elif moving.phase is P.DEPROVISIONING and world.routing is None:
            moving.move(OrderEvent.REMOVED, now, "The backend removed the routing config.")
        else:
            break
    return moving, (failure if moving.phase is P.ORDERED else None), cancel, expedited


def _decide_service(
    service: Service,
    world: DomainWorld,
    domain_phase: P | None,
    domain_deploy_trigger: str | None,
    domain_cancel: CancelCause | None,
    domain_failure: CheckFailure | None,
    domain_expedited: bool,
    policy: Policy,
    now: datetime,
) -> tuple[Decision[ServiceStatus], NextTransition | None]:
    current = service.status
    # Shallow: every field decided is assigned anew, none changed in place.
    moving = _Phase(current.phase or P.ORDERED, current.model_copy())
    status = moving.status
    assert isinstance(status, ServiceStatus)
    own = _own_cancel(service.meta, service.spec.cancellation is not None, "Service", now)
    cascaded = None
    if domain_cancel is not None and domain_phase is not None and domain_phase not in ACTIVE_PHASES:
        # A service booked after its domain was cancelled is not cancelled before it existed.
        cascaded = replace(domain_cancel, at=max(domain_cancel.at, service.meta.created))
    term, contract_issue = _contract_term(service, world, policy, now)
    discontinued = _discontinue_cause(service, term, policy.zone, now)
    cancel = discontinued or own or cascaded
    moving.removal_not_before = _runs_until(service, cancel, policy.zone)
    failure = check_service(service, world.domain, domain_failure, world.services, world.products)
    # Expediting the domain (or its base service) expedites every service it cancelled.
    expedited = _expedited(service.meta) or (cascaded is not None and domain_expedited)
    routed = world.routing is not None and world.routing.has_service(service.name)

    for _ in range(len(P)):
        if _step_purge(moving, world, now) or _step_cancel_and_removal(moving, cancel, expedited, policy, now):
            continue
        if moving.phase is P.ORDERED and failure is None and domain_phase in (P.CONFIRMED, *DEPLOYED_PHASES):
            moving.move(OrderEvent.CHECK_PASSED, now, "The consistency check passed.")
        elif (moving.phase is P.CONFIRMED and failure is not None) or (
            # Its domain gave up its name (the only way a domain goes back from provisioning).
            moving.phase is P.PROVISIONING and failure is not None and domain_phase is P.ORDERED
        ):
            moving.move(OrderEvent.CHECK_FAILED, now, failure.message, warning=True)
        elif (
            moving.phase is P.CONFIRMED
            and domain_phase in DEPLOYED_PHASES
            and (
                trigger := f"its domain's deployment ({domain_deploy_trigger})"
                if domain_deploy_trigger
                else _deploy_trigger(
                    service.spec.domain_ref.name,
                    status.confirmed_at,
                    world.deploy_requests,
                    policy,
                    now,
                    # A request deploys a service only if its domain was confirmed by then too.
                    requested_since=_latest(status.confirmed_at, world.domain.status.confirmed_at)
                    if world.domain
                    else None,
                )
            )
        ):
            moving.move(OrderEvent.DEPLOY, now, f"Deployment started by {trigger}.")
        elif moving.phase is P.PROVISIONING and routed and domain_phase is P.PROVISIONED:
            moving.move(OrderEvent.APPLIED, now, "The backend applied the service.")
        elif moving.phase is P.DEPROVISIONING and not routed:
            moving.move(OrderEvent.REMOVED, now, "The backend removed the service.")
        else:
            break

    if moving.phase is P.ORDERED and failure is None:
        failure = CheckFailure("DomainNotConfirmed", "Waiting for the domain to be confirmed.")
    cancel_message = ""
    if moving.phase not in ACTIVE_PHASES and status.cancelled_at is not None:
        end = _end_billing(service, cancel, status.cancelled_at, policy.zone)
        # A discontinued service was blocked since it expired: its use ended with its last paid day.
        usage_ended = None if discontinued else _last_day_used(current, moving, now, policy.zone)
        if status.billing is not None and status.billing.start is not None:  # only what was billed ends
            status.billing = status.billing.model_copy(update={"end": billed_until(end.date, usage_ended)})
        # The cause can be gone (a released base service); the cancellation itself stays.
        cancel = cancel or CancelCause(status.cancelled_at, "Cancelled", "Cancelled.")
        cancel_message = f"{cancel.message} End-billing date {end.date.isoformat()}."
        if end.clamped_from is not None:
            cancel_message += (
                f" The requested {end.clamped_from.isoformat()} is before the earliest allowed date (the day "
                "after the cancellation) and was moved."
            )
            if not any(h.reason == "EndBillingDateAdjusted" for h in current.history):
                moving.transitions.append(
                    Transition(None, moving.phase.value, "EndBillingDateAdjusted", cancel_message, warning=True)
                )
    elif (
        moving.phase is P.DEPROVISIONED
        and status.billing is not None
        and status.billing.start is not None
        and status.billing.end is None
        and (last_used := _last_day_used(current, moving, now, policy.zone)) is not None
    ):
        # Removed without a cancellation (the tenant's purge): billed until its last day in use.
        status.billing = status.billing.model_copy(update={"end": max(last_used, status.billing.start)})
    _start_billing(service, status, moving.phase, now, policy.zone)
    status.subscription = _subscription(
        service, world, moving.phase, status.provisioned_at is not None, term, discontinued, now
    )
    moving.transitions += _expiry_transitions(current.subscription, status.subscription, policy)
    status.domain_name = world.domain.spec.domain_name if world.domain else None
    discount = service.spec.discount
    status.discount = discount_label(discount.percent, discount.reason) if discount else None
    subscription = status.subscription
    term_next = _term_next(term, subscription, policy, now) if moving.phase is P.PROVISIONED else None
    nxt, release = _finish(
        "Service",
        service.meta,
        current,
        moving,
        failure,
        cancel,
        cancel_message,
        policy,
        now,
        suspended=subscription.reason if subscription.state is SubscriptionState.SUSPENDED else None,
        subscription=_subscription_conditions(service, world, subscription, term, contract_issue),
        later=term_next,
    )
    entry = RoutedService(
        service.name,
        service.spec.product,
        subscription.reason.value if subscription.reason is not None else None,
        "expired" if subscription.state in (SubscriptionState.EXPIRED, SubscriptionState.DISCONTINUED) else None,
    )
    return Decision(service.name, status, tuple(moving.transitions), release, entry), nxt or term_next


def _expiry_transitions(
    before: SubscriptionStatus | None, after: SubscriptionStatus, policy: Policy
) -> list[Transition]:
    """Expiring and being renewed are transitions of their own (history, an event): the order's
    phase does not change, the service's access does."""
    was, now_is = before.state if before else None, after.state
    expired = SubscriptionState.EXPIRED
    if now_is is expired and was is not expired and after.expires_at is not None:
        discontinue = after.expires_at + policy.billing.expired_after + policy.billing.discontinued_after
        return [
            Transition(
                was.value if was else None,
                expired.value,
                "Expired",
                f"Not renewed since {after.expires_at.isoformat()}: no longer accessible. Paying its invoice renews "
                f"it; otherwise it is discontinued at {discontinue.isoformat()}.",
                warning=True,
            )
        ]
    if was is expired and now_is not in (expired, SubscriptionState.DISCONTINUED):
        until = f" until {after.expires_at.isoformat()}" if after.expires_at else ""
        return [Transition(expired.value, now_is.value if now_is else "", "Renewed", f"Paid: renewed{until}.")]
    return []


def _discontinue_cause(service: Service, term: ServiceTerm | None, zone: tzinfo, now: datetime) -> CancelCause | None:
    """A provisioned service expired longer than the policy allows is discontinued: cancelled for
    good, its end-billing date the last paid day (seed 004: it cannot be renewed)."""
    subscription = service.status.subscription
    at = subscription.discontinued_at if subscription else None
    expires = subscription.expires_at if subscription else None
    if at is None:
        if term is None or service.status.phase is not P.PROVISIONED or not term.discontinued(now):
            return None
        at, expires = term.discontinued_at, term.expires_at
    assert at is not None
    last_paid = local_day(expires - timedelta(microseconds=1), zone) if expires else None
    return CancelCause(
        at,
        "Discontinued",
        f"Not renewed since {expires.isoformat() if expires else 'its start'}: discontinued, it cannot be "
        "renewed any more.",
        end_billing=last_paid,
        fixed_end=last_paid is not None,
    )


def _term_next(
    term: ServiceTerm | None, subscription: SubscriptionStatus, policy: Policy, now: datetime
) -> NextTransition | None:
    """What the contract does to a provisioned service next if nothing is paid meanwhile."""
    if term is None or subscription.discontinued_at is not None:
        return None
    if term.covered and term.expires_at is not None:
        return NextTransition(action="Expire", at=term.expires_at + policy.billing.expired_after)
    if term.expired_at is not None and term.expired_at > now:
        return NextTransition(action="Expire", at=term.expired_at)
    if term.discontinued_at is not None and term.discontinued_at > now:
        return NextTransition(action="Discontinue", at=term.discontinued_at)
    if term.resumes_at is not None and term.resumes_at > now:
        return NextTransition(action="Renew", at=term.resumes_at)
    return None


CONTRACTED = "Contracted"


def _contract_term(
    service: Service, world: DomainWorld, policy: Policy, now: datetime
) -> tuple[ServiceTerm | None, tuple[str, str] | None]:
    """What the service's contract means for it now, or why its contractRef cannot be used."""
    ref = service.spec.contract_ref
    product = world.products.get(service.spec.product)
    if ref is None or product is None or product.spec.billing.type != "recurring":
        return None, None
    contract = world.contracts.get(ref.name)
    if contract is None:
        return None, ("ContractNotFound", f"Contract {ref.name!r} does not exist in this namespace.")
    tenant = world.domain.spec.tenant_ref.name if world.domain else None
    if contract.spec.tenant_ref.name != tenant:
        return None, (
            "ContractOfOtherTenant",
            f"Contract {ref.name!r} is with tenant {contract.spec.tenant_ref.name!r}, the service's domain with "
            f"{tenant!r}: name a contract of the same tenant.",
        )
    return service_term(service, contract, world.invoices.get(ref.name, ()), policy, now), None


def _subscription_conditions(
    service: Service,
    world: DomainWorld,
    subscription: SubscriptionStatus,
    term: ServiceTerm | None,
    issue: tuple[str, str] | None,
) -> list[Cond]:
    """Contracted: whether a contract invoices the service, and until when it is paid."""
    product = world.products.get(service.spec.product)
    if product is not None and product.spec.billing.type == "one-time":
        return [Cond(CONTRACTED, "True", "OneTime", "A one-time product: invoiced once, never renewed.")]
    ref = service.spec.contract_ref
    if ref is None:
        return [
            Cond(
                CONTRACTED,
                "False",
                "NoContract",
                "spec.contractRef is not set: the service is not invoiced or renewed; name the tenant's Contract.",
            )
        ]
    if term is None:
        reason, message = issue or ("ContractNotFound", f"Contract {ref.name!r} does not exist in this namespace.")
        return [Cond(CONTRACTED, "False", reason, message)]
    if subscription.discontinued_at is not None:
        return [
            Cond(CONTRACTED, "False", "Discontinued", f"Discontinued at {subscription.discontinued_at.isoformat()}.")
        ]
    if term.expires_at is None:
        return [Cond(CONTRACTED, "True", "NotBilledYet", f"Contract {ref.name!r}; billing has not started.")]
    until = term.expires_at.isoformat()
    if term.covered:
        return [Cond(CONTRACTED, "True", "Paid", f"Contract {ref.name!r}; paid (or in trial) until {until}.")]
    return [Cond(CONTRACTED, "True", "PaymentDue", f"Contract {ref.name!r}; not paid since {until}: pay its invoice.")]


_SUBSCRIPTION_OF_PHASE = {
    P.ORDERED: SubscriptionState.WAITING_ACTIVATION,
    P.CONFIRMED: SubscriptionState.WAITING_ACTIVATION,
    P.PROVISIONING: SubscriptionState.PROCESSING,
    P.PROVISIONED: SubscriptionState.OK,
    P.CANCELLED: SubscriptionState.OK,  # still in use until removed
    P.DEPROVISIONING: SubscriptionState.DISCONTINUED,
    P.DEPROVISIONED: SubscriptionState.DISCONTINUED,
}


def _subscription(
    service: Service,
    world: DomainWorld,
    phase: P,
    ever_provisioned: bool,
    term: ServiceTerm | None = None,
    discontinued: CancelCause | None = None,
    now: datetime | None = None,
) -> SubscriptionStatus:
    """The subscription state (seed 004) from the order phase, the contract's term, suspensions
    and the backend; PROCESSING while a change waits for the backend is set by ``decide_domain``.

    A suspension from the spec (insufficient funds, misuse) and one from a frozen license are
    separate: unfreezing lifts only the license's, never the partner's or support's. Discontinued
    is for good: nothing paid later renews it.
    """
    current = service.status.subscription or SubscriptionStatus()
    product = world.products.get(service.spec.product)
    terms: dict[str, object] = {
        "contract": term.contract if term else None,
        # Discontinued is for good: the paid period it ended with stays what it was.
        "expires_at": current.expires_at if current.discontinued_at is not None else term.expires_at if term else None,
        "discontinued_at": discontinued.at if discontinued else None,
    }
    if discontinued is not None:
        return current.model_copy(update={"state": SubscriptionState.DISCONTINUED, "reason": None, **terms})
    state = _SUBSCRIPTION_OF_PHASE[phase]
    if phase is P.CANCELLED and not ever_provisioned:
        # Cancelled before it was ever active: it never was OK and cannot be renewed.
        state = SubscriptionState.DISCONTINUED
    if state is SubscriptionState.OK and product is not None and product.spec.billing.type == "one-time":
        state = SubscriptionState.DISPATCHED
    if state is SubscriptionState.OK and phase is P.PROVISIONED and term and now and term.expired(now):
        # Seed 004: "suspended and no longer accessible", still renewable by paying its invoice.
        return current.model_copy(update={"state": SubscriptionState.EXPIRED, "reason": None, **terms})
    reason: SuspensionReason | None = None
    if state is not SubscriptionState.DISCONTINUED and phase in (P.PROVISIONING, P.PROVISIONED, P.CANCELLED):
        if service.spec.suspension is not None:
            state, reason = SubscriptionState.SUSPENDED, SuspensionReason(service.spec.suspension.reason)
        elif world.license.frozen:
            state, reason = SubscriptionState.SUSPENDED, SuspensionReason.LICENSE_FROZEN
        elif world.backend_error is not None:
            # Seed 004: "experienced issues and may not be fully available", until the backend
            # holds its domain's routing config again.
            state = SubscriptionState.ERRONEOUS
    return current.model_copy(update={"state": state, "reason": reason, **terms})


def _start_billing(service: Service, status: ServiceStatus, phase: P, now: datetime, zone: tzinfo) -> None:
    """Billing starts once the service is provisioned and users are entered (that local day)."""
    if status.billing is not None and status.billing.start is not None:
        return
    if phase is P.PROVISIONED and service.spec.users > 0:
        start: date = local_day(now, zone)
        status.billing = (status.billing or BillingStatus()).model_copy(update={"start": start})


def _number_services(domain: Domain, services: Sequence[Service]) -> tuple[dict[str, int], int]:
    """Sequential numbers for services that have none yet, in order of creation; never reused."""
    numbers = {s.name: s.status.number for s in services if s.status.number is not None}
    last = max([domain.status.last_service_number or 0, *numbers.values()])
    assigned: dict[str, int] = {}
    for service in sorted(services, key=lambda s: (s.meta.created, s.name)):
        if service.name not in numbers:
            last += 1
            assigned[service.name] = last
    return assigned, last


def _routing(
    domain: Domain,
    moving: _Phase,
    decisions: Sequence[Decision[ServiceStatus]],
    world: DomainWorld,
    policy: Policy,
) -> RoutingConfig | None:
    observed = world.routing
    phase = moving.phase
    # A cancelled domain keeps routing only if it was deployed: cancelling never deploys.
    if phase not in (P.PROVISIONING, P.PROVISIONED) and not (phase is P.CANCELLED and observed is not None):
        return None
    # No gateway accepts mail for a name before its owner proved it: a squatter never routes.
    status = moving.status
    assert isinstance(status, DomainStatus)
    if phase is P.PROVISIONING and policy.dns.verify and ownership_verified(status.verification) is None:
        return None
    routed = tuple(
        d.routed
        for d in sorted(decisions, key=lambda d: d.name)
        if d.routed is not None
        and (
            d.status.phase in DEPLOYED_PHASES
            or (d.status.phase is P.CANCELLED and observed is not None and observed.has_service(d.name))
        )
    )
    settings = domain.spec.deployment_settings
    return RoutingConfig(
        tenant=domain.spec.tenant_ref.name,
        domain_object=domain.name,
        domain_name=domain.spec.domain_name,
        accepted=not world.license.frozen,
        gina_host=settings.gina_host if settings else None,
        services=routed,
        confidential=domain.spec.confidential,
    )


def decide_domain(world: DomainWorld, policy: Policy, now: datetime) -> DomainOutcome:
    domain = world.domain
    domain_decision: Decision[DomainStatus] | None = None
    nexts: list[NextTransition | None] = []
    domain_phase: P | None = None
    domain_cancel: CancelCause | None = None
    domain_failure: CheckFailure | None = None
    domain_expedited = False
    domain_deploy_trigger: str | None = None
    if domain is not None:
        moving, domain_failure, domain_cancel, domain_expedited = _decide_domain_phase(world, policy, now)
        domain_phase = moving.phase
        domain_deploy_trigger = moving.deploy_trigger
        status = moving.status
        assert isinstance(status, DomainStatus)
        numbers, last = _number_services(domain, world.services)
        status.last_service_number = last
        cancel_message = f"{domain_cancel.message}" if domain_cancel else ""
        verification = status.verification
        if moving.phase is not P.PROVISIONING:
            status.pending_actions = []
        nxt, release = _finish(
            "Domain",
            domain.meta,
            domain.status,
            moving,
            domain_failure,
            domain_cancel,
            cancel_message,
            policy,
            now,
            recheck_at=verification.next_check_at if verification else None,
            awaiting=describe(status.pending_actions) or None,
            backend_error=world.backend_error,
            blocked_by=world.license.license
            if world.license.frozen and moving.phase in (P.PROVISIONING, P.PROVISIONED, P.CANCELLED)
            else None,
        )
        nexts.append(nxt)
        domain_decision = Decision(domain.name, status, tuple(moving.transitions), release)
    else:
        numbers = {}

    service_decisions = []
    for service in world.services:
        decision, nxt = _decide_service(
            service,
            world,
            domain_phase,
            domain_deploy_trigger,
            domain_cancel,
            domain_failure,
            domain_expedited,
            policy,
            now,
        )
        if service.name in numbers:
            decision.status.number = numbers[service.name]
        service_decisions.append(decision)
        nexts.append(nxt)

    routing_action: ApplyRouting | RemoveRouting | None = None
    if domain is not None and domain_phase is not None:
        desired = _routing(domain, moving, service_decisions, world, policy)
        if desired is not None and desired != world.routing:
            routing_action = ApplyRouting(desired, world.namespace, domain.meta.uid)
            _processing(service_decisions, desired, world)
        elif desired is None and world.routing is not None:
            routing_action = RemoveRouting(domain.name, world.namespace)

    book_base = (
        domain is not None
        and domain.meta.deleted is None
        and domain_phase in (P.ORDERED, P.CONFIRMED)
        and not any(s.spec.product == policy.base_product for s in world.services)
    )
    wake = earliest(nexts)
    return DomainOutcome(
        domain=domain_decision,
        services=tuple(service_decisions),
        book_base_service=book_base,
        routing=routing_action,
        wake_at=wake.at if wake else None,
    )


def _processing(decisions: Sequence[Decision[ServiceStatus]], desired: RoutingConfig, world: DomainWorld) -> None:
    """Seed 004: PROCESSING while a change to a provisioned service is being applied, i.e. the
    backend does not hold the service as decided yet (the driver applies it and decides again,
    so this is what a status says only while the backend cannot be reached)."""
    observed = {s.name: s for s in world.routing.services} if world.routing else {}
    wanted = {s.name: s for s in desired.services}
    for decision in decisions:
        subscription = decision.status.subscription
        if (
            decision.status.phase is P.PROVISIONED
            and decision.name in observed
            and observed[decision.name] != wanted.get(decision.name)
            and subscription is not None
            and subscription.state in (SubscriptionState.OK, SubscriptionState.SUSPENDED, SubscriptionState.EXPIRED)
            and world.backend_error is None
        ):
            decision.status.subscription = subscription.model_copy(update={"state": SubscriptionState.PROCESSING})


def finalizer_wanted(decision: Decision[OrderStatus], deleted: bool) -> bool | None:
    """Whether an order object must carry our finalizer: held while live, so a deletion becomes
    a cancellation; released once the core says so (deprovisioned plus the retention); None
    leaves it as it is (a deleted object is never held anew)."""
    if decision.release_finalizer:
        return False
    if not deleted and decision.status.phase is not P.DEPROVISIONED:
        return True
    return None


def dns_lookups_due(world: DomainWorld, outcome: DomainOutcome, policy: Policy, now: datetime) -> list[DnsLookup]:
    """The lookups the shell should make before deciding again: those of a domain that is (now)
    provisioning and whose recheck is due or was asked for with the refresh annotation."""
    if not policy.dns.verify or world.domain is None or outcome.domain is None:
        return []
    if outcome.domain.status.phase is not P.PROVISIONING:
        return []
    if not check_due(outcome.domain.status, world.domain.meta.annotations, now):
        return []
    return lookups(required_records(world.domain, policy.dns))
