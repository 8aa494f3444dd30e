"""What every kind's event handler shares: hand the watch event to the engine, on the loop.

Handlers are ``async``: kopf runs them on the event loop itself, where the store and the work
queue live (a sync handler would run in kopf's thread pool and race the workers).
"""

from __future__ import annotations

import kopf

from seppmail_lifecycle.runtime.operator_runtime import OperatorRuntime


def runtime_of(memo: kopf.Memo) -> OperatorRuntime:
    runtime: OperatorRuntime = memo.runtime
    return runtime


def observe(memo: kopf.Memo, kind: str, event: kopf.RawEvent) -> None:
    """Record a watch event in the store and decide every aggregate it affects."""
    runtime_of(memo).engine.observe(kind, dict(event["object"]), deleted=event.get("type") == "DELETED")
