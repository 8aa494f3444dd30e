"""The running operator's parts, wired together once at start-up and torn down at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from seppmail_lifecycle.api.policy import Policy
from seppmail_lifecycle.backend.dns import DnsResolver
from seppmail_lifecycle.backend.mail import SmtpSettings
from seppmail_lifecycle.backend.routing_configmap import ConfigMapBackend
from seppmail_lifecycle.kube.client import KubeClient
from seppmail_lifecycle.kube.events import EventRecorder
from seppmail_lifecycle.kube.store import Store
from seppmail_lifecycle.runtime.mailer import Mailer
from seppmail_lifecycle.runtime.metrics import Counters
from seppmail_lifecycle.runtime.reconciler import Reconciler

logger = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def _report_death(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.critical("%s died; liveness now fails", task.get_name(), exc_info=task.exception())


@dataclass
class OperatorRuntime:
    client: KubeClient
    store: Store
    reconciler: Reconciler
    events: EventRecorder
    tasks: tuple[asyncio.Task[None], ...] = ()

    @classmethod
    async def start(
        cls,
        policy: Policy,
        namespaces: Sequence[str] = (),
        smtp: SmtpSettings | None = None,
        workers: int = 4,
        clock: Callable[[], datetime] = utc_now,
    ) -> OperatorRuntime:
        client = await KubeClient.connect()
        store = Store(namespaces)
        events = EventRecorder(client)
        counters = Counters()
        resolver = DnsResolver(policy.dns.nameservers, policy.dns.timeout.total_seconds())
        mailer = Mailer(client, smtp, policy.mail, clock, counters)
        reconciler = Reconciler(
            client, store, ConfigMapBackend(client), policy, clock, events, resolver, mailer, counters
        )
        if smtp is None:
            logger.warning("no SMTP server configured (--smtp-host): notification mails are not sent")
        await reconciler.prime()
        counts = {kind: store.count(kind) for kind in ("Tenant", "Domain", "Service", "DeployRequest")}
        logger.info("store primed: %s; catching up on everything overdue", counts)
        reconciler.enqueue_everything()
        runtime = cls(client, store, reconciler, events)
        runtime.tasks = (
            asyncio.create_task(reconciler.run(workers), name="seppmail-lifecycle-reconciler"),
            asyncio.create_task(events.run(), name="seppmail-lifecycle-events"),
        )
        for task in runtime.tasks:
            task.add_done_callback(_report_death)
        return runtime

    def check_alive(self) -> None:
        """For the liveness probe: a dead engine must restart the pod, not idle silently."""
        for task in self.tasks:
            if task.done():
                raise RuntimeError(f"{task.get_name()} has stopped")

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.client.close()
