"""The "Deploy domains and services" button: which covered domains and services a DeployRequest
deploys now, which it does not and why. Decided once, when the request is first seen."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from seppmail_lifecycle.api.common import MAX_MESSAGE
from seppmail_lifecycle.api.deployrequest import MAX_LISTED, DeployRequestStatus, SkippedDomain
from seppmail_lifecycle.api.states import DeployRequestPhase
from seppmail_lifecycle.api.states import OrderPhase as P
from seppmail_lifecycle.core import conditions as c
from seppmail_lifecycle.core.conditions import Cond, Transition, append_history, merge_conditions
from seppmail_lifecycle.core.model import DeployRequest, Domain, Service
from seppmail_lifecycle.core.order_machine import DEPLOYED_PHASES, ENDING_PHASES
from seppmail_lifecycle.core.orders import Decision


def _not_confirmed_reason(domain: Domain) -> str:
    confirmed = c.condition(domain.status.conditions, c.CONFIRMED)
    detail = f": {confirmed.message}" if confirmed and confirmed.message else ""
    return f"not confirmed yet{detail}"


def _result_message(domains: int, services: int, skipped: Sequence[SkippedDomain]) -> str:
    """The console's result message: the counts, then as many skipped domains with their reason as
    fit the message's bound, and how many more there are."""
    head = f"Deployment started for {domains} domain(s) and {services} service(s)"
    if not skipped:
        return head + "."
    # Room for the longest "; and N more" tail, so the bound holds however many are left out.
    room = MAX_MESSAGE - len(head) - len("; not deployed: ") - len(f"; and {len(skipped)} more.")
    parts: list[str] = []
    used = 0
    for entry in skipped:
        part = f"{entry.name} ({entry.reason})"
        used += len(part) + len("; ")
        if used > room:
            break
        parts.append(part)
    rest = len(skipped) - len(parts)
    return head + "; not deployed: " + "; ".join(parts) + (f"; and {rest} more." if rest else ".")


def plan_deploy(
    request: DeployRequest,
    domains: Mapping[str, Domain],
    services: Mapping[str, Sequence[Service]],
    now: datetime,
) -> Decision[DeployRequestStatus] | None:
    """The completed status of ``request``; None once it has been carried out."""
    if request.status.phase is DeployRequestPhase.COMPLETED:
        return None
    covered = list(request.spec.domains) or sorted(domains)
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
    ready_cond = Cond(c.READY, "True", "Completed", message)
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
        conditions=merge_conditions(request.status.conditions, [ready_cond], request.meta.generation, now),
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
