"""Leader election against the real API server (no mocks): one holder at a time; a standby takes
over within the lease duration once the leader stops renewing, at once after a release; the
fencing check turns False before anyone else may act; a leader whose lease is taken, or which
cannot renew for the renew deadline (a real unreachable or hanging server), stops; of replicas
racing for a fresh lease exactly one wins.

Short durations (lease 2s, renew deadline 1.5s, retry 0.2s); every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from seppmail_lifecycle.kube.client import KubeClient
from seppmail_lifecycle.runtime.leader import LeaderElector, default_identity
from tests.kube import get

pytestmark = pytest.mark.e2e

LEASE = timedelta(seconds=2)
DEADLINE = timedelta(seconds=1.5)
RETRY = timedelta(seconds=0.2)
NAME = "lifecycle-test"
MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
SLACK = 0.5
"""Seconds of scheduling and API latency allowed on top of the protocol's own bounds."""

Body = dict[str, Any]
Spawn = Callable[[Coroutine[Any, Any, None]], "asyncio.Task[None]"]


def utc_now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def kube(crds: ControlPlane) -> AsyncIterator[KubeClient]:
    client = await KubeClient.connect(str(crds.admin_kubeconfig))
    yield client
    await client.close()


@pytest.fixture
async def spawn() -> AsyncIterator[Spawn]:
    """Start tasks that are cancelled (and awaited) when the test ends, however it ends."""
    tasks: list[asyncio.Task[None]] = []

    def start(coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coroutine)
        tasks.append(task)
        return task

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def elector(client: KubeClient, namespace: str, identity: str, name: str = NAME) -> LeaderElector:
    return LeaderElector(
        client,
        namespace=namespace,
        name=name,
        identity=identity,
        lease_duration=LEASE,
        renew_deadline=DEADLINE,
        retry_period=RETRY,
        clock=utc_now,
    )


async def spec(plane: ControlPlane, namespace: str, name: str = NAME) -> Body:
    """The Lease's spec as the API server sends it (kubectl, in a thread: the electors keep running)."""
    body = await asyncio.to_thread(get, plane, "leases.coordination.k8s.io", namespace, name)
    assert body is not None, f"no lease {namespace}/{name}"
    found: Body = body["spec"]
    return found


async def cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def timed(awaitable: Any, within: float) -> float:
    """Await it for at most ``within`` seconds; how long it took."""
    started = time.monotonic()
    await asyncio.wait_for(awaitable, within)
    return time.monotonic() - started


@contextlib.contextmanager
def server_at(client: KubeClient, url: str) -> Iterator[None]:
    """Send the client's requests to ``url`` (a real socket that refuses or never answers)."""
    configuration = client.api.configuration
    real = configuration.host
    configuration.host = url
    try:
        yield
    finally:
        configuration.host = real


@contextlib.contextmanager
def refusing_port() -> Iterator[str]:
    """A loopback URL nothing listens on: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield f"https://127.0.0.1:{port}"


@contextlib.contextmanager
def hanging_port() -> Iterator[str]:
    """A loopback URL that accepts TCP connections (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"https://127.0.0.1:{sock.getsockname()[1]}"


# ----------------------------------------------------------------------------- scenarios


async def test_the_first_acquires_and_a_second_waits(
    crds: ControlPlane, kube: KubeClient, namespace: str, spawn: Spawn
) -> None:
    first, second = elector(kube, namespace, "first"), elector(kube, namespace, "second")
    assert not first.is_leader()
    await asyncio.wait_for(first.acquire(), 5)
    assert first.is_leader()
    created = await spec(crds, namespace)
    assert created["holderIdentity"] == "first"
    assert created["leaseDurationSeconds"] == 2
    assert created["leaseTransitions"] == 0
    assert MICRO_TIME.match(created["renewTime"]), created
    assert MICRO_TIME.match(created["acquireTime"]), created

    holding = spawn(first.hold())
    waiting = spawn(second.acquire())
    await asyncio.sleep(LEASE.total_seconds() * 1.5)  # longer than the lease: the renewals keep it
    assert not waiting.done()
    assert not holding.done()
    assert first.is_leader()
    assert not second.is_leader()
    assert second.holder == "first"
    renewed = await spec(crds, namespace)
    assert renewed["holderIdentity"] == "first"
    assert renewed["acquireTime"] == created["acquireTime"]
    assert renewed["renewTime"] > created["renewTime"]
    assert renewed["leaseTransitions"] == 0


async def test_a_standby_takes_over_within_the_lease_duration_after_the_leader_stops_renewing(
    crds: ControlPlane, kube: KubeClient, namespace: str, spawn: Spawn
) -> None:
    first, second = elector(kube, namespace, "first"), elector(kube, namespace, "second")
    await asyncio.wait_for(first.acquire(), 5)
    before = await spec(crds, namespace)
    holding = spawn(first.hold())
    standby = spawn(second.acquire())
    await asyncio.sleep(0.5)
    assert not standby.done()

    await cancelled(holding)  # the leader's process is dead: no renewal, no release
    took = await timed(standby, LEASE.total_seconds() + RETRY.total_seconds() + SLACK)
    # Not before the lease expired by the standby's clock (counted from the last renewal it saw)...
    assert took >= LEASE.total_seconds() - RETRY.total_seconds() - 0.1, took
    # ...and by then the old leader's fencing check had already turned False.
    assert not first.is_leader()
    assert second.is_leader()
    after = await spec(crds, namespace)
    assert after["holderIdentity"] == "second"
    assert after["leaseTransitions"] == before["leaseTransitions"] + 1 == 1
    assert after["acquireTime"] > before["acquireTime"]


async def test_a_released_lease_is_taken_at_once(
    crds: ControlPlane, kube: KubeClient, namespace: str, spawn: Spawn
) -> None:
    first, second = elector(kube, namespace, "first"), elector(kube, namespace, "second")
    await asyncio.wait_for(first.acquire(), 5)
    holding = spawn(first.hold())
    standby = spawn(second.acquire())
    await asyncio.sleep(0.5)
    assert not standby.done()

    await cancelled(holding)
    await first.release()
    assert not first.is_leader()  # fenced before the lease is handed over
    assert first.holder is None  # as the API server answered the release
    took = await timed(standby, RETRY.total_seconds() + SLACK)
    assert took < LEASE.total_seconds() / 2, took  # released, not expired
    assert second.is_leader()
    after = await spec(crds, namespace)
    assert after["holderIdentity"] == "second"
    assert after["leaseTransitions"] == 1
    assert after["leaseDurationSeconds"] == 2

    await first.release()  # no longer the holder: writes nothing
    await second.release()
    assert (await spec(crds, namespace)).get("holderIdentity") in (None, "")


async def test_hold_ends_when_the_lease_is_taken(
    crds: ControlPlane, kube: KubeClient, namespace: str, spawn: Spawn
) -> None:
    leader = elector(kube, namespace, "leader")
    await asyncio.wait_for(leader.acquire(), 5)
    holding = spawn(leader.hold())
    await asyncio.sleep(0.3)
    assert not holding.done()

    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    patch = f'{{"spec": {{"holderIdentity": "thief", "renewTime": "{now}"}}}}'
    await asyncio.to_thread(
        crds.kubectl, "patch", "leases.coordination.k8s.io", NAME, "-n", namespace, "--type=merge", "-p", patch
    )
    await timed(holding, 2 * RETRY.total_seconds() + SLACK)  # returns, does not raise
    assert not leader.is_leader()
    assert leader.holder == "thief"
    await asyncio.sleep(RETRY.total_seconds() * 2)
    await leader.release()  # not the holder: writes nothing
    assert (await spec(crds, namespace))["holderIdentity"] == "thief"


async def test_racing_for_a_fresh_lease_exactly_one_wins(
    crds: ControlPlane, kube: KubeClient, namespace: str, spawn: Spawn
) -> None:
    leases = [f"race-{n}" for n in range(3)]
    racers = {name: [elector(kube, namespace, f"racer-{i}", name) for i in range(3)] for name in leases}
    tasks = {name: [spawn(e.acquire()) for e in electors] for name, electors in racers.items()}
    # Shorter than the lease: the losers saw the winner's record and wait for it to expire.
    await asyncio.sleep(LEASE.total_seconds() / 2)
    for name in leases:
        winners = [e for e, task in zip(racers[name], tasks[name], strict=True) if task.done()]
        assert len(winners) == 1, (name, [e.identity for e in winners])
        assert [e for e in racers[name] if e.is_leader()] == winners
        written = await spec(crds, namespace, name)
        assert written["holderIdentity"] == winners[0].identity
        assert written["leaseTransitions"] == 0


async def test_renewal_retries_through_a_short_outage_and_stops_at_the_renew_deadline(
    crds: ControlPlane, namespace: str, spawn: Spawn
) -> None:
    own = await KubeClient.connect(str(crds.admin_kubeconfig))  # its server address is switched below
    try:
        leader = elector(own, namespace, "leader")
        await asyncio.wait_for(leader.acquire(), 5)
        holding = spawn(leader.hold())
        await asyncio.sleep(0.3)

        # Refused connections for a third of the deadline: retried, and renewed once it is back.
        with refusing_port() as refused, server_at(own, refused):
            await asyncio.sleep(DEADLINE.total_seconds() / 3)
            assert leader.is_leader()
        await asyncio.sleep(3 * RETRY.total_seconds())
        assert not holding.done()
        assert leader.is_leader()

        # A server that never answers: every try hangs; leadership ends at the renew deadline.
        with hanging_port() as hanging, server_at(own, hanging):
            took = await timed(holding, DEADLINE.total_seconds() + SLACK)
            assert not leader.is_leader()
            assert took >= DEADLINE.total_seconds() - RETRY.total_seconds() - 0.1, took
            await asyncio.wait_for(leader.release(), DEADLINE.total_seconds())  # logged, not raised
        # Nobody else wrote the lease: the record still names the leader until it expires.
        assert (await spec(crds, namespace))["holderIdentity"] == "leader"
    finally:
        await own.close()


async def test_the_durations_must_nest(kube: KubeClient) -> None:
    def build(lease: float, deadline: float, retry: float) -> LeaderElector:
        return LeaderElector(
            kube,
            namespace="default",
            name=NAME,
            identity=default_identity(),
            lease_duration=timedelta(seconds=lease),
            renew_deadline=timedelta(seconds=deadline),
            retry_period=timedelta(seconds=retry),
            clock=utc_now,
        )

    build(15, 10, 2)
    with pytest.raises(ValueError, match=r"renew deadline .* shorter than the lease duration"):
        build(10, 10, 2)
    with pytest.raises(ValueError, match=r"retry period .* shorter than the renew deadline"):
        build(15, 10, 10)
    with pytest.raises(ValueError, match="positive retry period"):
        build(15, 10, 0)
    assert re.fullmatch(r".+_[0-9a-f]{8}", default_identity())
