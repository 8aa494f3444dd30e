"""The benchmark's scenarios, each on the real control plane in a namespace of its own:

- ``throughput``: bulk apply of N objects (domains, each with a declared base service) until all
  are provisioned, by the operator, by a plain kopf operator doing one status write per object,
  and by a tight asyncio client making the operator's writes again (the same creates, finalizers,
  status writes, ConfigMaps and events, with the same bodies) without deciding anything: the API
  server's own limit for these writes, measured in the same run;
- ``idle``: the operator's CPU and memory once everything has settled (deadlines days away);
- ``restart``: licenses fallen overdue while the operator was down, among everything else;
- ``timers``: many licenses expiring within the same 10 s: how late each Grace transition is;
- ``simulator``: ``kubectl lifecycle simulate`` over N services for D days, no cluster.
"""

from __future__ import annotations

import asyncio
import functools
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Sequence
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
from seppmail_lifecycle import FINALIZER, GROUP, VERSION
from seppmail_lifecycle.api import KINDS_BY_NAME
from seppmail_lifecycle.backend.labels import ROUTING_SELECTOR
from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from seppmail_lifecycle.kube.client import KubeClient
from seppmail_lifecycle.kube.events import COMPONENT as REPORTER

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

    def plane_cpu(self) -> float:
        """CPU seconds the API server and etcd have used so far: what the writes cost them."""
        return sum(cpu_seconds(pid) for pid in self.plane.pids.values())

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
    plane_cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.objects / self.seconds


class Meter:
    """What a stretch of the run cost from its creation until ``costs``: API writes by verb and
    resource, the CPU of process ``pid`` (none: 0), the API server's and etcd's CPU."""

    def __init__(self, cluster: Cluster, pid: int | None = None) -> None:
        self.cluster, self.pid = cluster, pid
        self.writes, self.plane = api_writes(cluster.plane), cluster.plane_cpu()
        self.cpu = cpu_seconds(pid) if pid is not None else 0.0

    def costs(self) -> tuple[dict[str, int], float, float]:
        cpu = cpu_seconds(self.pid) - self.cpu if self.pid is not None else 0.0
        return since(api_writes(self.cluster.plane), self.writes), cpu, self.cluster.plane_cpu() - self.plane


async def _replay_plan(
    cluster: Cluster, source: str, target: str
) -> tuple[list[Body], list[Callable[[], Awaitable[Any]]]]:
    """The writes the operator made for the orders in ``source``, to be made again in ``target``
    by a client that decides nothing: per Domain and Service the create, the finalizer, two status
    writes (the first transition's, then the final status), the domain's routing ConfigMap and the
    object's event, with the bodies the operator wrote (same sizes, same schema work for the API
    server). The creates, then every object's writes in order."""
    found = {
        plural: (await cluster.client.custom.list_namespaced_custom_object(GROUP, VERSION, source, plural))["items"]
        for plural in ("domains", "services")
    }
    maps = {
        ref["name"]: cm
        for cm in await cluster.client.list_configmaps(ROUTING_SELECTOR, [source])
        for ref in cm["metadata"].get("ownerReferences", [])
    }
    listed = cluster.client.api.sanitize_for_serialization(await cluster.client.core.list_namespaced_event(source))
    events = {e["involvedObject"]["name"]: e for e in listed["items"] if e.get("reportingComponent") == REPORTER}
    creates: list[Body] = []
    writes: list[Callable[[], Awaitable[Any]]] = []
    for bodies in found.values():
        for body in bodies:
            kind, name, status = body["kind"], body["metadata"]["name"], body["status"]
            creates.append(
                {"apiVersion": body["apiVersion"], "kind": kind, "metadata": {"name": name}, "spec": body["spec"]}
            )
            first = {**status, "phase": "confirmed", "history": status.get("history", [])[:1]}
            writes.append(
                functools.partial(
                    _replay_one, cluster.client, target, kind, name, first, status, maps.get(name), events.get(name)
                )
            )
    return creates, writes


async def _replay_one(
    client: KubeClient,
    namespace: str,
    kind: str,
    name: str,
    first: Body,
    status: Body,
    routing: Body | None,
    event: Body | None,
) -> None:
    info = KINDS_BY_NAME[kind]
    created = await client.patch(info, namespace, name, {"metadata": {"finalizers": [FINALIZER]}})
    await client.patch_status(info, namespace, name, {"status": first})
    await client.patch_status(info, namespace, name, {"status": status})
    if routing is not None:
        meta = routing["metadata"]
        owner = {**meta["ownerReferences"][0], "uid": created["metadata"]["uid"]}
        await client.create_configmap(
            namespace,
            {
                "metadata": {"name": meta["name"], "labels": meta.get("labels", {}), "ownerReferences": [owner]},
                "data": routing.get("data", {}),
            },
        )
    if event is not None:
        regarding = {**event["involvedObject"], "namespace": namespace, "uid": created["metadata"]["uid"]}
        await client.create_event(
            namespace,
            {
                **{k: v for k, v in event.items() if k not in ("metadata", "involvedObject")},
                "metadata": {"generateName": f"{name}."},
                "involvedObject": regarding,
            },
        )


async def tight_client(cluster: Cluster, source: str, objects: int, patience: float) -> Throughput:
    """The API server's limit for the operator's writes: the writes the operator made in
    ``source`` made again by a client deciding nothing, at the bench client's concurrency,
    observed by the same watches as the operator's run."""
    namespace, _ = await cluster.populated("tight", objects)
    creates, writes = await _replay_plan(cluster, source, namespace)
    meter = Meter(cluster)

    async def replay() -> None:
        await create_all(cluster.client, namespace, creates)
        await bounded(writes)

    seconds = await _until_provisioned(cluster, namespace, len(creates), replay, patience)
    writes_made, _, plane = meter.costs()
    return Throughput(objects, seconds, writes_made, plane_cpu_seconds=plane)


async def _until_provisioned(
    cluster: Cluster, namespace: str, objects: int, writing: Callable[[], Awaitable[Any]], patience: float
) -> float:
    """Run ``writing`` and wait until ``objects`` orders (half domains, half services) are
    provisioned in ``namespace``; the seconds from the first write until the last was seen."""
    async with (
        Observer(cluster.client, namespace, "domains", provisioned) as domains,
        Observer(cluster.client, namespace, "services", provisioned) as services,
    ):
        start = time.time()
        await writing()
        half = objects // 2
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


async def _bulk_apply(cluster: Cluster, namespace: str, objects: int, pid: int, patience: float) -> Throughput:
    """Create ``objects`` orders in ``namespace`` and wait until the operator ``pid`` (ours or the
    plain kopf one) has provisioned them all; what that took and cost."""
    meter = Meter(cluster, pid)
    docs = orders(objects)
    seconds = await _until_provisioned(
        cluster, namespace, len(docs), functools.partial(create_all, cluster.client, namespace, docs), patience
    )
    writes, cpu, plane = meter.costs()
    return Throughput(objects, seconds, writes, cpu, memory_mb(pid)[1], plane)


async def plain_kopf(cluster: Cluster, objects: int, patience: float) -> Throughput:
    namespace, _ = await cluster.populated("kopf", objects)
    process = await asyncio.to_thread(_start_plain_kopf, cluster, namespace)
    try:
        return await _bulk_apply(cluster, namespace, objects, process.pid, patience)
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
    result = await _bulk_apply(cluster, namespace, objects, operator.process.pid, patience)
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
    """The operator started again over the settled population (as after a pod restart), once it
    has caught up: CPU over ``seconds`` and RSS."""
    operator = population.operator
    await asyncio.to_thread(operator.start, patience)
    assert operator.process is not None
    await idle(operator, patience)
    pid = operator.process.pid
    # The start-up tail (kopf's own listing of every object, seen again and skipped; the last
    # events posted) is the restart scenario's figure; idle is the steady state after it.
    start = time.time()
    while time.time() - start < patience:
        cpu_before = cpu_seconds(pid)
        await asyncio.sleep(2)
        if cpu_seconds(pid) - cpu_before < 0.04:  # under 2% of a core
            break
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
    writes: dict[str, int] = field(default_factory=dict)
    cpu_seconds: float = 0.0
    plane_cpu_seconds: float = 0.0
    seconds: float = 0.0  # from the first expiry until the last transition was seen

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
            await asyncio.sleep(max(0.0, first.timestamp() - time.time() - 1))
            assert operator.process is not None
            meter = Meter(cluster, operator.process.pid)
            done = await grace.wait(deadlines, patience + lead)
            writes, cpu, plane = meter.costs()
        lateness = [grace.done_at[name] - at for name, at in expiry.items()]
        early = sum(1 for x in lateness if x < 0)
        return Timers(
            deadlines, lateness, settled_at < first.timestamp(), early, writes, cpu, plane, done - first.timestamp()
        )
    finally:
        operator.stop()


@dataclass(frozen=True)
class SimulatorRun:
    services: int
    days: int
    seconds: float
    cpu_seconds: float
    reconciles: int
    entries: int


def simulated_partner(services: int) -> list[Body]:
    """The catalogue, and tenants with a contract (14-day trial), a license and a domain with four
    services each (base, sign-only, sign-encrypt, one-time onboarding)."""
    catalogue = Path(__file__).resolve().parents[1] / "manifests" / "examples" / "00-products.yaml"
    docs: list[Body] = [d for d in yaml.safe_load_all(catalogue.read_text()) if d]
    for t in range(max(1, services // 4)):
        name = f"t{t:05}"
        docs += [
            manifests.tenant(name),
            manifests.obj("Contract", name, {"tenantRef": {"name": name}, "trialDays": 14}),
            manifests.license(name, name, "2027-06-30T23:59:59Z"),
            manifests.domain(name, deploymentSettings={"ginaHost": f"gina.{name}.example"}),
            *(
                manifests.service(f"{name}-{product}", name, product, users=10, contractRef={"name": name})
                for product in ("base", "sign-only", "sign-encrypt", "onboarding")
            ),
        ]
    return docs


def simulator(services: int, days: int) -> SimulatorRun:
    """The simulator in this process: wall and CPU time, reconciles, timeline entries."""
    from seppmail_lifecycle.api.policy import Policy
    from seppmail_lifecycle.runtime.simulator import simulate

    docs = simulated_partner(services)
    start = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    began, cpu = time.perf_counter(), time.process_time()
    timeline = asyncio.run(simulate(docs, Policy(), "bench", start, start + timedelta(days=days)))
    return SimulatorRun(
        services=4 * max(1, services // 4),
        days=days,
        seconds=time.perf_counter() - began,
        cpu_seconds=time.process_time() - cpu,
        reconciles=timeline.reconciles,
        entries=len(timeline.entries),
    )
