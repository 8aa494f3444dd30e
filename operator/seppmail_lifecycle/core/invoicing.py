"""Invoicing of a contract (seed 004): which periods each service is paid for, the invoices a
contract's periods call for, and what payments and changes do to them.

The rules, each a pure function of (contract, its services, invoices, payments, policy, now):

- **Coverage.** A service is covered from its first billed day (``status.billing.start``) to the
  end of the trial or of the period it joined in (those days of a joined period are billed on the
  next invoice, prorated), then by every *paid* invoice with a renewal line for it. Its
  ``expiresAt`` is the end of the covered span it is in (or was last in).
- **Invoices.** For the next period, from ``invoiceLeadTime`` before it starts, and for the current
  period while a renewing service is not covered (it lapsed, or was continued late): one invoice
  per period with a renewal line for every renewing service not yet paid for that period, a
  proration line for each service that joined the previous period, and a line for each one-time
  product not billed yet. An unpaid one-time or prorated charge is carried to the invoice made now
  while its service is in use; once the service is removed, deleted or discontinued it is owed on
  the period it fell due for (and its revisions) only, never carried on. Lines already on a paid
  invoice are never invoiced again.
- **Revisions.** When what a period should bill changes, its open invoice is voided (reimbursed if
  partly paid) and the next revision created; a paid invoice for a period not yet started that
  renews a service which no longer renews (Discontinue Service, cancellation) is reimbursed and
  replaced. An open invoice whose period ended is void. Names derive from (contract, period start,
  revision), so a retry or a restart never creates a second one.
- **Payments** in the invoice's currency count towards it; once they cover the total it is paid.

Amounts are ``decimal.Decimal`` rounded half-up to cents per line; never floats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP
from decimal import Decimal as D

from seppmail_lifecycle.api.common import LocalObjectRef, Money
from seppmail_lifecycle.api.invoice import InvoiceLine, InvoicePeriod, InvoiceSpec, LineKind
from seppmail_lifecycle.api.policy import Policy
from seppmail_lifecycle.api.states import InvoiceState
from seppmail_lifecycle.api.states import OrderPhase as P
from seppmail_lifecycle.core.ids import derived_name
from seppmail_lifecycle.core.model import Contract, Invoice, Payment, Product, Service
from seppmail_lifecycle.core.periods import MONTHS, Period, local_day, local_midnight, period, period_at, trial_end
from seppmail_lifecycle.core.pricing import cents, discounted
from seppmail_lifecycle.core.schedule import COMMIT_SETTLES

LIVE = (None, InvoiceState.OPEN, InvoiceState.PAID)
"""Invoice states that bill (None: created, its status not written yet)."""


def money(value: D) -> str:
    """A decimal amount as the API writes it: cents, rounded half-up."""
    return str(cents(value))


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class ContractWorld:
    """Everything a contract's invoicing depends on."""

    contract: Contract
    services: tuple[Service, ...]
    """Services naming the contract whose domain belongs to the contract's tenant."""
    products: Mapping[str, Product]
    invoices: tuple[Invoice, ...] = ()
    payments: tuple[Payment, ...] = ()
    foreign: tuple[tuple[str, str | None], ...] = ()
    """Services naming the contract that belong to another tenant (name, their tenant): reported."""


# --- Periods of the contract ------------------------------------------------------------------


def contract_period(contract: Contract, index: int, zone: tzinfo) -> Period:
    spec = contract.spec
    return period(contract.meta.created, spec.trial_days, spec.billing_interval, zone, index)


def contract_trial_end(contract: Contract, zone: tzinfo) -> datetime | None:
    return trial_end(contract.meta.created, contract.spec.trial_days, zone)


def current_period(contract: Contract, zone: tzinfo, now: datetime) -> Period | None:
    """The period ``now`` falls in; None in the trial."""
    spec = contract.spec
    return period_at(contract.meta.created, spec.trial_days, spec.billing_interval, zone, now)


def _period_index_of(contract: Contract, zone: tzinfo, at: datetime) -> int:
    found = current_period(contract, zone, at)
    return found.index if found is not None else -1


# --- Services ---------------------------------------------------------------------------------


def joined_at(service: Service, zone: tzinfo) -> datetime | None:
    """When the service's billing started (local midnight of its first billed day)."""
    billing = service.status.billing
    return local_midnight(billing.start, zone) if billing is not None and billing.start is not None else None


def _discontinued(service: Service) -> bool:
    subscription = service.status.subscription
    return subscription is not None and subscription.discontinued_at is not None


def _recurring(product: Product | None) -> bool:
    return product is not None and product.spec.billing.type == "recurring"


def in_use(service: Service) -> bool:
    """Whether the service still runs for the customer (provisioned, or cancelled and not removed
    yet), neither deleted nor discontinued: only such a service has arrears invoiced."""
    return (
        service.status.phase in (P.PROVISIONED, P.CANCELLED)
        and service.meta.deleted is None
        and not _discontinued(service)
    )


def billed(service: Service) -> bool:
    billing = service.status.billing
    return billing is not None and billing.start is not None


def renews(service: Service, contract: Contract, products: Mapping[str, Product]) -> bool:
    """Whether the service is invoiced for the contract's next period: billed, recurring, auto-renew
    on the service and the contract, not cancelled, deleted or discontinued."""
    return (
        contract.spec.auto_renew
        and service.spec.auto_renew
        and service.spec.cancellation is None
        and service.meta.deleted is None
        and not _discontinued(service)
        and service.status.phase is P.PROVISIONED
        and billed(service)
        and _recurring(products.get(service.spec.product))
    )


def _join_span(service: Service, contract: Contract, zone: tzinfo) -> Span | None:
    joined = joined_at(service, zone)
    if joined is None:
        return None
    trial = contract_trial_end(contract, zone)
    if trial is not None and joined < trial:
        return Span(joined, trial)
    first = contract_period(contract, 0, zone)
    found = current_period(contract, zone, max(joined, first.start))
    assert found is not None
    return Span(joined, found.end)


def _line_span(line: InvoiceLine, zone: tzinfo) -> Span:
    return Span(local_midnight(line.first_day, zone), local_midnight(line.last_day + timedelta(days=1), zone))


def paid_invoices(invoices: Sequence[Invoice]) -> list[Invoice]:
    return [i for i in invoices if i.status.state is InvoiceState.PAID]


def coverage(service: Service, contract: Contract, invoices: Sequence[Invoice], zone: tzinfo) -> list[Span]:
    """The spans the service is paid for (or in trial, or in the period it joined), merged, in order."""
    spans = [s for s in [_join_span(service, contract, zone)] if s is not None]
    for invoice in paid_invoices(invoices):
        spans += [_line_span(x, zone) for x in invoice.spec.lines if x.service == service.name and x.kind == "renewal"]
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: s.start):
        if merged and span.start <= merged[-1].end:
            merged[-1] = Span(merged[-1].start, max(merged[-1].end, span.end))
        else:
            merged.append(span)
    return merged


def covered_at(spans: Sequence[Span], at: datetime) -> bool:
    return any(s.start <= at < s.end for s in spans)


@dataclass(frozen=True)
class ServiceTerm:
    """What the contract means for one service at ``now``: until when it is paid, and the times
    it expires and is discontinued if nothing is paid meanwhile."""

    contract: str
    expires_at: datetime | None
    """End of the covered span the service is in, or was last in (None: never billed)."""
    covered: bool
    expired_at: datetime | None = None
    discontinued_at: datetime | None = None
    resumes_at: datetime | None = None
    """Start of a later paid span, when not covered now."""

    def expired(self, now: datetime) -> bool:
        return not self.covered and self.expired_at is not None and now >= self.expired_at

    def discontinued(self, now: datetime) -> bool:
        return not self.covered and self.discontinued_at is not None and now >= self.discontinued_at

    def next_change(self, now: datetime) -> datetime | None:
        """When the service's subscription state may change next without anything being paid."""
        times = (self.expires_at, self.expired_at, self.discontinued_at, self.resumes_at)
        return min((t for t in times if t is not None and t > now), default=None)


def service_term(
    service: Service, contract: Contract, invoices: Sequence[Invoice], policy: Policy, now: datetime
) -> ServiceTerm:
    spans = coverage(service, contract, invoices, policy.zone)
    billing = policy.billing
    current = next((s for s in spans if s.start <= now < s.end), None)
    if current is not None:
        return ServiceTerm(contract.name, current.end, covered=True)
    past = [s for s in spans if s.end <= now]
    later = [s.start for s in spans if s.start > now]
    if not past:
        return ServiceTerm(contract.name, None, covered=False, resumes_at=min(later, default=None))
    ended = past[-1].end
    expired = ended + billing.expired_after
    return ServiceTerm(
        contract.name,
        ended,
        covered=False,
        expired_at=expired,
        discontinued_at=expired + billing.discontinued_after,
        resumes_at=min(later, default=None),
    )


# --- Lines and invoices -----------------------------------------------------------------------


@dataclass(frozen=True)
class LineIssue:
    service: str
    reason: str
    message: str


def price_issue(service: Service, product: Product, policy: Policy) -> LineIssue | None:
    """Why the service's product cannot be invoiced (no price, or one in another currency)."""
    price = product.spec.billing.price
    if price is None:
        return LineIssue(service.name, "PriceMissing", f"product {product.name!r} has no price")
    if price.currency != policy.billing.currency:
        return LineIssue(
            service.name,
            "CurrencyMismatch",
            f"product {product.name!r} is priced in {price.currency}, invoices in {policy.billing.currency}",
        )
    return None


def _unit_price(product: Product, months: int) -> D | None:
    price = product.spec.billing.price
    if price is None:
        return None
    return D(price.amount) * months


def _line(
    service: Service,
    product: Product,
    kind: LineKind,
    first: date,
    last: date,
    unit: D,
    description: str,
) -> InvoiceLine:
    discount = service.spec.discount
    percent = discount.percent if discount else 0
    quantity = service.spec.users
    amount = discounted(unit, quantity, percent)
    return InvoiceLine(
        service=service.name,
        product=product.name,
        kind=kind,
        first_day=first,
        last_day=last,
        description=description,
        quantity=quantity,
        unit_price=_plain(unit),
        discount_percent=percent,
        discount_reason=discount.reason if discount and percent else None,
        amount=money(amount),
    )


def _plain(value: D) -> str:
    """A unit price as the API writes it: at most 4 decimals, rounded half-up, no trailing zeros and
    never in exponent form (``Decimal.normalize`` writes 10 as ``1E+1``)."""
    text = format(value.quantize(D("0.0001"), rounding=ROUND_HALF_UP), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _already_billed(service: str, kind: LineKind, first: date, last: date, invoices: Sequence[Invoice]) -> bool:
    """Whether a paid invoice already bills any of these days of the service with a line of ``kind``."""
    return any(
        x.service == service and x.kind == kind and x.first_day <= last and first <= x.last_day
        for invoice in paid_invoices(invoices)
        for x in invoice.spec.lines
    )


def _last_day(p: Period, zone: tzinfo) -> date:
    return local_day(p.end - timedelta(microseconds=1), zone)


def wanted_lines(world: ContractWorld, index: int, policy: Policy, *, first_target: int) -> list[InvoiceLine]:
    """What period ``index``'s invoices should bill that paid ones do not yet: renewals, and the
    arrears: the prorated days of a service in the period it joined (on the next period's invoice,
    or the first one invoiced now, ``first_target``, if that one ended unpaid) and one-time
    products (on the first invoice made). Each arrears item is on one invoice only."""
    contract, zone = world.contract, policy.zone
    months = MONTHS[contract.spec.billing_interval]
    target = contract_period(contract, index, zone)
    first, last = local_day(target.start, zone), _last_day(target, zone)
    lines: list[InvoiceLine] = []
    for service in sorted(world.services, key=lambda s: s.name):
        product = world.products.get(service.spec.product)
        joined = joined_at(service, zone)
        if product is None or joined is None or (joined > target.start and _recurring(product)):
            continue  # a recurring service that joined during the period is in it until its end
        price = product.spec.billing.price
        if price is None or price_issue(service, product, policy) is not None:
            continue  # reported by the contract's Billable condition
        if _recurring(product):
            spans = coverage(service, contract, world.invoices, zone)
            if renews(service, contract, world.products) and not covered_at(spans, target.start):
                unit = _unit_price(product, months)
                assert unit is not None
                lines.append(_line(service, product, "renewal", first, last, unit, f"{product.spec.display_name}"))
            joined_period = _join_period(service, contract, zone)
            if joined_period is not None:
                # Due on the period after the one it joined; carried to the invoice made now while
                # the service is in use; for one no longer in use, never carried on.
                owed_on = joined_period + 1
                if index == (max(owed_on, first_target) if in_use(service) else owed_on):
                    lines += _proration(service, product, world, joined_period, months, policy)
        elif index == _one_time_due(service, world, first_target, zone) and not _already_billed(
            service.name, "one-time", date.min, date.max, world.invoices
        ):
            day = local_day(joined, zone)
            unit = D(price.amount)
            lines.append(_line(service, product, "one-time", day, day, unit, product.spec.display_name))
    return lines


def _one_time_due(service: Service, world: ContractWorld, first_target: int, zone: tzinfo) -> int:
    """The period a one-time product is invoiced for: the first invoice made (carried to the one
    made now while unpaid and the service is in use; for a service no longer in use, the period
    it was first invoiced for, never carried on)."""
    if in_use(service):
        return first_target
    invoiced = [
        i.spec.period.start
        for i in world.invoices
        if any(x.service == service.name and x.kind == "one-time" for x in i.spec.lines)
    ]
    if not invoiced:
        return first_target
    return _period_index_of(world.contract, zone, local_midnight(min(invoiced), zone))


def _join_period(service: Service, contract: Contract, zone: tzinfo) -> int | None:
    """The period a service joined in, prorated; None if it joined in the trial (free) or not yet."""
    joined = joined_at(service, zone)
    trial = contract_trial_end(contract, zone)
    if joined is None or (trial is not None and joined < trial):
        return None
    return _period_index_of(contract, zone, max(joined, contract_period(contract, 0, zone).start))


def _proration(
    service: Service, product: Product, world: ContractWorld, index: int, months: int, policy: Policy
) -> list[InvoiceLine]:
    """The days of period ``index`` a service that joined during it used, if not billed yet (the
    whole first period for a service billed before its contract began without a trial), up to its
    last billed day if it ended during the period."""
    contract, zone = world.contract, policy.zone
    joined = joined_at(service, zone)
    used = contract_period(contract, index, zone)
    if joined is None or joined >= used.end:
        return []
    if joined < used.start and not (index == 0 and contract_trial_end(contract, zone) is None):
        return []  # it joined earlier: renewed (or lapsed) for this period, not prorated
    first, period_last = local_day(max(joined, used.start), zone), _last_day(used, zone)
    billing = service.status.billing
    # Cancelled or removed during the period: until its last billed day.
    last = min(period_last, billing.end) if billing is not None and billing.end is not None else period_last
    if last < first or _already_billed(service.name, "proration", first, last, world.invoices):
        return []
    days = (last - first).days + 1
    period_days = (period_last - local_day(used.start, zone)).days + 1
    unit = _unit_price(product, months)
    assert unit is not None
    return [
        _line(
            service,
            product,
            "proration",
            first,
            last,
            unit * days / period_days,
            f"{product.spec.display_name}: {days} of {period_days} days ({first.isoformat()} to {last.isoformat()})",
        )
    ]


def invoice_name(contract: str, period_start: date, revision: int) -> str:
    """``<contract>-<yyyymmdd>-r<revision>``: the same on every retry and after a restart."""
    return derived_name("", contract, f"-{period_start:%Y%m%d}-r{revision}")


def total(lines: Sequence[InvoiceLine]) -> D:
    return sum((D(x.amount) for x in lines), D(0))


def applied(invoice: Invoice, payments: Sequence[Payment]) -> list[Payment]:
    """The payments that count towards ``invoice``: for it, in its currency, oldest first."""
    return sorted(
        (
            p
            for p in payments
            if p.spec.invoice_ref.name == invoice.name and p.spec.amount.currency == invoice.spec.total.currency
        ),
        key=lambda p: (p.spec.paid_at, p.name),
    )


def paid_amount(invoice: Invoice, payments: Sequence[Payment]) -> D:
    return sum((D(p.spec.amount.amount) for p in applied(invoice, payments)), D(0))


@dataclass(frozen=True)
class NewInvoice:
    name: str
    spec: InvoiceSpec


@dataclass(frozen=True)
class InvoiceChange:
    """A state an existing invoice moves to, and why."""

    name: str
    state: InvoiceState
    reason: str
    message: str
    at: datetime


@dataclass(frozen=True)
class InvoicePlan:
    """What the contract's invoices need at ``now``."""

    changes: tuple[InvoiceChange, ...] = ()
    create: tuple[NewInvoice, ...] = ()
    next_invoice_at: datetime | None = None
    """When the next period's invoice is due to be created (in the future)."""
    wake_at: datetime | None = None


def _state(invoice: Invoice) -> InvoiceState:
    return invoice.status.state or InvoiceState.OPEN


def _period_end(invoice: Invoice, zone: tzinfo) -> datetime:
    return local_midnight(invoice.spec.period.end + timedelta(days=1), zone)


def _comparable(lines: Sequence[InvoiceLine]) -> list[InvoiceLine]:
    return sorted(lines, key=lambda x: (x.service, x.kind, x.first_day))


def plan_invoices(world: ContractWorld, policy: Policy, now: datetime) -> InvoicePlan:
    """Apply payments, void and reimburse what no longer holds, and create what is missing."""
    contract, zone = world.contract, policy.zone
    invoices = list(world.invoices)
    changes: list[InvoiceChange] = []
    wakes: list[datetime] = []

    def change(invoice: Invoice, state: InvoiceState, reason: str, message: str) -> None:
        changes.append(InvoiceChange(invoice.name, state, reason, message, now))
        replaced = invoice.status.model_copy(update={"state": state})
        invoices[invoices.index(invoice)] = replace(invoice, status=replaced)

    def close(invoice: Invoice, reason: str, message: str) -> None:
        """Void an open invoice; reimbursed instead if payments were applied to it."""
        paid = paid_amount(invoice, world.payments) > 0
        state = InvoiceState.REIMBURSED if paid else InvoiceState.VOID
        change(invoice, state, reason, message + (" The partial payment is reimbursed." if paid else ""))

    # Payments first: what they pay renews, which decides what is still wanted.
    for invoice in list(invoices):
        if _state(invoice) is InvoiceState.OPEN and paid_amount(invoice, world.payments) >= D(
            invoice.spec.total.amount
        ):
            change(invoice, InvoiceState.PAID, "Paid", "Payments cover the total.")
    # Paid for a period not started yet, but renewing a service that no longer renews: reimbursed.
    services = {s.name: s for s in world.services}
    for invoice in list(invoices):
        if _state(invoice) is not InvoiceState.PAID or local_midnight(invoice.spec.period.start, zone) <= now:
            continue
        stopped = sorted(
            x.service
            for x in invoice.spec.lines
            if x.kind == "renewal"
            and (x.service not in services or not renews(services[x.service], contract, world.products))
        )
        if stopped:
            change(
                invoice,
                InvoiceState.REIMBURSED,
                "ServicesStopped",
                f"{', '.join(stopped)} no longer renew(s) (auto-renew off, cancelled or gone): reimbursed; a new "
                "invoice reflects the contract.",
            )
    current = _period_index_of(contract, zone, now)
    nxt = contract_period(contract, current + 1, zone)
    create_at = nxt.start - policy.billing.invoice_lead_time
    targets = [i for i in (current, current + 1) if i >= 0 and (i == current or now >= create_at)]
    # An open invoice whose period ended is void (a late renewal is invoiced for the current
    # period instead).
    for invoice in list(invoices):
        if _state(invoice) is InvoiceState.OPEN and _period_end(invoice, zone) <= now:
            close(invoice, "PeriodEnded", "Its period ended unpaid.")
    create: list[NewInvoice] = []
    # Services being deployed, booked so recently that more of the same commit may be on its way,
    # or changed and not decided again yet (a cancellation, auto-renew or users: what their decision
    # writes, e.g. the end-billing date, changes the lines) join the invoice first, so that one
    # invoice goes out, not a revision per step. Their status write decides the contract again.
    settled_at = max((s.meta.created for s in world.services), default=contract.meta.created) + COMMIT_SETTLES
    settling = settled_at > now or any(
        (s.status.phase in (P.CONFIRMED, P.PROVISIONING) and s.spec.cancellation is None and s.meta.deleted is None)
        or s.status.observed_generation != s.meta.generation
        for s in world.services
    )
    # What is wanted follows from the states just decided: an invoice paid (or reimbursed) in this
    # decision renews (or no longer renews) its services now, not in the next one.
    decided = replace(world, invoices=tuple(invoices))
    for index in targets:
        target = contract_period(contract, index, zone)
        if settling and now < target.start:
            continue  # at the latest when the period starts
        # One-time products go on the first invoice made (a one-time product booked mid-period is
        # invoiced for the current period at once).
        lines = wanted_lines(decided, index, policy, first_target=targets[0])
        start_day = local_day(target.start, zone)
        of_period = [i for i in invoices if i.spec.period.start == start_day]
        open_ones = sorted(
            (i for i in of_period if _state(i) is InvoiceState.OPEN), key=lambda i: i.spec.revision, reverse=True
        )
        keep = open_ones[0] if open_ones and _comparable(open_ones[0].spec.lines) == _comparable(lines) else None
        for invoice in open_ones:
            if invoice is not keep:
                close(
                    invoice,
                    "Superseded" if lines else "NothingToInvoice",
                    "What the period bills changed: replaced by a new revision."
                    if lines
                    else "Nothing left to bill for the period.",
                )
        if lines and keep is None:
            revision = max((i.spec.revision for i in of_period), default=0) + 1
            due = max(start_day - timedelta(days=1), local_day(now, zone))
            create.append(
                NewInvoice(
                    invoice_name(contract.name, start_day, revision),
                    InvoiceSpec(
                        contract_ref=LocalObjectRef(name=contract.name),
                        tenant_ref=LocalObjectRef(name=contract.spec.tenant_ref.name),
                        period=InvoicePeriod(start=start_day, end=_last_day(target, zone)),
                        revision=revision,
                        due_date=due,
                        lines=lines,
                        total=Money(amount=money(total(lines)), currency=policy.billing.currency),
                    ),
                )
            )
    for invoice in invoices:
        if _state(invoice) is InvoiceState.OPEN:
            wakes.append(_period_end(invoice, zone))
    wakes += [create_at if create_at > now else nxt.start, settled_at]
    if current >= 0:
        wakes.append(contract_period(contract, current, zone).end)
    return InvoicePlan(
        changes=tuple(changes),
        create=tuple(create),
        next_invoice_at=create_at if create_at > now else None,
        wake_at=min((w for w in wakes if w > now), default=None),
    )
