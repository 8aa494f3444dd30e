"""Workers sized to the API server: half the seats of the operator's priority level, 1 to 32."""

from __future__ import annotations

import pytest

from seppmail_lifecycle.core.concurrency import DEFAULT_WORKERS, MAX_WORKERS, PriorityLevel, Workers, size_workers


@pytest.mark.parametrize(
    ("level", "count", "says"),
    [
        (PriorityLevel("workload-low", seats=245), MAX_WORKERS, "half of priority level workload-low's 245 seats"),
        (PriorityLevel("tiny", seats=20), 10, "20 seats, at most 32"),
        (PriorityLevel("tiny", seats=3), 1, "3 seats"),
        (PriorityLevel("tiny", seats=1), 1, "1 seats"),
        (PriorityLevel("exempt", exempt=True), MAX_WORKERS, "priority level exempt is not limited; the most"),
        # Without the server's metrics: the default server's 600 seats split by shares.
        (PriorityLevel("workload-low", shares=100, total_shares=245), MAX_WORKERS, "(estimated: 100 of 245 shares"),
        (PriorityLevel("small", shares=10, total_shares=255), 12, "small's 24 seats (estimated"),
        (PriorityLevel("odd"), DEFAULT_WORKERS, "names no concurrency shares; the default"),
    ],
)
def test_workers_for_a_priority_level(level: PriorityLevel, count: int, says: str) -> None:
    sized = size_workers(level)
    assert sized.count == count
    assert says in sized.reason
    assert size_workers(level) == sized  # a pure function of what the server said


def test_an_unknown_level_runs_the_default_and_says_why() -> None:
    assert size_workers(None, "cannot read PriorityLevelConfigurations (403 Forbidden)") == Workers(
        DEFAULT_WORKERS, "cannot read PriorityLevelConfigurations (403 Forbidden); the default"
    )
    assert size_workers(None).reason == "priority level unknown; the default"
