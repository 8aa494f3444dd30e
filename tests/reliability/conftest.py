"""The reliability suite's fixtures: the e2e ones (control plane, catalogue, operator process, SMTP
sink, DNS server), its sizes, and the report it prints at the end (what was tried, and what went
wrong: duplicates, early actions, losses; each must be 0).

``make test`` runs it at small sizes (bounded in time); ``make reliability`` at full size
(``RELIABILITY_SIZE=full``).
"""

from __future__ import annotations

import os
import random
from collections import defaultdict
from dataclasses import dataclass

import pytest

from tests.e2e.conftest import catalogue, client, dns_server, mail_sink, start_operator

__all__ = ["Report", "Sizes", "catalogue", "client", "dns_server", "mail_sink", "report", "sizes", "start_operator"]


@dataclass(frozen=True)
class Sizes:
    """How much each test tries."""

    mails: int
    """Mails of one tenant through the ledger."""
    crash_tenants: int
    """Tenants in each of the two namespaces of the crash scenario (each: 3 services)."""
    kills: int
    """Leaders SIGKILLed during the crash scenario."""
    seed: int
    """Of the random moments (``RELIABILITY_SEED`` repeats a run)."""

    @classmethod
    def chosen(cls) -> Sizes:
        seed = int(os.environ.get("RELIABILITY_SEED") or random.SystemRandom().randrange(10_000))
        if os.environ.get("RELIABILITY_SIZE") == "full":
            return cls(mails=10_000, crash_tenants=70, kills=20, seed=seed)
        return cls(mails=1_000, crash_tenants=8, kills=10, seed=seed)


class Report:
    """Figures the tests add up, printed in the terminal summary."""

    def __init__(self) -> None:
        self.figures: dict[str, int] = defaultdict(int)

    def add(self, name: str, amount: int = 1) -> None:
        self.figures[name] += amount


_REPORT = Report()


_SIZES = Sizes.chosen()


@pytest.fixture(scope="session")
def sizes() -> Sizes:
    return _SIZES


@pytest.fixture(scope="session")
def report() -> Report:
    return _REPORT


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _REPORT.figures:
        return
    terminalreporter.section("reliability")
    size = os.environ.get("RELIABILITY_SIZE", "small")
    terminalreporter.write_line(f"sizes: {size} ({_SIZES}); RELIABILITY_SEED={_SIZES.seed} repeats the run")
    for name, value in sorted(_REPORT.figures.items()):
        terminalreporter.write_line(f"  {name:<66} {value:>10,}")
