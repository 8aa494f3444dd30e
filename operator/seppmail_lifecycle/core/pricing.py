"""What services cost by the catalogue (seed 001): the usage statement of a month ("Usage
Reporting": per tenant and service the billable days, users, discount and amount) and an offer
("Create Offer": a quote for a tenant's services and planned ones).

Prices are a product's list price per user and month (one-time products: per user, once).
A month's usage of a recurring service is prorated by day: price x users x days billed / days of
the month, the discount applied, rounded half-up to cents per line (``discounted``, the same rule
the invoices use). Days are calendar days of the business time zone: a service is billed from
``status.billing.start`` to ``status.billing.end`` (or on, while it is not cancelled). Users are
those of the spec now: the statement does not know earlier user counts. Pure.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP
from decimal import Decimal as D

from seppmail_lifecycle.core.billing import discount_label
from seppmail_lifecycle.core.model import Domain, Product, Service

CENT = D("0.01")


def cents(value: D) -> D:
    """Rounded half-up to cents (never banker's rounding, never a float)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def discounted(unit: D, quantity: int, percent: int) -> D:
    """``unit`` x ``quantity`` less ``percent`` (not yet rounded)."""
    return unit * quantity * (100 - percent) / 100


@dataclass(frozen=True)
class PricedLine:
    tenant: str
    domain: str
    service: str
    number: int | None
    product: str
    users: int
    discount: str | None
    """The discount as shown: "10 (nfr)"."""
    amount: D
    currency: str
    days: int | None = None
    """Billable days in the month (a usage line of a recurring product)."""
    month_days: int | None = None
    one_time: bool = False


def _discount(service: Service) -> tuple[int, str | None]:
    """The percent, and the discount as services show it ("10 (nfr)")."""
    discount = service.spec.discount
    if discount is None:
        return 0, None
    return discount.percent, discount_label(discount.percent, discount.reason)


def _tenants(domains: Sequence[Domain]) -> dict[str, tuple[str, str]]:
    """Domain object name -> (tenant, domain name)."""
    return {d.name: (d.spec.tenant_ref.name, d.spec.domain_name) for d in domains}


def _priced(
    service: Service,
    product: Product,
    owner: tuple[str, str],
    unit: D,
    days: int | None = None,
    month_days: int | None = None,
) -> PricedLine:
    price = product.spec.billing.price
    assert price is not None
    percent, shown = _discount(service)
    return PricedLine(
        tenant=owner[0],
        domain=owner[1],
        service=service.name,
        number=service.status.number,
        product=product.name,
        users=service.spec.users,
        discount=shown,
        amount=cents(discounted(unit, service.spec.users, percent)),
        currency=price.currency,
        days=days,
        month_days=month_days,
        one_time=product.spec.billing.type == "one-time",
    )


def usage_statement(
    month: date, domains: Sequence[Domain], services: Sequence[Service], products: Mapping[str, Product]
) -> list[PricedLine]:
    """The usage of ``month`` (any day of it): every service billed on one of its days, by tenant,
    domain and number; a one-time product in the month its billing started."""
    first = month.replace(day=1)
    month_days = calendar.monthrange(first.year, first.month)[1]
    last = first + timedelta(days=month_days - 1)
    of_domain = _tenants(domains)
    lines: list[PricedLine] = []
    for service in services:
        billing = service.status.billing
        product = products.get(service.spec.product)
        owner = of_domain.get(service.spec.domain_ref.name)
        if billing is None or billing.start is None or product is None or owner is None:
            continue
        price = product.spec.billing.price
        if price is None:
            continue
        if product.spec.billing.type == "one-time":
            if first <= billing.start <= last:
                lines.append(_priced(service, product, owner, D(price.amount)))
            continue
        start, end = max(billing.start, first), min(billing.end or last, last)
        if end >= start:
            days = (end - start).days + 1
            unit = D(price.amount) * days / month_days
            lines.append(_priced(service, product, owner, unit, days=days, month_days=month_days))
    return sorted(lines, key=lambda x: (x.tenant, x.domain, x.number or 1 << 30, x.service))


def offer(
    tenant: str,
    domains: Sequence[Domain],
    services: Sequence[Service],
    products: Mapping[str, Product],
) -> list[PricedLine]:
    """A quote of what ``tenant``'s services (those not cancelled, and the planned ones passed in
    with them) cost per month; one-time products once."""
    of_domain = _tenants(domains)
    lines: list[PricedLine] = []
    for service in services:
        owner = of_domain.get(service.spec.domain_ref.name, (tenant, service.spec.domain_ref.name))
        product = products.get(service.spec.product)
        if owner[0] != tenant or product is None or product.spec.billing.price is None:
            continue
        if service.spec.cancellation is not None or service.meta.deleted is not None:
            continue
        lines.append(_priced(service, product, owner, D(product.spec.billing.price.amount)))
    return sorted(lines, key=lambda x: (x.domain, x.number or 1 << 30, x.service))


def totals(lines: Sequence[PricedLine]) -> dict[tuple[str, str, bool], D]:
    """Sum by (tenant, currency, one-time)."""
    out: dict[tuple[str, str, bool], D] = {}
    for line in lines:
        key = (line.tenant, line.currency, line.one_time)
        out[key] = out.get(key, D(0)) + line.amount
    return out
