"""The reliability suite's fixtures: the e2e ones (control plane, catalogue, operator process, SMTP
sink, DNS server), its sizes, and the report it prints at the end (what was tried, and what went
wrong: duplicates, early actions, losses; each must be 0).

``make test`` runs it at small sizes (bounded in time); ``make reliability`` at full size
(``RELIABILITY_SIZE=full``).
"""

from __future__ import annotations

import os
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

    @classmethod
    def chosen(cls) -> Sizes:
        if os.environ.get("RELIABILITY_SIZE") == "full":
            return cls(mails=10_000)
        return cls(mails=1_000)


class Report:
    """Figures the tests add up, printed in the terminal summary."""

    def __init__(self) -> None:
        self.figures: dict[str, int] = defaultdict(int)

    def add(self, name: str, amount: int = 1) -> None:
        self.figures[name] += amount


_REPORT = Report()


@pytest.fixture(scope="session")
def sizes() -> Sizes:
    return Sizes.chosen()


@pytest.fixture(scope="session")
def report() -> Report:
    return _REPORT


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _REPORT.figures:
        return
    terminalreporter.section("reliability")
    size = os.environ.get("RELIABILITY_SIZE", "small")
    terminalreporter.write_line(f"sizes: {size} ({Sizes.chosen()})")
    for name, value in sorted(_REPORT.figures.items()):
        terminalreporter.write_line(f"  {name:<48} {value:>10,}")
