"""Counters of what the operator did (checks, mails, writes), ready for a metrics exporter;
shown in the liveness probe's answer until then."""

from __future__ import annotations

from collections import Counter


class Counters:
    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def inc(self, name: str, amount: int = 1, **labels: str) -> None:
        suffix = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        self._counts[f"{name}{{{suffix}}}" if suffix else name] += amount

    def snapshot(self) -> dict[str, int]:
        return dict(sorted(self._counts.items()))
