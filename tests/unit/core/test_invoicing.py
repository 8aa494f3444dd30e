"""Invoicing of a contract (``core.invoicing``): what each service is paid for, the invoices a
contract's periods call for, their lines, names and revisions, and what payments do to them.

``Books`` is a contract's world in memory, as the operator reads it from the API server:
``settle`` decides (``decide_contract``), creates the invoices decided and writes the decided
statuses back, until nothing moves at one instant; then it checks that deciding once more creates
nothing and changes no status. Every table settles, so every table asserts idempotency.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from typing import Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seppmail_lifecycle.api.common import OBJECT_NAME_PATTERN, LocalObjectRef, Money
from seppmail_lifecycle.api.invoice import InvoiceStatus
from seppmail_lifecycle.api.policy import BillingPolicy, Policy
from seppmail_lifecycle.api.service import BillingStatus, Cancellation, Discount, ServiceStatus, SubscriptionStatus
from seppmail_lifecycle.api.states import InvoiceState
from seppmail_lifecycle.api.states import OrderPhase as P
from seppmail_lifecycle.core.contracts import ContractOutcome, decide_contract, decide_payment
from seppmail_lifecycle.core.invoicing import (
    ContractWorld,
    ServiceTerm,
    invoice_name,
    money,
    paid_amount,
    service_term,
)
from seppmail_lifecycle.core.model import Contract, Invoice, Obj, Payment, Product, Service
from seppmail_lifecycle.core.periods import local_day

from .builders import (
    CONTRACT,
    OPENED,
    catalogue,
    contract,
    invoice,
    line,
    meta,
    payment,
    priced,
    service,
    with_meta,
    with_spec,
    with_status,
)

# ---------------------------------------------------------------------------------------- builders

BILLING = BillingPolicy(
    invoice_lead_time=timedelta(days=14),
    expired_after=timedelta(days=1),
    discontinued_after=timedelta(days=30),
    currency="CHF",
)
UTC_POLICY = Policy(business_time_zone="UTC", billing=BILLING)
ZURICH_POLICY = Policy(business_time_zone="Europe/Zurich", billing=BILLING)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def zurich(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Zurich wall-clock time as a UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=ZURICH_POLICY.zone).astimezone(UTC)


PRODUCTS = catalogue(
    priced("base", "10.00"),
    priced("sig-enc", "4.50"),
    priced("cheap", "0.25"),
    priced("setup", "250.00", one_time=True),
    priced("unpriced", None),
    priced("euro", "9.00", currency="EUR"),
)


def billed(
    name: str = "svc-a",
    start: date | None = date(2027, 1, 1),
    *,
    product: str = "base",
    users: int = 10,
    auto_renew: bool = True,
    discount: tuple[int, str | None] | None = None,
    cancelled: Cancellation | None = None,
    contract: str = CONTRACT,
) -> Service:
    """A provisioned service of the contract, billed from ``start`` (None: not billed yet), its
    spec decided (observed)."""
    status = ServiceStatus(
        phase=P.PROVISIONED, billing=BillingStatus(start=start) if start else None, observed_generation=1
    )
    svc = service(name, product, users=users, discount=discount, cancelled=cancelled, status=status)
    return with_spec(svc, contract_ref=LocalObjectRef(name=contract), auto_renew=auto_renew)


@dataclass
class Books:
    """A contract's world in memory: the contract, its services, invoices and payments."""

    contract: Contract = field(default_factory=contract)
    services: dict[str, Service] = field(default_factory=dict)
    invoices: dict[str, Invoice] = field(default_factory=dict)
    payments: list[Payment] = field(default_factory=list)
    products: Mapping[str, Product] = field(default_factory=lambda: PRODUCTS)
    foreign: tuple[tuple[str, str | None], ...] = ()
    policy: Policy = field(default_factory=lambda: UTC_POLICY)

    @classmethod
    def of(cls, *services: Service, policy: Policy = UTC_POLICY, of: Contract | None = None) -> Books:
        return cls(contract=of or contract(), services={s.name: s for s in services}, policy=policy)

    def fresh(self) -> Books:
        """A copy to edit (a table's parameters are shared between runs)."""
        return replace(self, services=dict(self.services), invoices=dict(self.invoices), payments=list(self.payments))

    def world(self) -> ContractWorld:
        return ContractWorld(
            contract=self.contract,
            services=tuple(self.services.values()),
            products=self.products,
            invoices=tuple(self.invoices.values()),
            payments=tuple(self.payments),
            foreign=self.foreign,
        )

    def decide(self, now: datetime) -> ContractOutcome:
        return decide_contract(self.world(), self.policy, now)

    def apply(self, outcome: ContractOutcome, now: datetime) -> None:
        """Write what was decided, as the operator does: statuses, then the new invoices."""
        self.contract = replace(self.contract, status=outcome.contract.status)
        for decided in outcome.invoices:
            self.invoices[decided.name] = replace(self.invoices[decided.name], status=decided.status)
        for new in outcome.create:
            assert new.name not in self.invoices, f"{new.name} created twice"
            self.invoices[new.name] = Obj(meta("Invoice", new.name, created=now), new.spec, InvoiceStatus())

    def moved(self, outcome: ContractOutcome) -> bool:
        return (
            bool(outcome.create)
            or outcome.contract.status != self.contract.status
            or any(d.status != self.invoices[d.name].status for d in outcome.invoices)
        )

    def settle(self, now: datetime) -> list[ContractOutcome]:
        """Decide and apply at ``now`` until nothing moves (each write triggers the next
        reconcile), then check that one more decision is a no-op."""
        rounds: list[ContractOutcome] = []
        for _ in range(4):
            outcome = self.decide(now)
            rounds.append(outcome)
            if not self.moved(outcome):
                break
            self.apply(outcome, now)
        else:
            pytest.fail("the contract's decisions did not settle")
        self.assert_idempotent(now)
        return rounds

    def assert_idempotent(self, now: datetime) -> None:
        again = self.decide(now)
        assert again.create == ()
        assert again.contract.status == self.contract.status
        assert again.contract.transitions == ()
        assert [d.status for d in again.invoices] == [i.status for i in self.invoices.values()]
        assert all(d.transitions == () for d in again.invoices)

    # --- edits

    def edit(self, name: str, **spec: object) -> None:
        self.services[name] = with_spec(self.services[name], **spec)

    def add(self, svc: Service) -> None:
        self.services[svc.name] = svc

    def pay(self, invoice: str, amount: str | None = None, at: datetime = OPENED, currency: str = "CHF") -> Payment:
        """Record a payment of ``amount`` (default: what is still open) for ``invoice``."""
        inv = self.invoices[invoice]
        if amount is None:
            counted = sum((D(p.spec.amount.amount) for p in self.payments if p.spec.invoice_ref.name == invoice), D(0))
            amount = money(D(inv.spec.total.amount) - counted)
        paid = payment(f"pay-{len(self.payments) + 1}", invoice, amount, at, currency=currency)
        self.payments.append(paid)
        return paid

    # --- reading

    def state(self, name: str) -> InvoiceState | None:
        return self.invoices[name].status.state

    def states(self) -> dict[str, InvoiceState | None]:
        return {n: i.status.state for n, i in sorted(self.invoices.items())}

    def open(self) -> list[Invoice]:
        return [i for _, i in sorted(self.invoices.items()) if i.status.state is InvoiceState.OPEN]

    def term(self, name: str, now: datetime) -> ServiceTerm:
        return service_term(self.services[name], self.contract, list(self.invoices.values()), self.policy, now)


def created(rounds: Sequence[ContractOutcome]) -> list[str]:
    return [n.name for r in rounds for n in r.create]


def moves(rounds: Sequence[ContractOutcome]) -> list[tuple[str, str | None, str, str]]:
    """Every invoice transition of the rounds as (invoice, from, to, reason)."""
    return [(d.name, t.from_, t.to, t.reason) for r in rounds for d in r.invoices for t in d.transitions]


def changes(rounds: Sequence[ContractOutcome]) -> list[tuple[str, str, str]]:
    """The closing and paying transitions (not the "Invoiced" of a new invoice) as (invoice, to, reason)."""
    return [(name, to, reason) for name, _, to, reason in moves(rounds) if reason != "Invoiced"]


def lines_of(inv: Invoice) -> list[tuple[str, str, date, date, int, str, str]]:
    return [
        (x.service, x.kind, x.first_day, x.last_day, x.quantity, x.unit_price, x.amount)
        for x in sorted(inv.spec.lines, key=lambda x: (x.service, x.kind))
    ]


# ---------------------------------------------------------------------------------------- coverage

TRIAL = contract(trial_days=30)
"""Created 1 January 2027 with 30 trial days: the trial ends 31 January, periods start on the 31st
(28 February, 31 March ...)."""
LEAP = contract(created=utc(2028, 1, 31, 12))
"""Anchored on 31 January of a leap year: 29 February, 31 March, 30 April ..."""
SWISS = contract(created=zurich(2027, 1, 1, 9))
SWISS_DST = contract(created=zurich(2027, 3, 1, 10))
SWISS_END = contract(created=zurich(2027, 3, 31, 0, 30))
"""Created 00:30 on 31 March in Zurich (22:30 UTC the day before): periods start on the 31st, local."""
LEAP_QUARTERLY = contract(created=utc(2028, 1, 31), interval="quarterly")


def term(
    expires: datetime | None,
    covered: bool,
    *,
    expired: datetime | None = None,
    discontinued: datetime | None = None,
    resumes: datetime | None = None,
) -> ServiceTerm:
    return ServiceTerm(CONTRACT, expires, covered, expired, discontinued, resumes)


FEB = (date(2027, 2, 1), date(2027, 2, 28))
MAR = (date(2027, 3, 1), date(2027, 3, 31))


@pytest.mark.parametrize(
    ("of", "svc", "invoices", "policy", "now", "expected"),
    [
        pytest.param(
            TRIAL, billed(start=date(2027, 1, 5)), [], UTC_POLICY, utc(2027, 1, 20), term(utc(2027, 1, 31), True),
            id="trial",
        ),
        pytest.param(
            TRIAL, billed(start=date(2027, 1, 5)), [], UTC_POLICY, utc(2027, 2, 5),
            term(utc(2027, 1, 31), False, expired=utc(2027, 2, 1), discontinued=utc(2027, 3, 3)),
            id="trial-ended-unpaid",
        ),
        pytest.param(
            contract(), billed(start=date(2027, 1, 10)), [], UTC_POLICY, utc(2027, 1, 15),
            term(utc(2027, 2, 1), True),
            id="joined-mid-period-covered-to-its-end",
        ),
        pytest.param(
            contract(), billed(start=date(2027, 1, 10)), [invoice(line("renewal", *FEB))], UTC_POLICY,
            utc(2027, 1, 15), term(utc(2027, 3, 1), True),
            id="paid-renewal-extends",
        ),
        pytest.param(
            contract(), billed(start=date(2027, 1, 10)), [invoice(line("renewal", *FEB))], UTC_POLICY,
            utc(2027, 2, 28, 23, 59), term(utc(2027, 3, 1), True),
            id="paid-renewal-last-minute",
        ),
        pytest.param(
            contract(), billed(start=date(2027, 1, 10)), [], UTC_POLICY, utc(2027, 2, 1, 12),
            term(utc(2027, 2, 1), False, expired=utc(2027, 2, 2), discontinued=utc(2027, 3, 4)),
            id="unpaid-expired-a-day-after-discontinued-30-more",
        ),
        pytest.param(
            contract(), billed(start=date(2027, 1, 10)),
            [invoice(line("renewal", *FEB), state=InvoiceState.OPEN)], UTC_POLICY, utc(2027, 2, 10),
            term(utc(2027, 2, 1), False, expired=utc(2027, 2, 2), discontinued=utc(2027, 3, 4)),
            id="an-open-invoice-covers-nothing",
        ),
        pytest.param(
            contract(), billed(start=date(2027, 1, 10)),
            [invoice(line("renewal", *FEB), state=InvoiceState.REIMBURSED)], UTC_POLICY, utc(2027, 1, 15),
            term(utc(2027, 2, 1), True),
            id="a-reimbursed-invoice-covers-nothing",
        ),
        pytest.param(
            contract(), billed(start=date(2027, 1, 10)), [invoice(line("proration", *FEB))], UTC_POLICY,
            utc(2027, 2, 10),
            term(utc(2027, 2, 1), False, expired=utc(2027, 2, 2), discontinued=utc(2027, 3, 4)),
            id="a-proration-line-renews-nothing",
        ),
        pytest.param(
            contract(), billed(start=date(2027, 1, 10)), [invoice(line("renewal", *MAR))], UTC_POLICY,
            utc(2027, 2, 10),
            term(
                utc(2027, 2, 1), False, expired=utc(2027, 2, 2), discontinued=utc(2027, 3, 4), resumes=utc(2027, 3, 1)
            ),
            id="resumes-at-a-paid-future-period",
        ),
        pytest.param(
            contract(), billed(start=date(2027, 1, 10)),
            [invoice(line("renewal", *FEB)), invoice(line("renewal", *MAR))], UTC_POLICY, utc(2027, 1, 15),
            term(utc(2027, 4, 1), True),
            id="paid-periods-merge",
        ),
        pytest.param(
            contract(), billed(start=None), [], UTC_POLICY, utc(2027, 1, 15), term(None, False),
            id="never-billed",
        ),
        pytest.param(
            contract(), billed(start=date(2027, 2, 10)), [], UTC_POLICY, utc(2027, 2, 5),
            term(None, False, resumes=utc(2027, 2, 10)),
            id="billing-starts-later",
        ),
        pytest.param(
            contract(), billed("other", start=date(2027, 1, 10)), [invoice(line("renewal", *FEB))], UTC_POLICY,
            utc(2027, 2, 10),
            term(utc(2027, 2, 1), False, expired=utc(2027, 2, 2), discontinued=utc(2027, 3, 4)),
            id="another-services-line-renews-nothing",
        ),
        pytest.param(
            SWISS, billed(start=date(2027, 1, 10)), [], ZURICH_POLICY, zurich(2027, 1, 31, 23, 30),
            term(utc(2027, 1, 31, 23), True),
            id="zurich-covered-to-local-midnight",
        ),
        pytest.param(
            SWISS, billed(start=date(2027, 1, 10)), [], ZURICH_POLICY, zurich(2027, 2, 1, 0, 30),
            term(utc(2027, 1, 31, 23), False, expired=utc(2027, 2, 1, 23), discontinued=utc(2027, 3, 3, 23)),
            id="zurich-lapsed-after-local-midnight",
        ),
        pytest.param(
            SWISS_DST, billed(start=date(2027, 3, 1)), [], ZURICH_POLICY, zurich(2027, 3, 31, 12),
            term(utc(2027, 3, 31, 22), True),
            id="zurich-summer-time",
        ),
        pytest.param(
            LEAP, billed(start=date(2028, 1, 31)), [invoice(line("renewal", date(2028, 2, 29), date(2028, 3, 30)))],
            UTC_POLICY, utc(2028, 3, 15), term(utc(2028, 3, 31), True),
            id="leap-year-month-end-anchor",
        ),
    ],
)  # fmt: skip
def test_service_term(
    of: Contract, svc: Service, invoices: list[Invoice], policy: Policy, now: datetime, expected: ServiceTerm
) -> None:
    found = service_term(svc, of, invoices, policy, now)
    assert found == expected
    assert found.expired(now) == (expected.expired_at is not None and now >= expected.expired_at)
    assert found.discontinued(now) == (expected.discontinued_at is not None and now >= expected.discontinued_at)


def test_a_lapsed_service_expires_then_is_discontinued_and_says_when_next() -> None:
    svc = billed(start=date(2027, 1, 10))
    at = [utc(2027, 1, 15), utc(2027, 2, 1, 12), utc(2027, 2, 2), utc(2027, 3, 4)]
    terms = [service_term(svc, contract(), [], UTC_POLICY, now) for now in at]
    assert [(t.covered, t.expired(now), t.discontinued(now)) for t, now in zip(terms, at, strict=True)] == [
        (True, False, False),
        (False, False, False),
        (False, True, False),
        (False, True, True),
    ]
    assert [t.next_change(now) for t, now in zip(terms, at, strict=True)] == [
        utc(2027, 2, 1),
        utc(2027, 2, 2),
        utc(2027, 3, 4),
        None,
    ]


# ---------------------------------------------------------------------------------------- when invoices are created


@pytest.mark.parametrize(
    ("books", "now", "invoiced", "next_"),
    [
        pytest.param(
            Books.of(billed(start=date(2027, 1, 10))), utc(2027, 1, 17, 23, 59), [],
            ("CreateInvoice", utc(2027, 1, 18)),
            id="not-before-the-lead-time",
        ),
        pytest.param(
            Books.of(billed(start=date(2027, 1, 10))), utc(2027, 1, 18), ["acme-main-20270201-r1"],
            ("EndPeriod", utc(2027, 2, 1)),
            id="at-the-lead-time",
        ),
        pytest.param(
            Books.of(billed(start=date(2027, 1, 1))), OPENED, [], ("CreateInvoice", utc(2027, 1, 18)),
            id="the-first-period-is-billed-on-the-next-invoice",
        ),
        pytest.param(
            Books.of(billed(start=date(2027, 1, 5)), of=TRIAL), utc(2027, 1, 16, 23), [],
            ("CreateInvoice", utc(2027, 1, 17)),
            id="in-the-trial-before-the-lead-time",
        ),
        pytest.param(
            Books.of(billed(start=date(2027, 1, 5)), of=TRIAL), utc(2027, 1, 17), ["acme-main-20270131-r1"],
            ("EndPeriod", utc(2027, 1, 31)),
            id="the-first-period-after-a-trial",
        ),
        pytest.param(
            Books.of(billed(start=date(2027, 1, 1)), of=contract(trial_days=7)), OPENED, ["acme-main-20270108-r1"],
            ("EndPeriod", utc(2027, 1, 8)),
            id="a-trial-shorter-than-the-lead-time-invoices-at-once",
        ),
        pytest.param(
            Books.of(billed(start=None)), utc(2027, 1, 20), [], ("EndPeriod", utc(2027, 2, 1)),
            id="nothing-billed-nothing-invoiced",
        ),
        pytest.param(
            Books.of(billed(start=date(2027, 1, 1), auto_renew=False)), utc(2027, 1, 20), ["acme-main-20270201-r1"],
            ("EndPeriod", utc(2027, 2, 1)),
            id="not-renewing-still-pays-its-prorated-days",
        ),
        pytest.param(
            Books.of(billed(start=date(2027, 1, 5), auto_renew=False), of=TRIAL), utc(2027, 1, 20), [],
            ("EndPeriod", utc(2027, 1, 31)),
            id="not-renewing-after-a-trial-nothing",
        ),
        pytest.param(
            Books.of(billed(start=date(2027, 1, 1))), utc(2027, 2, 10), ["acme-main-20270201-r1"],
            ("CreateInvoice", utc(2027, 2, 15)),
            id="late-renewal-for-the-current-period",
        ),
        pytest.param(
            Books.of(billed(start=date(2027, 1, 1)), policy=ZURICH_POLICY, of=SWISS_END),
            zurich(2027, 4, 15, 23, 59), [], ("CreateInvoice", zurich(2027, 4, 16)),
            id="zurich-not-before-local-midnight",
        ),
        pytest.param(
            Books.of(billed(start=date(2027, 3, 31)), policy=ZURICH_POLICY, of=SWISS_END),
            zurich(2027, 4, 16), ["acme-main-20270430-r1"], ("EndPeriod", zurich(2027, 4, 30)),
            id="zurich-month-end-anchor",
        ),
        pytest.param(
            Books.of(billed(start=date(2028, 1, 31)), of=LEAP), utc(2028, 2, 15), ["acme-main-20280229-r1"],
            ("EndPeriod", utc(2028, 2, 29)),
            id="leap-february",
        ),
    ],
)  # fmt: skip
def test_when_invoices_are_created(
    books: Books, now: datetime, invoiced: list[str], next_: tuple[str, datetime]
) -> None:
    books = books.fresh()  # parameters are shared between runs
    assert created(books.settle(now)) == invoiced
    nxt = books.contract.status.next
    assert nxt is not None
    assert (nxt.action, nxt.at) == next_
    assert [i.name for i in books.open()] == invoiced


def test_a_lapsed_open_invoice_is_void_and_the_current_period_invoiced() -> None:
    books = Books.of(billed(start=date(2027, 1, 1)))
    books.settle(utc(2027, 1, 18))
    rounds = books.settle(utc(2027, 3, 1))
    assert changes(rounds) == [("acme-main-20270201-r1", "void", "PeriodEnded")]
    assert created(rounds) == ["acme-main-20270301-r1"]
    (late,) = books.open()
    # The current period, and January's prorated days (their invoice ended unpaid); the unpaid
    # February is not billed again.
    assert sorted((x.kind, x.first_day, x.last_day) for x in late.spec.lines) == [
        ("proration", date(2027, 1, 1), date(2027, 1, 31)),
        ("renewal", date(2027, 3, 1), date(2027, 3, 31)),
    ]
    assert late.spec.due_date == date(2027, 3, 1)


# ---------------------------------------------------------------------------------------- lines and amounts


@pytest.mark.parametrize(
    ("books", "now", "expected", "total"),
    [
        pytest.param(
            Books.of(billed(start=date(2027, 1, 5)), of=TRIAL), utc(2027, 1, 20),
            [("svc-a", "renewal", date(2027, 1, 31), date(2027, 2, 27), 10, "10", "100.00")], "100.00",
            id="monthly",
        ),
        pytest.param(
            Books.of(billed(start=date(2027, 1, 5)), of=contract(trial_days=30, interval="quarterly")),
            utc(2027, 1, 20),
            [("svc-a", "renewal", date(2027, 1, 31), date(2027, 4, 29), 10, "30", "300.00")], "300.00",
            id="quarterly-three-months",
        ),
        pytest.param(
            Books.of(billed(start=date(2027, 1, 5), users=3), of=contract(trial_days=30, interval="yearly")),
            utc(2027, 1, 20),
            [("svc-a", "renewal", date(2027, 1, 31), date(2028, 1, 30), 3, "120", "360.00")], "360.00",
            id="yearly-twelve-months",
        ),
        pytest.param(
            Books.of(billed(start=date(2027, 1, 5), product="sig-enc", users=7), of=TRIAL), utc(2027, 1, 20),
            [("svc-a", "renewal", date(2027, 1, 31), date(2027, 2, 27), 7, "4.5", "31.50")], "31.50",
            id="fractional-unit-price",
        ),
        pytest.param(
            Books.of(billed(start=date(2027, 1, 5), discount=(15, "nfr")), of=TRIAL), utc(2027, 1, 20),
            [("svc-a", "renewal", date(2027, 1, 31), date(2027, 2, 27), 10, "10", "85.00")], "85.00",
            id="discount",
        ),
        pytest.param(
            Books.of(billed(start=date(2027, 1, 5), discount=(100, "test")), of=TRIAL), utc(2027, 1, 20),
            [("svc-a", "renewal", date(2027, 1, 31), date(2027, 2, 27), 10, "10", "0.00")], "0.00",
            id="free",
        ),
        pytest.param(
            Books.of(billed(start=date(2027, 1, 5), product="cheap", users=1, discount=(50, "test")), of=TRIAL),
            utc(2027, 1, 20),
            [("svc-a", "renewal", date(2027, 1, 31), date(2027, 2, 27), 1, "0.25", "0.13")], "0.13",
            id="half-up-to-cents",
        ),
        pytest.param(
            Books.of(billed(start=date(2027, 1, 10))), utc(2027, 1, 18),
            [
                ("svc-a", "proration", date(2027, 1, 10), date(2027, 1, 31), 10, "7.0968", "70.97"),
                ("svc-a", "renewal", date(2027, 2, 1), date(2027, 2, 28), 10, "10", "100.00"),
            ],
            "170.97",
            id="joined-10-january-pays-22-of-31-days",
        ),
        pytest.param(
            Books.of(billed(start=date(2027, 1, 1))), utc(2027, 1, 18),
            [
                ("svc-a", "proration", date(2027, 1, 1), date(2027, 1, 31), 10, "10", "100.00"),
                ("svc-a", "renewal", date(2027, 2, 1), date(2027, 2, 28), 10, "10", "100.00"),
            ],
            "200.00",
            id="joined-on-the-first-day-pays-the-whole-period",
        ),
        pytest.param(
            Books.of(billed(start=date(2028, 2, 29), users=3), of=LEAP_QUARTERLY),
            utc(2028, 4, 16),
            [
                ("svc-a", "proration", date(2028, 2, 29), date(2028, 4, 29), 3, "20.3333", "61.00"),
                ("svc-a", "renewal", date(2028, 4, 30), date(2028, 7, 30), 3, "30", "90.00"),
            ],
            "151.00",
            id="quarterly-proration-over-a-leap-day",
        ),
        pytest.param(
            Books.of(
                billed(start=date(2027, 1, 5)), billed("svc-s", start=date(2027, 1, 6), product="setup", users=2),
                of=TRIAL,
            ),
            utc(2027, 1, 20),
            [
                ("svc-a", "renewal", date(2027, 1, 31), date(2027, 2, 27), 10, "10", "100.00"),
                ("svc-s", "one-time", date(2027, 1, 6), date(2027, 1, 6), 2, "250", "500.00"),
            ],
            "600.00",
            id="one-time-product-on-its-day",
        ),
        pytest.param(
            Books.of(
                billed(start=date(2027, 3, 31), users=1), policy=ZURICH_POLICY,
                of=SWISS_END,
            ),
            zurich(2027, 4, 16),
            [
                ("svc-a", "proration", date(2027, 3, 31), date(2027, 4, 29), 1, "10", "10.00"),
                ("svc-a", "renewal", date(2027, 4, 30), date(2027, 5, 30), 1, "10", "10.00"),
            ],
            "20.00",
            id="zurich-local-days",
        ),
    ],
)  # fmt: skip
def test_invoice_lines(
    books: Books, now: datetime, expected: list[tuple[str, str, date, date, int, str, str]], total: str
) -> None:
    books = books.fresh()
    books.settle(now)
    (inv,) = books.invoices.values()
    assert lines_of(inv) == expected
    assert inv.spec.total == Money(amount=total, currency="CHF")
    assert sum((D(x.amount) for x in inv.spec.lines), D(0)) == D(total)
    # Decimal strings on the wire, in cents: never a float's 0.1 + 0.2.
    assert all(re.fullmatch(r"\d+\.\d\d", x.amount) for x in inv.spec.lines)


def test_a_discount_carries_its_reason_and_the_proration_says_its_days() -> None:
    books = Books.of(billed(start=date(2027, 1, 10), discount=(15, "nfr")), billed("svc-b", start=date(2027, 1, 10)))
    books.settle(utc(2027, 1, 18))
    (inv,) = books.open()
    by = {(x.service, x.kind): x for x in inv.spec.lines}
    assert (by["svc-a", "renewal"].discount_percent, by["svc-a", "renewal"].discount_reason) == (15, "nfr")
    assert (by["svc-b", "renewal"].discount_percent, by["svc-b", "renewal"].discount_reason) == (0, None)
    assert by["svc-a", "proration"].description == "seppmail.cloud base: 22 of 31 days (2027-01-10 to 2027-01-31)"
    assert by["svc-a", "proration"].amount == "60.32"  # 100 * 22/31 * 0.85 = 60.3225..., rounded once
    assert inv.spec.total.amount == "316.29"  # 85.00 + 60.32 + 100.00 + 70.97


@pytest.mark.parametrize(
    ("end", "days", "amount"),
    [
        (date(2027, 1, 15), "6 of 31 days (2027-01-10 to 2027-01-15)", "19.35"),  # 100 * 6/31
        (date(2027, 1, 31), "22 of 31 days (2027-01-10 to 2027-01-31)", "70.97"),  # ended with the period
        (date(2027, 3, 1), "22 of 31 days (2027-01-10 to 2027-01-31)", "70.97"),  # ends after it: the period's days
    ],
    ids=["removed-mid-period", "removed-at-its-end", "ends-later"],
)
def test_a_service_that_ended_in_the_period_it_joined_is_prorated_until_its_last_billed_day(
    end: date, days: str, amount: str
) -> None:
    """Cancelled (its end-billing date) or removed by its tenant's purge (its last day in use)."""
    removed = with_status(
        billed(start=date(2027, 1, 10)), phase=P.DEPROVISIONED, billing=BillingStatus(start=date(2027, 1, 10), end=end)
    )
    books = Books.of(removed)
    books.settle(utc(2027, 1, 18))
    (inv,) = books.open()
    assert [(x.kind, x.description, x.amount) for x in inv.spec.lines] == [
        ("proration", f"seppmail.cloud base: {days}", amount)
    ]


def test_a_change_not_decided_yet_holds_the_invoice_so_that_one_revision_follows_it() -> None:
    """A service's cancellation is seen by the contract before the service's own decision (its
    end-billing date) is written: revising the invoice then would revise it again right after."""
    books = Books.of(billed(start=date(2027, 1, 10)), billed("svc-b", start=date(2027, 1, 10)))
    books.settle(utc(2027, 1, 18))
    (first,) = books.open()
    cancelled = with_meta(with_spec(books.services["svc-b"], cancellation=Cancellation()), generation=2)
    books.services["svc-b"] = cancelled
    held = books.settle(utc(2027, 1, 18, 1))
    assert (changes(held), created(held)) == ([], [])
    assert [i.name for i in books.open()] == [first.name]
    # Decided: cancelled, billed until the end of the month.
    books.services["svc-b"] = with_status(
        cancelled,
        observed_generation=2,
        phase=P.CANCELLED,
        billing=BillingStatus(start=date(2027, 1, 10), end=date(2027, 1, 20)),
    )
    rounds = books.settle(utc(2027, 1, 18, 2))
    assert changes(rounds) == [(first.name, "void", "Superseded")]
    (revised,) = books.open()
    by = {(x.service, x.kind): x.description for x in revised.spec.lines}
    assert ("svc-b", "renewal") not in by
    assert by["svc-b", "proration"] == "seppmail.cloud base: 11 of 31 days (2027-01-10 to 2027-01-20)"


def test_a_zero_discount_gives_no_reason() -> None:
    books = Books.of(billed(start=date(2027, 1, 5), discount=(0, "nfr")), of=TRIAL)
    books.settle(utc(2027, 1, 20))
    (inv,) = books.open()
    assert [(x.discount_percent, x.discount_reason) for x in inv.spec.lines] == [(0, None)]


def test_a_one_time_product_is_invoiced_once() -> None:
    books = Books.of(billed(start=date(2027, 1, 5)), billed("svc-s", start=date(2027, 1, 6), product="setup"), of=TRIAL)
    books.settle(utc(2027, 1, 20))
    books.pay("acme-main-20270131-r1", at=utc(2027, 1, 21))
    books.settle(utc(2027, 1, 21))
    books.settle(utc(2027, 2, 14))  # the next period's invoice
    assert books.states() == {"acme-main-20270131-r1": "paid", "acme-main-20270228-r1": "open"}
    assert [x.kind for x in books.invoices["acme-main-20270228-r1"].spec.lines] == ["renewal"]


@pytest.mark.parametrize(
    ("gone", "carried"),
    [
        pytest.param(lambda svc: svc, True, id="dispatched-still-in-use"),
        pytest.param(lambda svc: with_status(svc, phase=P.DEPROVISIONED), False, id="removed"),
        pytest.param(lambda svc: with_meta_deleted(svc), False, id="deleted"),
        pytest.param(
            lambda svc: with_status(svc, subscription=SubscriptionStatus(discontinued_at=utc(2027, 2, 20))),
            False,
            id="discontinued",
        ),
    ],
)
def test_an_unpaid_one_time_charge_is_carried_while_the_service_is_in_use(
    gone: Callable[[Service], Service], carried: bool
) -> None:
    books = Books.of(billed(start=date(2027, 1, 5)), billed("svc-s", start=date(2027, 1, 6), product="setup"), of=TRIAL)
    books.settle(utc(2027, 1, 20))
    assert ("svc-s", "one-time") in [(x.service, x.kind) for x in books.invoices["acme-main-20270131-r1"].spec.lines]
    books.add(gone(books.services["svc-s"]))
    books.settle(utc(2027, 2, 28))  # the unpaid period ended: its invoice is void, the current period invoiced
    assert books.state("acme-main-20270131-r1") == "void"
    kinds = [(x.service, x.kind) for x in books.invoices["acme-main-20270228-r1"].spec.lines]
    assert (("svc-s", "one-time") in kinds) is carried
    assert ("svc-a", "renewal") in kinds


def test_a_one_time_product_booked_mid_period_is_invoiced_for_the_current_period_at_once() -> None:
    books = Books.of(billed(start=date(2027, 1, 1)))
    books.settle(utc(2027, 1, 5))
    books.add(billed("svc-s", start=date(2027, 1, 5), product="setup", users=1))
    assert created(books.settle(utc(2027, 1, 5))) == ["acme-main-20270101-r1"]
    assert lines_of(books.invoices["acme-main-20270101-r1"]) == [
        ("svc-s", "one-time", date(2027, 1, 5), date(2027, 1, 5), 1, "250", "250.00")
    ]


def test_an_invoice_waits_for_services_being_deployed_or_just_booked_until_the_period_starts() -> None:
    """One invoice per commit, not a revision per service: a service being deployed, or one booked
    within the last 10 s (the rest of its commit may be on its way), holds the invoice back."""
    now = utc(2027, 1, 18)
    books = Books.of(billed(start=date(2027, 1, 1)))
    books.add(with_meta(billed("svc-new", start=None), created=now - timedelta(seconds=5)))
    assert created(books.settle(now)) == []
    assert books.decide(now).wake_at == now + timedelta(seconds=5)
    deploying = with_status(books.services["svc-new"], phase=P.PROVISIONING)
    books.add(deploying)
    assert created(books.settle(now + timedelta(seconds=10))) == []  # settled, but still deploying
    books.add(billed("svc-new", start=date(2027, 1, 18)))
    assert created(books.settle(now + timedelta(seconds=11))) == ["acme-main-20270201-r1"]
    # At the latest when the period starts, whatever is still being deployed.
    late = Books.of(billed(start=date(2027, 1, 1)), with_status(billed("svc-stuck", start=None), phase=P.PROVISIONING))
    assert created(late.settle(now)) == []
    assert created(late.settle(utc(2027, 2, 1))) == ["acme-main-20270201-r1"]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        pytest.param(D("2.675"), "2.68", id="half-up-where-a-float-rounds-down"),
        pytest.param(D("0.005"), "0.01", id="half-a-cent-up"),
        pytest.param(D("0.0049"), "0.00", id="under-half-a-cent-down"),
        pytest.param(D("0.1") + D("0.2"), "0.30", id="exact"),
        pytest.param(D(100), "100.00", id="whole"),
        pytest.param(D(0), "0.00", id="zero"),
    ],
)
def test_money_is_written_in_cents_rounded_half_up(value: D, written: str) -> None:
    assert money(value) == written


# ---------------------------------------------------------------------------------------- names

LONG = "a" * 240 + ".example"  # 248 characters: too long for a suffix


@pytest.mark.parametrize(
    ("contract_name", "start", "revision", "expected"),
    [
        pytest.param("acme-main", date(2027, 2, 1), 1, "acme-main-20270201-r1", id="plain"),
        pytest.param("acme-main", date(2028, 2, 29), 12, "acme-main-20280229-r12", id="leap-day-revision-12"),
        pytest.param("a" * 241, date(2027, 2, 1), 1, "a" * 241 + "-20270201-r1", id="just-fits-253"),
    ],
)
def test_invoice_names_are_deterministic(contract_name: str, start: date, revision: int, expected: str) -> None:
    assert invoice_name(contract_name, start, revision) == expected
    assert invoice_name(contract_name, start, revision) == expected  # the same on every retry


@pytest.mark.parametrize(
    "contract_name",
    [
        pytest.param("a" * 242, id="one-too-long"),
        pytest.param("a" * 253, id="longest-name"),
        pytest.param(LONG, id="with-a-dot"),
        pytest.param("a" * 230 + ".b-c" + "d" * 19, id="cut-at-a-dot"),
    ],
)
def test_long_invoice_names_are_hashed_into_253_characters(contract_name: str) -> None:
    name = invoice_name(contract_name, date(2027, 2, 1), 3)
    assert len(name) <= 253
    assert name.endswith("-20270201-r3")
    assert re.fullmatch(OBJECT_NAME_PATTERN, name)
    assert name == invoice_name(contract_name, date(2027, 2, 1), 3)
    # Two long contracts sharing the kept prefix still get different names.
    assert name != invoice_name(contract_name[:-1] + "z", date(2027, 2, 1), 3)


def test_a_zero_total_is_paid_when_invoiced() -> None:
    books = Books.of(billed(start=date(2027, 1, 5), discount=(100, "test")), of=TRIAL)
    books.settle(utc(2027, 1, 20))
    (inv,) = books.invoices.values()
    assert (inv.status.state, inv.status.paid_at) == (InvoiceState.PAID, utc(2027, 1, 20))


# ---------------------------------------------------------------------------------------- revisions

LEAD = utc(2027, 1, 17)
"""The lead time of the trial contract's first period (31 January)."""
R1, R2, R3 = (f"acme-main-20270131-r{n}" for n in (1, 2, 3))
MARCH = "acme-main-20270228-r1"
BOTH = {"svc-a": "100.00", "svc-b": "22.50"}
"""What the open and paid invoices bill per service, unchanged."""
A_ONLY = {"svc-a": "100.00"}


def trial_books() -> Books:
    """The trial contract with svc-a (10 x 10.00) and svc-b (5 x 4.50): R1 is open, 122.50."""
    books = Books.of(
        billed(start=date(2027, 1, 5)), billed("svc-b", start=date(2027, 1, 5), product="sig-enc", users=5), of=TRIAL
    )
    assert created(books.settle(LEAD)) == [R1]
    return books


Edit = Callable[[Books], None]


def paid(then: Edit | None = None) -> Edit:
    """Pay R1 in full (and settle), then ``then``."""

    def edit(books: Books) -> None:
        books.pay(R1, at=LEAD)
        assert changes(books.settle(LEAD)) == [(R1, "paid", "Paid")]
        if then is not None:
            then(books)

    return edit


def partly_paid(then: Edit) -> Edit:
    def edit(books: Books) -> None:
        books.pay(R1, "50.00", at=LEAD)
        assert changes(books.settle(LEAD)) == []
        then(books)

    return edit


def users(n: int) -> Edit:
    return lambda books: books.edit("svc-a", users=n)


def renew_off(*names: str) -> Edit:
    def edit(books: Books) -> None:
        for name in names:
            books.edit(name, auto_renew=False)

    return edit


def cancel_b(books: Books) -> None:
    books.edit("svc-b", cancellation=Cancellation(end_billing_date=date(2027, 1, 30)))


def delete_b(books: Books) -> None:
    books.services["svc-b"] = with_meta_deleted(books.services["svc-b"])


def remove_b(books: Books) -> None:
    del books.services["svc-b"]


def discontinue_b(books: Books) -> None:
    svc = books.services["svc-b"]
    books.services["svc-b"] = with_status(svc, subscription=SubscriptionStatus(discontinued_at=LEAD))


def contract_renew_off(books: Books) -> None:
    books.contract = with_spec(books.contract, auto_renew=False)


def join_c(books: Books) -> None:
    books.add(billed("svc-c", start=date(2027, 1, 17), users=1))


def one_time(books: Books) -> None:
    books.add(billed("svc-s", start=date(2027, 1, 17), product="setup", users=1))


def nothing(books: Books) -> None:
    pass


def with_meta_deleted(svc: Service) -> Service:
    return replace(svc, meta=replace(svc.meta, deleted=LEAD))


@pytest.mark.parametrize(
    ("edit", "now", "closed", "invoiced", "billing"),
    [
        pytest.param(
            users(12), LEAD, [(R1, "void", "Superseded")], [R2], {**BOTH, "svc-a": "120.00"}, id="users-changed",
        ),
        pytest.param(
            lambda b: b.edit("svc-a", discount=Discount(percent=10, reason="nfr")), LEAD, [(R1, "void", "Superseded")],
            [R2], {"svc-a": "90.00", "svc-b": "22.50"}, id="discount-changed",
        ),
        pytest.param(renew_off("svc-b"), LEAD, [(R1, "void", "Superseded")], [R2], A_ONLY, id="auto-renew-off"),
        pytest.param(
            renew_off("svc-a", "svc-b"), LEAD, [(R1, "void", "NothingToInvoice")], [], {}, id="nothing-renews",
        ),
        pytest.param(
            contract_renew_off, LEAD, [(R1, "void", "NothingToInvoice")], [], {}, id="contract-auto-renew-off",
        ),
        pytest.param(cancel_b, LEAD, [(R1, "void", "Superseded")], [R2], A_ONLY, id="cancelled"),
        pytest.param(delete_b, LEAD, [(R1, "void", "Superseded")], [R2], A_ONLY, id="deleted"),
        pytest.param(discontinue_b, LEAD, [(R1, "void", "Superseded")], [R2], A_ONLY, id="discontinued"),
        pytest.param(
            join_c, LEAD, [(R1, "void", "Superseded")], [R2], {**BOTH, "svc-c": "10.00"},
            id="a-service-joins",
        ),
        pytest.param(nothing, LEAD + timedelta(days=3), [], [], BOTH, id="unchanged-kept"),
        pytest.param(
            partly_paid(users(12)), LEAD, [(R1, "reimbursed", "Superseded")], [R2], {**BOTH, "svc-a": "120.00"},
            id="partly-paid-superseded-is-reimbursed",
        ),
        pytest.param(
            paid(renew_off("svc-b")), LEAD, [(R1, "reimbursed", "ServicesStopped")], [R2], A_ONLY,
            id="paid-ahead-then-auto-renew-off",
        ),
        pytest.param(
            paid(cancel_b), LEAD, [(R1, "reimbursed", "ServicesStopped")], [R2], A_ONLY,
            id="paid-ahead-then-cancelled",
        ),
        pytest.param(
            paid(remove_b), LEAD, [(R1, "reimbursed", "ServicesStopped")], [R2], A_ONLY,
            id="paid-ahead-then-gone",
        ),
        pytest.param(
            paid(renew_off("svc-a", "svc-b")), LEAD, [(R1, "reimbursed", "ServicesStopped")], [], {},
            id="paid-ahead-then-nothing-renews",
        ),
        pytest.param(
            paid(renew_off("svc-b")), utc(2027, 1, 31), [], [], BOTH,
            id="paid-period-started-is-not-reimbursed",
        ),
        pytest.param(paid(users(12)), LEAD, [], [], BOTH, id="paid-users-changed-stays-paid"),
        pytest.param(
            paid(join_c), LEAD, [], [R2], {**BOTH, "svc-c": "10.00"}, id="paid-then-a-service-joins",
        ),
        pytest.param(
            paid(one_time), LEAD, [], [R2], {**BOTH, "svc-s": "250.00"}, id="paid-then-one-time",
        ),
        pytest.param(
            nothing, utc(2027, 2, 28), [(R1, "void", "PeriodEnded")], [MARCH], BOTH,
            id="open-invoice-whose-period-ended-is-void",
        ),
        pytest.param(
            partly_paid(nothing), utc(2027, 2, 28), [(R1, "reimbursed", "PeriodEnded")], [MARCH],
            BOTH, id="partly-paid-period-ended-is-reimbursed",
        ),
    ],
)  # fmt: skip
def test_revisions(
    edit: Edit, now: datetime, closed: list[tuple[str, str, str]], invoiced: list[str], billing: dict[str, str]
) -> None:
    books = trial_books()
    edit(books)
    rounds = books.settle(now)
    assert changes(rounds) == closed
    assert created(rounds) == invoiced
    # What the open and paid invoices bill, per service.
    live = [i for i in books.invoices.values() if i.status.state in (InvoiceState.OPEN, InvoiceState.PAID)]
    per_service: dict[str, D] = {}
    for inv in live:
        for x in inv.spec.lines:
            per_service[x.service] = per_service.get(x.service, D(0)) + D(x.amount)
    assert {k: money(v) for k, v in per_service.items()} == billing
    assert len({i.spec.period.start for i in books.open()}) == len(books.open()) <= 1
    for name, _, _ in closed:
        assert books.invoices[name].status.closed_at == now
    for name in invoiced:  # each revision counts up from the one it replaces
        assert books.invoices[name].spec.revision == int(name.rsplit("-r", 1)[1])


# ---------------------------------------------------------------------------------------- payments

T1, T2 = utc(2027, 1, 18, 10), utc(2027, 1, 19, 11)


@pytest.mark.parametrize(
    ("payments", "state", "paid", "paid_at", "overpaid"),
    [
        pytest.param([("40.00", T1, "CHF")], "open", "40.00", None, None, id="partial-keeps-it-open"),
        pytest.param(
            [("60.00", T1, "CHF"), ("62.50", T2, "CHF")], "paid", "122.50", T2, None, id="two-payments-cover-it"
        ),
        pytest.param(
            [("100.00", T2, "CHF"), ("22.50", T1, "CHF")], "paid", "122.50", T2, None,
            id="paid-at-is-when-the-completing-payment-arrived",
        ),
        pytest.param([("130.00", T1, "CHF")], "paid", "130.00", T1, "7.50", id="overpaid"),
        pytest.param([("122.50", T1, "EUR")], "open", "0.00", None, None, id="another-currency-does-not-count"),
        pytest.param(
            [("122.50", T1, "EUR"), ("122.50", T2, "CHF")], "paid", "122.50", T2, None,
            id="only-the-invoices-currency-counts",
        ),
    ],
)  # fmt: skip
def test_payments(
    payments: list[tuple[str, datetime, str]], state: str, paid: str, paid_at: datetime | None, overpaid: str | None
) -> None:
    books = trial_books()
    for amount, at, currency in payments:
        books.pay(R1, amount, at=at, currency=currency)
    now = utc(2027, 1, 20)
    books.settle(now)
    status = books.invoices[R1].status
    assert (status.state, status.paid, status.paid_at) == (state, Money(amount=paid, currency="CHF"), paid_at)
    over = next(x for x in status.conditions if x.type == "Overpaid")
    ready = next(x for x in status.conditions if x.type == "Ready")
    if overpaid is None:
        assert (over.status, over.reason) == ("False", "NotOverpaid")
    else:
        assert (over.status, over.reason) == ("True", "Overpaid")
        assert f"by {overpaid} CHF" in over.message
    assert (ready.status, ready.reason) == (("True", "Paid") if state == "paid" else ("False", "AwaitingPayment"))
    # What is still owed: the open invoice's total less what was paid towards it.
    due = "0.00" if state == "paid" else money(D("122.50") - D(paid))
    assert books.contract.status.amount_due == Money(amount=due, currency="CHF")


def test_a_payment_that_completes_an_invoice_creates_nothing_more() -> None:
    books = trial_books()
    books.pay(R1, at=T1)
    rounds = books.settle(T1)
    assert changes(rounds) == [(R1, "paid", "Paid")]
    assert created(rounds) == []
    assert books.contract.status.open_invoice is None
    assert books.contract.status.amount_due == Money(amount="0.00", currency="CHF")


def test_reimbursing_a_partly_paid_invoice_says_so() -> None:
    books = trial_books()
    books.pay(R1, "50.00", at=T1)
    books.settle(T1)
    books.edit("svc-a", users=11)
    books.settle(T1)
    status = books.invoices[R1].status
    assert status.state is InvoiceState.REIMBURSED
    assert status.closed_reason == (
        "What the period bills changed: replaced by a new revision. The partial payment is reimbursed."
    )
    assert status.history[-1].reason == "Superseded"


# ---------------------------------------------------------------------------------------- the contract's status


def cond(books: Books, type_: str) -> tuple[str, str, str]:
    found = next(x for x in books.contract.status.conditions if x.type == type_)
    return found.status, found.reason, found.message


@dataclass(frozen=True)
class ContractCase:
    books: Callable[[], Books]
    now: datetime
    state: str
    payment_due: tuple[str, str]
    billable: tuple[str, str]
    next_: tuple[str, datetime]
    open_invoice: str | None = None
    amount_due: str = "0.00"
    problems: tuple[str, ...] = ()


def _paid_trial() -> Books:
    books = trial_books()
    books.pay(R1, at=T1)
    books.settle(T1)
    return books


def _with(
    *services: Service, of: Contract = TRIAL, foreign: tuple[tuple[str, str | None], ...] = ()
) -> Callable[[], Books]:
    def make() -> Books:
        books = Books.of(billed(start=date(2027, 1, 5)), *services, of=of)
        books.foreign = foreign
        return books

    return make


NOT_DUE = ("False", "NothingDue")
ALL_BILLABLE = ("True", "AllServicesBillable")
NOT_BILLABLE = ("False", "ServicesNotBillable")


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            ContractCase(_with(), utc(2027, 1, 10), "trial", NOT_DUE, ALL_BILLABLE, ("CreateInvoice", LEAD)),
            id="trial",
        ),
        pytest.param(
            ContractCase(
                trial_books, utc(2027, 1, 20), "trial", ("True", "InvoiceOpen"), ALL_BILLABLE,
                ("EndPeriod", utc(2027, 1, 31)), R1, "122.50",
            ),
            id="trial-invoice-open",
        ),
        pytest.param(
            ContractCase(
                _paid_trial, utc(2027, 2, 5), "active", NOT_DUE, ALL_BILLABLE, ("CreateInvoice", utc(2027, 2, 14)),
            ),
            id="active-paid",
        ),
        pytest.param(
            ContractCase(
                trial_books, utc(2027, 2, 5), "expired", ("True", "InvoiceOpen"), ALL_BILLABLE,
                ("CreateInvoice", utc(2027, 2, 14)), R1, "122.50",
            ),
            id="expired-unpaid",
        ),
        pytest.param(
            ContractCase(
                lambda: Books.of(billed(start=date(2027, 1, 10))), utc(2027, 1, 15), "active", NOT_DUE, ALL_BILLABLE,
                ("CreateInvoice", utc(2027, 1, 18)),
            ),
            id="active-joined-this-period",
        ),
        pytest.param(
            ContractCase(
                lambda: Books.of(billed(start=None)), utc(2027, 2, 15), "active", NOT_DUE, ALL_BILLABLE,
                ("EndPeriod", utc(2027, 3, 1)),
            ),
            id="nothing-billed-is-not-expired",
        ),
        pytest.param(
            ContractCase(
                _with(billed("svc-x", start=date(2027, 1, 5), product="unpriced")), utc(2027, 1, 20), "trial",
                ("True", "InvoiceOpen"), NOT_BILLABLE, ("EndPeriod", utc(2027, 1, 31)), R1, "100.00",
                ("service 'svc-x': product 'unpriced' has no price",),
            ),
            id="price-missing",
        ),
        pytest.param(
            ContractCase(
                _with(billed("svc-x", start=date(2027, 1, 5), product="euro")), utc(2027, 1, 20), "trial",
                ("True", "InvoiceOpen"), NOT_BILLABLE, ("EndPeriod", utc(2027, 1, 31)), R1, "100.00",
                ("service 'svc-x': product 'euro' is priced in EUR, invoices in CHF",),
            ),
            id="product-in-another-currency",
        ),
        pytest.param(
            ContractCase(
                _with(foreign=(("svc-x", "other"),)), utc(2027, 1, 10), "trial", NOT_DUE, NOT_BILLABLE,
                ("CreateInvoice", LEAD), problems=("service 'svc-x' belongs to tenant 'other', not 'acme'",),
            ),
            id="foreign-tenants-service",
        ),
    ],
)  # fmt: skip
def test_the_contracts_status(case: ContractCase) -> None:
    books = case.books()
    books.settle(case.now)
    status = books.contract.status
    assert status.state == case.state
    assert cond(books, "PaymentDue")[:2] == case.payment_due
    assert cond(books, "Billable")[:2] == case.billable
    assert cond(books, "Ready")[0] == ("False" if case.state == "expired" else "True")
    for problem in case.problems:
        assert problem in cond(books, "Billable")[2]
    assert status.next is not None
    assert (status.next.action, status.next.at) == case.next_
    assert status.open_invoice == case.open_invoice
    assert status.amount_due == Money(amount=case.amount_due, currency="CHF")
    assert status.trial_ends_at == (utc(2027, 1, 31) if books.contract.spec.trial_days else None)
    assert status.services == len(books.services)
    assert status.history[-1].to == case.state


def test_the_contracts_state_moves_trial_active_expired_and_back() -> None:
    books = Books.of(billed(start=date(2027, 1, 5)), of=TRIAL)
    seen = []
    for now in (utc(2027, 1, 10), utc(2027, 1, 17), utc(2027, 1, 31), utc(2027, 2, 1)):
        books.settle(now)
        seen.append(books.contract.status.state)
    books.pay(R1, at=utc(2027, 2, 1, 12))
    books.settle(utc(2027, 2, 1, 12))  # paid late: renewed at once
    seen.append(books.contract.status.state)
    assert seen == ["trial", "trial", "expired", "expired", "active"]
    assert [(h.from_, h.to, h.reason) for h in books.contract.status.history] == [
        (None, "trial", "TrialStarted"),
        ("trial", "expired", "Expired"),
        ("expired", "active", "Active"),
    ]
    assert books.contract.status.current_period is not None
    assert books.contract.status.current_period.start == utc(2027, 1, 31)
    assert books.contract.status.renewing == 1


# ---------------------------------------------------------------------------------------- decide_payment


def _invoice_in(state: InvoiceState | None) -> Invoice:
    inv = invoice(line("renewal", *FEB), state=state)
    return with_status(inv, closed_reason="Superseded" if state is InvoiceState.VOID else None)


@pytest.mark.parametrize(
    ("inv", "currency", "state", "reason"),
    [
        pytest.param(None, "CHF", "rejected", "InvoiceNotFound", id="no-such-invoice"),
        pytest.param(_invoice_in(InvoiceState.OPEN), "EUR", "rejected", "CurrencyMismatch", id="another-currency"),
        pytest.param(_invoice_in(InvoiceState.VOID), "CHF", "rejected", "InvoiceVoid", id="void"),
        pytest.param(_invoice_in(InvoiceState.REIMBURSED), "CHF", "applied", "Reimbursed", id="reimbursed"),
        pytest.param(_invoice_in(InvoiceState.OPEN), "CHF", "applied", "Applied", id="open"),
        pytest.param(_invoice_in(None), "CHF", "applied", "Applied", id="just-created"),
        pytest.param(_invoice_in(InvoiceState.PAID), "CHF", "applied", "Applied", id="paid"),
    ],
)
def test_decide_payment(inv: Invoice | None, currency: str, state: str, reason: str) -> None:
    name = inv.name if inv else "acme-main-20270201-r9"
    pay = payment("pay-1", name, "100.00", T1, currency=currency)
    decided = decide_payment(pay, inv, T2)
    status = decided.status
    ready, reconciling, stalled = status.conditions
    assert (status.state, ready.type, ready.reason) == (state, "Ready", reason)
    assert ready.status == ("True" if state == "applied" else "False")
    # kstatus: a rejected payment is Stalled (Flux: Failed), an applied one settled (Current).
    assert (reconciling.type, reconciling.status) == ("Reconciling", "False")
    assert (stalled.type, stalled.status) == ("Stalled", "False" if state == "applied" else "True")
    assert ready.last_transition_time == T2
    assert [(t.from_, t.to, t.reason) for t in decided.transitions] == [(None, state, reason)]
    assert [h.to for h in status.history] == [state]
    # Deciding again on its own status changes nothing.
    again = decide_payment(replace(pay, status=status), inv, utc(2027, 1, 25))
    assert again.status == status
    assert again.transitions == ()


# ---------------------------------------------------------------------------------------- properties

Event = tuple[str, int, int]
"""(what, a, b): advance by a hours; pay the oldest open invoice in full (a=1) or half; toggle
service a's auto-renew; set service a's users to b; add a service of product a with b users;
cancel service a."""

EVENTS = st.one_of(
    st.tuples(st.just("advance"), st.integers(1, 45 * 24), st.just(0)),
    st.tuples(st.just("advance"), st.integers(12 * 24, 100 * 24), st.just(0)),
    st.tuples(st.just("pay"), st.integers(0, 1), st.just(0)),
    st.tuples(st.just("pay"), st.just(1), st.just(0)),
    st.tuples(st.just("toggle"), st.integers(0, 5), st.just(0)),
    st.tuples(st.just("users"), st.integers(0, 5), st.integers(1, 50)),
    st.tuples(st.just("add"), st.integers(0, 2), st.integers(1, 20)),
    st.tuples(st.just("cancel"), st.integers(0, 5), st.just(0)),
)
STARTS = st.sampled_from(
    [utc(2027, 1, 31, 15), utc(2028, 1, 31, 12), utc(2028, 2, 29, 8), utc(2027, 3, 30, 22, 30), utc(2027, 10, 31)]
) | st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))
ADDED = ("base", "sig-enc", "setup")


@dataclass
class Simulation:
    books: Books
    now: datetime
    added: int = 0
    discontinued: dict[str, set[str]] = field(default_factory=dict)
    """Per discontinued service, the invoices that existed when it was discontinued."""

    def service(self, index: int) -> Service | None:
        names = sorted(self.books.services)
        return self.books.services[names[index % len(names)]] if names else None

    def run(self, event: Event) -> None:
        what, a, b = event
        books, svc = self.books, self.service(a)
        if what == "advance":
            self.now += timedelta(hours=a)
        elif what == "pay" and books.open():
            oldest = books.open()[0]
            owed = D(oldest.spec.total.amount) - D(oldest.status.paid.amount if oldest.status.paid else "0")
            books.pay(oldest.name, money(owed if a or owed < D("0.02") else owed / 2), at=self.now)
        elif what == "toggle" and svc is not None:
            books.edit(svc.name, auto_renew=not svc.spec.auto_renew)
        elif what == "users" and svc is not None:
            books.edit(svc.name, users=b)
        elif what == "add" and len(books.services) < 6:
            self.added += 1
            start = local_day(self.now, books.policy.zone)
            books.add(billed(f"svc-{self.added}", start=start, product=ADDED[a], users=b))
        elif what == "cancel" and svc is not None and svc.spec.cancellation is None:
            books.edit(svc.name, cancellation=Cancellation())
        self.settle()

    def settle(self) -> None:
        books = self.books
        books.settle(self.now)
        # As the order lifecycle does: a service unpaid for too long is discontinued for good.
        for name, svc in sorted(books.services.items()):
            if name not in self.discontinued and books.term(name, self.now).discontinued(self.now):
                found = books.term(name, self.now)
                subscription = SubscriptionStatus(discontinued_at=found.discontinued_at, expires_at=found.expires_at)
                books.services[name] = with_status(svc, subscription=subscription)
                self.discontinued[name] = set(books.invoices)
        books.settle(self.now)
        self.check()

    def check(self) -> None:
        books = self.books
        live = [i for i in books.invoices.values() if i.status.state in (InvoiceState.OPEN, InvoiceState.PAID)]
        # (a) No service day is billed twice, and a one-time product at most once.
        days: dict[str, list[tuple[date, date, str]]] = {}
        one_time: dict[str, int] = {}
        for inv in live:
            for x in inv.spec.lines:
                if x.kind == "one-time":
                    one_time[x.service] = one_time.get(x.service, 0) + 1
                else:
                    days.setdefault(x.service, []).append((x.first_day, x.last_day, inv.name))
        for name, spans in days.items():
            spans.sort()
            for (_, last, one), (first, _, other) in itertools.pairwise(spans):
                assert last < first, f"{name} billed twice: {one} and {other}"
        assert all(n == 1 for n in one_time.values()), one_time
        # (b) A discontinued service is never renewed again, and what it still owes (arrears) is
        # invoiced only for a period that was invoiced before (a revision), never carried on.
        for name, before in self.discontinued.items():
            invoiced = {books.invoices[b].spec.period.start for b in before}
            for inv_name, inv in books.invoices.items():
                if inv_name not in before:
                    assert not any(x.service == name and x.kind == "renewal" for x in inv.spec.lines), inv_name
                    if any(x.service == name for x in inv.spec.lines):
                        assert inv.spec.period.start in invoiced, inv_name
        # (c) At most one open invoice per period.
        starts = [i.spec.period.start for i in books.open()]
        assert len(starts) == len(set(starts))
        # What is due is what the open invoices total less what was paid towards them; every
        # total is the sum of its lines.
        due = sum((D(i.spec.total.amount) - paid_amount(i, books.payments) for i in books.open()), D(0))
        assert books.contract.status.amount_due == Money(amount=money(due), currency="CHF")
        for inv in books.invoices.values():
            assert D(inv.spec.total.amount) == sum((D(x.amount) for x in inv.spec.lines), D(0))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    STARTS,
    st.sampled_from([0, 7, 14, 30]),
    st.sampled_from(["monthly", "quarterly", "yearly"]),
    st.sampled_from([UTC_POLICY, ZURICH_POLICY]),
    st.lists(EVENTS, min_size=5, max_size=40),
)
def test_invoicing_never_bills_a_day_twice(
    started: datetime,
    trial_days: int,
    interval: Literal["monthly", "quarterly", "yearly"],
    policy: Policy,
    events: list[Event],
) -> None:
    of = contract(created=started, interval=interval, trial_days=trial_days)
    first = billed(start=local_day(started, policy.zone), users=5)
    sim = Simulation(Books.of(first, policy=policy, of=of), started)
    sim.settle()
    for event in events:
        sim.run(event)
