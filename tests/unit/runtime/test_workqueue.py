"""The work queue: controller-runtime's semantics (dedup, dirty re-queue, one worker per key,
deadline and retry timers, per-key backoff), driven by a fake clock."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from seppmail_lifecycle.runtime.workqueue import WorkQueue
from tests.unit.core.builders import T0
from tests.unit.runtime import FakeClock

S = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)


def queue(clock: FakeClock | None = None, **kw: timedelta) -> WorkQueue[str]:
    return WorkQueue(clock or FakeClock(), **kw)


async def drain(q: WorkQueue[str]) -> list[str]:
    """Take every waiting key, in order, marking each done at once."""
    keys = []
    while len(q):
        key = await q.get()
        q.done(key)
        keys.append(key)
    return keys


# ------------------------------------------------------------------------------------------ adding


async def test_a_key_waiting_is_queued_once() -> None:
    q = queue()
    for key in ["a", "b", "a", "a", "c", "b"]:
        q.add(key)
    assert len(q) == 3
    assert await drain(q) == ["a", "b", "c"]
    assert len(q) == 0


async def test_a_key_added_while_processing_is_processed_again_afterwards() -> None:
    q = queue()
    q.add("a")
    key = await q.get()
    assert key == "a"
    q.add("a")
    q.add("a")
    assert len(q) == 0, "not handed to a second worker while the first processes it"
    q.done("a")
    assert len(q) == 1, "dirty: processed once more, however often it was added"
    assert await drain(q) == ["a"]


async def test_done_without_a_new_add_does_not_requeue() -> None:
    q = queue()
    q.add("a")
    q.done(await q.get())
    assert len(q) == 0


# ------------------------------------------------------------------------------------------ workers


async def test_never_two_workers_on_one_key_and_no_add_is_lost() -> None:
    q = queue()
    keys = [f"k{n}" for n in range(5)]
    active: Counter[str] = Counter()
    most_per_key: Counter[str] = Counter()
    most_at_once = 0
    ticks = 0
    last_added: dict[str, int] = {}
    last_started: dict[str, int] = {}

    async def process(key: str) -> None:
        nonlocal most_at_once, ticks
        ticks += 1
        last_started[key] = ticks
        active[key] += 1
        most_per_key[key] = max(most_per_key[key], active[key])
        most_at_once = max(most_at_once, sum(active.values()))
        for _ in range(3):
            await asyncio.sleep(0)
        active[key] -= 1

    runner = asyncio.create_task(q.run(process, workers=4))
    try:
        for round_ in range(30):
            for key in keys[round_ % 2 :: 1 + round_ % 3]:
                ticks += 1
                last_added[key] = ticks
                q.add(key)
            await asyncio.sleep(0)
        for _ in range(1_000):
            await asyncio.sleep(0)
            if not len(q) and not sum(active.values()):
                break
        else:
            pytest.fail("the workers did not finish")
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner

    assert set(most_per_key) == set(keys)
    assert max(most_per_key.values()) == 1, "a key was processed by two workers at once"
    assert most_at_once > 1, "the workers did run concurrently"
    for key in keys:
        assert last_started[key] > last_added[key], f"the last add of {key} was never processed"


async def test_an_exception_escaping_process_is_retried_with_backoff() -> None:
    q = queue()
    seen: list[str] = []
    both = asyncio.Event()

    async def process(key: str) -> None:
        seen.append(key)
        if key == "bad":
            raise RuntimeError("bug")
        both.set()

    q.add("bad")
    q.add("good")
    runner = asyncio.create_task(q.run(process, workers=1))
    try:
        await asyncio.wait_for(both.wait(), timeout=5)
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner
    assert seen == ["bad", "good"]
    assert q.num_requeues("bad") == 1
    assert q.when("bad", "retry") == T0 + S


async def test_run_refuses_no_workers_and_a_second_run() -> None:
    q = queue()

    async def process(key: str) -> None:
        pass

    with pytest.raises(ValueError, match="at least 1"):
        await q.run(process, workers=0)
    runner = asyncio.create_task(q.run(process, workers=1))
    await asyncio.sleep(0)
    try:
        with pytest.raises(RuntimeError, match="already running"):
            await q.run(process, workers=1)
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner


async def test_run_queues_keys_when_their_timers_fire() -> None:
    """The queue's own timer task feeds the workers (on the real clock, deadlines 20 ms away)."""

    def now() -> datetime:
        return datetime.now(UTC)

    q: WorkQueue[str] = WorkQueue(now, initial=timedelta(milliseconds=20))
    seen: list[str] = []
    both = asyncio.Event()

    async def process(key: str) -> None:
        seen.append(key)
        if len(seen) == 2:
            both.set()

    runner = asyncio.create_task(q.run(process, workers=2))
    try:
        await asyncio.sleep(0)
        q.add_after("deadline", now() + timedelta(milliseconds=20))
        q.add_rate_limited("retry")
        await asyncio.wait_for(both.wait(), timeout=5)
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner
    assert sorted(seen) == ["deadline", "retry"]
    assert q.timers == 0


# ------------------------------------------------------------------------------------------ deadlines


async def test_add_after_replaces_the_deadline_with_an_earlier_one() -> None:
    clock = FakeClock()
    q = queue(clock)
    q.add_after("a", T0 + 10 * MINUTE)
    q.add_after("a", T0 + 5 * MINUTE)
    assert q.timers == 1
    assert q.when("a") == T0 + 5 * MINUTE
    clock.advance(5 * MINUTE)
    assert q.fire_due() == 1
    assert await drain(q) == ["a"]
    clock.advance(10 * MINUTE)
    assert q.fire_due() == 0
    assert len(q) == 0


async def test_add_after_replaces_the_deadline_with_a_later_one() -> None:
    clock = FakeClock()
    q = queue(clock)
    q.add_after("a", T0 + 5 * MINUTE)
    q.add_after("a", T0 + 20 * MINUTE)
    clock.advance(5 * MINUTE)
    assert q.fire_due() == 0
    clock.advance(15 * MINUTE)
    assert q.fire_due() == 1
    assert await drain(q) == ["a"]


async def test_add_after_none_cancels_the_deadline() -> None:
    clock = FakeClock()
    q = queue(clock)
    q.add_after("a", T0 + MINUTE)
    q.add_after("a", None)
    assert q.timers == 0
    assert q.when("a") is None
    clock.advance(timedelta(days=1))
    assert q.fire_due() == 0
    assert len(q) == 0


async def test_add_after_a_deadline_already_reached_queues_now() -> None:
    clock = FakeClock()
    q = queue(clock)
    q.add_after("a", T0 + MINUTE)
    q.add_after("a", T0 - MINUTE)
    assert q.timers == 0
    assert len(q) == 1
    q.add_after("b", T0)
    assert await drain(q) == ["a", "b"]


async def test_a_deadline_firing_while_the_key_is_processed_marks_it_dirty() -> None:
    clock = FakeClock()
    q = queue(clock)
    q.add("a")
    key = await q.get()
    q.add_after("a", T0 + S)
    clock.advance(S)
    q.fire_due()
    assert len(q) == 0
    q.done(key)
    assert await drain(q) == ["a"]


# ------------------------------------------------------------------------------------------ retries


async def test_a_retry_does_not_replace_the_deadline() -> None:
    clock = FakeClock()
    q = queue(clock)
    q.add_after("a", T0 + timedelta(hours=1))
    assert q.add_rate_limited("a") == S
    assert q.timers == 2
    assert q.when("a", "deadline") == T0 + timedelta(hours=1)
    assert q.when("a", "retry") == T0 + S

    clock.advance(S)
    assert q.fire_due() == 1
    assert await drain(q) == ["a"]
    clock.now = T0 + timedelta(hours=1)
    assert q.fire_due() == 1, "the deadline survived the retry"
    assert await drain(q) == ["a"]


async def test_a_deadline_does_not_replace_the_retry() -> None:
    clock = FakeClock()
    q = queue(clock)
    q.add_rate_limited("a")
    q.add_after("a", T0 + timedelta(hours=1))
    q.add_after("a", None)
    assert q.when("a", "retry") == T0 + S
    assert q.timers == 1
    clock.advance(S)
    assert q.fire_due() == 1
    assert await drain(q) == ["a"]


def test_backoff_doubles_per_failure_and_caps_at_the_maximum() -> None:
    clock = FakeClock()
    q = queue(clock)
    delays = [q.add_rate_limited("a") for _ in range(12)]
    assert delays == [S * 2**n for n in range(9)] + [timedelta(minutes=5)] * 3
    assert q.num_requeues("a") == 12
    assert q.when("a", "retry") == T0 + timedelta(minutes=5)
    assert q.timers == 1, "each failure replaces the previous retry timer"


@pytest.mark.parametrize(
    ("initial", "maximum", "expected"),
    [
        (timedelta(milliseconds=10), S, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]),
        (S, S, [1000] * 4),
        (timedelta(seconds=3), timedelta(seconds=10), [3000, 6000, 10000, 10000]),
    ],
)
def test_backoff_parameters(initial: timedelta, maximum: timedelta, expected: list[int]) -> None:
    q = queue(initial=initial, maximum=maximum)
    assert [q.add_rate_limited("a") for _ in expected] == [timedelta(milliseconds=ms) for ms in expected]


def test_failures_are_counted_per_key() -> None:
    q = queue()
    q.add_rate_limited("a")
    q.add_rate_limited("a")
    assert q.add_rate_limited("b") == S
    assert (q.num_requeues("a"), q.num_requeues("b"), q.num_requeues("c")) == (2, 1, 0)


def test_forget_resets_the_count_and_cancels_the_retry_but_not_the_deadline() -> None:
    clock = FakeClock()
    q = queue(clock)
    q.add_after("a", T0 + timedelta(hours=1))
    for _ in range(3):
        q.add_rate_limited("a")
    q.forget("a")
    assert q.num_requeues("a") == 0
    assert q.when("a", "retry") is None
    assert q.when("a", "deadline") == T0 + timedelta(hours=1)
    clock.advance(timedelta(minutes=30))
    assert q.fire_due() == 0
    assert q.add_rate_limited("a") == S, "the backoff starts over"


def test_forget_of_an_unknown_key_does_nothing() -> None:
    q = queue()
    q.forget("never-failed")
    assert q.num_requeues("never-failed") == 0
    assert q.timers == 0


# ------------------------------------------------------------------------------------------ threads

CALLS: list[tuple[str, Callable[[WorkQueue[str]], Any]]] = [
    ("add", lambda q: q.add("x")),
    ("add_after", lambda q: q.add_after("x", T0 + S)),
    ("add_rate_limited", lambda q: q.add_rate_limited("x")),
    ("forget", lambda q: q.forget("x")),
]


@pytest.mark.parametrize(("name", "call"), CALLS, ids=[name for name, _ in CALLS])
def test_touching_the_queue_from_another_thread_raises(name: str, call: Callable[[WorkQueue[str]], Any]) -> None:
    q = queue()
    q.add("owned")  # binds the queue to this thread
    errors: list[BaseException] = []

    def other() -> None:
        try:
            call(q)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=other, name="intruder")
    thread.start()
    thread.join(timeout=5)
    assert len(errors) == 1, f"{name} from another thread did not raise"
    assert isinstance(errors[0], RuntimeError)
    message = str(errors[0])
    assert "WorkQueue" in message
    assert "intruder" in message
    assert threading.current_thread().name in message
    assert (len(q), q.timers, q.num_requeues("x")) == (1, 0, 0), "the refused call changed nothing"


async def test_touching_the_queue_through_to_thread_raises() -> None:
    q = queue()
    q.add("owned")
    with pytest.raises(RuntimeError, match="must only be used from it"):
        await asyncio.to_thread(q.add, "x")
    q.add("y")  # the owning thread still can
    assert len(q) == 2
