"""The deadline scheduler: one heap for every timer, driven by a fake clock."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from seppmail_lifecycle.runtime.scheduler import DeadlineScheduler
from tests.unit.core.builders import T0
from tests.unit.runtime import FakeClock

S = timedelta(seconds=1)


def scheduler(clock: FakeClock, **kw: timedelta) -> tuple[DeadlineScheduler[str], list[str]]:
    fired: list[str] = []
    return DeadlineScheduler(fired.append, clock, **kw), fired


def test_many_deadlines_fire_in_time_order_each_when_due() -> None:
    clock = FakeClock()
    timers, fired = scheduler(clock)
    offsets = list(range(1, 301))
    random.Random(7).shuffle(offsets)
    for offset in offsets:
        timers.schedule(f"k{offset}", T0 + offset * S)
    assert len(timers) == 300
    assert timers.next_due() == T0 + S

    for second in range(1, 301):
        clock.now = T0 + second * S - timedelta(microseconds=1)
        assert timers.fire_due() == 0
        clock.now = T0 + second * S
        assert timers.fire_due() == 1
        assert fired[-1] == f"k{second}"
    assert len(timers) == 0
    assert timers.next_due() is None


def test_equal_deadlines_fire_in_the_order_they_were_scheduled() -> None:
    clock = FakeClock()
    timers, fired = scheduler(clock)
    for key in ["c", "a", "b"]:
        timers.schedule(key, T0 + S)
    clock.advance(S)
    assert timers.fire_due() == 3
    assert fired == ["c", "a", "b"]


def test_replacing_with_an_earlier_time_fires_once_at_the_earlier_time() -> None:
    clock = FakeClock()
    timers, fired = scheduler(clock)
    timers.schedule("a", T0 + 10 * S)
    timers.schedule("a", T0 + 5 * S)
    assert len(timers) == 1
    assert timers.when("a") == T0 + 5 * S
    assert timers.next_due() == T0 + 5 * S
    clock.advance(5 * S)
    assert timers.fire_due() == 1
    clock.advance(10 * S)
    assert timers.fire_due() == 0
    assert fired == ["a"]


def test_replacing_with_a_later_time_moves_the_timer() -> None:
    clock = FakeClock()
    timers, fired = scheduler(clock)
    timers.schedule("a", T0 + 5 * S)
    timers.schedule("a", T0 + 20 * S)
    assert timers.when("a") == T0 + 20 * S
    assert timers.next_due() == T0 + 20 * S
    clock.advance(5 * S)
    assert timers.fire_due() == 0
    clock.advance(15 * S)
    assert timers.fire_due() == 1
    assert fired == ["a"]


def test_moving_a_timer_back_to_its_first_time_fires_it_once() -> None:
    clock = FakeClock()
    timers, fired = scheduler(clock)
    timers.schedule("a", T0 + 5 * S)
    timers.schedule("a", T0 + 9 * S)
    timers.schedule("a", T0 + 5 * S)
    clock.advance(20 * S)
    assert timers.fire_due() == 1
    assert fired == ["a"]


@pytest.mark.parametrize("how", ["cancel", "schedule-none"])
def test_cancelling_a_timer(how: str) -> None:
    clock = FakeClock()
    timers, fired = scheduler(clock)
    timers.schedule("a", T0 + S)
    timers.schedule("b", T0 + 2 * S)
    if how == "cancel":
        timers.cancel("a")
    else:
        timers.schedule("a", None)
    assert len(timers) == 1
    assert timers.when("a") is None
    assert timers.next_due() == T0 + 2 * S
    clock.advance(5 * S)
    assert timers.fire_due() == 1
    assert fired == ["b"]


def test_cancelling_a_key_without_a_timer_does_nothing() -> None:
    timers, _ = scheduler(FakeClock())
    timers.cancel("nothing")
    timers.schedule("nothing", None)
    assert len(timers) == 0
    assert timers.next_due() is None


def test_catch_up_fires_every_overdue_timer_once_in_time_order() -> None:
    """After a pause (start-up, a long GC, a suspended host) everything overdue fires at once."""
    clock = FakeClock()
    timers, fired = scheduler(clock)
    timers.schedule("late", T0 - 1 * S)
    timers.schedule("later", T0 + 30 * S)
    timers.schedule("oldest", T0 - timedelta(days=3))
    timers.schedule("now", T0)
    timers.schedule("future", T0 + timedelta(hours=1))
    clock.advance(timedelta(minutes=1))
    assert timers.fire_due() == 4
    assert fired == ["oldest", "late", "now", "later"]
    assert timers.fire_due() == 0
    assert timers.when("future") == T0 + timedelta(hours=1)
    assert len(timers) == 1


def test_a_callback_rescheduling_into_the_past_fires_on_the_next_call_not_in_a_loop() -> None:
    clock = FakeClock()
    calls: list[str] = []
    timers: DeadlineScheduler[str]

    def due(key: str) -> None:
        calls.append(key)
        timers.schedule(key, T0 - S)  # already overdue

    timers = DeadlineScheduler(due, clock)
    timers.schedule("a", T0)
    assert timers.fire_due() == 1
    assert timers.when("a") == T0 - S
    assert timers.fire_due() == 1
    assert calls == ["a", "a"]


def test_a_callback_cancelling_a_timer_due_in_the_same_round_stops_it() -> None:
    clock = FakeClock()
    fired: list[str] = []
    timers: DeadlineScheduler[str]

    def due(key: str) -> None:
        fired.append(key)
        timers.cancel("b")

    timers = DeadlineScheduler(due, clock)
    timers.schedule("a", T0 - 2 * S)
    timers.schedule("b", T0 - S)
    assert timers.fire_due() == 1
    assert fired == ["a"]
    assert len(timers) == 0


def test_a_failing_callback_loses_no_timer() -> None:
    clock = FakeClock()
    fired: list[str] = []

    def due(key: str) -> None:
        if key == "a" and "a" not in fired:
            fired.append(key)
            raise RuntimeError("boom")
        fired.append(key)

    timers: DeadlineScheduler[str] = DeadlineScheduler(due, clock)
    for number, key in enumerate(["a", "b", "c"]):
        timers.schedule(key, T0 - (3 - number) * S)
    with pytest.raises(RuntimeError, match="boom"):
        timers.fire_due()
    assert len(timers) == 2
    assert timers.fire_due() == 2
    assert fired == ["a", "b", "c"]


def test_rescheduling_one_key_over_and_over_keeps_the_heap_small() -> None:
    timers, _ = scheduler(FakeClock())
    timers.schedule("steady", T0 + timedelta(days=1))
    for step in range(10_000):
        timers.schedule("busy", T0 + timedelta(seconds=step + 1))
    assert len(timers) == 2
    assert len(timers._heap) < 200


def test_a_naive_deadline_is_refused() -> None:
    timers, _ = scheduler(FakeClock())
    with pytest.raises(ValueError, match="naive"):
        timers.schedule("a", datetime(2026, 11, 2, 10, 0))


def test_deadlines_in_other_timezones_compare_by_instant() -> None:
    clock = FakeClock()
    timers, fired = scheduler(clock)
    zurich = timezone(timedelta(hours=1))
    timers.schedule("utc", T0 + 2 * S)
    timers.schedule("zurich", (T0 + S).astimezone(zurich))
    clock.advance(2 * S)
    timers.fire_due()
    assert fired == ["zurich", "utc"]


# ------------------------------------------------------------------------------------------ run()


async def _until(condition: asyncio.Event, what: str) -> None:
    try:
        await asyncio.wait_for(condition.wait(), timeout=5)
    except TimeoutError:
        pytest.fail(f"run() did not {what} within 5 s")


async def test_run_wakes_for_a_newly_scheduled_earlier_deadline() -> None:
    """Sleeping until a deadline an hour away, ``run`` must notice one that is due now."""
    clock = FakeClock()
    fired: list[str] = []
    woke = asyncio.Event()

    def due(key: str) -> None:
        fired.append(key)
        woke.set()

    timers: DeadlineScheduler[str] = DeadlineScheduler(due, clock)
    timers.schedule("far", T0 + timedelta(hours=1))
    task = asyncio.create_task(timers.run())
    try:
        for _ in range(5):
            await asyncio.sleep(0)  # run() is now asleep until "far" (capped by max_sleep)
        assert fired == []
        timers.schedule("near", T0)  # due now on the fake clock: only a wake-up can fire it
        await _until(woke, "wake for the earlier deadline")
        assert fired == ["near"]
        assert timers.when("far") == T0 + timedelta(hours=1)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_run_fires_a_deadline_when_the_real_clock_reaches_it() -> None:
    fired: list[str] = []
    woke = asyncio.Event()

    def due(key: str) -> None:
        fired.append(key)
        woke.set()

    def now() -> datetime:
        return datetime.now(UTC)

    timers: DeadlineScheduler[str] = DeadlineScheduler(due, now)
    task = asyncio.create_task(timers.run())
    try:
        await asyncio.sleep(0)
        deadline = now() + timedelta(milliseconds=20)
        timers.schedule("soon", deadline)
        await _until(woke, "fire a deadline 20 ms away")
        assert fired == ["soon"]
        assert now() >= deadline
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_run_rereads_a_clock_that_jumped_within_max_sleep() -> None:
    """The deadlines are wall-clock times: a stepped clock is noticed without any new schedule."""
    clock = FakeClock()
    woke = asyncio.Event()
    timers: DeadlineScheduler[str] = DeadlineScheduler(
        lambda _key: woke.set(), clock, max_sleep=timedelta(milliseconds=10)
    )
    timers.schedule("a", T0 + timedelta(hours=1))
    task = asyncio.create_task(timers.run())
    try:
        await asyncio.sleep(0)
        clock.advance(timedelta(hours=2))
        await _until(woke, "notice the clock jump")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
