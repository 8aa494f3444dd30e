"""Which aggregates an object's change affects: one answer for the watch handlers, the start-up
catch-up and the re-decision after a conflict, so none of them can miss a dependency.

A key names an aggregate the engine reconciles as a whole: ``("Domain", ns, name)`` a domain
with all its services, ``("Tenant", ns, name)`` a tenant's totals, ``("License", ns, name)``,
``("DeployRequest", ns, name)``, ``("Product", "", name)``, ``("Partner", ns, name)``,
``("Contract", ns, name)`` a contract with its invoices, ``("Payment", ns, name)``, and
``("Mail", ns, tenant)`` the notification mails of a tenant.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from seppmail_lifecycle import GROUP
from seppmail_lifecycle.api.states import DeployRequestPhase
from seppmail_lifecycle.kube.store import NAMESPACE, PARTNER_LABEL, ROUTING, Store, key_of
from seppmail_lifecycle.runtime.partners import partner_namespace, tenant_namespaces

Key = tuple[str, str, str]
Body = dict[str, Any]
MAIL = "Mail"
"""The aggregate of a tenant's notification mails (keyed by the tenant's name)."""
DOMAIN_OBJECT_ANNOTATION = f"{GROUP}/domain-object"


def _ref(body: Body, field: str) -> str | None:
    ref = ((body.get("spec") or {}).get(field) or {}).get("name")
    return ref if isinstance(ref, str) and ref else None


def _tenant_keys(store: Store, namespace: str, tenant: str) -> list[Key]:
    """A tenant's totals, its mails and every one of its domains (their decisions read the tenant
    and its licenses)."""
    keys: list[Key] = [("Tenant", namespace, tenant), (MAIL, namespace, tenant)]
    for domain in store.lookup("domains_by_tenant", (namespace, tenant)):
        keys.append(("Domain", namespace, domain.raw["metadata"]["name"]))
    return keys


def _tenants_and_mails(store: Store, namespace: str) -> list[Key]:
    keys: list[Key] = []
    for entry in store.lookup("tenants_by_namespace", namespace):
        tenant_name = entry.raw["metadata"]["name"]
        keys += [("Tenant", namespace, tenant_name), (MAIL, namespace, tenant_name)]
    return keys


def _contract_domains(store: Store, namespace: str, contract: str) -> list[Key]:
    """The domains of the contract's services: their subscription states read the contract."""
    keys: list[Key] = []
    for service in store.lookup("services_by_contract", (namespace, contract)):
        if domain := _ref(service.raw, "domainRef"):
            keys.append(("Domain", namespace, domain))
    return keys


def _partner_keys(store: Store, namespace: str) -> list[Key]:
    return [("Partner", namespace, p.raw["metadata"]["name"]) for p in store.lookup("partners_by_namespace", namespace)]


def affected_keys(kind: str, body: Body, store: Store, *, status_only: bool = False) -> list[Key]:
    """The aggregates to decide again when ``body`` (of ``kind``) was added, changed or deleted;
    each once, in a stable order. ``status_only``: only its status (or our finalizer) changed,
    which no decision reads of a Tenant (its domains and mails read its spec) or of a Contract
    (its services' terms read its spec and its invoices)."""
    namespace, name = key_of(body)
    keys: list[Key] = []
    if kind == "Domain":
        keys.append(("Domain", namespace, name))
        if tenant := _ref(body, "tenantRef"):
            keys += [("Tenant", namespace, tenant), (MAIL, namespace, tenant)]
        # A claim given up or taken on a domain name changes what the other claimants may do.
        domain_name = (body.get("spec") or {}).get("domainName")
        for claim in store.lookup("domains_by_name", domain_name):
            keys.append(("Domain", *key_of(claim.raw)))
        # A request waiting for this domain's check completes once it has passed or failed.
        for request in store.objects("deployrequests_by_namespace", namespace):
            if request.status.phase is not DeployRequestPhase.COMPLETED:
                keys.append(("DeployRequest", namespace, request.name))
    elif kind == "Service":
        if domain := _ref(body, "domainRef"):
            keys.append(("Domain", namespace, domain))
            domain_entry = store.get("Domain", namespace, domain)
            if domain_entry is not None and (tenant := _ref(domain_entry.raw, "tenantRef")):
                keys.append(("Tenant", namespace, tenant))
        if contract := _ref(body, "contractRef"):
            keys.append(("Contract", namespace, contract))
    elif kind == "Contract":
        keys.append(("Contract", namespace, name))
        if not status_only:  # its services' terms read its spec and invoices, never its status
            keys += _contract_domains(store, namespace, name)
            if tenant := _ref(body, "tenantRef"):
                keys.append((MAIL, namespace, tenant))
    elif kind == "Invoice":
        # Paid or not decides whether its services are renewed; the mails announce it.
        if contract := _ref(body, "contractRef"):
            keys.append(("Contract", namespace, contract))
            keys += _contract_domains(store, namespace, contract)
        if tenant := _ref(body, "tenantRef"):
            keys.append((MAIL, namespace, tenant))
        keys += [("Payment", *key_of(p.raw)) for p in store.lookup("payments_by_invoice", (namespace, name))]
    elif kind == "Payment":
        keys.append(("Payment", namespace, name))
        invoice = store.get("Invoice", namespace, _ref(body, "invoiceRef") or "")
        if invoice is not None and (contract := _ref(invoice.raw, "contractRef")):
            keys.append(("Contract", namespace, contract))
    elif kind == "Tenant":
        keys += [("Tenant", namespace, name)] if status_only else _tenant_keys(store, namespace, name)
        if not status_only:  # one more or fewer: the partner's count of tenants
            keys += _partner_keys(store, namespace)
            if label := partner_namespace(store, namespace):
                keys += _partner_keys(store, label)
    elif kind == "Partner":
        # The namespace's partner (the oldest) may have changed: every partner says which it is,
        # every tenant (here and in the tenant namespaces labelled with it) whom its mails go to.
        keys += _partner_keys(store, namespace)
        keys.append(("Partner", namespace, name))
        for tenants_at in tenant_namespaces(store, namespace):
            keys += _tenants_and_mails(store, tenants_at)
    elif kind == NAMESPACE:
        # Labelled with a partner namespace (or no longer): its tenants' partner changed.
        keys += _tenants_and_mails(store, name)
        if label := ((body["metadata"].get("labels") or {}).get(PARTNER_LABEL)):
            keys += _partner_keys(store, label)
    elif kind == "License":
        keys.append(("License", namespace, name))
        if tenant := _ref(body, "tenantRef"):
            # Its period decides whether the tenant's other licenses may purge it.
            for other in store.lookup("licenses_by_tenant", (namespace, tenant)):
                keys.append(("License", *key_of(other.raw)))
            # A period change blocks or unblocks the tenant's domains, services and console.
            keys += _tenant_keys(store, namespace, tenant)
    elif kind == "Product":
        # The catalogue's products read one another's requirements (missing ones, cycles).
        keys += [("Product", "", key_of(other.raw)[1]) for other in store.all("Product")]
        if ("Product", "", name) not in keys:
            keys.append(("Product", "", name))
        for service in store.lookup("services_by_product", name):
            if domain := _ref(service.raw, "domainRef"):
                keys.append(("Domain", key_of(service.raw)[0], domain))
    elif kind == "DeployRequest":
        keys.append(("DeployRequest", namespace, name))
    elif kind == ROUTING:
        domain_object = (body["metadata"].get("annotations") or {}).get(DOMAIN_OBJECT_ANNOTATION)
        if domain_object:
            keys.append(("Domain", namespace, domain_object))
    return list(dict.fromkeys(keys))


def catch_up_keys(store: Store, kinds: Iterable[str]) -> list[Key]:
    """Every aggregate the store's objects affect: after a start (or a takeover) each is decided
    once, which carries out everything that fell due meanwhile; the licenses first."""
    keys: dict[Key, None] = {}
    for kind in kinds:
        for entry in store.all(kind):
            keys.update(dict.fromkeys(affected_keys(kind, entry.raw, store)))
    # Licenses first: their periods run on deadlines alone (what fell due while the operator was
    # down is mostly theirs), and a period gates the tenant's orders, which are decided after it
    # on the moved period instead of before it and again. Otherwise in the order found.
    return sorted(keys, key=lambda key: key[0] != "License")
