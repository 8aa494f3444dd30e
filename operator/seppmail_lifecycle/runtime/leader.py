"""Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: one active replica.

``acquire`` returns once this replica holds the lease; ``hold`` renews it every retry period and
returns when leadership is lost (not renewed for the renew deadline, or taken by another
replica); ``is_leader`` is the fencing check every write makes; ``release`` hands the lease over
on a clean stop. The decisions of each round are pure (``core.leases``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from seppmail_lifecycle.core.leases import Create, LeaseRecord, Wait, decide_round, from_spec, released, to_spec
from seppmail_lifecycle.kube.client import KubeClient
from seppmail_lifecycle.kube.errors import AlreadyExists, ApiError, Conflict
from seppmail_lifecycle.kube.lease import LeaseClient

logger = logging.getLogger(__name__)


def default_identity() -> str:
    """``<hostname>_<random>``, as client-go names a candidate without a pod name."""
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


class LeaderElector:
    def __init__(
        self,
        client: KubeClient,
        *,
        namespace: str,
        name: str,
        identity: str,
        lease_duration: timedelta,
        renew_deadline: timedelta,
        retry_period: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        if not retry_period < renew_deadline < lease_duration:
            raise ValueError(
                "leader election needs retry period < renew deadline < lease duration, not "
                f"{retry_period} / {renew_deadline} / {lease_duration}"
            )
        self.lease = LeaseClient(client, namespace, name)
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.clock = clock
        self._observed: LeaseRecord | None = None
        self._observed_at: datetime | None = None
        self._version: str | None = None
        self._renewed_at: datetime | None = None
        self._lost = False

    def is_leader(self) -> bool:
        """Held, and renewed within the renew deadline: a replica past it may not act any more."""
        return not self._lost and self._renewed_at is not None and self.clock() - self._renewed_at < self.renew_deadline

    async def _round(self) -> bool:
        """One try to acquire or renew; True if this replica holds the lease afterwards."""
        body = await self.lease.get()
        now = self.clock()
        record = from_spec(body.get("spec")) if body else None
        if record != self._observed:
            self._observed, self._observed_at = record, now
        self._version = body["metadata"]["resourceVersion"] if body else None
        decision = decide_round(record, self._observed_at, self.identity, self.lease_duration, now)
        if isinstance(decision, Wait):
            logger.debug("lease %s held by %s until %s at the latest", self.name, decision.holder, decision.until)
            return False
        try:
            if isinstance(decision, Create):
                written = await self.lease.create(to_spec(decision.record))
            else:
                assert self._version is not None
                written = await self.lease.replace(self._version, to_spec(decision.record))
        except (AlreadyExists, Conflict):
            return False  # another replica won this round
        self._observed, self._observed_at = decision.record, now
        self._version = written["metadata"]["resourceVersion"]
        self._renewed_at = now
        return True

    async def acquire(self) -> None:
        """Return once this replica holds the lease."""
        while True:
            try:
                if await self._round():
                    logger.info("became the leader (lease %s, identity %s)", self.name, self.identity)
                    return
            except ApiError as error:
                logger.warning("could not read or write the lease %s: %s", self.name, error)
            await asyncio.sleep(self.retry_period.total_seconds())

    async def hold(self) -> None:
        """Renew every retry period; return as soon as leadership is lost."""
        while True:
            await asyncio.sleep(self.retry_period.total_seconds())
            try:
                if await self._round():
                    continue
            except (TimeoutError, ApiError, OSError) as error:  # transient: retried within the deadline
                logger.warning("renewing the lease %s failed: %s", self.name, error)
            holder = self._observed.holder if self._observed else None
            if holder not in (None, self.identity):
                self._lost = True
                logger.error("the lease %s was taken by %s", self.name, holder)
                return
            if not self.is_leader():
                self._lost = True
                logger.error("could not renew the lease %s for %s", self.name, self.renew_deadline)
                return

    async def release(self) -> None:
        """Step down on a clean stop, so a standby takes over at once instead of after expiry."""
        if self._lost or self._observed is None or self._observed.holder != self.identity or self._version is None:
            return
        try:
            await self.lease.replace(self._version, to_spec(released(self._observed, self.clock())))
            logger.info("released the lease %s", self.name)
        except ApiError as error:
            logger.warning("could not release the lease %s: %s", self.name, error)
        self._lost = True
