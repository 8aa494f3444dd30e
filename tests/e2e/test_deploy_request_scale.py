"""A DeployRequest at any scale completes on the real API server: its status lists the first
names and counts the rest, its message says how many more were left out, and what it deployed
follows from its spec and completion time, not from those bounded lists."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from seppmail_lifecycle.api import KINDS_BY_NAME
from seppmail_lifecycle.api.common import MAX_MESSAGE
from seppmail_lifecycle.api.deployrequest import MAX_LISTED
from seppmail_lifecycle.api.policy import DeployRequestPolicy, Policy
from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from seppmail_lifecycle.kube.client import KubeClient
from seppmail_lifecycle.kube.store import Store
from seppmail_lifecycle.runtime.context import Context
from seppmail_lifecycle.runtime.keys import Key
from seppmail_lifecycle.runtime.metrics import Counters
from seppmail_lifecycle.runtime.reconcilers.deployrequest import reconcile_deploy_request
from seppmail_lifecycle.runtime.writer import StatusWriter
from tests import manifests
from tests.e2e.conftest import StartOperator
from tests.kube import apply, condition, deploy_request_completed, get, wait_phases

pytestmark = pytest.mark.e2e

API = "lifecycle.seppmail.cloud/v1alpha1"
NO_AUTO_DEPLOY = {"autoDeploy": {"every": "24h", "offset": "0s"}, "dns": {"verify": False}}
Body = dict[str, Any]


def deploy_request(name: str, domains: list[str]) -> Body:
    return {"apiVersion": API, "kind": "DeployRequest", "metadata": {"name": name}, "spec": {"domains": domains}}


def assert_bounded(status: Body) -> None:
    for field in ("deployedDomains", "deployedServices", "skipped"):
        assert len(status.get(field) or []) <= MAX_LISTED, field
    assert len(status["message"]) <= MAX_MESSAGE
    ready = condition({"status": status}, "Ready")
    assert ready is not None
    assert (ready["status"], ready["reason"], ready["message"]) == ("True", "Completed", status["message"])


def test_a_request_naming_500_domains_completes_and_deploys_the_one_that_exists(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator
) -> None:
    # Not waiting for the 499 named domains that do not exist (they might be on their way otherwise).
    start_operator(NO_AUTO_DEPLOY | {"deployRequests": {"waitForChecks": "0s"}})
    apply(catalogue, namespace, manifests.tenant("acme"), manifests.domain("zz-real", "acme", "real.example"))
    wait_phases(catalogue, namespace, "domains.lifecycle", "confirmed")
    wait_phases(catalogue, namespace, "services.lifecycle", "confirmed")
    missing = [f"missing-{n:03}.example" for n in range(499)]
    apply(catalogue, namespace, deploy_request("deploy-many", [*missing, "zz-real"]))

    status = deploy_request_completed(catalogue, namespace, "deploy-many")["status"]
    assert_bounded(status)
    assert (status["deployedDomainCount"], status["skippedCount"]) == (1, 499)
    assert status["deployedDomains"] == ["zz-real"]
    assert [s["name"] for s in status["skipped"]] == missing[:MAX_LISTED]
    assert status["message"].startswith("Deployment started for 1 domain(s) and 1 service(s); not deployed: ")
    shown = status["message"].count("(Domain not found in this namespace.)")
    assert 0 < shown < 499
    assert status["message"].endswith(f"; and {499 - shown} more.")
    wait_phases(catalogue, namespace, "domains.lifecycle", "provisioned")


class NoEffects:
    async def perform(self, effect: object) -> Any:
        raise AssertionError(f"carrying out a DeployRequest performs no effect, not {effect!r}")


async def test_a_request_over_10000_domains_completes(crds: ControlPlane, namespace: str, client: KubeClient) -> None:
    """The DeployRequest reconciler over 10,000 real Domains (half of them confirmed), writing to
    the real API server: the status it writes is accepted and says how many there are."""
    domains = KINDS_BY_NAME["Domain"]
    gate = asyncio.Semaphore(32)

    async def create(n: int) -> None:
        body = manifests.domain(f"d-{n:05}", "acme", f"d{n:05}.example")
        async with gate:
            created = await client.create(domains, namespace, body)
            if n % 2:
                patch = {"status": {"phase": "confirmed", "confirmedAt": "2026-11-02T10:00:00Z"}}
                await client.patch_status(domains, namespace, created["metadata"]["name"], patch)

    await asyncio.gather(*(create(n) for n in range(10_000)))
    await client.create(KINDS_BY_NAME["DeployRequest"], namespace, deploy_request("deploy-all", []))

    store = Store([namespace])
    for kind in ("Domain", "DeployRequest"):
        for body in await client.list_objects(KINDS_BY_NAME[kind], [namespace]):
            store.put(kind, body)
    assert store.count("Domain") == 10_000
    woken: list[Key] = []
    decided_at = datetime.now(UTC) + timedelta(seconds=1)  # after the request was created
    ctx = Context(
        store=store,
        # The unconfirmed half was never checked (no operator runs here): not waited for.
        policy=Policy(deploy_requests=DeployRequestPolicy(wait_for_checks=timedelta(0))),
        clock=lambda: decided_at,
        effects=NoEffects(),
        writer=StatusWriter(client, store, lambda *_, **__: None, Counters()),
        post_event=lambda *_, **__: None,
        enqueue=woken.append,
        wake_at=lambda *_: None,
    )
    await reconcile_deploy_request(ctx, namespace, "deploy-all")

    status = get(crds, "deployrequests.lifecycle", namespace, "deploy-all")["status"]
    assert status["phase"] == "Completed"
    assert_bounded(status)
    assert (status["deployedDomainCount"], status["deployedServiceCount"], status["skippedCount"]) == (5000, 0, 5000)
    assert status["deployedDomains"] == [f"d-{n:05}" for n in range(1, 2 * MAX_LISTED, 2)]
    assert status["message"].startswith("Deployment started for 5000 domain(s) and 0 service(s); not deployed: d-00000")
    assert status["message"].endswith(" more.")
    # Every covered domain is decided again, not only the listed ones.
    assert len(woken) == 10_000
