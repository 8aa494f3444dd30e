"""Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
one active replica, the others stand by.

- ``acquire`` returns once this replica holds the lease (tries every retry period);
- ``hold`` renews it every retry period and *returns* (it does not raise) as soon as leadership
  is lost: no renewal succeeded for the renew deadline, or the lease was seen taken by another
  identity. Transient errors (API errors, timeouts, connection failures) are retried within the
  deadline. Only cancellation ends it otherwise;
- ``is_leader`` is the local fencing check every writer makes before each write: True only while
  the last successful renewal is younger than the renew deadline (and leadership was not lost).
  Since renew deadline < lease duration, it turns False before any standby may take over;
- ``release`` hands the lease over on a clean stop (client-go's ReleaseOnCancel).

Each round's decision is pure (``core.leases``); every write is conditional on the resourceVersion
read, so of two replicas writing in the same round exactly one wins.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from seppmail_lifecycle.core.leases import (
    Acquire,
    Body,
    Create,
    LeaseRecord,
    Renew,
    Wait,
    decide_round,
    from_spec,
    observed_since,
    released,
    to_spec,
)
from seppmail_lifecycle.kube.client import KubeClient
from seppmail_lifecycle.kube.errors import Conflict
from seppmail_lifecycle.kube.lease import LeaseClient

__all__ = ["LeaderElector", "default_identity"]

logger = logging.getLogger(__name__)


def default_identity() -> str:
    """``<hostname>_<short uuid>``, as client-go names a candidate (the chart passes the pod name
    in ``POD_NAME`` instead, which the operator prefers when set)."""
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


class LeaderElector:
    """One candidate (``identity``) for the Lease ``namespace/name``.

    Needs retry period < renew deadline < lease duration (ValueError otherwise). ``clock`` gives
    every time (timezone-aware); waiting is ``asyncio.sleep``.
    """

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
        if not identity:
            raise ValueError("leader election needs a non-empty identity")
        if retry_period <= timedelta(0):
            raise ValueError(f"leader election needs a positive retry period, not {_secs(retry_period)}")
        if not renew_deadline < lease_duration:
            raise ValueError(
                f"leader election needs the renew deadline ({_secs(renew_deadline)}) shorter than the lease "
                f"duration ({_secs(lease_duration)}): a leader must stop acting before a standby may take over"
            )
        if not retry_period < renew_deadline:
            raise ValueError(
                f"leader election needs the retry period ({_secs(retry_period)}) shorter than the renew "
                f"deadline ({_secs(renew_deadline)}): a renewal must be retried before the deadline"
            )
        self.lease = LeaseClient(client, namespace, name)
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.clock = clock
        self._body: Body | None = None
        """The Lease as last read or written (its resourceVersion conditions the next write)."""
        self._observed: LeaseRecord | None = None
        self._observed_at: datetime | None = None
        """When this replica first saw ``_observed`` (its own clock)."""
        self._renewed_at: datetime | None = None
        """When the last successful write of this replica's record began."""
        self._lost = True
        """Not (or no longer) the leader, whatever the times say: lost, released, or never held."""

    # ------------------------------------------------------------------ fencing

    def is_leader(self) -> bool:
        """Held, and renewed within the renew deadline: past it this replica may not act any more."""
        if self._lost or self._renewed_at is None:
            return False
        return self.clock() - self._renewed_at < self.renew_deadline

    @property
    def holder(self) -> str | None:
        """The holder of the lease as this replica last saw it (None: released, or no lease)."""
        return self._observed.holder if self._observed else None

    # ------------------------------------------------------------------ rounds

    async def _round(self) -> Create | Renew | Acquire | None:
        """One try to create, renew or take over the lease: what was written, if this replica
        holds it now; None if another replica does (or won the round)."""
        started = self.clock()
        body = await self.lease.get()
        now = self.clock()
        record = from_spec(body.get("spec")) if body else None
        self._observed_at = observed_since(self._observed, self._observed_at, record, now)
        self._observed, self._body = record, body
        decision = decide_round(record, self._observed_at, self.identity, now, self.lease_duration)
        if isinstance(decision, Wait):
            logger.debug(
                "lease %s held by %s, expires at %s unless renewed", self.name, decision.holder, decision.until
            )
            return None
        try:
            if isinstance(decision, Create):
                written = await self.lease.create(to_spec(decision.record))
            else:
                assert body is not None  # Renew and Acquire are decided on a lease read
                written = await self.lease.replace(body, to_spec(decision.record))
        except Conflict:  # AlreadyExists too: another replica wrote first
            logger.debug("lease %s: another replica wrote it first in this round", self.name)
            return None
        self._body = written
        self._observed, self._observed_at = from_spec(written.get("spec")), self.clock()
        self._renewed_at = started
        self._lost = False
        return decision

    # ------------------------------------------------------------------ the election

    async def acquire(self) -> None:
        """Return once this replica holds the lease; try every retry period until then (errors
        are logged and retried; only cancellation ends it otherwise)."""
        while True:
            try:
                async with asyncio.timeout(self._try_timeout()):
                    written = await self._round()
            except Exception as error:  # any failure is a failed round: retried
                logger.warning("could not acquire the lease %s/%s: %s", self.namespace, self.name, _describe(error))
                written = None
            if written is not None:
                logger.info(
                    "became the leader as %s: lease %s/%s %s",
                    self.identity,
                    self.namespace,
                    self.name,
                    _how(written),
                )
                return
            await asyncio.sleep(self.retry_period.total_seconds())

    async def hold(self) -> None:
        """Renew the lease every retry period; return as soon as leadership is lost.

        Lost: no renewal succeeded for the renew deadline (failed tries are retried every retry
        period until then; each try is cut off after half the deadline, and at the deadline), or a
        read showed another holder.
        ``is_leader()`` is False from then on. Does not raise for a loss; cancel it to stop.
        """
        while True:
            left = self._deadline_left()
            await asyncio.sleep(max(0.0, min(self.retry_period.total_seconds(), left)))
            left = self._deadline_left()
            if left <= 0:
                self._lose(f"not renewed for the renew deadline ({_secs(self.renew_deadline)})")
                return
            try:
                async with asyncio.timeout(min(left, self._try_timeout())):
                    written = await self._round()
                if isinstance(written, Renew):
                    continue
                if written is not None:  # someone cleared or deleted it meanwhile; held again
                    logger.warning("lease %s was released or deleted by someone else: %s", self.name, _how(written))
                    continue
            except TimeoutError:
                logger.warning("renewing the lease %s timed out, retrying", self.name)
            except Exception as error:  # transient: retried within the deadline
                logger.warning("renewing the lease %s failed, retrying: %s", self.name, _describe(error))
            holder = self.holder
            if holder is not None and holder != self.identity:
                self._lose(f"taken by {holder}")
                return
            if not self.is_leader():
                self._lose(f"not renewed for the renew deadline ({_secs(self.renew_deadline)})")
                return

    async def release(self) -> None:
        """Step down on a clean stop: stop acting first, then clear holderIdentity (conditional on
        the version last seen) so a standby takes over at once instead of after expiry. Errors are
        logged, not raised; nothing is written if this replica is not the holder it last saw."""
        self._lost = True
        body, record = self._body, self._observed
        if body is None or record is None or record.holder != self.identity:
            return
        try:
            async with asyncio.timeout(self._try_timeout()):
                written = await self.lease.replace(body, to_spec(released(record, self.clock())))
        except Conflict:
            logger.info("lease %s changed meanwhile: not released (another replica holds it)", self.name)
            return
        except Exception as error:  # best effort: the lease expires anyway
            logger.warning("could not release the lease %s: %s", self.name, _describe(error))
            return
        self._body, self._observed, self._observed_at = written, from_spec(written.get("spec")), self.clock()
        logger.info("released the lease %s/%s", self.namespace, self.name)

    # ------------------------------------------------------------------ helpers

    def _try_timeout(self) -> float:
        """How long one round may take: half the renew deadline, so that a hung request (an
        unresponsive server) leaves time for another try before the deadline."""
        return self.renew_deadline.total_seconds() / 2

    def _deadline_left(self) -> float:
        """Seconds until the renew deadline since the last successful renewal."""
        if self._renewed_at is None:
            return 0.0
        return (self._renewed_at + self.renew_deadline - self.clock()).total_seconds()

    def _lose(self, why: str) -> None:
        self._lost = True
        logger.warning("lost the leadership of lease %s/%s: %s", self.namespace, self.name, why)


def _how(written: Create | Renew | Acquire) -> str:
    if isinstance(written, Create):
        return "created"
    if isinstance(written, Acquire):
        previous = f"from {written.previous_holder}" if written.previous_holder else "after its release"
        return f"taken over {previous} (transitions: {written.record.transitions})"
    return "renewed (already held)"


def _secs(duration: timedelta) -> str:
    return f"{duration.total_seconds():g}s"


def _describe(error: Exception) -> str:
    return str(error) or type(error).__name__
