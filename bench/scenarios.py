"""The benchmark's scenarios, each on the real control plane in a namespace of its own:

- ``throughput``: bulk apply of N objects (domains, each with a declared base service) until all
  are provisioned, by the operator, by a plain kopf operator doing one status write per object,
  and by a tight asyncio client doing the same creates and one status write per object directly
  (the API server's own limit for these writes, measured in the same run);
- ``idle``: the operator's CPU and memory once everything has settled (deadlines days away);
- ``restart``: licenses fallen overdue while the operator was down, among everything else;
- ``timers``: many licenses expiring within the same 10 s: how late each Grace transition is.
"""

from __future__ import annotations

import asyncio
import functools
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from tests import manifests
from tests.operator_process import OperatorProcess, free_port

from bench.measure import (
    Body,
    Observer,
    api_writes,
    bounded,
    cpu_seconds,
    create_all,
    memory_mb,
    percentile,
    since,
)
from seppmail_lifecycle.api import KINDS_BY_NAME
from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from seppmail_lifecycle.kube.client import KubeClient

THROUGHPUT_POLICY = {"autoDeploy": {"every": "1s", "offset": "0s"}, "dns": {"verify": False}}
DOMAINS_PER_TENANT = 5
PLAIN_KOPF = Path(__file__).with_name("plain_kopf.py")


def provisioned(body: Body) -> bool:
    return bool((body.get("status") or {}).get("phase") == "provisioned")


def in_period(period: str) -> Callable[[Body], bool]:
    return lambda body: (body.get("status") or {}).get("period") == period


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def tenants_and_licenses(objects: int, expires_in: timedelta) -> list[Body]:
    """The tenants the domains of ``objects`` orders belong to, each with a full license
    expiring in ``expires_in``."""
    expires = rfc3339(datetime.now(UTC) + expires_in)
    docs: list[Body] = []
    for t in range(objects // 2 // DOMAINS_PER_TENANT + 1):
        docs += [manifests.tenant(f"t{t:05}"), manifests.license(f"t{t:05}-license", f"t{t:05}", expires)]
    return docs


def orders(objects: int) -> list[Body]:
    """``objects`` orders: domains, each with its declared base service (domain first)."""
    docs: list[Body] = []
    for d in range(objects // 2):
        name = f"d{d:05}"
        docs += [
            manifests.domain(name, f"t{d // DOMAINS_PER_TENANT:05}", f"{name}.bench.example"),
            manifests.service(f"{name}-base", name, "base"),
        ]
    return docs


class Cluster:
    """The control plane, an admin client, and fresh namespaces."""

    def __init__(
        self, plane: ControlPlane, client: KubeClient, workdir: Path, operator_args: Sequence[str] = ()
    ) -> None:
        self.plane = plane
        self.client = client
        self.workdir = workdir
        self.operator_args = operator_args

    def namespace(self, purpose: str) -> str:
        name = f"bench-{purpose}-{uuid.uuid4().hex[:6]}"
        self.plane.kubectl("create", "namespace", name)
        return name

    async def populated(self, purpose: str, objects: int) -> tuple[str, list[Body]]:
        """A fresh namespace holding the tenants (and their licenses) the orders of ``objects``
        belong to; the namespace and what was created."""
        namespace = self.namespace(purpose)
        setup = tenants_and_licenses(objects, timedelta(days=30))
        await create_all(self.client, namespace, setup)
        return namespace, setup

    def operator(self, namespace: str, policy: dict[str, Any]) -> OperatorProcess:
        policy_file = self.workdir / f"{namespace}-policy.yaml"
        policy_file.write_text(yaml.safe_dump(policy))
        log = self.workdir / f"{namespace}-operator.log"
        return OperatorProcess(self.plane, log, [namespace], policy_file, extra_args=self.operator_args)


@dataclass
class Throughput:
    objects: int
    seconds: float
    writes: dict[str, int] = field(default_factory=dict)
    cpu_seconds: float | None = None
    peak_rss_mb: float | None = None

    @property
    def rate(self) -> float:
        return self.objects / self.seconds


async def tight_client(cluster: Cluster, objects: int) -> Throughput:
    """The API server's limit for these writes: the creates, then one status write each, at the
    bench client's concurrency, with nothing decided in between."""
    namespace, _ = await cluster.populated("tight", objects)
    docs = orders(objects)
    before, start = api_writes(cluster.plane), time.time()

    async def create_and_provision(doc: Body) -> None:
        info = KINDS_BY_NAME[doc["kind"]]
        await cluster.client.create(info, namespace, doc)
        await cluster.client.patch_status(
            info, namespace, doc["metadata"]["name"], {"status": {"phase": "provisioned"}}
        )

    await bounded(functools.partial(create_and_provision, doc) for doc in docs)
    seconds = time.time() - start
    return Throughput(objects, seconds, since(api_writes(cluster.plane), before))


async def _until_provisioned(cluster: Cluster, namespace: str, docs: list[Body], patience: float) -> float:
    """Create ``docs`` and wait until every one is provisioned; the seconds it took."""
    async with (
        Observer(cluster.client, namespace, "domains", provisioned) as domains,
        Observer(cluster.client, namespace, "services", provisioned) as services,
    ):
        start = time.time()
        await create_all(cluster.client, namespace, docs)
        half = len(docs) // 2
        done = max(await domains.wait(half, patience), await services.wait(half, patience))
    return done - start


def _start_plain_kopf(cluster: Cluster, namespace: str) -> subprocess.Popen[bytes]:
    """Start the reference operator; return once its liveness endpoint answers."""
    url = f"http://127.0.0.1:{free_port()}/healthz"
    env = {"KUBECONFIG": str(cluster.plane.admin_kubeconfig), "PATH": "/usr/bin:/bin"}
    args = [sys.executable, "-m", "kopf", "run", "--standalone", "-n", namespace, f"--liveness={url}", str(PLAIN_KOPF)]
    with (cluster.workdir / f"{namespace}-kopf.log").open("wb") as log:
        process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"plain kopf exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise TimeoutError(f"{url} did not answer")


async def plain_kopf(cluster: Cluster, objects: int, patience: float) -> Throughput:
    namespace, _ = await cluster.populated("kopf", objects)
    process = await asyncio.to_thread(_start_plain_kopf, cluster, namespace)
    try:
        before, cpu_before = api_writes(cluster.plane), cpu_seconds(process.pid)
        seconds = await _until_provisioned(cluster, namespace, orders(objects), patience)
        writes = since(api_writes(cluster.plane), before)
        return Throughput(objects, seconds, writes, cpu_seconds(process.pid) - cpu_before, memory_mb(process.pid)[1])
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 30)


@dataclass
class Population:
    """The operator's run: a namespace, the operator watching it, and what it holds."""

    namespace: str
    operator: OperatorProcess
    objects: int
    licenses: list[str]


async def operator_throughput(cluster: Cluster, objects: int, patience: float) -> tuple[Throughput, Population]:
    namespace, setup = await cluster.populated("operator", objects)
    operator = cluster.operator(namespace, THROUGHPUT_POLICY)
    await asyncio.to_thread(operator.start, 120)
    assert operator.process is not None
    licenses = [d["metadata"]["name"] for d in setup if d["kind"] == "License"]
    async with Observer(cluster.client, namespace, "licenses", in_period("License")) as settled:
        await settled.wait(len(licenses), patience)
    await idle(operator, patience)
    pid = operator.process.pid
    before, cpu_before = api_writes(cluster.plane), cpu_seconds(pid)
    seconds = await _until_provisioned(cluster, namespace, orders(objects), patience)
    writes = since(api_writes(cluster.plane), before)
    result = Throughput(objects, seconds, writes, cpu_seconds(pid) - cpu_before, memory_mb(pid)[1])
    return result, Population(namespace, operator, objects + len(setup), licenses)


async def idle(operator: OperatorProcess, patience: float) -> float:
    """Wait until the operator's queue is empty; the seconds that took."""
    start = time.time()
    while time.time() - start < patience:
        health = await asyncio.to_thread(operator.liveness) or {}
        if health.get("ready") and health.get("queued") == 0:
            return time.time() - start
        await asyncio.sleep(0.2)
    raise TimeoutError(f"operator not idle after {patience:.0f} s")


@dataclass
class IdleCost:
    objects: int
    cpu_percent: float
    rss_mb: float


async def idle_cost(population: Population, seconds: float, patience: float) -> IdleCost:
    operator = population.operator
    assert operator.process is not None
    await idle(operator, patience)
    await asyncio.sleep(2)  # the last events posted
    pid = operator.process.pid
    cpu_before = cpu_seconds(pid)
    await asyncio.sleep(seconds)
    return IdleCost(population.objects, 100 * (cpu_seconds(pid) - cpu_before) / seconds, memory_mb(pid)[0])


@dataclass
class Restart:
    objects: int
    overdue: int
    all_done_seconds: float
    idle_seconds: float
    cpu_seconds: float
    rss_mb: float


async def restart(cluster: Cluster, population: Population, patience: float) -> Restart:
    """Stop the operator, let every license fall overdue while it is down, start it again."""
    operator = population.operator
    operator.stop()
    expired = {"spec": {"expiresAt": rfc3339(datetime.now(UTC) - timedelta(seconds=1))}}
    info = KINDS_BY_NAME["License"]
    await bounded(
        functools.partial(cluster.client.patch, info, population.namespace, name, expired)
        for name in population.licenses
    )
    async with Observer(cluster.client, population.namespace, "licenses", in_period("Grace")) as grace:
        start = time.time()
        await asyncio.to_thread(operator.start, patience)
        assert operator.process is not None
        done = await grace.wait(len(population.licenses), patience)
    await idle(operator, patience)
    idle_at = time.time()
    pid = operator.process.pid
    return Restart(
        population.objects,
        len(population.licenses),
        done - start,
        idle_at - start,
        cpu_seconds(pid),  # the whole new process: start-up, catch-up and the overdue transitions
        memory_mb(pid)[0],
    )


@dataclass
class Timers:
    deadlines: int
    lateness: list[float]
    settled_before_first: bool
    early: int

    def figures(self) -> dict[str, float]:
        return {
            "p50": percentile(self.lateness, 0.5),
            "p99": percentile(self.lateness, 0.99),
            "max": max(self.lateness),
        }


async def timers(cluster: Cluster, deadlines: int, patience: float) -> Timers:
    """``deadlines`` licenses expiring evenly within the same 10 s, far enough ahead for all of
    them to be created and settled first; lateness is when this process saw each one in Grace."""
    namespace = cluster.namespace("timers")
    operator = cluster.operator(namespace, {"dns": {"verify": False}})
    await asyncio.to_thread(operator.start, 120)
    try:
        lead = 20 + deadlines / 40
        first = datetime.now(UTC) + timedelta(seconds=lead)
        tenants = max(1, deadlines // 10)
        docs: list[Body] = [manifests.tenant(f"t{t:05}") for t in range(tenants)]
        expiry: dict[str, float] = {}
        for n in range(deadlines):
            at = first + timedelta(seconds=10 * n / deadlines)
            name = f"l{n:05}"
            expiry[name] = at.timestamp()
            docs.append(manifests.license(name, f"t{n % tenants:05}", rfc3339(at)))
        async with (
            Observer(cluster.client, namespace, "licenses", in_period("License")) as settled,
            Observer(cluster.client, namespace, "licenses", in_period("Grace")) as grace,
        ):
            await create_all(cluster.client, namespace, docs)
            settled_at = await settled.wait(deadlines, patience)
            await grace.wait(deadlines, patience + lead)
        lateness = [grace.done_at[name] - at for name, at in expiry.items()]
        return Timers(deadlines, lateness, settled_at < first.timestamp(), sum(1 for x in lateness if x < 0))
    finally:
        operator.stop()
