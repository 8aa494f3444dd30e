"""Which aggregates an object's change affects: the one answer shared by the watch handlers,
the start-up catch-up and the re-decision after a conflict."""

from __future__ import annotations

import pytest

from seppmail_lifecycle.kube.convert import Body
from seppmail_lifecycle.kube.store import ROUTING, Store
from seppmail_lifecycle.runtime.keys import MAIL, Key, affected_keys, catch_up_keys
from tests import manifests
from tests.unit.core.builders import NS
from tests.unit.served import routing_configmap, served

OTHER_NS = "partner-b"


def world() -> Store:
    """Two tenants with a domain each (claiming the same name across namespaces), services, a
    license, a deploy request, a product and a routing config."""
    store = Store()
    for kind, body in [
        ("Product", served(manifests.obj("Product", "base", {"displayName": "Base"}), None)),
        ("Tenant", served(manifests.tenant("acme"))),
        ("Partner", served(manifests.VALID["Partner"])),
        ("Domain", served(manifests.domain("acme-com", "acme", "acme.com"))),
        ("Domain", served(manifests.domain("acme-ch", "acme", "acme.ch"))),
        ("Domain", served(manifests.domain("squatter", "evil", "acme.com"), OTHER_NS)),
        ("Service", served(manifests.service("acme-com-base", "acme-com", "base"))),
        ("Service", served(manifests.service("orphan", "no-such-domain", "base"))),
        ("License", served(manifests.license("acme-full", "acme", "2027-01-01T00:00:00Z"))),
        ("DeployRequest", served(manifests.obj("DeployRequest", "deploy-1", {"domains": ["acme-com"]}))),
        (ROUTING, routing_configmap("acme-com")),
    ]:
        store.put(kind, body)
    return store


def test_a_completed_deploy_request_is_not_decided_again_for_a_domain() -> None:
    store = world()
    request = manifests.obj("DeployRequest", "deploy-1", {"domains": ["acme-com"]})
    request["status"] = {"phase": "Completed", "completedAt": "2026-11-02T10:00:00Z"}
    store.put("DeployRequest", served(request))
    assert ("DeployRequest", NS, "deploy-1") not in affected_keys("Domain", body(store, "Domain", "acme-com"), store)


def body(store: Store, kind: str, name: str, namespace: str = NS) -> Body:
    entry = store.get(kind, namespace, name)
    assert entry is not None
    return entry.raw


CASES: list[tuple[str, str, str, str, list[Key]]] = [
    # (id, kind, namespace, name, the keys)
    (
        "a-domain-its-tenant-mails-and-every-claim-on-its-name",
        "Domain",
        NS,
        "acme-com",
        [
            ("Domain", NS, "acme-com"),
            ("Tenant", NS, "acme"),
            (MAIL, NS, "acme"),
            ("Domain", OTHER_NS, "squatter"),
            ("DeployRequest", NS, "deploy-1"),  # pending: it may be waiting for the domain's check
        ],
    ),
    (
        "a-service-its-domain-and-the-tenants-totals",
        "Service",
        NS,
        "acme-com-base",
        [("Domain", NS, "acme-com"), ("Tenant", NS, "acme")],
    ),
    ("an-orphan-service-its-missing-domain", "Service", NS, "orphan", [("Domain", NS, "no-such-domain")]),
    (
        "a-tenant-its-totals-mails-and-domains",
        "Tenant",
        NS,
        "acme",
        [
            ("Tenant", NS, "acme"),
            (MAIL, NS, "acme"),
            ("Domain", NS, "acme-ch"),
            ("Domain", NS, "acme-com"),
            ("Partner", NS, "p1"),  # its count of tenants
        ],
    ),
    (
        "a-license-and-everything-its-period-blocks",
        "License",
        NS,
        "acme-full",
        [
            ("License", NS, "acme-full"),
            ("Tenant", NS, "acme"),
            (MAIL, NS, "acme"),
            ("Domain", NS, "acme-ch"),
            ("Domain", NS, "acme-com"),
        ],
    ),
    (
        "a-product-and-every-domain-booking-it",
        "Product",
        "",
        "base",
        [("Product", "", "base"), ("Domain", NS, "acme-com"), ("Domain", NS, "no-such-domain")],
    ),
    ("a-deploy-request-itself", "DeployRequest", NS, "deploy-1", [("DeployRequest", NS, "deploy-1")]),
    (
        "a-partner-itself-and-the-mails-and-condition-of-every-tenant-in-its-namespace",
        "Partner",
        NS,
        "p1",
        [("Partner", NS, "p1"), ("Tenant", NS, "acme"), (MAIL, NS, "acme")],
    ),
    ("a-routing-config-its-domain", ROUTING, NS, "routing-acme-com", [("Domain", NS, "acme-com")]),
]


@pytest.mark.parametrize(("kind", "namespace", "name", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_affected_keys(kind: str, namespace: str, name: str, expected: list[Key]) -> None:
    store = world()
    assert affected_keys(kind, body(store, kind, name, namespace), store) == expected


def test_a_deleted_domain_still_wakes_the_other_claims_on_its_name() -> None:
    store = world()
    squatter = body(store, "Domain", "squatter", OTHER_NS)
    store.delete("Domain", squatter)
    assert ("Domain", NS, "acme-com") in affected_keys("Domain", squatter, store)


def test_a_spec_without_references_affects_only_itself() -> None:
    store = Store()
    broken = served(manifests.obj("Domain", "broken", {"domainName": 42}))
    store.put("Domain", broken)
    assert affected_keys("Domain", broken, store) == [("Domain", NS, "broken")]


def test_the_catch_up_decides_every_aggregate_once() -> None:
    store = world()
    keys = catch_up_keys(store, ["Product", "Tenant", "Domain", "Service", "License", "DeployRequest", ROUTING])
    assert len(keys) == len(set(keys))
    assert set(keys) == {
        ("Product", "", "base"),
        ("Tenant", NS, "acme"),
        (MAIL, NS, "acme"),
        ("Tenant", OTHER_NS, "evil"),
        (MAIL, OTHER_NS, "evil"),
        ("Domain", NS, "acme-com"),
        ("Domain", NS, "acme-ch"),
        ("Domain", OTHER_NS, "squatter"),
        ("Domain", NS, "no-such-domain"),
        ("License", NS, "acme-full"),
        ("DeployRequest", NS, "deploy-1"),
        ("Partner", NS, "p1"),
    }


def test_the_catch_up_decides_the_licenses_first() -> None:
    store = world()
    store.put("License", served(manifests.license("acme-trial", "acme", "2026-12-01T00:00:00Z")))
    keys = catch_up_keys(store, ["Product", "Tenant", "Domain", "Service", "License", "DeployRequest", ROUTING])
    assert keys[:2] == [("License", NS, "acme-full"), ("License", NS, "acme-trial")]
    assert all(kind != "License" for kind, _, _ in keys[2:])


def test_a_tenant_status_change_affects_no_other_aggregate() -> None:
    store = world()
    assert affected_keys("Tenant", body(store, "Tenant", "acme"), store, status_only=True) == [("Tenant", NS, "acme")]


def test_a_contract_decides_its_services_domains_again_on_a_spec_change_not_on_its_status() -> None:
    store = world()
    contract = served(manifests.obj("Contract", "acme-main", {"tenantRef": {"name": "acme"}}))
    store.put("Contract", contract)
    store.put(
        "Service",
        served(manifests.service("acme-ch-base", "acme-ch", "base", contractRef={"name": "acme-main"})),
    )
    assert affected_keys("Contract", contract, store) == [
        ("Contract", NS, "acme-main"),
        ("Domain", NS, "acme-ch"),
        (MAIL, NS, "acme"),
    ]
    assert affected_keys("Contract", contract, store, status_only=True) == [("Contract", NS, "acme-main")]
    invoice = served(
        manifests.invoice("acme-main-20270101-r1", "acme-main", "acme", "2027-01-01", "2027-01-31", "1.00")
    )
    assert affected_keys("Invoice", invoice, store) == [
        ("Contract", NS, "acme-main"),
        ("Domain", NS, "acme-ch"),
        (MAIL, NS, "acme"),
    ]
