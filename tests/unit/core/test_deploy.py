"""``plan_deploy``: what a DeployRequest deploys, what it skips and why, and that it runs once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from seppmail_lifecycle.api.common import MAX_MESSAGE, Condition
from seppmail_lifecycle.api.deployrequest import MAX_LISTED, DeployRequestStatus
from seppmail_lifecycle.api.states import DeployRequestPhase
from seppmail_lifecycle.api.states import OrderPhase as P
from seppmail_lifecycle.core.conditions import condition as find_condition
from seppmail_lifecycle.core.deploy import FAILURE_SETTLES, DeployPlan, plan_deploy
from seppmail_lifecycle.core.model import DeployRequest, Domain, Service
from seppmail_lifecycle.core.orders import Decision, DomainWorld, decide_domain

from .builders import POLICY, T0, condition, deploy_request, domain, service, world

NOW = T0 + timedelta(minutes=30)
RULES = POLICY.deploy_requests


def planned(
    request: DeployRequest,
    domains: Mapping[str, Domain],
    services: Mapping[str, Sequence[Service]],
    now: datetime = NOW,
) -> Decision[DeployRequestStatus]:
    """The status ``plan_deploy`` writes (there must be one)."""
    plan = plan_deploy(request, domains, services, RULES, now)
    assert plan.decision is not None
    assert not plan.delete
    return plan.decision


def condition_of(status: DeployRequestStatus, type_: str) -> Condition:
    found = find_condition(status.conditions, type_)
    assert found is not None, type_
    return found


def dom(name: str, phase: P | None, *conditions_: object) -> Domain:
    d = domain(name, domain_name=f"{name.replace('-', '.')}.example", phase=phase)
    return replace(d, status=d.status.model_copy(update={"conditions": list(conditions_)}))


def svc(name: str, domain_: str, phase: P | None) -> Service:
    return service(name, "base", domain=domain_, phase=phase)


FAILING_CHECK = "Tenant 'acme' does not exist in this namespace: create it or fix spec.tenantRef."

DOMAINS = {
    d.name: d
    for d in (
        dom("d-confirmed", P.CONFIRMED),
        dom("d-ordered", P.ORDERED, condition("Confirmed", "False", "TenantNotFound", FAILING_CHECK)),
        dom("d-new", None),
        dom("d-provisioning", P.PROVISIONING),
        dom("d-provisioned", P.PROVISIONED),
        dom("d-provisioned-idle", P.PROVISIONED),
        dom("d-cancelled", P.CANCELLED),
        dom("d-deprovisioning", P.DEPROVISIONING),
        dom("d-deprovisioned", P.DEPROVISIONED),
    )
}
SERVICES: dict[str, Sequence[Service]] = {
    "d-confirmed": [svc("c-2", "d-confirmed", P.CONFIRMED), svc("c-1", "d-confirmed", P.CONFIRMED)],
    "d-ordered": [svc("o-1", "d-ordered", P.ORDERED)],
    "d-provisioning": [svc("p-1", "d-provisioning", P.PROVISIONING), svc("p-2", "d-provisioning", P.CONFIRMED)],
    "d-provisioned": [
        svc("pd-1", "d-provisioned", P.PROVISIONED),
        svc("pd-3", "d-provisioned", P.CONFIRMED),
        svc("pd-2", "d-provisioned", P.CONFIRMED),
        svc("pd-4", "d-provisioned", P.ORDERED),
        svc("pd-5", "d-provisioned", P.CANCELLED),
    ],
    "d-provisioned-idle": [svc("pi-1", "d-provisioned-idle", P.PROVISIONED), svc("pi-2", "d-provisioned-idle", None)],
    "d-cancelled": [svc("x-1", "d-cancelled", P.CONFIRMED)],
}

CASES = [
    # (id, covered, deployed domains, deployed services, skipped {name: reason})
    ("confirmed-domain-with-its-confirmed-services", ["d-confirmed"], ["d-confirmed"], ["c-1", "c-2"], {}),
    ("not-found", ["d-missing"], [], [], {"d-missing": "Domain not found in this namespace."}),
    ("not-confirmed-says-why", ["d-ordered"], [], [], {"d-ordered": f"not confirmed yet: {FAILING_CHECK}"}),
    ("not-checked-yet", ["d-new"], [], [], {"d-new": "not confirmed yet"}),
    ("cancelled", ["d-cancelled"], [], [], {"d-cancelled": "Domain is cancelled."}),
    ("deprovisioning", ["d-deprovisioning"], [], [], {"d-deprovisioning": "Domain is deprovisioning."}),
    ("deprovisioned", ["d-deprovisioned"], [], [], {"d-deprovisioned": "Domain is deprovisioned."}),
    ("provisioning-domain-with-a-new-service", ["d-provisioning"], [], ["p-2"], {}),
    ("provisioned-domain-with-new-services", ["d-provisioned"], [], ["pd-2", "pd-3"], {}),
    (
        "already-deployed-with-nothing-new",
        ["d-provisioned-idle"],
        [],
        [],
        {"d-provisioned-idle": "Already deployed; no confirmed services to deploy."},
    ),
    (
        "several-in-the-given-order",
        ["d-provisioned", "d-missing", "d-confirmed"],
        ["d-confirmed"],
        ["pd-2", "pd-3", "c-1", "c-2"],
        {"d-missing": "Domain not found in this namespace."},
    ),
    (
        "empty-means-every-domain",
        [],
        ["d-confirmed"],
        ["c-1", "c-2", "pd-2", "pd-3", "p-2"],
        {
            "d-cancelled": "Domain is cancelled.",
            "d-deprovisioned": "Domain is deprovisioned.",
            "d-deprovisioning": "Domain is deprovisioning.",
            "d-new": "not confirmed yet",
            "d-ordered": f"not confirmed yet: {FAILING_CHECK}",
            "d-provisioned-idle": "Already deployed; no confirmed services to deploy.",
        },
    ),
]


@pytest.mark.parametrize(
    ("covered", "deployed_domains", "deployed_services", "skipped"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_plan_deploy(
    covered: list[str], deployed_domains: list[str], deployed_services: list[str], skipped: Mapping[str, str]
) -> None:
    decision = planned(deploy_request("deploy-1", *covered), DOMAINS, SERVICES)
    status = decision.status
    assert status.phase is DeployRequestPhase.COMPLETED
    assert status.completed_at == NOW
    assert status.deployed_domains == deployed_domains
    assert status.deployed_services == deployed_services
    assert {s.name: s.reason for s in status.skipped} == skipped
    counts = (status.deployed_domain_count, status.deployed_service_count, status.skipped_count)
    assert counts == (len(deployed_domains), len(deployed_services), len(skipped))
    assert status.message is not None
    assert status.message.startswith(
        f"Deployment started for {len(deployed_domains)} domain(s) and {len(deployed_services)} service(s)"
    )
    for name, reason in skipped.items():
        assert f"{name} ({reason})" in status.message
    assert status.message.endswith(".")
    assert [(c.type, c.status, c.reason, c.message) for c in status.conditions] == [
        ("Ready", "True", "Completed", status.message),
        ("Reconciling", "False", "Completed", status.message),
        ("Stalled", "False", "Completed", status.message),
    ]
    (transition,) = decision.transitions
    assert (transition.from_, transition.to, transition.reason) == ("Pending", "Completed", "Completed")
    assert transition.warning is (not deployed_domains and not deployed_services)
    assert [(h.at, h.from_, h.to) for h in status.history] == [(NOW, "Pending", "Completed")]


def test_the_message_of_a_partial_deployment() -> None:
    decision = planned(deploy_request("deploy-1", "d-confirmed", "d-missing"), DOMAINS, SERVICES)
    assert decision.status.message == (
        "Deployment started for 1 domain(s) and 2 service(s); not deployed: d-missing (Domain not found in this "
        "namespace.)."
    )


def test_a_request_is_carried_out_only_once_and_deleted_after_its_ttl() -> None:
    request = deploy_request("deploy-1", "d-confirmed")
    plan = plan_deploy(request, DOMAINS, SERVICES, RULES, NOW)
    assert plan.decision is not None
    assert plan.wake_at == NOW + timedelta(days=1)  # the TTL's end
    done = replace(request, status=plan.decision.status)
    assert plan_deploy(done, DOMAINS, SERVICES, RULES, NOW) == DeployPlan(wake_at=NOW + timedelta(days=1))
    later = NOW + timedelta(days=1) - timedelta(seconds=1)
    assert plan_deploy(done, DOMAINS, SERVICES, RULES, later) == DeployPlan(wake_at=NOW + timedelta(days=1))
    assert plan_deploy(done, DOMAINS, SERVICES, RULES, NOW + timedelta(days=1)) == DeployPlan(delete=True)


@pytest.mark.parametrize(
    ("labels", "annotations", "ttl", "kept"),
    [
        ({}, {}, timedelta(days=1), False),
        ({}, {}, None, True),
        ({"app.kubernetes.io/instance": "partner-a"}, {}, timedelta(days=1), True),  # Argo CD label tracking
        (
            {},
            {"argocd.argoproj.io/tracking-id": "partner-a:lifecycle.seppmail.cloud/DeployRequest:ns/d"},
            timedelta(days=1),
            True,
        ),
        ({"kustomize.toolkit.fluxcd.io/name": "partner-a"}, {}, timedelta(days=1), True),
    ],
    ids=["ttl", "no-ttl", "argocd-label", "argocd-annotation", "flux"],
)
def test_a_completed_request_synced_from_git_is_never_deleted_here(
    labels: dict[str, str], annotations: dict[str, str], ttl: timedelta | None, kept: bool
) -> None:
    # Deleting it would let the next sync create it again, and it would deploy again.
    done = deploy_request("deploy-1", completed_at=NOW, labels=labels, annotations=annotations)
    rules = RULES.model_copy(update={"ttl_after_completed": ttl})
    much_later = NOW + timedelta(days=400)
    assert plan_deploy(done, DOMAINS, SERVICES, rules, much_later) == (
        DeployPlan() if kept else DeployPlan(delete=True)
    )


REQUESTED = T0 + timedelta(minutes=30)
"""When the requests of the waiting scenarios were created (d-ordered's check failed long before)."""

WAITING = [
    # (id, covered, waits for)
    ("named-not-checked-yet", ["d-new", "d-confirmed"], ["d-new"]),
    ("named-not-seen-yet", ["d-missing"], ["d-missing"]),  # may arrive in the same commit
    ("every-domain", [], ["d-new"]),
    ("a-failed-check-is-not-waited-for", ["d-ordered", "d-confirmed"], []),
]


def test_a_check_that_failed_just_now_is_waited_for_briefly() -> None:
    # The commit may still be arriving: its Tenant not seen yet when the domain was first checked.
    failed_at = REQUESTED + timedelta(seconds=1)
    just_failed = dom("d-just-failed", P.ORDERED, condition("Confirmed", "False", "TenantNotFound", "...", failed_at))
    domains = {**DOMAINS, just_failed.name: just_failed}
    request = deploy_request("deploy-1", "d-just-failed", "d-confirmed", created=REQUESTED)
    plan = plan_deploy(request, domains, SERVICES, RULES, REQUESTED + timedelta(seconds=2))
    assert plan.decision is not None
    assert plan.decision.status.phase is DeployRequestPhase.PENDING
    assert plan.wake_at == failed_at + FAILURE_SETTLES
    # Confirmed meanwhile: deployed.
    confirmed = {**domains, just_failed.name: dom("d-just-failed", P.CONFIRMED)}
    assert planned(request, confirmed, SERVICES, REQUESTED + timedelta(seconds=3)).status.deployed_domains == [
        "d-just-failed",
        "d-confirmed",
    ]
    # Still failing once it settled: completed without it, saying why.
    done = planned(request, domains, SERVICES, failed_at + FAILURE_SETTLES)
    assert [s.name for s in done.status.skipped] == ["d-just-failed"]


@pytest.mark.parametrize(("covered", "waits_for"), [w[1:] for w in WAITING], ids=[w[0] for w in WAITING])
def test_a_request_waits_for_the_domains_still_being_checked(covered: list[str], waits_for: list[str]) -> None:
    request = deploy_request("deploy-1", *covered, created=REQUESTED)
    until = REQUESTED + RULES.wait_for_checks
    plan = plan_deploy(request, DOMAINS, SERVICES, RULES, REQUESTED + timedelta(seconds=5))
    assert plan.decision is not None
    status = plan.decision.status
    if not waits_for:
        assert status.phase is DeployRequestPhase.COMPLETED
        return
    assert status.phase is DeployRequestPhase.PENDING
    assert plan.wake_at == until
    assert plan.decision.transitions == ()
    assert status.message == (
        f"Waiting for {len(waits_for)} domain(s) still being checked (or created), "
        f"until {until.isoformat()} at the latest: " + "; ".join(waits_for) + "."
    )
    ready = condition_of(status, "Ready")
    assert (ready.status, ready.reason) == ("False", "WaitingForChecks")
    assert condition_of(status, "Reconciling").status == "True"
    # Deciding again on what was written changes nothing ...
    again = plan_deploy(replace(request, status=status), DOMAINS, SERVICES, RULES, REQUESTED + timedelta(seconds=6))
    assert again.decision is not None
    assert again.decision.status == status
    # ... and once the wait is over it completes without them, saying why.
    done = planned(replace(request, status=status), DOMAINS, SERVICES, until)
    assert done.status.phase is DeployRequestPhase.COMPLETED
    assert condition_of(done.status, "Reconciling").status == "False"
    assert set(waits_for) <= {skipped.name for skipped in done.status.skipped}


def test_a_request_waiting_for_a_domain_deploys_it_once_its_check_passed() -> None:
    request = deploy_request("deploy-1", "d-new", created=REQUESTED)
    waiting = planned(request, DOMAINS, SERVICES, REQUESTED + timedelta(seconds=5))
    checked = {**DOMAINS, "d-new": dom("d-new", P.CONFIRMED)}
    done = planned(replace(request, status=waiting.status), checked, SERVICES, REQUESTED + timedelta(seconds=7))
    assert done.status.phase is DeployRequestPhase.COMPLETED
    assert done.status.deployed_domains == ["d-new"]


def test_the_generation_is_recorded() -> None:
    request = deploy_request("deploy-1", generation=3)
    decision = planned(request, {}, {})
    assert decision.status.observed_generation == 3
    assert decision.status.message == "Deployment started for 0 domain(s) and 0 service(s)."


def _confirmed_world() -> tuple[DomainWorld, Domain, tuple[Service, ...]]:
    """A domain with its base service, both confirmed at T0."""
    w = world(service("acme-base"))
    confirmed = decide_domain(w, POLICY, T0)
    assert confirmed.domain is not None
    assert w.domain is not None
    d = replace(w.domain, status=confirmed.domain.status)
    services = tuple(replace(s, status=o.status) for s, o in zip(w.services, confirmed.services, strict=True))
    return w, d, services


def test_a_completed_request_deploys_the_domain_it_lists() -> None:
    """The planned status is what decide_domain keys the deployment on."""
    w, d, services = _confirmed_world()
    request = deploy_request("deploy-1")
    decision = planned(request, {d.name: d}, {d.name: services})
    assert decision.status.deployed_domains == [d.name]
    assert decision.status.deployed_services == ["acme-base"]
    done = replace(request, status=decision.status)
    outcome = decide_domain(replace(w, domain=d, services=services, deploy_requests=(done,)), POLICY, NOW)
    assert outcome.domain is not None
    assert outcome.domain.status.phase is P.PROVISIONING
    assert [s.status.phase for s in outcome.services] == [P.PROVISIONING]


def test_a_request_over_ten_thousand_domains_lists_the_first_and_counts_all() -> None:
    """Status stays within its schema's bounds at any scale: the first names, and counts."""
    many = [dom(f"d-{n:05}", P.CONFIRMED if n % 2 else P.ORDERED) for n in range(10_000)]
    domains = {d.name: d for d in many}
    services = {d.name: [svc(f"s-{d.name}", d.name, P.CONFIRMED)] for d in many if d.status.phase is P.CONFIRMED}
    decision = planned(deploy_request("deploy-1"), domains, services)
    status = decision.status
    assert (status.deployed_domain_count, status.deployed_service_count, status.skipped_count) == (5000, 5000, 5000)
    assert status.deployed_domains == [f"d-{n:05}" for n in range(1, 2 * MAX_LISTED, 2)]
    assert len(status.deployed_services) == len(status.skipped) == MAX_LISTED
    assert status.message is not None
    assert len(status.message) <= MAX_MESSAGE
    assert status.message.startswith("Deployment started for 5000 domain(s) and 5000 service(s); not deployed: d-00000")
    shown = status.message.count("(not confirmed yet)")
    assert shown > 10
    assert status.message.endswith(f"; and {5000 - shown} more.")
    # What the API server will be sent passes the same bounds the CRD schema has.
    DeployRequestStatus.model_validate(status.model_dump(by_alias=True, mode="json"))
    assert all(len(h.message) <= MAX_MESSAGE for h in status.history)


def test_a_domain_beyond_the_listed_names_is_deployed_too() -> None:
    """What a request deployed follows from its spec and completion time, not the bounded lists."""
    w, d, services = _confirmed_world()
    others = {f"a-{n:04}": dom(f"a-{n:04}", P.CONFIRMED) for n in range(MAX_LISTED + 1)}
    request = deploy_request("deploy-1")
    decision = planned(request, {**others, d.name: d}, {d.name: services})
    assert d.name not in decision.status.deployed_domains
    assert decision.status.deployed_domain_count == MAX_LISTED + 2
    done = replace(request, status=decision.status)
    outcome = decide_domain(replace(w, domain=d, services=services, deploy_requests=(done,)), POLICY, NOW)
    assert outcome.domain is not None
    assert outcome.domain.status.phase is P.PROVISIONING
    assert [s.status.phase for s in outcome.services] == [P.PROVISIONING]
