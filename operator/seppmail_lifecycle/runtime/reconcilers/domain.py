"""The domain aggregate: a Domain with all its services, gathered from the store, settled by the
core (``core.driver.settle_domain``), written back; the mandatory base service booked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from seppmail_lifecycle import API_VERSION
from seppmail_lifecycle.backend.labels import MANAGED_BY, MANAGER, label_value
from seppmail_lifecycle.backend.routing_configmap import from_configmap
from seppmail_lifecycle.core.consistency import DomainClaim, claim_of
from seppmail_lifecycle.core.driver import Effect, EffectFailed, drive, settle_domain
from seppmail_lifecycle.core.ids import derived_name
from seppmail_lifecycle.core.license_effects import NONE as NO_LICENSE_EFFECTS
from seppmail_lifecycle.core.license_effects import license_effects
from seppmail_lifecycle.core.model import Contract, DeployRequest, Domain, Product, Service
from seppmail_lifecycle.core.orders import DomainOutcome, DomainWorld, finalizer_wanted
from seppmail_lifecycle.core.routing import RoutingConfig
from seppmail_lifecycle.kube.convert import controller_reference
from seppmail_lifecycle.kube.store import Entry, Store
from seppmail_lifecycle.runtime.context import Context
from seppmail_lifecycle.runtime.keys import MAIL


class BackendFailure(RuntimeError):
    """The backend refused an effect; the Domain's BackendReady condition carries the error."""


def routing_of(store: Store, namespace: str, domain_object: str) -> RoutingConfig | None:
    """The routing config the backend holds for a Domain object, as last observed."""
    for entry in store.lookup("routing_by_domain", (namespace, label_value(domain_object))):
        config = from_configmap(entry.raw)
        if config.domain_object == domain_object:
            return config
    return None


def gather_domain(store: Store, namespace: str, name: str) -> tuple[DomainWorld, list[tuple[str, Entry]]]:
    """Everything the domain's decision reads, and the entries whose spec cannot be read."""
    invalid: list[tuple[str, Entry]] = []
    domain_entry = store.get("Domain", namespace, name)
    domain: Domain | None = domain_entry.obj if domain_entry else None
    if domain_entry is not None and domain_entry.error:
        invalid.append(("Domain", domain_entry))
    services: list[Service] = []
    for entry in store.lookup("services_by_domain", (namespace, name)):
        if entry.obj is not None:
            services.append(entry.obj)
        else:
            invalid.append(("Service", entry))
    tenant = None
    claims: tuple[DomainClaim, ...] = ()
    if domain is not None:
        tenant_entry = store.get("Tenant", namespace, domain.spec.tenant_ref.name)
        tenant = tenant_entry.obj if tenant_entry else None
        claims = tuple(claim_of(other) for other in store.objects("domains_by_name", domain.spec.domain_name))
    requests: list[DeployRequest] = [
        request
        for request in store.objects("deployrequests_by_namespace", namespace)
        if request.status.completed_at is not None
    ]
    licenses = store.objects("licenses_by_tenant", (namespace, domain.spec.tenant_ref.name)) if domain else []
    contracts = contracts_of(store, namespace, services)
    world = DomainWorld(
        license=license_effects(licenses) if domain else NO_LICENSE_EFFECTS,
        namespace=namespace,
        domain_ref=name,
        domain=domain,
        tenant=tenant,
        services=tuple(services),
        products=products_of(store),
        claims=claims,
        deploy_requests=tuple(requests),
        routing=routing_of(store, namespace, name),
        contracts=contracts,
        invoices={c: tuple(store.objects("invoices_by_contract", (namespace, c))) for c in contracts},
    )
    return world, invalid


def products_of(store: Store) -> dict[str, Product]:
    """The catalogue, by product name."""
    return {e.obj.name: e.obj for e in store.all("Product") if e.obj is not None}


def contracts_of(store: Store, namespace: str, services: Sequence[Service]) -> dict[str, Contract]:
    """The contracts the services name (those that exist), by name."""
    found: dict[str, Contract] = {}
    for service in services:
        ref = service.spec.contract_ref
        if ref is not None and ref.name not in found:
            entry = store.get("Contract", namespace, ref.name)
            if entry is not None and entry.obj is not None:
                found[ref.name] = entry.obj
    return found


async def reconcile_domain(ctx: Context, namespace: str, name: str) -> None:
    held = ctx.store.get("Domain", namespace, name)
    tenant = held.obj.spec.tenant_ref.name if held is not None and held.obj is not None else None
    # From gathering to writing: a purge of the tenant waits for this reconcile, or this one for
    # the purge (``runtime.tenant_locks``). tenantRef is immutable, so it can be read before.
    async with ctx.tenants.shared(namespace, tenant):
        await _reconcile(ctx, namespace, name)


async def _reconcile(ctx: Context, namespace: str, name: str) -> None:
    world, invalid = gather_domain(ctx.store, namespace, name)
    now = ctx.clock()
    for kind, entry in invalid:
        await ctx.writer.write_invalid(kind, entry, now)
    failures: list[str] = []

    async def perform(effect: Effect) -> Any:
        observed = await ctx.effects.perform(effect)
        if isinstance(observed, EffectFailed):
            failures.append(observed.error)
        return observed

    outcome = await drive(settle_domain(world, ctx.policy, now), perform)
    if await write_domain_outcome(ctx, world, outcome) and world.domain is not None:
        ctx.enqueue((MAIL, namespace, world.domain.spec.tenant_ref.name))
    ctx.wake_at(("Domain", namespace, name), outcome.wake_at)
    if failures:  # written as BackendReady=False above; retried with backoff
        raise BackendFailure(failures[-1])


async def write_domain_outcome(ctx: Context, world: DomainWorld, outcome: DomainOutcome) -> bool:
    """Write the statuses and finalizers that changed, book the base service; True if a status
    was written."""
    namespace = world.namespace
    written = False
    if outcome.domain is not None and world.domain is not None:
        written = await _write_order(ctx, "Domain", namespace, outcome.domain, world.domain.meta.deleted is not None)
    deleted = {s.name: s.meta.deleted is not None for s in world.services}
    for decision in outcome.services:
        written = await _write_order(ctx, "Service", namespace, decision, deleted[decision.name]) or written
    if outcome.book_base_service and world.domain is not None:
        await book_base_service(ctx, world.domain)
    return written


async def _write_order(ctx: Context, kind: str, namespace: str, decision: Any, deleted: bool) -> bool:
    entry = ctx.store.get(kind, namespace, decision.name)
    if entry is None:
        return False
    written = await ctx.writer.write_status(kind, entry, decision.status, decision.transitions)
    wanted = finalizer_wanted(decision, deleted)
    entry = ctx.store.get(kind, namespace, decision.name)  # the written version, if it was
    if wanted is not None and entry is not None:
        await ctx.writer.set_finalizer(kind, entry, wanted)
    return written


async def book_base_service(ctx: Context, domain: Domain) -> None:
    """Book the mandatory base service a domain lacks, owned by the Domain (collected with it)."""
    namespace = domain.meta.namespace or ""
    product = ctx.policy.base_product
    body = {
        "apiVersion": API_VERSION,
        "kind": "Service",
        "metadata": {
            "name": derived_name("", domain.name, f"-{product}"),
            "labels": {MANAGED_BY: MANAGER},
            "ownerReferences": [controller_reference("Domain", domain.name, domain.meta.uid)],
        },
        "spec": {"domainRef": {"name": domain.name}, "product": product},
    }
    created = await ctx.writer.create("Service", namespace, body)
    if created is None:  # booked by an earlier attempt
        return
    ctx.post_event(
        created,
        type="Normal",
        reason="BaseServiceBooked",
        message=f"Booked the mandatory {product!r} service for domain {domain.name!r}.",
    )
    ctx.enqueue(("Domain", namespace, domain.name))
