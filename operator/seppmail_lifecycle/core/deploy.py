"""The "Deploy domains and services" button: which covered domains and services a DeployRequest
deploys, which it does not and why; carried out once. A request committed together with its
domains waits (``deployRequests.waitForChecks``) for those still being checked; a completed one
is deleted after ``deployRequests.ttlAfterCompleted``, as Jobs are after theirs, unless Argo CD
or Flux manages it (the next sync would re-create it and deploy again)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from seppmail_lifecycle.api.common import MAX_MESSAGE
from seppmail_lifecycle.api.deployrequest import MAX_LISTED, DeployRequestStatus, SkippedDomain
from seppmail_lifecycle.api.policy import DeployRequestPolicy
from seppmail_lifecycle.api.states import DeployRequestPhase
from seppmail_lifecycle.api.states import OrderPhase as P
from seppmail_lifecycle.core import conditions as c
from seppmail_lifecycle.core.conditions import Transition, append_history, merge_conditions
from seppmail_lifecycle.core.model import DeployRequest, Domain, Service, synced_from_git
from seppmail_lifecycle.core.order_machine import DEPLOYED_PHASES, ENDING_PHASES
from seppmail_lifecycle.core.orders import Decision
from seppmail_lifecycle.core.schedule import COMMIT_SETTLES


def _not_confirmed_reason(domain: Domain) -> str:
    confirmed = c.condition(domain.status.conditions, c.CONFIRMED)
    detail = f": {confirmed.message}" if confirmed and confirmed.message else ""
    return f"not confirmed yet{detail}"


def _bounded(head: str, parts: Sequence[str]) -> str:
    """``head`` and as many of ``parts`` as fit the message's bound, and how many more there are."""
    # Room for the longest "; and N more" tail, so the bound holds however many are left out.
    room = MAX_MESSAGE - len(head) - len(f"; and {len(parts)} more.")
    shown: list[str] = []
    used = 0
    for part in parts:
        used += len(part) + len("; ")
        if used > room:
            break
        shown.append(part)
    rest = len(parts) - len(shown)
    return head + "; ".join(shown) + (f"; and {rest} more." if rest else ".")


def _result_message(domains: int, services: int, skipped: Sequence[SkippedDomain]) -> str:
    """The console's result message: the counts, then as many skipped domains with their reason as
    fit the message's bound, and how many more there are."""
    head = f"Deployment started for {domains} domain(s) and {services} service(s)"
    if not skipped:
        return head + "."
    return _bounded(head + "; not deployed: ", [f"{entry.name} ({entry.reason})" for entry in skipped])


@dataclass(frozen=True)
class DeployPlan:
    """What to do with a DeployRequest now: write ``decision`` (None: nothing to write), decide
    again at ``wake_at``, or ``delete`` it (completed, past its TTL)."""

    decision: Decision[DeployRequestStatus] | None = None
    wake_at: datetime | None = None
    delete: bool = False


FAILURE_SETTLES = COMMIT_SETTLES
"""How long a failed check may still be the commit arriving (its Tenant, its base service not
seen yet): a request waits that long after a covered domain's check failed before it gives up."""


def _checked_by(domain: Domain | None, named: bool, until: datetime) -> datetime | None:
    """Until when a request waits for a covered domain whose check has not settled: one not
    checked yet (or, named, not seen yet: it may be on its way in the same commit) until
    ``until``; one whose check failed just now for ``FAILURE_SETTLES``; None: not waited for."""
    if domain is None:
        return until if named else None
    if (domain.status.phase or P.ORDERED) is not P.ORDERED:
        return None
    confirmed = c.condition(domain.status.conditions, c.CONFIRMED)
    if confirmed is None or confirmed.status == "Unknown":
        return until
    if confirmed.status == "False" and confirmed.last_transition_time is not None:
        return min(until, confirmed.last_transition_time + FAILURE_SETTLES)
    return None


def _waiting(request: DeployRequest, waiting: Sequence[str], until: datetime, now: datetime) -> DeployRequestStatus:
    head = (
        f"Waiting for {len(waiting)} domain(s) still being checked (or created), "
        f"until {until.isoformat()} at the latest: "
    )
    message = _bounded(head, list(waiting))
    status = request.status.model_copy(deep=True)
    status.phase = DeployRequestPhase.PENDING
    status.observed_generation = request.meta.generation
    status.message = message
    status.conditions = merge_conditions(
        request.status.conditions,
        c.summary("WaitingForChecks", message, ready=False, reconciling=True),
        request.meta.generation,
        now,
    )
    return status


def _expires_at(request: DeployRequest, completed: datetime | None, policy: DeployRequestPolicy) -> datetime | None:
    """When a completed request is deleted; None: kept (no TTL, or Git owns it)."""
    ttl = policy.ttl_after_completed
    if completed is None or ttl is None or synced_from_git(request.meta):
        return None
    return completed + ttl


def plan_deploy(
    request: DeployRequest,
    domains: Mapping[str, Domain],
    services: Mapping[str, Sequence[Service]],
    policy: DeployRequestPolicy,
    now: datetime,
) -> DeployPlan:
    """Carry out ``request`` (or wait for the domains it covers that are still being checked);
    once carried out, keep it until its TTL."""
    if request.status.phase is DeployRequestPhase.COMPLETED:
        expires = _expires_at(request, request.status.completed_at, policy)
        return DeployPlan(delete=True) if expires is not None and expires <= now else DeployPlan(wake_at=expires)
    covered = list(request.spec.domains) or sorted(domains)
    until = request.meta.created + policy.wait_for_checks
    checked_by = {name: _checked_by(domains.get(name), bool(request.spec.domains), until) for name in covered}
    waiting = {name: by for name, by in checked_by.items() if by is not None and by > now}
    if waiting:
        status = _waiting(request, list(waiting), until, now)
        return DeployPlan(Decision(request.name, status), wake_at=min(waiting.values()))
    return DeployPlan(_complete(request, covered, domains, services, now), wake_at=_expires_at(request, now, policy))


def _complete(
    request: DeployRequest,
    covered: Sequence[str],
    domains: Mapping[str, Domain],
    services: Mapping[str, Sequence[Service]],
    now: datetime,
) -> Decision[DeployRequestStatus]:
    """The completed status of ``request``: what it deploys now, and what not and why."""
    deployed_domains: list[str] = []
    deployed_services: list[str] = []
    skipped: list[SkippedDomain] = []
    for name in covered:
        domain = domains.get(name)
        if domain is None:
            skipped.append(SkippedDomain(name=name, reason="Domain not found in this namespace."))
            continue
        phase = domain.status.phase or P.ORDERED
        if phase is P.ORDERED:
            skipped.append(SkippedDomain(name=name, reason=_not_confirmed_reason(domain)))
            continue
        if phase in ENDING_PHASES:
            skipped.append(SkippedDomain(name=name, reason=f"Domain is {phase.value}."))
            continue
        ready = sorted(s.name for s in services.get(name, ()) if s.status.phase is P.CONFIRMED)
        if phase is P.CONFIRMED:
            deployed_domains.append(name)
        elif phase in DEPLOYED_PHASES and not ready:
            skipped.append(SkippedDomain(name=name, reason="Already deployed; no confirmed services to deploy."))
            continue
        deployed_services.extend(ready)

    message = _result_message(len(deployed_domains), len(deployed_services), skipped)
    status = DeployRequestStatus(
        phase=DeployRequestPhase.COMPLETED,
        deployed_domains=deployed_domains[:MAX_LISTED],
        deployed_domain_count=len(deployed_domains),
        deployed_services=deployed_services[:MAX_LISTED],
        deployed_service_count=len(deployed_services),
        skipped=skipped[:MAX_LISTED],
        skipped_count=len(skipped),
        message=message,
        completed_at=now,
        observed_generation=request.meta.generation,
        # All three: a request that waited had Reconciling=True, which its completion ends.
        conditions=merge_conditions(
            request.status.conditions, c.summary("Completed", message, ready=True), request.meta.generation, now
        ),
    )
    transition = Transition(
        DeployRequestPhase.PENDING.value,
        DeployRequestPhase.COMPLETED.value,
        "Completed",
        message,
        warning=not deployed_domains and not deployed_services,
    )
    status.history = append_history(request.status.history, [transition], now)
    return Decision(request.name, status, (transition,))
