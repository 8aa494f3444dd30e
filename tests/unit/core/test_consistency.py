"""The consistency check ("Confirm domains and services"): every check and guard of
``check_domain`` and ``check_service``, with the reason and the concrete thing the message names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from seppmail_lifecycle.api.domain import DnsVerification, DomainStatus
from seppmail_lifecycle.api.states import OrderPhase as P
from seppmail_lifecycle.core.consistency import (
    CheckFailure,
    DomainClaim,
    check_domain,
    check_service,
    claim_of,
    conflicting_claim,
    is_booked,
    is_cancel_requested,
)
from seppmail_lifecycle.core.model import Domain, Product, Service, Tenant

from .builders import (
    CREATED,
    DOMAIN_NAME,
    GINA,
    NS,
    PRODUCTS,
    T0,
    cancellation,
    catalogue,
    claim,
    domain,
    own_claim,
    product,
    service,
    tenant,
    uid,
)

OLDER = CREATED - timedelta(days=1)
YOUNGER = CREATED + timedelta(days=1)
BASE = service("acme-base")
GINA_PRODUCTS = catalogue(
    product("base"), product("sig-enc", "base", needs_gina_host=True), product("portal", needs_gina_host=True)
)

# ------------------------------------------------------------------------------------ check_domain


@dataclass(frozen=True)
class DomainCase:
    id: str
    reason: str | None
    mentions: tuple[str, ...] = ()
    domain: Domain = field(default_factory=domain)
    tenant: Tenant | None = field(default_factory=tenant)
    services: Sequence[Service] = (BASE,)
    products: Mapping[str, Product] = field(default_factory=lambda: PRODUCTS)
    claims: Sequence[DomainClaim] = ()
    base_product: str = "base"
    proof_required: bool = False
    hidden: tuple[str, ...] = ()
    """What the message must not say (another partner's namespace and objects)."""


def proven_status(at: datetime) -> DomainStatus:
    return DomainStatus(phase=P.PROVISIONING, verification=DnsVerification(ownership_verified_at=at))


DOMAIN_CASES = [
    DomainCase("passes", None),
    DomainCase("passes-with-own-claim", None, claims=(own_claim(domain()),)),
    # TenantNotFound
    DomainCase("no-tenant", "TenantNotFound", ("'acme'", "spec.tenantRef"), tenant=None),
    DomainCase(
        "no-tenant-is-checked-first",
        "TenantNotFound",
        ("'acme'",),
        tenant=None,
        services=(),
        claims=(claim("x", created=OLDER),),
    ),
    # DomainConflict, oldest claim wins (no proof asked for: policy dns.verify off)
    DomainCase(
        "older-claim-of-another-partners-tenant-wins-unnamed",
        "DomainConflict",
        (DOMAIN_NAME, "a tenant of another partner", "ordered earlier"),
        claims=(own_claim(domain()), claim("other-acme", created=OLDER)),
        hidden=("partner-b", "other-acme", "'other'"),
    ),
    DomainCase(
        "older-claim-of-another-tenant-in-this-namespace-is-named",
        "DomainConflict",
        ("Domain 'rival-acme' of tenant 'rival'",),
        claims=(claim("rival-acme", tenant="rival", namespace=NS, created=OLDER),),
    ),
    DomainCase(
        "same-tenant-name-in-another-namespace-is-another-tenant",
        "DomainConflict",
        ("a tenant of another partner",),
        claims=(claim("acme-com", tenant="acme", namespace="partner-b", created=OLDER),),
        hidden=("partner-b",),
    ),
    DomainCase(
        "older-duplicate-of-the-same-tenant-is-a-conflict-too",
        "DomainConflict",
        ("'acme-com-old'", "same tenant"),
        claims=(claim("acme-com-old", tenant="acme", namespace=NS, created=OLDER),),
    ),
    DomainCase(
        "given-up-older-claim-is-no-conflict",
        None,
        claims=(claim("other-acme", created=OLDER, active=False),),
    ),
    DomainCase("younger-claim-is-no-conflict", None, claims=(claim("other-acme", created=YOUNGER),)),
    DomainCase(
        "equal-time-smaller-uid-wins",
        "DomainConflict",
        (DOMAIN_NAME,),
        claims=(claim("other-acme", created=CREATED, uid_="uid-0000"),),
    ),
    DomainCase(
        "equal-time-larger-uid-loses",
        None,
        claims=(claim("other-acme", created=CREATED, uid_="uid-zzzz"),),
    ),
    DomainCase(
        "the-oldest-of-several-older-claims-is-named",
        "DomainConflict",
        ("Domain 'oldest' of tenant 'third'",),
        claims=(
            claim("older", tenant="second", namespace=NS, created=OLDER),
            claim("oldest", tenant="third", namespace=NS, created=OLDER - timedelta(days=1)),
            claim("given-up", tenant="fourth", namespace=NS, created=OLDER - timedelta(days=2), active=False),
        ),
    ),
    DomainCase(
        "conflict-is-checked-before-the-base-service",
        "DomainConflict",
        (DOMAIN_NAME,),
        services=(),
        claims=(claim("other-acme", created=OLDER),),
    ),
    # DomainConflict, the name is won by proving it in DNS (dns.verify on)
    DomainCase(
        "an-unproven-older-claim-of-another-tenant-blocks-nothing",
        None,
        claims=(claim("squatter", created=OLDER),),
        proof_required=True,
    ),
    DomainCase(
        "a-proven-claim-of-another-tenant-blocks-an-unproven-one-even-if-younger",
        "DomainConflict",
        ("a tenant of another partner", f"proved it in DNS at {(T0 + timedelta(hours=1)).isoformat()}"),
        domain=domain(created=OLDER),
        claims=(claim("rightful", created=YOUNGER, proven=T0 + timedelta(hours=1)),),
        proof_required=True,
        hidden=("partner-b", "rightful"),
    ),
    DomainCase(
        "between-proven-claims-the-first-proof-wins",
        None,
        domain=domain(status=proven_status(T0)),
        claims=(claim("other", created=OLDER, proven=T0 + timedelta(minutes=1)),),
        proof_required=True,
    ),
    DomainCase(
        "between-proven-claims-the-later-proof-loses",
        "DomainConflict",
        (DOMAIN_NAME,),
        domain=domain(status=proven_status(T0 + timedelta(minutes=1))),
        claims=(claim("other", created=YOUNGER, proven=T0),),
        proof_required=True,
    ),
    DomainCase(
        "a-duplicate-of-the-same-tenant-needs-no-proof-to-block",
        "DomainConflict",
        ("'acme-com-old'", "same tenant"),
        claims=(claim("acme-com-old", tenant="acme", namespace=NS, created=OLDER),),
        proof_required=True,
    ),
    # BaseServiceMissing
    DomainCase("no-service-at-all", "BaseServiceMissing", ("'base'",), services=()),
    DomainCase("only-other-services", "BaseServiceMissing", ("'base'",), services=(service("acme-sig", "sig-only"),)),
    DomainCase(
        "base-cancelled-by-spec",
        "BaseServiceMissing",
        ("'base'",),
        services=(service("acme-base", cancelled=cancellation()),),
    ),
    DomainCase("base-deleted", "BaseServiceMissing", ("'base'",), services=(service("acme-base", deleted=T0),)),
    DomainCase(
        "base-in-phase-cancelled",
        "BaseServiceMissing",
        ("'base'",),
        services=(service("acme-base", phase=P.CANCELLED),),
    ),
    DomainCase(
        "base-deprovisioned",
        "BaseServiceMissing",
        ("'base'",),
        services=(service("acme-base", phase=P.DEPROVISIONED),),
    ),
    DomainCase(
        "one-cancelled-and-one-booked-base",
        None,
        services=(service("acme-base-old", cancelled=cancellation()), service("acme-base")),
    ),
    DomainCase("base-provisioned", None, services=(service("acme-base", phase=P.PROVISIONED),)),
    DomainCase(
        "the-policy-names-the-base-product",
        "BaseServiceMissing",
        ("'core'",),
        base_product="core",
    ),
    # MissingGinaHost (domain level)
    DomainCase(
        "gina-product-without-settings",
        "MissingGinaHost",
        ("sig-enc", "spec.deploymentSettings.ginaHost"),
        services=(BASE, service("acme-enc", "sig-enc")),
    ),
    DomainCase(
        "every-gina-product-is-named-sorted",
        "MissingGinaHost",
        ("Product(s) portal, sig-enc need a GINA host",),
        services=(BASE, service("acme-enc", "sig-enc"), service("acme-portal", "portal")),
        products=GINA_PRODUCTS,
    ),
    DomainCase(
        "gina-product-with-host",
        None,
        domain=domain(gina_host=GINA),
        services=(BASE, service("acme-enc", "sig-enc")),
    ),
    DomainCase(
        "cancelled-gina-product-needs-no-host",
        None,
        services=(BASE, service("acme-enc", "sig-enc", cancelled=cancellation())),
    ),
    DomainCase(
        "unknown-product-needs-no-host",
        None,
        services=(BASE, service("acme-x", "premium")),
    ),
]


@pytest.mark.parametrize("case", DOMAIN_CASES, ids=[c.id for c in DOMAIN_CASES])
def test_check_domain(case: DomainCase) -> None:
    failure = check_domain(
        case.domain,
        case.tenant,
        case.services,
        case.products,
        case.claims,
        case.base_product,
        proof_required=case.proof_required,
    )
    if case.reason is None:
        assert failure is None
        return
    assert failure is not None
    assert failure.reason == case.reason
    for fragment in case.mentions:
        assert fragment in failure.message
    for fragment in case.hidden:
        assert fragment not in failure.message


# ------------------------------------------------------------------------------------ check_service


@dataclass(frozen=True)
class ServiceCase:
    id: str
    service: Service
    reason: str | None
    mentions: tuple[str, ...] = ()
    domain: Domain | None = field(default_factory=domain)
    domain_failure: CheckFailure | None = None
    siblings: Sequence[Service] = (BASE,)
    products: Mapping[str, Product] = field(default_factory=lambda: PRODUCTS)


SIG = service("acme-sig", "sig-only")
ARCHIVE = service("acme-archive", "archive")
ENC = service("acme-enc", "sig-enc")
TENANT_FAILURE = CheckFailure("TenantNotFound", "Tenant 'acme' does not exist.")

SERVICE_CASES = [
    ServiceCase("base-passes", BASE, None),
    ServiceCase("dependent-passes", SIG, None, siblings=(BASE, SIG)),
    ServiceCase("chain-passes", ARCHIVE, None, siblings=(BASE, SIG, ARCHIVE)),
    ServiceCase("gina-product-with-host-passes", ENC, None, domain=domain(gina_host=GINA), siblings=(BASE, ENC)),
    # DomainNotFound
    ServiceCase("domain-missing", SIG, "DomainNotFound", ("'acme-com'", "spec.domainRef"), domain=None),
    ServiceCase(
        "domain-deleted", SIG, "DomainNotFound", ("'acme-com'",), domain=domain(deleted=T0), siblings=(BASE, SIG)
    ),
    ServiceCase(
        "domain-missing-is-checked-before-the-product",
        service("acme-x", "premium"),
        "DomainNotFound",
        ("'acme-com'",),
        domain=None,
    ),
    # ProductNotFound
    ServiceCase("product-not-in-catalogue", service("acme-x", "premium"), "ProductNotFound", ("'premium'",)),
    ServiceCase(
        "product-not-found-before-domain-failure",
        service("acme-x", "premium"),
        "ProductNotFound",
        ("'premium'",),
        domain_failure=TENANT_FAILURE,
    ),
    # MissingDependency
    ServiceCase(
        "required-product-not-booked",
        SIG,
        "MissingDependency",
        ("'sig-only' requires 'base'", DOMAIN_NAME),
        siblings=(SIG,),
    ),
    ServiceCase(
        "required-product-booked-only-by-a-cancelled-service",
        SIG,
        "MissingDependency",
        ("requires 'base'",),
        siblings=(service("acme-base", cancelled=cancellation()), SIG),
    ),
    ServiceCase(
        "required-product-booked-by-a-deleted-service",
        SIG,
        "MissingDependency",
        ("requires 'base'",),
        siblings=(service("acme-base", deleted=T0), SIG),
    ),
    ServiceCase(
        "required-product-booked-by-a-deprovisioned-service",
        SIG,
        "MissingDependency",
        ("requires 'base'",),
        siblings=(service("acme-base", phase=P.DEPROVISIONED), SIG),
    ),
    ServiceCase(
        "required-product-on-another-level-is-named",
        ARCHIVE,
        "MissingDependency",
        ("'archive' requires 'sig-only'",),
        siblings=(BASE, ARCHIVE),
    ),
    ServiceCase(
        "every-missing-product-is-named",
        service("acme-suite", "suite"),
        "MissingDependency",
        ("'suite' requires 'sig-only', 'sig-enc'",),
        products={**PRODUCTS, "suite": product("suite", "base", "sig-only", "sig-enc")},
    ),
    ServiceCase(
        "missing-dependency-before-domain-failure",
        SIG,
        "MissingDependency",
        ("requires 'base'",),
        siblings=(SIG,),
        domain_failure=TENANT_FAILURE,
    ),
    # MissingGinaHost (service level)
    ServiceCase(
        "gina-product-without-host",
        ENC,
        "MissingGinaHost",
        ("'sig-enc'", "spec.deploymentSettings.ginaHost", "Domain 'acme-com'"),
        siblings=(BASE, ENC),
    ),
    ServiceCase(
        "gina-before-domain-failure",
        ENC,
        "MissingGinaHost",
        ("'sig-enc'",),
        siblings=(BASE, ENC),
        domain_failure=TENANT_FAILURE,
    ),
    # the domain's failure
    ServiceCase(
        "domain-failure-is-propagated",
        BASE,
        "TenantNotFound",
        ("Domain 'acme-com': Tenant 'acme' does not exist.",),
        domain_failure=TENANT_FAILURE,
    ),
    ServiceCase(
        "domain-conflict-is-propagated",
        SIG,
        "DomainConflict",
        ("Domain 'acme-com': acme.com is already claimed",),
        siblings=(BASE, SIG),
        domain_failure=CheckFailure("DomainConflict", "acme.com is already claimed by Domain partner-b/x."),
    ),
    *(
        ServiceCase(
            f"domain-{phase.value}",
            SIG,
            "DomainCancelled",
            (f"Domain 'acme-com' is {phase.value}", "active domain"),
            domain=domain(phase=phase),
            siblings=(BASE, SIG),
        )
        for phase in (P.CANCELLED, P.DEPROVISIONING, P.DEPROVISIONED)
    ),
]


@pytest.mark.parametrize("case", SERVICE_CASES, ids=[c.id for c in SERVICE_CASES])
def test_check_service(case: ServiceCase) -> None:
    failure = check_service(case.service, case.domain, case.domain_failure, case.siblings, case.products)
    if case.reason is None:
        assert failure is None
        return
    assert failure is not None
    assert failure.reason == case.reason
    for fragment in case.mentions:
        assert fragment in failure.message


# ------------------------------------------------------------------------------------ the guards


@pytest.mark.parametrize(
    ("svc", "requested", "booked"),
    [
        (service("s"), False, True),
        (service("s", phase=P.ORDERED), False, True),
        (service("s", phase=P.CONFIRMED), False, True),
        (service("s", phase=P.PROVISIONING), False, True),
        (service("s", phase=P.PROVISIONED), False, True),
        (service("s", phase=P.CANCELLED), False, False),
        (service("s", phase=P.DEPROVISIONING), False, False),
        (service("s", phase=P.DEPROVISIONED), False, False),
        (service("s", phase=P.PROVISIONED, cancelled=cancellation()), True, False),
        (service("s", phase=P.PROVISIONED, deleted=T0), True, False),
    ],
    ids=[
        "new",
        "ordered",
        "confirmed",
        "provisioning",
        "provisioned",
        "cancelled",
        "deprovisioning",
        "deprovisioned",
        "cancellation-requested",
        "deleted",
    ],
)
def test_booked_and_cancel_requested(svc: Service, requested: bool, booked: bool) -> None:
    assert is_cancel_requested(svc) is requested
    assert is_booked(svc) is booked


def test_conflicting_claim_ignores_the_domains_own_claim_even_if_older_by_clock() -> None:
    d = domain()
    own = DomainClaim(NS, d.name, "someone-else", OLDER, uid("Domain", d.name), True, proven=OLDER)
    assert conflicting_claim(d, [own], proof_required=False) is None
    assert conflicting_claim(d, [own], proof_required=True) is None


def test_conflicting_claim_returns_the_oldest_older_claim() -> None:
    d = domain()
    oldest = claim("oldest", created=OLDER - timedelta(hours=1))
    claims = [claim("older", created=OLDER), oldest, claim("younger", created=YOUNGER)]
    assert conflicting_claim(d, claims, proof_required=False) == oldest


def test_with_proof_required_the_first_proven_claim_is_returned_whatever_its_age() -> None:
    d = domain()
    first = claim("first", created=YOUNGER, proven=T0)
    second = claim("second", created=OLDER, proven=T0 + timedelta(hours=1))
    claims = [claim("oldest-unproven", created=OLDER - timedelta(days=3)), second, first]
    assert conflicting_claim(d, claims, proof_required=True) == first


def test_the_younger_domain_is_confirmed_once_the_older_claim_is_given_up() -> None:
    d = domain()
    older = claim("other-acme", created=OLDER)
    failure = check_domain(d, tenant(), [BASE], PRODUCTS, [older], "base", proof_required=False)
    assert failure is not None
    assert failure.reason == "DomainConflict"
    given_up = DomainClaim(**{**older.__dict__, "active": False})
    assert check_domain(d, tenant(), [BASE], PRODUCTS, [given_up], "base", proof_required=False) is None


@pytest.mark.parametrize(
    ("status", "proven"),
    [
        (DomainStatus(), None),
        (DomainStatus(phase=P.PROVISIONING, verification=DnsVerification(attempts=3)), None),
        (DomainStatus(phase=P.PROVISIONING, verification=DnsVerification(ownership_verified_at=T0)), T0),
        # Verified before ownership was recorded on its own: every record, the TXT one among them.
        (DomainStatus(phase=P.PROVISIONED, verification=DnsVerification(verified_at=T0)), T0),
        # Deployed while no proof was asked for: the name is held by the deployed domain.
        (DomainStatus(phase=P.PROVISIONED, provisioned_at=T0), T0),
    ],
    ids=["new", "checked-not-found", "txt-found", "verified-before-ownership-was-recorded", "deployed-unverified"],
)
def test_claim_of_says_since_when_the_name_is_proven(status: DomainStatus, proven: datetime | None) -> None:
    assert claim_of(domain(status=status)).proven == proven


@pytest.mark.parametrize(
    ("phase", "deleted", "active"),
    [(None, None, True), (P.PROVISIONED, None, True), (P.CANCELLED, None, False), (P.ORDERED, T0, False)],
    ids=["new", "provisioned", "cancelled", "deleted"],
)
def test_claim_of_is_given_up_once_cancelled_or_deleted(
    phase: P | None, deleted: datetime | None, active: bool
) -> None:
    assert claim_of(domain(phase=phase, deleted=deleted)).active is active
