"""Small builders for the core's objects: every test states only what matters to it.

Everything is pinned: a fixed ``T0``, a policy with explicit values, deterministic UIDs derived
from kind and name, and a small catalogue (base, sig-only, sig-enc with a GINA host, archive
requiring sig-only).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from typing import Any, Literal, TypeVar

from seppmail_lifecycle.api.common import Condition, HistoryEntry, LocalObjectRef, Money
from seppmail_lifecycle.api.contract import ContractSpec, ContractStatus
from seppmail_lifecycle.api.deployrequest import DeployRequestSpec, DeployRequestStatus
from seppmail_lifecycle.api.domain import DeploymentSettings, DomainSpec, DomainStatus
from seppmail_lifecycle.api.invoice import InvoiceLine, InvoicePeriod, InvoiceSpec, InvoiceStatus, LineKind
from seppmail_lifecycle.api.payment import PaymentSpec, PaymentStatus
from seppmail_lifecycle.api.policy import AutoDeployPolicy, Policy
from seppmail_lifecycle.api.product import ProductBilling, ProductSpec, ProductStatus
from seppmail_lifecycle.api.service import Cancellation, Discount, ServiceSpec, ServiceStatus
from seppmail_lifecycle.api.states import DeployRequestPhase, InvoiceState, OrderPhase
from seppmail_lifecycle.api.tenant import TenantContact, TenantSpec, TenantStatus
from seppmail_lifecycle.core.consistency import DomainClaim, claim_of
from seppmail_lifecycle.core.invoicing import invoice_name, money
from seppmail_lifecycle.core.model import (
    Contract,
    DeployRequest,
    Domain,
    Invoice,
    Meta,
    Obj,
    Payment,
    Product,
    Service,
    Tenant,
)
from seppmail_lifecycle.core.orders import EXPEDITE_ANNOTATION, DomainWorld
from seppmail_lifecycle.core.routing import RoutedService, RoutingConfig

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
"""A Monday, 10:00 UTC: between the 08:00 and 14:00 automatic deployment windows."""

NS = "partner-a"
TENANT = "acme"
DOMAIN = "acme-com"
DOMAIN_NAME = "acme.com"
GINA = "gina.acme.com"
CREATED = T0 - timedelta(hours=1)

POLICY = Policy(
    cancellation_delay=timedelta(days=30),
    auto_deploy=AutoDeployPolicy(every=timedelta(hours=6), offset=timedelta(hours=2)),
    retention=timedelta(days=90),
    base_product="base",
)

EXPEDITE = {EXPEDITE_ANNOTATION: "true"}

_Unset: Any = object()
ObjT = TypeVar("ObjT", bound=Obj[Any, Any])


def uid(kind: str, name: str, namespace: str | None = NS) -> str:
    return f"uid-{kind.lower()}-{namespace or 'cluster'}-{name}"


def meta(
    kind: str,
    name: str,
    *,
    namespace: str | None = NS,
    uid_: str | None = None,
    created: datetime = CREATED,
    deleted: datetime | None = None,
    annotations: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    generation: int = 1,
) -> Meta:
    return Meta(
        name=name,
        namespace=namespace,
        uid=uid_ or uid(kind, name, namespace),
        generation=generation,
        created=created,
        deleted=deleted,
        annotations=dict(annotations or {}),
        labels=dict(labels or {}),
    )


# ---------------------------------------------------------------------------------------- catalogue


def product(name: str, *requires: str, needs_gina_host: bool = False, one_time: bool = False) -> Product:
    spec = ProductSpec(
        display_name=f"seppmail.cloud {name}",
        requires=list(requires),
        billing=ProductBilling(type="one-time" if one_time else "recurring"),
        needs_gina_host=needs_gina_host,
    )
    return Obj(meta("Product", name, namespace=None), spec, ProductStatus())


def catalogue(*products: Product) -> dict[str, Product]:
    return {p.name: p for p in products}


PRODUCTS = catalogue(
    product("base"),
    product("sig-only", "base"),
    product("sig-enc", "base", needs_gina_host=True),
    product("archive", "sig-only"),
)


# ---------------------------------------------------------------------------------------- objects


def tenant(name: str = TENANT, *, namespace: str = NS, status: TenantStatus | None = None, **meta_kw: Any) -> Tenant:
    spec = TenantSpec(display_name=f"{name.title()} AG", contact=TenantContact(email=f"admin@{name}.example"))
    return Obj(meta("Tenant", name, namespace=namespace, **meta_kw), spec, status or TenantStatus())


_make_tenant = tenant  # world() has a `tenant=` keyword that shadows this builder


def domain(
    name: str = DOMAIN,
    *,
    tenant: str = TENANT,
    domain_name: str = DOMAIN_NAME,
    gina_host: str | None = None,
    phase: OrderPhase | None = None,
    status: DomainStatus | None = None,
    namespace: str = NS,
    confidential: bool = False,
    **meta_kw: Any,
) -> Domain:
    spec = DomainSpec(
        tenant_ref=LocalObjectRef(name=tenant),
        domain_name=domain_name,
        confidential=confidential,
        deployment_settings=DeploymentSettings(gina_host=gina_host) if gina_host else None,
    )
    status = status or DomainStatus()
    if phase is not None:
        status = status.model_copy(update={"phase": phase})
    return Obj(meta("Domain", name, namespace=namespace, **meta_kw), spec, status)


_make_domain = domain  # world() has a `domain=` keyword that shadows this builder


def cancellation(end_billing_date: date | None = None, reason: str | None = None) -> Cancellation:
    return Cancellation(end_billing_date=end_billing_date, reason=reason)


def service(
    name: str,
    product: str = "base",
    *,
    domain: str = DOMAIN,
    users: int = 0,
    discount: tuple[int, str | None] | None = None,
    cancelled: Cancellation | None = None,
    phase: OrderPhase | None = None,
    status: ServiceStatus | None = None,
    namespace: str = NS,
    **meta_kw: Any,
) -> Service:
    spec = ServiceSpec(
        domain_ref=LocalObjectRef(name=domain),
        product=product,
        users=users,
        discount=Discount(percent=discount[0], reason=discount[1]) if discount else None,
        cancellation=cancelled,
    )
    status = status or ServiceStatus()
    if phase is not None:
        status = status.model_copy(update={"phase": phase})
    return Obj(meta("Service", name, namespace=namespace, **meta_kw), spec, status)


def deploy_request(
    name: str = "deploy-1",
    *domains: str,
    completed_at: datetime | None = None,
    namespace: str = NS,
    **meta_kw: Any,
) -> DeployRequest:
    """A DeployRequest covering ``domains`` (none: every domain); with ``completed_at`` it has
    been carried out (what it deployed follows from its spec and that time)."""
    status = DeployRequestStatus()
    if completed_at is not None:
        status = DeployRequestStatus(phase=DeployRequestPhase.COMPLETED, completed_at=completed_at)
    return Obj(
        meta("DeployRequest", name, namespace=namespace, **meta_kw), DeployRequestSpec(domains=list(domains)), status
    )


def claim(
    name: str,
    *,
    tenant: str = "other",
    namespace: str = "partner-b",
    created: datetime = CREATED,
    uid_: str | None = None,
    active: bool = True,
    proven: datetime | None = None,
) -> DomainClaim:
    return DomainClaim(
        namespace=namespace,
        name=name,
        tenant=tenant,
        created=created,
        uid=uid_ or uid("Domain", name, namespace),
        active=active,
        proven=proven,
    )


def own_claim(d: Domain) -> DomainClaim:
    """The claim a domain makes on its own name (the cluster-wide lookup always finds it)."""
    return claim_of(d)


def routing(*services: tuple[str, str], domain_name: str = DOMAIN_NAME, gina_host: str | None = None) -> RoutingConfig:
    """A routing config as the backend would report it, with (service, product) pairs."""
    return RoutingConfig(
        tenant=TENANT,
        domain_object=DOMAIN,
        domain_name=domain_name,
        accepted=True,
        gina_host=gina_host,
        services=tuple(RoutedService(n, p) for n, p in sorted(services)),
    )


def world(
    *services: Service,
    domain: Domain | None = _Unset,
    tenant: Tenant | None = _Unset,
    products: Mapping[str, Product] = PRODUCTS,
    claims: Iterable[DomainClaim] = _Unset,
    deploy_requests: Iterable[DeployRequest] = (),
    routing: RoutingConfig | None = None,
    namespace: str = NS,
    domain_ref: str = DOMAIN,
) -> DomainWorld:
    """A domain aggregate; by default the domain ``acme-com`` of tenant ``acme``, claiming its own name."""
    d = _make_domain() if domain is _Unset else domain
    t = _make_tenant() if tenant is _Unset else tenant
    if claims is _Unset:
        claims = (own_claim(d),) if d is not None else ()
    return DomainWorld(
        namespace=namespace,
        domain_ref=domain_ref,
        domain=d,
        tenant=t,
        services=tuple(services),
        products=products,
        claims=tuple(claims),
        deploy_requests=tuple(deploy_requests),
        routing=routing,
    )


# ---------------------------------------------------------------------------------------- editing


def with_spec(obj: ObjT, **update: Any) -> ObjT:
    return replace(obj, spec=obj.spec.model_copy(update=update))


def with_status(obj: ObjT, **update: Any) -> ObjT:
    return replace(obj, status=obj.status.model_copy(update=update))


def with_meta(obj: ObjT, **update: Any) -> ObjT:
    return replace(obj, meta=replace(obj.meta, **update))


def condition(
    type_: str,
    status: Literal["True", "False", "Unknown"],
    reason: str = "Reason",
    message: str = "",
    since: datetime = T0,
    generation: int = 1,
) -> Condition:
    return Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=since,
        observed_generation=generation,
    )


def history(*entries: tuple[str | None, str, str]) -> list[HistoryEntry]:
    return [HistoryEntry(at=T0, from_=f, to=t, reason=r) for f, t, r in entries]


# ---------------------------------------------------------------------------------------- billing

CONTRACT = "acme-main"
OPENED = datetime(2027, 1, 1, 9, tzinfo=UTC)
"""When the default contract was created: monthly periods start on the 1st, UTC."""


def priced(name: str, amount: str | None, *, currency: str = "CHF", one_time: bool = False) -> Product:
    """A catalogue product with a list price per user (and month, if recurring)."""
    price = Money(amount=amount, currency=currency) if amount is not None else None
    billing = ProductBilling(type="one-time" if one_time else "recurring", price=price)
    return with_spec(product(name, one_time=one_time), billing=billing)


def contract(
    name: str = CONTRACT,
    *,
    created: datetime = OPENED,
    interval: Literal["monthly", "quarterly", "yearly"] = "monthly",
    trial_days: int = 0,
    auto_renew: bool = True,
) -> Contract:
    spec = ContractSpec(
        tenant_ref=LocalObjectRef(name=TENANT),
        billing_interval=interval,
        trial_days=trial_days,
        auto_renew=auto_renew,
    )
    return Obj(meta("Contract", name, created=created), spec, ContractStatus())


def line(
    kind: LineKind, first: date, last: date, *, service: str = "svc-a", amount: str = "100.00", product: str = "base"
) -> InvoiceLine:
    return InvoiceLine(
        service=service,
        product=product,
        kind=kind,
        first_day=first,
        last_day=last,
        quantity=10,
        unit_price="10",
        amount=amount,
    )


def invoice(
    *lines: InvoiceLine,
    state: InvoiceState | None = InvoiceState.PAID,
    start: date | None = None,
    end: date | None = None,
    revision: int = 1,
    contract: str = CONTRACT,
) -> Invoice:
    """A hand-made invoice with ``lines`` (its period: theirs, unless given)."""
    first = start or min(x.first_day for x in lines)
    last = end or max(x.last_day for x in lines)
    spec = InvoiceSpec(
        contract_ref=LocalObjectRef(name=contract),
        tenant_ref=LocalObjectRef(name=TENANT),
        period=InvoicePeriod(start=first, end=last),
        revision=revision,
        due_date=first - timedelta(days=1),
        lines=list(lines),
        total=Money(amount=money(sum((D(x.amount) for x in lines), D(0))), currency="CHF"),
    )
    name = invoice_name(contract, first, revision)
    return Obj(meta("Invoice", name, created=OPENED), spec, InvoiceStatus(state=state))


def payment(
    name: str, invoice: str, amount: str, paid_at: datetime, *, currency: str = "CHF", reference: str = ""
) -> Payment:
    spec = PaymentSpec(
        invoice_ref=LocalObjectRef(name=invoice),
        amount=Money(amount=amount, currency=currency),
        paid_at=paid_at,
        reference=reference,
    )
    return Obj(meta("Payment", name, created=paid_at), spec, PaymentStatus())
