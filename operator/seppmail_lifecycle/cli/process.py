"""The operator process: the health endpoint from start to exit; with ``--leader-elect``, the
wait for the Lease; then, as the only active replica, the runtime (store, engine, scheduler)
and kopf's watches feeding it; and how all of that stops.

Losing the lease stops acting at once: the runtime is halted before anything else happens,
kopf is stopped, and the process exits with 1 for the Deployment to restart it as a standby
(as controller-runtime does). SIGTERM stops cleanly and releases the lease, so the standby
takes over without waiting for it to expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import kopf
from kopf._cogs.structs.references import Insights

from seppmail_lifecycle import __version__
from seppmail_lifecycle.api.policy import Policy
from seppmail_lifecycle.backend.mail import SmtpSettings
from seppmail_lifecycle.kube.client import KubeClient
from seppmail_lifecycle.runtime.health import Endpoint, health_endpoint, metrics_endpoint
from seppmail_lifecycle.runtime.metrics import Counters, OperatorCollector
from seppmail_lifecycle.runtime.operator_runtime import OperatorRuntime, utc_now

if TYPE_CHECKING:
    from seppmail_lifecycle.runtime.leader import LeaderElector

logger = logging.getLogger(__name__)

EXIT_LEASE_LOST = 1


@dataclass(frozen=True)
class LeaderElection:
    namespace: str
    lease_name: str
    identity: str
    lease_duration: timedelta
    renew_deadline: timedelta
    retry_period: timedelta


@dataclass(frozen=True)
class ProcessOptions:
    policy: Policy
    namespaces: tuple[str, ...]
    smtp: SmtpSettings | None
    liveness: str | None
    leader_election: LeaderElection | None
    metrics: str | None = None  # where to serve Prometheus metrics, e.g. http://0.0.0.0:9090/metrics
    verbose: bool = False
    workers: int | None = None  # None: sized to the API server's priority level
    tenant_namespaces: bool = False  # watch Namespaces for their partner label
    time_offset: timedelta = timedelta(0)  # decide as if it were this much later (demos, tests)


def own_namespace() -> str:
    """The namespace the pod runs in (POD_NAMESPACE, else the service account's), else default."""
    if namespace := os.environ.get("POD_NAMESPACE"):
        return namespace
    with contextlib.suppress(OSError), open("/var/run/secrets/kubernetes.io/serviceaccount/namespace") as file:
        return file.read().strip()
    return "default"


def identity() -> str:
    from seppmail_lifecycle.runtime.leader import default_identity

    return os.environ.get("POD_NAME") or default_identity()


class OperatorProcess:
    def __init__(self, options: ProcessOptions) -> None:
        self.options = options
        self.runtime: OperatorRuntime | None = None
        self.elector: LeaderElector | None = None
        self.watching = asyncio.Event()
        """Set by kopf once its start-up is done and the watches begin."""
        self.stopping = asyncio.Event()
        """Set by SIGTERM/SIGINT (until kopf takes the signals over), and when the lease is lost."""
        self.counters = Counters()
        self.counters.registry.register(OperatorCollector(__version__, lambda: self.runtime, self._leading))

    def _leading(self) -> bool:
        return self.runtime is not None and (self.elector is None or self.elector.is_leader())

    def report(self) -> dict[str, Any]:
        role = "leader" if self.runtime is not None else "standby"
        body: dict[str, Any] = {"version": __version__, "role": role, "ready": self.watching.is_set()}
        if self.elector is not None:
            body["identity"] = self.elector.identity
        if self.runtime is not None:
            body.update(self.runtime.health())
        return body

    async def run(self) -> int:
        self._take_signals()
        endpoints: list[Endpoint] = []
        if self.options.liveness:
            endpoints.append(health_endpoint(self.options.liveness, self.report))
        if self.options.metrics:
            endpoints.append(metrics_endpoint(self.options.metrics, self.counters.registry))
        for endpoint in endpoints:
            await endpoint.start()
        client = await KubeClient.connect()
        try:
            return await self._run(client)
        finally:
            await client.close()
            for endpoint in endpoints:
                await endpoint.stop()

    async def _run(self, client: KubeClient) -> int:
        election = self.options.leader_election
        if election is not None:
            from seppmail_lifecycle.runtime.leader import LeaderElector

            self.elector = LeaderElector(
                client,
                namespace=election.namespace,
                name=election.lease_name,
                identity=election.identity,
                lease_duration=election.lease_duration,
                renew_deadline=election.renew_deadline,
                retry_period=election.retry_period,
                clock=utc_now,
            )
            logger.info("waiting for the lease %s/%s as %s", election.namespace, election.lease_name, election.identity)
            if not await self._unless_stopped(self.elector.acquire()):
                logger.info("stopped while waiting for the lease")
                return 0
        elector = self.elector
        offset = self.options.time_offset
        if offset:
            logger.warning("deciding as if it were %s later than it is (--time-offset)", offset)
        self.runtime = await OperatorRuntime.start(
            client,
            self.options.policy,
            self.options.namespaces,
            self.options.smtp,
            workers=self.options.workers,
            tenant_namespaces=self.options.tenant_namespaces,
            clock=(lambda: utc_now() + offset) if offset else utc_now,
            may_write=elector.is_leader if elector is not None else lambda: True,
            counters=self.counters,
        )
        lease = asyncio.create_task(_hold(elector), name="seppmail-lifecycle-lease") if elector else None
        watches = asyncio.create_task(self._watch(), name="seppmail-lifecycle-watches")
        await asyncio.wait([t for t in (lease, watches) if t is not None], return_when=asyncio.FIRST_COMPLETED)
        if lease is not None and lease.done():
            self.runtime.halt()  # first: no decision or write may start from here on
            logger.critical("lost the lease %s: stopped acting; exiting", elector.name if elector else "")
            self.stopping.set()
            await watches
            return EXIT_LEASE_LOST
        # kopf stopped (SIGTERM/SIGINT): stop deciding, then hand the lease over.
        await self.runtime.stop()
        if lease is not None and elector is not None:
            lease.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await lease
            await elector.release()
        return 0

    def _take_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop)

    def _stop(self) -> None:
        """SIGTERM/SIGINT: stop deciding at once (kopf's own shutdown takes seconds), then stop."""
        if self.runtime is not None:
            self.runtime.halt()
        self.stopping.set()

    async def _unless_stopped(self, waiting: Any) -> bool:
        """Await ``waiting`` unless a signal comes first (a standby stops at once); True if it finished."""
        task = asyncio.ensure_future(waiting)
        stop = asyncio.create_task(self.stopping.wait())
        await asyncio.wait([task, stop], return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if task.done():
            task.result()
            return True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return False

    def _watching(self, ready: asyncio.Task[Any]) -> None:
        if ready.cancelled():
            return
        self.watching.set()
        # kopf installed its signal handlers at its start; ours halt the runtime before kopf stops.
        self._take_signals()

    async def _watch(self) -> None:
        # A signal before kopf installs its own handlers is in ``stopping``: kopf stops at once.
        # Ready once kopf has resolved our resources and starts watching them (kopf has no public
        # flag for that; its start-up "ready" flag comes before the discovery).
        insights = Insights()
        ready = asyncio.create_task(insights.ready_resources.wait())
        ready.add_done_callback(self._watching)
        try:
            await kopf.operator(
                memo=kopf.Memo(runtime=self.runtime),
                clusterwide=not self.options.namespaces,
                namespaces=self.options.namespaces,
                standalone=True,
                stop_flag=self.stopping,
                insights=insights,
            )
        finally:
            ready.cancel()


async def _hold(elector: LeaderElector) -> None:
    """Renew the lease until a renewal fails past the deadline (or the lease is taken)."""
    with contextlib.suppress(Exception):
        await elector.hold()
