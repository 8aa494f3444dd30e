"""Which Partner serves a namespace's tenants: its own, else the one its partner label names."""

from __future__ import annotations

from seppmail_lifecycle.kube.store import NAMESPACE, PARTNER_LABEL, Store
from seppmail_lifecycle.runtime.partners import partner_namespace, partner_of, tenant_namespaces, tenants_served
from tests import manifests
from tests.unit.served import served


def namespace(name: str, partner: str | None) -> dict[str, object]:
    labels = {PARTNER_LABEL: partner} if partner else {}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "uid": f"ns-{name}", "labels": labels}}


def world() -> Store:
    store = Store()
    store.put("Partner", served(manifests.VALID["Partner"], "partner-a"))  # p1
    store.put(NAMESPACE, namespace("tenant-x", "partner-a"))
    store.put(NAMESPACE, namespace("tenant-y", "partner-a"))
    store.put(NAMESPACE, namespace("tenant-z", "partner-nobody"))
    store.put(NAMESPACE, namespace("plain", None))
    store.put(NAMESPACE, namespace("partner-a", "partner-a"))  # labelled with itself: nothing changes
    for ns, tenant in (("partner-a", "t1"), ("tenant-x", "t2"), ("tenant-y", "t3"), ("plain", "t4")):
        store.put("Tenant", served(manifests.tenant(tenant), ns))
    return store


def test_a_partner_namespace_has_its_own_partner() -> None:
    found = partner_of(world(), "partner-a")
    assert found is not None
    assert found.name == "p1"


def test_a_tenant_namespace_has_the_partner_its_label_names() -> None:
    store = world()
    assert partner_namespace(store, "tenant-x") == "partner-a"
    found = partner_of(store, "tenant-x")
    assert found is not None
    assert found.name == "p1"


def test_an_unlabelled_namespace_or_an_unknown_partner_has_none() -> None:
    store = world()
    assert partner_of(store, "plain") is None
    assert partner_of(store, "tenant-z") is None
    assert partner_namespace(store, "partner-a") is None  # its own label is no tenant namespace


def test_a_partner_serves_the_tenants_of_its_namespace_and_of_every_one_labelled_with_it() -> None:
    store = world()
    assert tenant_namespaces(store, "partner-a") == ["partner-a", "tenant-x", "tenant-y"]
    assert tenants_served(store, "partner-a") == 3
