"""The routing-ConfigMap backend against the real API server: every effect is idempotent,
purge deletes exactly one tenant's objects, and a failing backend is a condition on the Domain
that clears once the backend works again."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import yaml

from seppmail_lifecycle.backend.routing_configmap import ConfigMapBackend
from seppmail_lifecycle.core.routing import RoutedService, RoutingConfig
from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from seppmail_lifecycle.kube.client import KubeClient
from tests.e2e.conftest import StartOperator
from tests.kube import apply, condition, get, items, wait_for

pytestmark = pytest.mark.e2e
API = "lifecycle.seppmail.cloud/v1alpha1"


@dataclass(frozen=True)
class Owner:
    namespace: str
    name: str
    uid: str


def _domain(plane: ControlPlane, namespace: str, name: str, tenant: str) -> Owner:
    apply(
        plane,
        namespace,
        {
            "apiVersion": API,
            "kind": "Domain",
            "metadata": {"name": name},
            "spec": {"tenantRef": {"name": tenant}, "domainName": f"{name}.test"},
        },
    )
    return Owner(namespace, name, get(plane, "domains.lifecycle", namespace, name)["metadata"]["uid"])


def _config(owner: Owner, tenant: str, *services: str) -> RoutingConfig:
    return RoutingConfig(
        tenant, owner.name, f"{owner.name}.test", True, None, tuple(RoutedService(s, "base") for s in services)
    )


@pytest.fixture
async def backend(crds: ControlPlane) -> AsyncIterator[ConfigMapBackend]:
    client = await KubeClient.connect(str(crds.admin_kubeconfig))
    yield ConfigMapBackend(client)
    await client.close()


async def test_apply_and_remove_are_idempotent(crds: ControlPlane, namespace: str, backend: ConfigMapBackend) -> None:
    owner = _domain(crds, namespace, "idem", "t1")
    first = await backend.apply_domain(owner, _config(owner, "t1", "idem-base"))
    assert await backend.apply_domain(owner, _config(owner, "t1", "idem-base")) == first
    grown = await backend.apply_domain(owner, _config(owner, "t1", "idem-base", "idem-sign"))
    assert [s.name for s in grown.services] == ["idem-base", "idem-sign"]
    [body] = items(crds, "configmaps", namespace, "lifecycle.seppmail.cloud/role=routing")
    assert body["metadata"]["ownerReferences"][0]["uid"] == owner.uid
    assert body["metadata"]["labels"]["lifecycle.seppmail.cloud/tenant"] == "t1"

    for _ in range(2):
        await backend.remove_domain(namespace, "idem")
        assert get(crds, "configmaps", namespace, "routing-idem") is None


async def test_purge_deletes_every_backend_object_of_the_tenant_and_nothing_else(
    crds: ControlPlane, namespace: str, backend: ConfigMapBackend
) -> None:
    mine = [_domain(crds, namespace, name, "doomed") for name in ("doomed-a", "doomed-b")]
    other = _domain(crds, namespace, "kept", "survivor")
    for owner in mine:
        await backend.apply_domain(owner, _config(owner, "doomed", f"{owner.name}-base"))
    await backend.apply_domain(other, _config(other, "survivor", "kept-base"))
    ledger = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "mail-ledger.0.doomed",
            "labels": {
                "app.kubernetes.io/managed-by": "seppmail-lifecycle",
                "lifecycle.seppmail.cloud/role": "mail-ledger",
                "lifecycle.seppmail.cloud/tenant": "doomed",
            },
        },
        "data": {"x": json.dumps({"key": "k"})},
    }
    apply(crds, namespace, ledger)

    assert await backend.purge_tenant(namespace, "doomed") == 2
    left = [
        cm["metadata"]["name"]
        for cm in items(crds, "configmaps", namespace, "app.kubernetes.io/managed-by=seppmail-lifecycle")
    ]
    # The mail ledger stays: the tenant's objects live on after the purge and derive their mails
    # again; it goes with the Tenant object (its owner).
    assert left == ["mail-ledger.0.doomed", "routing-kept"]
    assert await backend.purge_tenant(namespace, "doomed") == 0


def test_a_failing_backend_is_a_condition_on_the_domain_and_recovers(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator
) -> None:
    # Something else holds the routing ConfigMap's name, immutably: every apply fails.
    squatter = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "routing-broken"},
        "immutable": True,
        "data": {"domain": "someone-else"},
    }
    catalogue.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(squatter))
    start_operator({"autoDeploy": {"every": "1s", "offset": "0s"}, "dns": {"verify": False}})
    apply(
        catalogue,
        namespace,
        {
            "apiVersion": API,
            "kind": "Tenant",
            "metadata": {"name": "broken"},
            "spec": {"displayName": "Broken", "contact": {"email": "it@broken.test"}},
        },
        {
            "apiVersion": API,
            "kind": "Domain",
            "metadata": {"name": "broken"},
            "spec": {"tenantRef": {"name": "broken"}, "domainName": "broken.test"},
        },
    )

    failing = wait_for(
        "BackendReady=False on the domain",
        lambda: (
            (d := get(catalogue, "domains.lifecycle", namespace, "broken"))
            and (condition(d, "BackendReady") or {}).get("status") == "False"
            and d
        ),
    )
    assert failing["status"]["phase"] == "provisioning"  # the order is kept
    assert "immutable" in condition(failing, "BackendReady")["message"]
    # Its (booked) base service may not be fully available: ERRONEOUS (seed 004) until it recovers.
    wait_for(
        "the service erroneous",
        lambda: (
            (
                ((get(catalogue, "services.lifecycle", namespace, "broken-base") or {}).get("status") or {}).get(
                    "subscription"
                )
                or {}
            ).get("state")
            == "ERRONEOUS"
        ),
    )

    catalogue.kubectl("delete", "configmap", "routing-broken", "-n", namespace)
    recovered = wait_for(
        "provisioned once the backend works",
        lambda: (
            (d := get(catalogue, "domains.lifecycle", namespace, "broken"))
            and d["status"]["phase"] == "provisioned"
            and d
        ),
        timeout=40,
    )
    assert condition(recovered, "BackendReady")["status"] == "True"
    wait_for(
        "the service OK again",
        lambda: (
            get(catalogue, "services.lifecycle", namespace, "broken-base")["status"]["subscription"]["state"] == "OK"
        ),
    )
    assert get(catalogue, "configmaps", namespace, "routing-broken")["data"]["domain"] == "broken.test"
