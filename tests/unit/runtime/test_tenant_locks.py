"""A tenant's purge excludes its domains' reconciles: the lock's rules, and the race it closes
(a domain reconcile that gathered before the purge applying its routing after it), run through
the operator's own reconcilers on the simulator's in-memory API with the backend held mid-apply."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from seppmail_lifecycle.api import KINDS_BY_NAME
from seppmail_lifecycle.api.policy import Policy
from seppmail_lifecycle.backend.base import Backend, DomainOwner
from seppmail_lifecycle.core.routing import RoutingConfig
from seppmail_lifecycle.kube.memory import CONFIGMAP
from seppmail_lifecycle.runtime.effects import ClusterEffects
from seppmail_lifecycle.runtime.reconcilers.domain import reconcile_domain
from seppmail_lifecycle.runtime.reconcilers.license import reconcile_license
from seppmail_lifecycle.runtime.simulator import Simulation
from seppmail_lifecycle.runtime.tenant_locks import TenantLocks
from seppmail_lifecycle.runtime.writer import StaleObject
from tests import manifests

NS = "partner-a"
START = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
PRODUCTS = Path(__file__).parents[3] / "manifests" / "examples" / "00-products.yaml"


async def _settle() -> None:
    """Let every task run as far as it can."""
    for _ in range(20):
        await asyncio.sleep(0)


async def test_shared_holders_run_together_and_an_exclusive_one_waits_for_them() -> None:
    locks = TenantLocks()
    order: list[str] = []

    async def domain(name: str, release: asyncio.Event) -> None:
        async with locks.shared(NS, "acme"):
            order.append(f"{name} in")
            await release.wait()
            order.append(f"{name} out")

    async def purge() -> None:
        async with locks.exclusive(NS, "acme"):
            order.append("purge")

    first, second = asyncio.Event(), asyncio.Event()
    tasks = [asyncio.create_task(domain("a", first)), asyncio.create_task(domain("b", second))]
    await _settle()
    assert order == ["a in", "b in"]  # side by side
    tasks.append(asyncio.create_task(purge()))
    await _settle()
    late = asyncio.create_task(domain("c", asyncio.Event()))
    await _settle()
    assert order == ["a in", "b in"]  # the purge waits for both; c, beginning later, waits for the purge
    first.set()
    await _settle()
    assert order == ["a in", "b in", "a out"]
    second.set()
    await _settle()
    assert order == ["a in", "b in", "a out", "b out", "purge", "c in"]
    late.cancel()
    await asyncio.gather(*tasks)
    await asyncio.gather(late, return_exceptions=True)
    assert len(locks) == 0  # nothing kept for idle tenants


async def test_other_tenants_and_no_tenant_are_not_held() -> None:
    locks = TenantLocks()
    async with (
        locks.exclusive(NS, "acme"),
        locks.shared(NS, "globex"),
        locks.shared("partner-b", "acme"),
        locks.shared(NS, None),
    ):
        assert len(locks) == 3
    assert len(locks) == 0


async def test_a_purge_given_up_lets_the_domains_go_on() -> None:
    locks = TenantLocks()
    release = asyncio.Event()

    async def hold() -> None:
        async with locks.shared(NS, "acme"):
            await release.wait()

    async def purge() -> None:
        async with locks.exclusive(NS, "acme"):
            raise AssertionError("never reached")

    holder = asyncio.create_task(hold())
    await _settle()
    waiting = asyncio.create_task(purge())
    await _settle()
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    async with asyncio.timeout(1), locks.shared(NS, "acme"):  # not held off by the purge given up
        pass
    release.set()
    await holder
    assert len(locks) == 0


class HeldBackend:
    """The real ConfigMap backend, with a domain's apply held until ``release`` is set."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.applying = asyncio.Event()
        self.release = asyncio.Event()

    async def apply_domain(self, owner: DomainOwner, config: RoutingConfig) -> RoutingConfig:
        self.applying.set()
        await self.release.wait()
        return await self.backend.apply_domain(owner, config)

    async def remove_domain(self, namespace: str, domain_object: str) -> None:
        await self.backend.remove_domain(namespace, domain_object)

    async def purge_tenant(self, namespace: str, tenant: str) -> int:
        return await self.backend.purge_tenant(namespace, tenant)


async def _purge_due_while_a_domain_applies() -> tuple[Simulation, HeldBackend, datetime]:
    """A tenant whose license's purge is due now, and its domain's reconcile under way: it
    gathered (not purged yet) and its routing apply is held in the backend."""
    policy = Policy.model_validate(
        {"autoDeploy": {"every": "1s", "offset": "0s"}, "dns": {"verify": False}, "license": {"freeze": "60s"}}
    )
    expires = START + timedelta(days=1)
    docs = [
        *yaml.safe_load_all(PRODUCTS.read_text()),
        manifests.tenant("acme"),
        manifests.domain("acme", "acme", "acme.com"),
        manifests.service("acme-sign-only", "acme", "sign-only", users=3),
        manifests.license("acme", "acme", expires.isoformat().replace("+00:00", "Z")),
    ]
    simulation = Simulation([d for d in docs if d], policy, NS, START)
    timeline = await simulation.run(START + timedelta(days=60))
    purged = next(e.at for e in timeline.of("License", "acme") if e.what == "transition" and "Purged" in e.message)
    # The same world again, up to the moment before the purge is due: frozen, routing blocked.
    simulation = Simulation([d for d in docs if d], policy, NS, START)
    await simulation.run(purged - timedelta(seconds=1))
    assert simulation.api.objects[ROUTING]["data"]["accepted"] == "false"
    # Something makes the domain apply its routing anew (here: the config removed by hand), just
    # as the purge falls due.
    await simulation.api.delete_configmap(NS, "routing-acme")
    simulation.deliver_watched()
    simulation.clock.now = purged
    effects = simulation.ctx.effects
    assert isinstance(effects, ClusterEffects)
    held = HeldBackend(effects.backend)
    effects.backend = held
    return simulation, held, purged


ROUTING = (CONFIGMAP, NS, "routing-acme")


async def test_a_domain_reconcile_under_way_when_the_purge_is_due_does_not_route_the_purged_tenant() -> None:
    simulation, held, purged = await _purge_due_while_a_domain_applies()
    api, ctx = simulation.api, simulation.ctx
    domain = asyncio.create_task(reconcile_domain(ctx, NS, "acme"))
    await asyncio.wait_for(held.applying.wait(), 1)  # gathered (not purged yet), now applying
    license = asyncio.create_task(reconcile_license(ctx, NS, "acme"))
    await _settle()
    held.release.set()
    await asyncio.gather(domain, license)

    assert ROUTING not in api.objects, "the purged tenant's routing was applied after its purge"
    assert simulation.store.get("License", NS, "acme").obj.status.purged_at == purged  # type: ignore[union-attr]
    # The domain's next decision reads the purge: deprovisioned, nothing routed again.
    simulation.deliver_watched()
    await reconcile_domain(ctx, NS, "acme")
    assert api.objects[("Domain", NS, "acme")]["status"]["phase"] == "deprovisioned"
    assert ROUTING not in api.objects
    assert len(ctx.tenants) == 0


async def test_a_license_renewed_while_its_purge_waits_for_the_domains_is_decided_again_and_not_purged() -> None:
    simulation, held, _ = await _purge_due_while_a_domain_applies()
    api, ctx = simulation.api, simulation.ctx
    domain = asyncio.create_task(reconcile_domain(ctx, NS, "acme"))
    await asyncio.wait_for(held.applying.wait(), 1)
    license = asyncio.create_task(reconcile_license(ctx, NS, "acme"))  # decided: purge due; waits
    await _settle()
    renewed = (START + timedelta(days=400)).isoformat().replace("+00:00", "Z")
    await api.patch(KINDS_BY_NAME["License"], NS, "acme", {"spec": {"expiresAt": renewed}})
    simulation.deliver_watched()
    held.release.set()
    done = await asyncio.gather(domain, license, return_exceptions=True)
    assert done[0] is None
    assert isinstance(done[1], StaleObject)  # the engine decides it again at once
    assert api.objects[ROUTING]["data"]["accepted"] == "false"  # nothing purged
    await reconcile_license(ctx, NS, "acme")
    status = api.objects[("License", NS, "acme")]["status"]
    assert "purgedAt" not in status
    assert status["period"] != "Purged"
    assert len(ctx.tenants) == 0
