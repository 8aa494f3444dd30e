"""A backend failure is a condition on the Domain: the order is kept, the error is shown."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from seppmail_lifecycle.api.domain import DomainStatus
from seppmail_lifecycle.api.policy import DnsPolicy
from seppmail_lifecycle.api.states import OrderPhase as P
from seppmail_lifecycle.core.orders import ApplyRouting, DomainWorld, decide_domain

from .builders import POLICY, T0, domain, service, world

NO_DNS = POLICY.model_copy(update={"dns": DnsPolicy(verify=False)})


def _provisioning() -> DomainWorld:
    d = domain(status=DomainStatus(phase=P.PROVISIONING, confirmed_at=T0 - timedelta(hours=1)))
    return world(service("acme-base"), domain=d)


def test_a_backend_error_keeps_the_order_and_says_what_failed() -> None:
    w = _provisioning()
    outcome = decide_domain(replace(w, backend_error="ApiException: 422 immutable"), NO_DNS, T0)
    assert outcome.domain is not None
    assert outcome.domain.status.phase is P.PROVISIONING
    backend = next(c for c in outcome.domain.status.conditions if c.type == "BackendReady")
    assert (backend.status, backend.reason) == ("False", "BackendError")
    assert "422 immutable" in backend.message
    assert isinstance(outcome.routing, ApplyRouting)  # still wanted: the shell retries with backoff


def test_the_condition_clears_when_the_backend_holds_the_config() -> None:
    w = _provisioning()
    applied = decide_domain(w, NO_DNS, T0).routing
    assert isinstance(applied, ApplyRouting)
    outcome = decide_domain(replace(w, routing=applied.config), NO_DNS, T0)
    assert outcome.domain is not None
    assert outcome.domain.status.phase is P.PROVISIONED
    backend = next(c for c in outcome.domain.status.conditions if c.type == "BackendReady")
    assert backend.status == "True"
