"""Carrying out the effects the core's plans yield, on the real backend, resolver and SMTP.

Each effect is answered with what it observed (the routing config the backend now holds, the
DNS answers, the number of purged objects, when to retry a failed mail); a refused backend
effect is answered with ``EffectFailed``, which the plan records on the object. Every effect
is one INFO log line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, Protocol

from seppmail_lifecycle.backend.base import Backend
from seppmail_lifecycle.core.driver import DeliverMails, Effect, EffectFailed, LookUpDns, PurgeTenant
from seppmail_lifecycle.core.notifications import Notification
from seppmail_lifecycle.core.orders import ApplyRouting, RemoveRouting
from seppmail_lifecycle.core.routing import RoutingConfig
from seppmail_lifecycle.core.verification import DnsAnswer, DnsObservation
from seppmail_lifecycle.runtime.metrics import Counters

logger = logging.getLogger(__name__)


class Resolver(Protocol):
    async def lookup(self, name: str, rdtype: Literal["TXT", "MX"]) -> DnsAnswer: ...


class MailDelivery(Protocol):
    """Sends what the ledger has not seen: the SMTP ``Mailer``, or the simulator's timeline."""

    async def deliver(
        self, namespace: str, tenant: str, tenant_uid: str, notifications: Sequence[Notification]
    ) -> datetime | None: ...


class Effects(Protocol):
    """What a plan's effects are carried out by: the cluster here, an in-memory world in the
    simulator."""

    async def perform(self, effect: Effect) -> Any: ...


class ClusterEffects:
    def __init__(self, backend: Backend, resolver: Resolver, mailer: MailDelivery, counters: Counters) -> None:
        self.backend = backend
        self.resolver = resolver
        self.mailer = mailer
        self.counters = counters

    async def perform(self, effect: Effect) -> Any:
        match effect:
            case ApplyRouting() | RemoveRouting():
                return await self._route(effect)
            case LookUpDns(lookups=lookups, at=at):
                answers = await asyncio.gather(*(self.resolver.lookup(name, rdtype) for rdtype, name in lookups))
                for answer in answers:
                    self.counters.inc("dns_checks_total", result="error" if answer.error else "answered")
                return DnsObservation(at=at, answers=dict(zip(lookups, answers, strict=True)))
            case PurgeTenant(namespace=namespace, tenant=tenant, license=license):
                deleted = await self.backend.purge_tenant(namespace, tenant)
                self.counters.inc("tenants_purged_total")
                logger.info(
                    "purged tenant %s/%s for license %r: %d backend objects deleted",
                    namespace,
                    tenant,
                    license,
                    deleted,
                )
                return deleted
            case DeliverMails(namespace=namespace, tenant=tenant, tenant_uid=tenant_uid, notifications=notifications):
                return await self.mailer.deliver(namespace, tenant, tenant_uid, notifications)

    async def _route(self, effect: ApplyRouting | RemoveRouting) -> RoutingConfig | EffectFailed | None:
        try:
            if isinstance(effect, ApplyRouting):
                owner = _Owner(effect.namespace, effect.config.domain_object, effect.owner_uid)
                applied = await self.backend.apply_domain(owner, effect.config)
                logger.info("routing of domain %s/%s applied", effect.namespace, effect.config.domain_object)
                return applied
            await self.backend.remove_domain(effect.namespace, effect.domain_object)
            logger.info("routing of domain %s/%s removed", effect.namespace, effect.domain_object)
            return None
        except Exception as error:  # recorded on the Domain (BackendReady=False), then retried with backoff
            return EffectFailed(f"{type(error).__name__}: {error}"[:1000])


class _Owner:
    def __init__(self, namespace: str, name: str, uid: str) -> None:
        self.namespace = namespace
        self.name = name
        self.uid = uid
