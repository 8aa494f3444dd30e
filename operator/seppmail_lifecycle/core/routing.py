"""The routing config of a domain: what the mail gateways must do for it (actual state).

The core decides the desired config; the backend materialises it and reports what it holds, so
"the backend has applied it" is an observation, not an assumption.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RoutedService:
    name: str
    product: str
    limited: str | None = None
    """Why the gateways must limit the service's access (its suspension reason), or None."""
    blocked: str | None = None
    """Why the gateways must refuse the service altogether ("expired": not renewed), or None."""


@dataclass(frozen=True)
class RoutingConfig:
    tenant: str
    domain_object: str
    domain_name: str
    accepted: bool
    gina_host: str | None
    services: tuple[RoutedService, ...]
    confidential: bool = False
    """The gateways keep the domain's message logs and contents out of support views."""

    def has_service(self, name: str) -> bool:
        return any(s.name == name for s in self.services)
