"""The reconcilers: for one key, gather what the store holds, ask the core, apply the decision.

Keys are aggregates: ``("Domain", ns, name)`` decides a domain with all its services,
``("Tenant", ns, name)`` a tenant's totals, ``("DeployRequest", ns, name)`` one deployment
request, ``("Product", "", name)`` a catalogue entry. A status is written only when it changed:
one API write per transition. Every error is contained to its key and retried with backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from seppmail_lifecycle import API_VERSION, FINALIZER
from seppmail_lifecycle.api import KINDS_BY_NAME
from seppmail_lifecycle.api.common import StatusBase
from seppmail_lifecycle.api.policy import Policy
from seppmail_lifecycle.api.states import OrderPhase
from seppmail_lifecycle.backend.base import Backend
from seppmail_lifecycle.backend.labels import MANAGED_BY, MANAGER, label_value
from seppmail_lifecycle.backend.routing_configmap import from_configmap
from seppmail_lifecycle.core.conditions import Transition, invalid_spec_status
from seppmail_lifecycle.core.consistency import DomainClaim
from seppmail_lifecycle.core.deploy import plan_deploy
from seppmail_lifecycle.core.license_effects import NONE as NO_LICENSE_EFFECTS
from seppmail_lifecycle.core.license_effects import LicenseEffects, keeps_tenant_alive, license_effects
from seppmail_lifecycle.core.licenses import decide_license
from seppmail_lifecycle.core.model import DeployRequest, Domain, Service
from seppmail_lifecycle.core.notifications import domain_notifications
from seppmail_lifecycle.core.order_machine import ENDING_PHASES
from seppmail_lifecycle.core.orders import (
    ApplyRouting,
    Decision,
    DomainOutcome,
    DomainWorld,
    RemoveRouting,
    decide_domain,
    dns_lookups_due,
)
from seppmail_lifecycle.core.products import decide_product
from seppmail_lifecycle.core.routing import RoutingConfig
from seppmail_lifecycle.core.tenants import decide_tenant
from seppmail_lifecycle.core.verification import DnsAnswer, DnsLookup, DnsObservation
from seppmail_lifecycle.kube.client import ApiException, KubeClient
from seppmail_lifecycle.kube.convert import controller_reference, merge_patch, normalized_status, status_body
from seppmail_lifecycle.kube.store import ROUTING, Entry, Store
from seppmail_lifecycle.runtime.mailer import Mailer
from seppmail_lifecycle.runtime.metrics import Counters
from seppmail_lifecycle.runtime.scheduler import DeadlineScheduler
from seppmail_lifecycle.runtime.workqueue import WorkQueue

logger = logging.getLogger(__name__)

Key = tuple[str, str, str]
MAX_BACKOFF = timedelta(minutes=5)


class BackendFailure(RuntimeError):
    """The backend refused an effect; the Domain's BackendReady condition carries the error."""


class Resolver(Protocol):
    async def lookup(self, name: str, rdtype: Literal["TXT", "MX"]) -> DnsAnswer: ...


class EventSink(Protocol):
    def __call__(self, body: dict[str, Any], *, type: str, reason: str, message: str) -> None: ...


@dataclass(frozen=True)
class _Owner:
    namespace: str
    name: str
    uid: str


class Reconciler:
    def __init__(
        self,
        client: KubeClient,
        store: Store,
        backend: Backend,
        policy: Policy,
        clock: Callable[[], datetime],
        post_event: EventSink,
        resolver: Resolver,
        mailer: Mailer,
        counters: Counters,
    ) -> None:
        self.client = client
        self.store = store
        self.backend = backend
        self.policy = policy
        self.clock = clock
        self.post_event = post_event
        self.resolver = resolver
        self.mailer = mailer
        self.counters = counters
        self.queue: WorkQueue[Key] = WorkQueue()
        self.scheduler: DeadlineScheduler[Key] = DeadlineScheduler(self.queue.add, clock)
        self._failures: dict[Key, int] = {}
        self.writes = 0

    # ------------------------------------------------------------------ running

    def enqueue(self, key: Key) -> None:
        self.queue.add(key)

    async def run(self, workers: int = 4) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self.scheduler.run())
            for _ in range(workers):
                group.create_task(self.queue.worker(self.process))

    async def process(self, key: Key) -> None:
        try:
            await self.reconcile(key)
        except Exception as error:  # contained per key: one bad object never blocks the others
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
            delay = min(timedelta(seconds=2 ** min(failures - 1, 10)), MAX_BACKOFF)
            if isinstance(error, BackendFailure):  # expected, and already a condition on the object
                logger.warning("backend failed for %s (attempt %d); retrying in %s: %s", key, failures, delay, error)
            else:
                logger.exception("reconciling %s failed (attempt %d); retrying in %s: %s", key, failures, delay, error)
            self.scheduler.schedule(key, self.clock() + delay)
        else:
            self._failures.pop(key, None)

    async def reconcile(self, key: Key) -> None:
        kind, namespace, name = key
        if kind == "Domain":
            await self.reconcile_domain(namespace, name)
        elif kind == "Tenant":
            await self.reconcile_tenant(namespace, name)
        elif kind == "DeployRequest":
            await self.reconcile_deploy_request(namespace, name)
        elif kind == "Product":
            await self.reconcile_product(name)
        elif kind == "Mail":
            await self.reconcile_mail(namespace, name)
        elif kind == "License":
            await self.reconcile_license(namespace, name)
        else:
            raise ValueError(f"unknown key {key}")

    # ------------------------------------------------------------------ gathering

    def _routing(self, namespace: str, domain_object: str) -> RoutingConfig | None:
        for entry in self.store.lookup("routing_by_domain", (namespace, label_value(domain_object))):
            config = from_configmap(entry.raw)
            if config.domain_object == domain_object:
                return config
        return None

    def gather_domain(self, namespace: str, name: str) -> tuple[DomainWorld, list[tuple[str, Entry]]]:
        invalid: list[tuple[str, Entry]] = []
        domain_entry = self.store.get("Domain", namespace, name)
        domain: Domain | None = domain_entry.obj if domain_entry else None
        if domain_entry is not None and domain_entry.error:
            invalid.append(("Domain", domain_entry))
        services: list[Service] = []
        for entry in self.store.lookup("services_by_domain", (namespace, name)):
            if entry.obj is not None:
                services.append(entry.obj)
            else:
                invalid.append(("Service", entry))
        tenant = None
        claims: list[DomainClaim] = []
        if domain is not None:
            tenant_entry = self.store.get("Tenant", namespace, domain.spec.tenant_ref.name)
            tenant = tenant_entry.obj if tenant_entry else None
            for entry in self.store.lookup("domains_by_name", domain.spec.domain_name):
                other: Domain | None = entry.obj
                if other is not None:
                    claims.append(
                        DomainClaim(
                            namespace=other.meta.namespace or "",
                            name=other.name,
                            tenant=other.spec.tenant_ref.name,
                            created=other.meta.created,
                            uid=other.meta.uid,
                            active=other.meta.deleted is None and other.status.phase not in ENDING_PHASES,
                        )
                    )
        requests: list[DeployRequest] = [
            entry.obj
            for entry in self.store.lookup("deployrequests_by_namespace", namespace)
            if entry.obj is not None and entry.obj.status.completed_at is not None
        ]
        world = DomainWorld(
            license=self._license_effects(namespace, domain.spec.tenant_ref.name) if domain else NO_LICENSE_EFFECTS,
            namespace=namespace,
            domain_ref=name,
            domain=domain,
            tenant=tenant,
            services=tuple(services),
            products={e.obj.name: e.obj for e in self.store.all("Product") if e.obj is not None},
            claims=tuple(claims),
            deploy_requests=tuple(requests),
            routing=self._routing(namespace, name),
        )
        return world, invalid

    def _license_effects(self, namespace: str, tenant: str) -> LicenseEffects:
        return license_effects(self.store.objects("licenses_by_tenant", (namespace, tenant)))

    # ------------------------------------------------------------------ the domain aggregate

    async def reconcile_domain(self, namespace: str, name: str) -> None:
        world, invalid = self.gather_domain(namespace, name)
        now = self.clock()
        for kind, entry in invalid:
            await self._write_invalid(kind, entry, now)
        outcome = decide_domain(world, self.policy, now)
        # Effects first (the backend, DNS lookups); then decide again on what they observed, so
        # the statuses written are the result (e.g. confirmed -> provisioning -> provisioned).
        for _ in range(4):
            if world.domain is None:
                break
            if outcome.routing is not None and world.backend_error is None:
                try:
                    world = replace(world, routing=await self._apply_routing(world.domain, outcome.routing))
                except Exception as error:  # recorded on the Domain, then retried with backoff
                    world = replace(world, backend_error=f"{type(error).__name__}: {error}"[:1000])
            elif (due := dns_lookups_due(world, outcome, self.policy, now)) and world.dns is None:
                world = replace(world, dns=await self._look_up(due, now))
            else:
                break
            outcome = decide_domain(world, self.policy, now)
        written = await self._apply_domain_outcome(world, outcome, now)
        if written and world.domain is not None:
            self.enqueue(("Mail", namespace, world.domain.spec.tenant_ref.name))
        if world.backend_error is not None:
            raise BackendFailure(world.backend_error)

    async def _look_up(self, due: Sequence[DnsLookup], now: datetime) -> DnsObservation:
        answers = await asyncio.gather(*(self.resolver.lookup(name, rdtype) for rdtype, name in due))
        for answer in answers:
            self.counters.inc("dns_checks_total", result="error" if answer.error else "answered")
        return DnsObservation(at=now, answers=dict(zip(due, answers, strict=True)))

    async def _apply_routing(self, domain: Domain, action: ApplyRouting | RemoveRouting) -> RoutingConfig | None:
        namespace = domain.meta.namespace or ""
        if isinstance(action, ApplyRouting):
            return await self.backend.apply_domain(_Owner(namespace, domain.name, domain.meta.uid), action.config)
        await self.backend.remove_domain(namespace, action.domain_object)
        return None

    async def _apply_domain_outcome(self, world: DomainWorld, outcome: DomainOutcome, now: datetime) -> bool:
        """Write what changed; True if the domain's status was written."""
        namespace = world.namespace
        written = False
        if outcome.domain is not None and world.domain is not None:
            written = await self._write("Domain", namespace, outcome.domain)
            await self._finalize("Domain", namespace, world.domain.meta.deleted is not None, outcome.domain)
        services = {s.name: s for s in world.services}
        for decision in outcome.services:
            await self._write("Service", namespace, decision)
            await self._finalize("Service", namespace, services[decision.name].meta.deleted is not None, decision)
        if outcome.book_base_service and world.domain is not None:
            await self._book_base_service(world.domain)
        self.scheduler.schedule(("Domain", namespace, world.domain_ref), outcome.wake_at)
        return written

    async def _book_base_service(self, domain: Domain) -> None:
        namespace = domain.meta.namespace or ""
        body = {
            "apiVersion": API_VERSION,
            "kind": "Service",
            "metadata": {
                "name": f"{domain.name}-{self.policy.base_product}"[:253],
                "labels": {MANAGED_BY: MANAGER},
                "ownerReferences": [controller_reference("Domain", domain.name, domain.meta.uid)],
            },
            "spec": {"domainRef": {"name": domain.name}, "product": self.policy.base_product},
        }
        try:
            created = await self.client.create(KINDS_BY_NAME["Service"], namespace, body)
        except ApiException as error:
            if error.status != 409:  # already booked (by an earlier attempt): nothing to do
                raise
            return
        self.writes += 1
        self.store.put("Service", created)
        self.post_event(
            created,
            type="Normal",
            reason="BaseServiceBooked",
            message=f"Booked the mandatory {self.policy.base_product!r} service for domain {domain.name!r}.",
        )
        self.enqueue(("Domain", namespace, domain.name))

    # ------------------------------------------------------------------ other kinds

    async def _readable(self, kind: str, namespace: str, name: str, now: datetime) -> Any:
        """The parsed object, or None: gone, or unreadable (then its status says why)."""
        entry = self.store.get(kind, namespace, name)
        if entry is None:
            return None
        if entry.obj is None:
            await self._write_invalid(kind, entry, now)
        return entry.obj

    async def reconcile_tenant(self, namespace: str, name: str) -> None:
        now = self.clock()
        obj = await self._readable("Tenant", namespace, name, now)
        if obj is None:
            return
        domains: list[Domain] = self.store.objects("domains_by_tenant", (namespace, name))
        services = [s for d in domains for s in self.store.objects("services_by_domain", (namespace, d.name))]
        effects = self._license_effects(namespace, name)
        await self._write("Tenant", namespace, decide_tenant(obj, domains, services, effects, now))

    async def reconcile_deploy_request(self, namespace: str, name: str) -> None:
        now = self.clock()
        obj = await self._readable("DeployRequest", namespace, name, now)
        if obj is None:
            return
        domains: dict[str, Domain] = {
            e.obj.name: e.obj
            for e in self.store.all("Domain")
            if e.obj is not None and e.obj.meta.namespace == namespace
        }
        services: dict[str, Sequence[Service]] = {
            domain: self.store.objects("services_by_domain", (namespace, domain)) for domain in domains
        }
        decision = plan_deploy(obj, domains, services, now)
        if decision is None:
            return
        await self._write("DeployRequest", namespace, decision)
        for domain in {
            *decision.status.deployed_domains,
            *self._domains_of(namespace, decision.status.deployed_services),
        }:
            self.enqueue(("Domain", namespace, domain))

    def _domains_of(self, namespace: str, services: Sequence[str]) -> set[str]:
        found = set()
        for name in services:
            entry = self.store.get("Service", namespace, name)
            if entry is not None and entry.obj is not None:
                found.add(entry.obj.spec.domain_ref.name)
        return found

    async def reconcile_license(self, namespace: str, name: str) -> None:
        now = self.clock()
        license = await self._readable("License", namespace, name, now)
        if license is None:
            return
        tenant_name = license.spec.tenant_ref.name
        tenant_entry = self.store.get("Tenant", namespace, tenant_name)
        tenant = tenant_entry.obj if tenant_entry else None
        result = decide_license(license, tenant, self.policy, now)
        if result.purge_due and self._purge_allowed(namespace, tenant_name, name):
            deleted = await self.backend.purge_tenant(namespace, tenant_name)
            self.counters.inc("tenants_purged_total")
            entry = self.store.get("License", namespace, name)
            assert entry is not None  # _readable found it
            self.post_event(
                entry.raw,
                type="Warning",
                reason="TenantPurged",
                message=f"Deleted every backend object of tenant {tenant_name!r} ({deleted}) for good.",
            )
            purged = replace(license, status=license.status.model_copy(update={"purged_at": now}))
            result = decide_license(purged, tenant, self.policy, now)
        await self._write("License", namespace, result.decision)
        self.scheduler.schedule(("License", namespace, name), result.wake_at)

    def _purge_allowed(self, namespace: str, tenant: str, license_name: str) -> bool:
        others = [o for o in self.store.objects("licenses_by_tenant", (namespace, tenant)) if o.name != license_name]
        return not keeps_tenant_alive(others)

    async def reconcile_mail(self, namespace: str, tenant_name: str) -> None:
        """The notifications the tenant's domains call for, sent at most once each."""
        tenant = self.store.get("Tenant", namespace, tenant_name)
        if tenant is None or tenant.obj is None:
            return
        notifications = []
        for domain in self.store.objects("domains_by_tenant", (namespace, tenant_name)):
            services = self.store.objects("services_by_domain", (namespace, domain.name))
            notifications += domain_notifications(domain, tenant.obj, services)
        now = self.clock()
        for license in self.store.objects("licenses_by_tenant", (namespace, tenant_name)):
            notifications += decide_license(license, tenant.obj, self.policy, now).notifications
        retry_at = await self.mailer.deliver(namespace, tenant_name, notifications)
        self.scheduler.schedule(("Mail", namespace, tenant_name), retry_at)

    async def reconcile_product(self, name: str) -> None:
        now = self.clock()
        obj = await self._readable("Product", "", name, now)
        if obj is None:
            return
        await self._write("Product", None, decide_product(obj, now))

    # ------------------------------------------------------------------ writing

    async def _write(self, kind: str, namespace: str | None, decision: Decision[Any]) -> bool:
        entry = self.store.get(kind, namespace or "", decision.name)
        if entry is None:
            return False
        return await self._write_status(kind, entry, decision.status, decision.transitions)

    async def _write_status(
        self, kind: str, entry: Entry, status: BaseModel, transitions: Sequence[Transition] = ()
    ) -> bool:
        """Patch the status if it changed; True if it was written."""
        info = KINDS_BY_NAME[kind]
        new = status_body(status)
        if new == normalized_status(info, entry.raw):
            return False
        metadata = entry.raw["metadata"]
        patch = {"status": merge_patch(entry.raw.get("status") or {}, new)}
        try:
            result = await self.client.patch_status(info, metadata.get("namespace"), metadata["name"], patch)
        except ApiException as error:
            if error.status == 404:  # deleted meanwhile: its DELETED event updates the store
                return False
            raise
        self.writes += 1
        self.store.put(kind, result)
        for transition in transitions:
            arrow = f"{transition.from_} -> {transition.to}: " if transition.from_ != transition.to else ""
            self.post_event(
                result,
                type="Warning" if transition.warning else "Normal",
                reason=transition.reason,
                message=f"{arrow}{transition.message}"[:1024],
            )
        return True

    async def _write_invalid(self, kind: str, entry: Entry, now: datetime) -> None:
        info = KINDS_BY_NAME[kind]
        current = info.status.model_validate(entry.raw.get("status") or {})
        assert isinstance(current, StatusBase)
        generation = int(entry.raw["metadata"].get("generation", 1))
        await self._write_status(kind, entry, invalid_spec_status(current, generation, entry.error or "", now))

    async def _finalize(self, kind: str, namespace: str, deleted: bool, decision: Decision[Any]) -> None:
        """Hold every live order object with our finalizer; let go once the core says so."""
        entry = self.store.get(kind, namespace, decision.name)
        if entry is None:
            return
        metadata = entry.raw["metadata"]
        finalizers: list[str] = list(metadata.get("finalizers") or [])
        if decision.release_finalizer and FINALIZER in finalizers:
            finalizers.remove(FINALIZER)
        elif not deleted and FINALIZER not in finalizers and decision.status.phase is not OrderPhase.DEPROVISIONED:
            finalizers.append(FINALIZER)
        else:
            return
        patch = {"metadata": {"finalizers": finalizers, "resourceVersion": metadata["resourceVersion"]}}
        try:
            result = await self.client.patch(KINDS_BY_NAME[kind], namespace, decision.name, patch)
        except ApiException as error:
            if error.status == 404:
                return
            if error.status == 409:  # changed meanwhile: decide again on the new version
                self.enqueue(("Domain", namespace, decision.name) if kind == "Domain" else self._domain_key(entry))
                return
            raise
        self.writes += 1
        self.store.put(kind, result)

    def _domain_key(self, entry: Entry) -> Key:
        namespace = entry.raw["metadata"].get("namespace") or ""
        ref = ((entry.raw.get("spec") or {}).get("domainRef") or {}).get("name", "")
        return ("Domain", namespace, ref)

    # ------------------------------------------------------------------ start-up

    async def prime(self) -> None:
        """Fill the store with one LIST per kind before anything is decided, so no decision is
        taken on a partial view (a service seen before its domain would look orphaned)."""
        from seppmail_lifecycle.backend.labels import ROUTING_SELECTOR

        for kind, info in KINDS_BY_NAME.items():
            for body in await self.client.list_all(info):
                self.store.put(kind, body)
        for body in await self.client.list_configmaps(ROUTING_SELECTOR):
            self.store.put(ROUTING, body)

    def enqueue_everything(self) -> None:
        """Every aggregate once: catches up on everything that fell due while the operator was down."""
        for entry in self.store.all("Product"):
            self.enqueue(("Product", "", entry.raw["metadata"]["name"]))
        for kind in ("Tenant", "DeployRequest", "Domain"):
            for entry in self.store.all(kind):
                metadata = entry.raw["metadata"]
                self.enqueue((kind, metadata.get("namespace") or "", metadata["name"]))
        for entry in self.store.all("License"):
            metadata = entry.raw["metadata"]
            self.enqueue(("License", metadata.get("namespace") or "", metadata["name"]))
        for entry in self.store.all("Tenant"):  # mails due while the operator was down
            metadata = entry.raw["metadata"]
            self.enqueue(("Mail", metadata.get("namespace") or "", metadata["name"]))
        for entry in self.store.all("Service"):
            self.enqueue(self._domain_key(entry))
