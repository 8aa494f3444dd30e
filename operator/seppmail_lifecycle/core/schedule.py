"""Deadlines: the auto-deploy windows and choosing an object's next scheduled transition."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from seppmail_lifecycle.api.common import NextTransition
from seppmail_lifecycle.api.policy import AutoDeployPolicy

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

COMMIT_SETTLES = timedelta(seconds=10)
"""How long the objects of one commit may still be arriving: Argo CD and Flux apply them one by
one (in waves), so what a decision sees within this time of the last one may be half a commit."""


def next_deploy_window(after: datetime, policy: AutoDeployPolicy) -> datetime:
    """The first automatic deployment window strictly after ``after``.

    Windows are at ``offset + k * every`` from the Unix epoch (UTC); with the defaults (every 6h,
    offset 2h) that is 02:00, 08:00, 14:00 and 20:00 UTC every day.
    """
    # timedelta // timedelta is exact integer microsecond arithmetic: no float drift at the edges.
    k = (after - EPOCH - policy.offset) // policy.every + 1
    return EPOCH + policy.offset + k * policy.every


def earliest(candidates: Iterable[NextTransition | None]) -> NextTransition | None:
    present = [c for c in candidates if c is not None]
    return min(present, key=lambda c: c.at) if present else None


def backoff(attempts: int, initial: timedelta, maximum: timedelta) -> timedelta:
    """``initial`` after the first failure, doubled per failure in a row, at most ``maximum``."""
    delay: timedelta = initial * (2 ** min(max(attempts - 1, 0), 20))
    return min(delay, maximum)
