"""The usage statement and the offer (``core.pricing``), against months worked out by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from seppmail_lifecycle.api.service import BillingStatus, Cancellation
from seppmail_lifecycle.core.pricing import PricedLine, offer, totals, usage_statement

from .builders import catalogue, domain, priced, service, with_status

PRODUCTS = catalogue(priced("base", "10.00"), priced("setup", "250.00", one_time=True), priced("sig", "4.50"))
DOMAINS = [domain("acme-com"), domain("globex-com", tenant="globex", domain_name="globex.com")]


def billed(name: str, product: str, start: date | None, end: date | None = None, **kw: object) -> object:
    svc = service(name, product, **kw)  # type: ignore[arg-type]
    return with_status(svc, number=int(name[-1]), billing=BillingStatus(start=start, end=end) if start else None)


SERVICES = [
    # 10 users from 10 January, 10 % off: January 22 of 31 days.
    billed("base-1", "base", date(2027, 1, 10), users=10, discount=(10, "nfr")),
    # Cancelled, billed until 14 February: February 14 of 28 days.
    billed("sig-2", "sig", date(2026, 12, 1), date(2027, 2, 14), users=4, cancelled=Cancellation()),
    billed("setup-3", "setup", date(2027, 1, 10), users=2),
    billed("none-4", "base", None, users=3),  # never billed
    billed("glob-5", "base", date(2026, 6, 1), domain="globex-com", users=1),
]


def amounts(lines: list[PricedLine]) -> list[tuple[str, str | None, str, str]]:
    return [(x.service, f"{x.days}/{x.month_days}" if x.days else None, str(x.amount), x.currency) for x in lines]


@pytest.mark.parametrize(
    ("month", "expected"),
    [
        pytest.param(
            date(2027, 1, 1),
            [
                ("base-1", "22/31", "63.87", "CHF"),  # 10.00 x 10 x 22/31 x 0.9 = 63.8709...
                ("sig-2", "31/31", "18.00", "CHF"),  # 4.50 x 4
                ("setup-3", None, "500.00", "CHF"),  # once, the month billing started
                ("glob-5", "31/31", "10.00", "CHF"),
            ],
            id="january",
        ),
        pytest.param(
            date(2027, 2, 15),
            [
                ("base-1", "28/28", "90.00", "CHF"),
                ("sig-2", "14/28", "9.00", "CHF"),  # until the end-billing date
                ("glob-5", "28/28", "10.00", "CHF"),
            ],
            id="february-the-cancelled-one-until-its-end",
        ),
        pytest.param(
            date(2027, 3, 1),
            [("base-1", "31/31", "90.00", "CHF"), ("glob-5", "31/31", "10.00", "CHF")],
            id="march",
        ),
        pytest.param(date(2026, 5, 1), [], id="before-anything-was-billed"),
    ],
)
def test_the_usage_statement_of_a_month(month: date, expected: list[tuple[str, str | None, str, str]]) -> None:
    lines = usage_statement(month, DOMAINS, SERVICES, PRODUCTS)  # type: ignore[arg-type]
    assert amounts(lines) == expected
    assert {x.tenant for x in lines} <= {"acme", "globex"}
    if lines:
        assert lines[0].discount == "10 (nfr)"


def test_totals_by_tenant_and_one_time() -> None:
    lines = usage_statement(date(2027, 1, 1), DOMAINS, SERVICES, PRODUCTS)  # type: ignore[arg-type]
    assert totals(lines) == {
        ("acme", "CHF", False): D("81.87"),
        ("acme", "CHF", True): D("500.00"),
        ("globex", "CHF", False): D("10.00"),
    }


def test_an_offer_quotes_the_tenants_services_that_run_on_and_the_planned_ones() -> None:
    planned = service("planned-9", "sig", users=20, discount=(25, "launch"))
    lines = offer("acme", DOMAINS, [*SERVICES, planned], PRODUCTS)  # type: ignore[list-item]
    assert [(x.service, str(x.amount), x.one_time, x.discount) for x in lines] == [
        ("base-1", "90.00", False, "10 (nfr)"),
        ("setup-3", "500.00", True, None),
        ("none-4", "30.00", False, None),
        ("planned-9", "67.50", False, "25 (launch)"),  # 4.50 x 20 x 0.75
    ]  # the cancelled sig-2 and globex's service are not in it
