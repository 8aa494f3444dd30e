"""Unit tests of the engine's machinery: the deadline scheduler and the work queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tests.unit.core.builders import T0


@dataclass
class FakeClock:
    """A clock that stands still until the test moves it."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> datetime:
        self.now += by
        return self.now
