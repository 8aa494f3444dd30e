"""``kubectl lifecycle tree``: the seed's tenant and booked-services tables as one tree."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta, timezone

from rich.console import Console

from seppmail_lifecycle.api.common import NextTransition
from seppmail_lifecycle.api.service import BillingStatus, SubscriptionStatus
from seppmail_lifecycle.api.states import OrderPhase as P
from seppmail_lifecycle.cli.tree import build, render
from tests.unit.core.builders import condition, contract, domain, invoice, line, service, tenant, with_status


def test_the_tree_lists_tenants_domains_services_in_number_order_with_their_columns() -> None:
    acme = with_status(tenant("acme"), id="t-0001")
    services = [
        with_status(
            service("acme-sig", "sig-only", users=5, discount=(10, "nfr")),
            number=2,
            phase=P.PROVISIONED,
            subscription=SubscriptionStatus(state="OK"),
            billing=BillingStatus(start=date(2026, 11, 2)),
            discount="10 (nfr)",
        ),
        with_status(service("acme-base", users=5), number=1, phase=P.PROVISIONED),
        service("other-base", domain="other-com"),  # another tenant's domain: not listed
    ]
    paid = invoice(line("renewal", date(2027, 1, 1), date(2027, 1, 31)), contract="acme-main")
    root = build(
        "partner-a",
        [],
        [acme, tenant("globex")],
        [domain(phase=P.PROVISIONED), domain("other-com", tenant="nobody", domain_name="other.com")],
        services,
        [contract("acme-main")],
        [paid],
    )
    assert (root.kind, root.name, root.fields["tenants"]) == ("Partner", "partner-a", 2)
    node = root.children[0]
    assert (node.name, node.fields["id"], node.fields["domains"], node.fields["services"]) == ("acme", "t-0001", 1, 2)
    domain_node, contract_node = node.children
    assert [s.name for s in domain_node.children] == ["acme-base", "acme-sig"]
    sig = domain_node.children[1].as_dict()
    assert {k: sig[k] for k in ("number", "product", "phase", "subscription", "billingStart", "discount")} == {
        "number": 2,
        "product": "sig-only",
        "phase": "provisioned",
        "subscription": "OK",
        "billingStart": "2026-11-02",
        "discount": "10 (nfr)",
    }
    assert [i.name for i in contract_node.children] == [paid.name]
    assert root.children[1].fields == {"displayName": "Globex AG", "id": None, "domains": 0, "services": 0}

    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(render(root))
    text = out.getvalue()
    assert "Service acme-sig  #2  sig-only  provisioned  OK  billingStart 2026-11-02  discount 10 (nfr)" in text
    assert "Tenant acme  Acme AG  id t-0001  1 domain  2 services" in text
    assert f"Invoice {paid.name}  2027-01-01 to 2027-01-31  100.00 CHF  paid" in text


def test_the_tree_says_moments_to_the_second_in_utc_and_labels_readiness() -> None:
    zurich = timezone(timedelta(hours=1))
    acme = domain(phase=P.PROVISIONING)
    acme = with_status(
        acme,
        next=NextTransition(action="RecheckDNS", at=datetime(2026, 12, 7, 15, 42, 30, 3827, tzinfo=zurich)),
        conditions=[condition("Ready", "False", "AwaitingPartner")],
    )
    root = build("partner-a", [], [tenant("acme")], [acme], [])
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(render(root))
    assert "provisioning  ready False  next RecheckDNS 2026-12-07T14:42:30Z" in out.getvalue()


def test_only_the_named_tenant_and_markup_in_names_is_printed_as_it_is() -> None:
    root = build("partner-a", [], [tenant("acme"), tenant("globex")], [], [], only="globex")
    assert [t.name for t in root.children] == ["globex"]
    bracketed = build("partner-a", [], [with_status(tenant("acme"), id="[bold]x[/bold]")], [], [])
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(render(bracketed))
    assert "id [bold]x[/bold]" in out.getvalue()


def test_the_examples_render_as_a_tree_and_an_offer() -> None:
    from pathlib import Path

    import yaml

    from seppmail_lifecycle.api import KINDS_BY_NAME
    from seppmail_lifecycle.core.pricing import offer
    from seppmail_lifecycle.kube.convert import parse

    examples = Path(__file__).parents[3] / "manifests" / "examples"
    objects: dict[str, list[object]] = {}
    for index, doc in enumerate(d for f in sorted(examples.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text())):
        meta = {
            "namespace": "partner-demo",
            **doc["metadata"],
            "uid": f"u{index}",
            "creationTimestamp": "2026-12-03T10:00:00Z",
        }
        obj, ok = parse(KINDS_BY_NAME[doc["kind"]], {**doc, "metadata": meta})
        assert ok
        objects.setdefault(doc["kind"], []).append(obj)
    root = build(
        "partner-demo",
        objects["Partner"],  # type: ignore[arg-type]
        objects["Tenant"],  # type: ignore[arg-type]
        objects["Domain"],  # type: ignore[arg-type]
        objects["Service"],  # type: ignore[arg-type]
        objects["Contract"],  # type: ignore[arg-type]
        [],
        objects["License"],  # type: ignore[arg-type]
    )
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(render(root))
    text = out.getvalue()
    assert text.startswith("Partner swissmail-partners  Swissmail Partners GmbH  2 tenants")
    for shown in ("Tenant acme", "Tenant globex", "Domain acme-ch  acme.ch", "Contract acme-yearly  yearly"):
        assert shown in text
    products = {p.name: p for p in objects["Product"]}  # type: ignore[attr-defined]
    quote = offer("acme", objects["Domain"], objects["Service"], products)  # type: ignore[arg-type]
    assert {line.product for line in quote} == {"base", "sign-encrypt", "onboarding"}
