"""The consistency check ("Confirm domains and services"): what must hold before an order is
confirmed. Each failure names exactly what is wrong and what to do, as a condition reason and
message."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from seppmail_lifecycle.api.states import OrderPhase
from seppmail_lifecycle.core.model import Domain, Product, Service, Tenant
from seppmail_lifecycle.core.order_machine import ENDING_PHASES
from seppmail_lifecycle.core.verification import ownership_proven

DOMAIN_CONFLICT = "DomainConflict"
"""The reason of a domain whose name another claim holds: the one failure that also sends a
provisioning domain back (its name was proven by another tenant first)."""


@dataclass(frozen=True)
class CheckFailure:
    reason: str
    message: str


@dataclass(frozen=True)
class DomainClaim:
    """A Domain object anywhere in the cluster claiming a domain name."""

    namespace: str
    name: str
    tenant: str
    created: datetime
    uid: str
    active: bool
    """False once the claim is given up (cancelled or deleted), so the name becomes free."""
    proven: datetime | None = None
    """Since when the claimant has proven the name is its own (``verification.ownership_proven``)."""

    def key(self) -> tuple[datetime, str]:
        return (self.created, self.uid)

    def same_tenant(self, other: DomainClaim) -> bool:
        return (self.namespace, self.tenant) == (other.namespace, other.tenant)


def claim_of(domain: Domain) -> DomainClaim:
    """The claim a Domain object makes on its name."""
    return DomainClaim(
        namespace=domain.meta.namespace or "",
        name=domain.name,
        tenant=domain.spec.tenant_ref.name,
        created=domain.meta.created,
        uid=domain.meta.uid,
        active=domain.meta.deleted is None and domain.status.phase not in ENDING_PHASES,
        proven=ownership_proven(domain.status),
    )


def is_cancel_requested(service: Service) -> bool:
    return service.spec.cancellation is not None or service.meta.deleted is not None


def is_booked(service: Service) -> bool:
    """Booked: ordered or further, and neither cancelled nor being cancelled."""
    phase = service.status.phase or OrderPhase.ORDERED
    return phase not in ENDING_PHASES and not is_cancel_requested(service)


def conflicting_claim(domain: Domain, claims: Iterable[DomainClaim], *, proof_required: bool) -> DomainClaim | None:
    """The active claim on the same name that takes precedence over ours, if any.

    An older Domain of the same tenant always does (a duplicate would give the gateways two
    routing configs for one name). Between tenants, when ownership must be proven by DNS, only a
    proven claim does, and over ours only if it was proven first: ordering a name first gives a
    squatter nothing, and the owner is never delayed by one. Without proof, the oldest claim wins."""
    ours = claim_of(domain)

    def precedes(other: DomainClaim) -> bool:
        if not proof_required or other.same_tenant(ours):
            return other.key() < ours.key()
        if other.proven is None:
            return False
        return ours.proven is None or (other.proven, *other.key()) < (ours.proven, *ours.key())

    rivals = [c for c in claims if c.active and c.uid != ours.uid and precedes(c)]
    return min(rivals, key=lambda c: (c.proven or c.created, *c.key())) if rivals else None


def check_domain(
    domain: Domain,
    tenant: Tenant | None,
    services: Sequence[Service],
    products: Mapping[str, Product],
    claims: Iterable[DomainClaim],
    base_product: str,
    *,
    proof_required: bool,
) -> CheckFailure | None:
    """``proof_required``: a name is won by proving it in DNS (policy ``dns.verify``)."""
    if tenant is None:
        return CheckFailure(
            "TenantNotFound",
            f"Tenant {domain.spec.tenant_ref.name!r} does not exist in this namespace: create it or fix "
            "spec.tenantRef.",
        )
    conflict = conflicting_claim(domain, claims, proof_required=proof_required)
    if conflict is not None:
        return CheckFailure(DOMAIN_CONFLICT, _conflict_message(domain, conflict))
    if not any(s.spec.product == base_product and is_booked(s) for s in services):
        return CheckFailure(
            "BaseServiceMissing",
            f"No {base_product!r} service is booked on the domain yet; the operator books one.",
        )
    needing = sorted({s.spec.product for s in services if is_booked(s) and _needs_gina(products.get(s.spec.product))})
    if needing and not (domain.spec.deployment_settings and domain.spec.deployment_settings.gina_host):
        return CheckFailure(
            "MissingGinaHost",
            f"Product(s) {', '.join(needing)} need a GINA host: set spec.deploymentSettings.ginaHost.",
        )
    return None


def _conflict_message(domain: Domain, conflict: DomainClaim) -> str:
    name = domain.spec.domain_name
    if conflict.same_tenant(claim_of(domain)):
        return (
            f"{name} is already ordered as Domain {conflict.name!r} of the same tenant; book services on that "
            "Domain and delete this duplicate."
        )
    how = (
        f"whose owner proved it in DNS at {conflict.proven.isoformat()}"
        if conflict.proven is not None
        else "ordered earlier"
    )
    # Another partner's objects are not named: which customers a partner has is its own business.
    whose = (
        f"Domain {conflict.name!r} of tenant {conflict.tenant!r}"
        if conflict.namespace == (domain.meta.namespace or "")
        else "a tenant of another partner"
    )
    return f"{name} is already claimed by {whose}, {how}; this domain will not be deployed."


def _needs_gina(product: Product | None) -> bool:
    return product is not None and product.spec.needs_gina_host


def check_service(
    service: Service,
    domain: Domain | None,
    domain_failure: CheckFailure | None,
    siblings: Sequence[Service],
    products: Mapping[str, Product],
) -> CheckFailure | None:
    """Service-level checks; ``domain_failure`` is the domain's own check result."""
    if domain is None or domain.meta.deleted is not None:
        return CheckFailure(
            "DomainNotFound",
            f"Domain {service.spec.domain_ref.name!r} does not exist in this namespace: create it or fix "
            "spec.domainRef.",
        )
    domain_phase = domain.status.phase or OrderPhase.ORDERED
    if domain_phase in ENDING_PHASES:
        return CheckFailure(
            "DomainCancelled",
            f"Domain {domain.name!r} is {domain_phase.value}: book services on an active domain.",
        )
    product = products.get(service.spec.product)
    if product is None:
        return CheckFailure(
            "ProductNotFound",
            f"Product {service.spec.product!r} is not in the catalogue (kubectl get products.lifecycle).",
        )
    booked = {s.spec.product for s in siblings if s.name != service.name and is_booked(s)}
    missing = [required for required in product.spec.requires if required not in booked]
    if missing:
        return CheckFailure(
            "MissingDependency",
            f"Product {service.spec.product!r} requires {', '.join(repr(m) for m in missing)} booked on domain "
            f"{domain.spec.domain_name}: add a Service with that product.",
        )
    if product.spec.needs_gina_host and not (
        domain.spec.deployment_settings and domain.spec.deployment_settings.gina_host
    ):
        return CheckFailure(
            "MissingGinaHost",
            f"Product {service.spec.product!r} needs a GINA host: set spec.deploymentSettings.ginaHost on "
            f"Domain {domain.name!r}.",
        )
    if domain_failure is not None:
        return CheckFailure(domain_failure.reason, f"Domain {domain.name!r}: {domain_failure.message}")
    return None
