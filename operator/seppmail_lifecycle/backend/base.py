"""The provisioning backend interface: one method per effect, each idempotent."""

from __future__ import annotations

from typing import Protocol

from seppmail_lifecycle.core.routing import RoutingConfig


class DomainOwner(Protocol):
    """What the backend needs to know about the Domain object a config belongs to."""

    @property
    def namespace(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def uid(self) -> str: ...


class Backend(Protocol):
    async def apply_domain(self, owner: DomainOwner, config: RoutingConfig) -> RoutingConfig:
        """Make the backend hold ``config`` for the domain; returns what it now holds."""
        ...

    async def remove_domain(self, namespace: str, domain_object: str) -> None:
        """Remove the domain's config; removing what is not there succeeds."""
        ...

    async def purge_tenant(self, namespace: str, tenant: str) -> int:
        """Delete every backend object of the tenant for good; returns how many were deleted."""
        ...
