"""How many reconciles the operator runs at once: sized to what the API server admits for it.

The API server divides its concurrency among priority levels (API Priority and Fairness); the
operator's requests fall into one of them (for a ServiceAccount usually ``workload-low``, shared
with every other ServiceAccount's controller). A worker holds at most one request in flight, so
more workers than the level's seats only queue inside the server (or are rejected with 429),
and far fewer leave the operator slower than the server allows. The operator takes half of its
level's seats (the level is shared), between one worker and ``MAX_WORKERS``: beyond that a
single Python process is bound by its own CPU, not by the server.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_WORKERS = 32
DEFAULT_WORKERS = 16
SHARE_OF_LEVEL = 0.5
# kube-apiserver's default --max-requests-inflight (400) + --max-mutating-requests-inflight (200):
# the server's total seats when its metrics cannot be read to say what they are.
DEFAULT_SERVER_SEATS = 600


@dataclass(frozen=True)
class PriorityLevel:
    """What the API server says about the priority level the operator's requests fall into."""

    name: str
    exempt: bool = False
    seats: int | None = None  # nominal concurrency limit (apiserver_flowcontrol_nominal_limit_seats)
    shares: int | None = None  # its nominalConcurrencyShares ...
    total_shares: int | None = None  # ... of the sum over every limited level


@dataclass(frozen=True)
class Workers:
    count: int
    reason: str


def size_workers(level: PriorityLevel | None, unknown_because: str = "") -> Workers:
    """The worker count for ``level`` (``None``: the server told nothing, for ``unknown_because``)."""
    if level is None:
        return Workers(DEFAULT_WORKERS, f"{unknown_because or 'priority level unknown'}; the default")
    if level.exempt:
        return Workers(MAX_WORKERS, f"priority level {level.name} is not limited; the most")
    seats, estimated = level.seats, ""
    if seats is None:
        if not level.shares or not level.total_shares:
            return Workers(DEFAULT_WORKERS, f"priority level {level.name} names no concurrency shares; the default")
        seats = math.ceil(DEFAULT_SERVER_SEATS * level.shares / level.total_shares)
        estimated = f" (estimated: {level.shares} of {level.total_shares} shares of {DEFAULT_SERVER_SEATS})"
    count = min(MAX_WORKERS, max(1, math.floor(seats * SHARE_OF_LEVEL)))
    return Workers(count, f"half of priority level {level.name}'s {seats} seats{estimated}, at most {MAX_WORKERS}")
