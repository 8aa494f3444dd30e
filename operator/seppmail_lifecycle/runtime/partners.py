"""Which Partner the store says a namespace has: its own (a partner namespace), else the one of
the partner namespace its ``lifecycle.seppmail.cloud/partner`` label names (a tenant namespace);
and the tenants a partner serves across its namespaces."""

from __future__ import annotations

from seppmail_lifecycle.core.model import Partner
from seppmail_lifecycle.core.partners import namespace_partner
from seppmail_lifecycle.kube.store import NAMESPACE, PARTNER_LABEL, Store


def partner_namespace(store: Store, namespace: str) -> str | None:
    """The partner namespace a tenant namespace's label names (None: not labelled, or unknown)."""
    entry = store.get(NAMESPACE, "", namespace)
    label = ((entry.raw["metadata"].get("labels") or {}).get(PARTNER_LABEL)) if entry else None
    return label if isinstance(label, str) and label and label != namespace else None


def partner_of(store: Store, namespace: str) -> Partner | None:
    """The partner whose mails the tenants in ``namespace`` go to."""
    own = namespace_partner(store.objects("partners_by_namespace", namespace))
    if own is not None:
        return own
    label = partner_namespace(store, namespace)
    return namespace_partner(store.objects("partners_by_namespace", label)) if label else None


def tenant_namespaces(store: Store, namespace: str) -> list[str]:
    """The namespaces whose tenants the partner in ``namespace`` serves: its own, and every one
    labelled with it."""
    labelled = [entry.raw["metadata"]["name"] for entry in store.lookup("namespaces_by_partner", namespace)]
    return [namespace, *sorted(n for n in labelled if n != namespace)]


def tenants_served(store: Store, namespace: str) -> int:
    return sum(len(store.lookup("tenants_by_namespace", ns)) for ns in tenant_namespaces(store, namespace))
