"""The "Deploy domains and services" button: which covered domains and services a DeployRequest
deploys now, which it does not and why. Decided once, when the request is first seen."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from seppmail_lifecycle.api.deployrequest import DeployRequestStatus, SkippedDomain
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

    message = f"Deployment started for {len(deployed_domains)} domain(s) and {len(deployed_services)} service(s)"
    if skipped:
        message += "; not deployed: " + "; ".join(f"{s.name} ({s.reason})" for s in skipped)
    message += "."
    ready_cond = Cond(c.READY, "True", "Completed", message)
    status = DeployRequestStatus(
        phase=DeployRequestPhase.COMPLETED,
        deployed_domains=deployed_domains,
        deployed_services=deployed_services,
        skipped=skipped,
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
