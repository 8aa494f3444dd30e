"""The status writer against the real API server: one write per transition, none when nothing
changed, and a decision taken on a stale read never undoes a newer change (Conflict, refresh,
decide again)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from seppmail_lifecycle.api import KINDS_BY_NAME
from seppmail_lifecycle.api.tenant import TenantStatus
from seppmail_lifecycle.core.conditions import Transition
from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from seppmail_lifecycle.kube.client import KubeClient
from seppmail_lifecycle.kube.store import Store
from seppmail_lifecycle.runtime.metrics import Counters
from seppmail_lifecycle.runtime.writer import NotLeader, StaleObject, StatusWriter
from tests.kube import apply, get
from tests.manifests import tenant

pytestmark = pytest.mark.e2e
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


class Events:
    def __init__(self) -> None:
        self.posted: list[tuple[str, str]] = []

    def __call__(self, body: dict[str, Any], *, type: str, reason: str, message: str) -> None:
        self.posted.append((body["metadata"]["name"], reason))


def writes(counters: Counters) -> int:
    return sum(count for name, count in counters.snapshot().items() if name.startswith("api_writes_total"))


async def test_one_write_per_change_and_none_when_nothing_changed(
    crds: ControlPlane, namespace: str, client: KubeClient
) -> None:
    apply(crds, namespace, tenant("acme"))
    store, counters, events = Store(), Counters(), Events()
    store.put("Tenant", get(crds, "tenants.lifecycle", namespace, "acme"))
    writer = StatusWriter(client, store, events, counters)
    entry = store.get("Tenant", namespace, "acme")
    assert entry is not None

    status = TenantStatus(id="tnt-1", managed_domains=2, total_services=3)
    moved = Transition(None, "Active", "TenantActive", "The tenant is active.")
    assert await writer.write_status("Tenant", entry, status, [moved])
    assert writes(counters) == 1
    assert events.posted == [("acme", "TenantActive")]
    written = store.get("Tenant", namespace, "acme")
    assert written is not None
    assert written.status(KINDS_BY_NAME["Tenant"])[0]["managedDomains"] == 2

    # The same status again (from the store's new version): no request at all.
    assert not await writer.write_status("Tenant", written, status)
    assert writes(counters) == 1
    assert (
        get(crds, "tenants.lifecycle", namespace, "acme")["metadata"]["resourceVersion"]
        == (written.raw["metadata"]["resourceVersion"])
    )


async def test_a_write_based_on_a_stale_read_never_undoes_a_newer_change(
    crds: ControlPlane, namespace: str, client: KubeClient
) -> None:
    apply(crds, namespace, tenant("acme"))
    store, counters = Store(), Counters()
    store.put("Tenant", get(crds, "tenants.lifecycle", namespace, "acme"))
    stale = store.get("Tenant", namespace, "acme")
    assert stale is not None

    # Someone else (another writer, a partner's edit) changes the object after our read.
    crds.kubectl(
        "patch", "tenants.lifecycle", "acme", "-n", namespace, "--subresource=status", "--type=merge",
        "-p", '{"status": {"id": "tnt-newer", "managedDomains": 7}}',
    )  # fmt: skip
    writer = StatusWriter(client, store, Events(), counters)
    with pytest.raises(StaleObject):
        await writer.write_status("Tenant", stale, TenantStatus(id="tnt-stale", managed_domains=1))
    assert writes(counters) == 0
    on_server = get(crds, "tenants.lifecycle", namespace, "acme")
    assert on_server["status"] == {"id": "tnt-newer", "managedDomains": 7}
    # The store now holds the server's version: the next decision is taken on it.
    refreshed = store.get("Tenant", namespace, "acme")
    assert refreshed is not None
    assert refreshed.raw["metadata"]["resourceVersion"] == on_server["metadata"]["resourceVersion"]
    assert await writer.write_status("Tenant", refreshed, TenantStatus(id="tnt-newer", managed_domains=8))
    assert get(crds, "tenants.lifecycle", namespace, "acme")["status"]["managedDomains"] == 8


async def test_a_finalizer_change_on_a_stale_read_conflicts_too(
    crds: ControlPlane, namespace: str, client: KubeClient
) -> None:
    apply(crds, namespace, tenant("acme"))
    store = Store()
    store.put("Tenant", get(crds, "tenants.lifecycle", namespace, "acme"))
    stale = store.get("Tenant", namespace, "acme")
    assert stale is not None
    crds.kubectl("label", "tenants.lifecycle", "acme", "-n", namespace, "edited=yes")
    writer = StatusWriter(client, store, Events(), Counters())
    with pytest.raises(StaleObject):
        await writer.set_finalizer("Tenant", stale, hold=True)
    assert not get(crds, "tenants.lifecycle", namespace, "acme")["metadata"].get("finalizers")


async def test_a_replica_without_the_lease_writes_nothing(
    crds: ControlPlane, namespace: str, client: KubeClient
) -> None:
    apply(crds, namespace, tenant("acme"))
    store, counters = Store(), Counters()
    store.put("Tenant", get(crds, "tenants.lifecycle", namespace, "acme"))
    entry = store.get("Tenant", namespace, "acme")
    assert entry is not None
    writer = StatusWriter(client, store, Events(), counters, may_write=lambda: False)
    with pytest.raises(NotLeader):
        await writer.write_status("Tenant", entry, TenantStatus(id="tnt-1"))
    assert writes(counters) == 0
    assert "status" not in get(crds, "tenants.lifecycle", namespace, "acme")
