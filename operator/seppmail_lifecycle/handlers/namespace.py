"""Namespace events (with ``--tenant-namespaces``): a namespace's partner label says whose tenants
it holds. Registered only when asked for: it needs the right to watch Namespaces."""

from __future__ import annotations

from typing import Any

import kopf

from seppmail_lifecycle.handlers.observe import observe
from seppmail_lifecycle.kube.store import NAMESPACE


async def namespace_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    observe(memo, NAMESPACE, event)


def watch_namespaces() -> None:
    """Register ``namespace_event`` in kopf's default registry."""
    kopf.on.event("", "v1", "namespaces")(namespace_event)
