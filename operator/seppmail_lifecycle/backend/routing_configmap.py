"""The default backend: each domain's routing config is a ConfigMap the mail gateways read.

The ConfigMap ``routing-<domain object>`` lives beside its Domain, is owned by it (garbage
collected with it) and labelled with tenant and domain so gateways and purge select it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from seppmail_lifecycle import GROUP
from seppmail_lifecycle.backend.base import DomainOwner
from seppmail_lifecycle.backend.labels import (
    DOMAIN_LABEL,
    DOMAIN_OBJECT_LABEL,
    MANAGED_BY,
    MANAGER,
    ROLE_LABEL,
    TENANT_LABEL,
    label_value,
)
from seppmail_lifecycle.core.ids import derived_name
from seppmail_lifecycle.core.routing import RoutedService, RoutingConfig
from seppmail_lifecycle.kube.convert import controller_reference

Body = dict[str, Any]


def configmap_name(domain_object: str) -> str:
    return derived_name("routing-", domain_object)


def to_configmap(owner: DomainOwner, config: RoutingConfig) -> Body:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": configmap_name(config.domain_object),
            "namespace": owner.namespace,
            "labels": {
                MANAGED_BY: MANAGER,
                ROLE_LABEL: "routing",
                TENANT_LABEL: label_value(config.tenant),
                DOMAIN_LABEL: label_value(config.domain_name),
                DOMAIN_OBJECT_LABEL: label_value(config.domain_object),
            },
            "annotations": {f"{GROUP}/domain-object": config.domain_object},
            "ownerReferences": [controller_reference("Domain", owner.name, owner.uid)],
        },
        # Every key always present: a merge patch then replaces the whole config.
        "data": {
            "domain": config.domain_name,
            "tenant": config.tenant,
            "accepted": "true" if config.accepted else "false",
            "ginaHost": config.gina_host or "",
            # Partner admins' "confidential" switch (seed 002): no message logs or contents in
            # support views for this domain.
            "confidential": "true" if config.confidential else "false",
            "services": "".join(f"{s.name}={s.product}\n" for s in config.services),
            # Suspended services (seed 004: "access is limited"): name=reason, one per line.
            "limited": "".join(f"{s.name}={s.limited}\n" for s in config.services if s.limited),
            # Expired services (seed 004: "no longer accessible" until renewed): name=reason.
            "blocked": "".join(f"{s.name}={s.blocked}\n" for s in config.services if s.blocked),
        },
    }


def from_configmap(body: Body) -> RoutingConfig:
    data = body.get("data") or {}
    limited = dict(line.partition("=")[::2] for line in (data.get("limited") or "").splitlines())
    blocked = dict(line.partition("=")[::2] for line in (data.get("blocked") or "").splitlines())
    services = []
    for line in (data.get("services") or "").splitlines():
        name, _, product = line.partition("=")
        if name:
            services.append(RoutedService(name, product, limited.get(name) or None, blocked.get(name) or None))
    metadata = body["metadata"]
    return RoutingConfig(
        tenant=data.get("tenant", ""),
        domain_object=(metadata.get("annotations") or {}).get(f"{GROUP}/domain-object", metadata["name"]),
        domain_name=data.get("domain", ""),
        accepted=data.get("accepted") == "true",
        gina_host=data.get("ginaHost") or None,
        services=tuple(services),
        confidential=data.get("confidential") == "true",
    )


class ConfigMapApi(Protocol):
    """The ConfigMap calls the backend makes: the API server's (``KubeClient``), or in memory."""

    async def apply_configmap(self, namespace: str, body: Body) -> Body: ...

    async def delete_configmap(self, namespace: str, name: str) -> None: ...

    async def list_configmaps(self, label_selector: str, namespaces: Sequence[str] = ()) -> list[Body]: ...


class ConfigMapBackend:
    def __init__(self, client: ConfigMapApi) -> None:
        self.client = client

    async def apply_domain(self, owner: DomainOwner, config: RoutingConfig) -> RoutingConfig:
        applied = await self.client.apply_configmap(owner.namespace, to_configmap(owner, config))
        return from_configmap(applied)

    async def remove_domain(self, namespace: str, domain_object: str) -> None:
        await self.client.delete_configmap(namespace, configmap_name(domain_object))

    async def purge_tenant(self, namespace: str, tenant: str) -> int:
        """Delete the tenant's backend objects. Not its mail ledger: the tenant's objects live on
        (and derive their mails again), so the ledger goes with the Tenant object, which owns it."""
        selector = f"{MANAGED_BY}={MANAGER},{TENANT_LABEL}={label_value(tenant)},{ROLE_LABEL}!=mail-ledger"
        found = await self.client.list_configmaps(selector, [namespace])
        for body in found:
            await self.client.delete_configmap(namespace, body["metadata"]["name"])
        return len(found)
