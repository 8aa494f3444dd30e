"""The engine's intake: a version the store holds already is not decided again; a version the
writer wrote wakes what it affects, apart from the aggregate that wrote it."""

from __future__ import annotations

import contextvars
from datetime import UTC, datetime
from typing import Any

import pytest

from seppmail_lifecycle.api.policy import Policy
from seppmail_lifecycle.kube.store import Store
from seppmail_lifecycle.runtime import engine as engine_module
from seppmail_lifecycle.runtime.context import Context
from seppmail_lifecycle.runtime.engine import Engine, newer
from seppmail_lifecycle.runtime.keys import MAIL, Key
from seppmail_lifecycle.runtime.metrics import Counters
from seppmail_lifecycle.runtime.workqueue import WorkQueue
from tests import manifests
from tests.unit.core.builders import NS
from tests.unit.served import served

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def _engine() -> Engine:
    store = Store()
    queue: WorkQueue[Key] = WorkQueue(lambda: NOW)
    unused: Any = None  # observe and written touch only the store and the queue
    ctx = Context(store, Policy(), lambda: NOW, unused, unused, unused, queue.add, queue.add_after)
    return Engine(ctx, queue, Counters())


async def _queued(engine: Engine) -> list[Key]:
    keys = []
    while len(engine.queue):
        key = await engine.queue.get()
        engine.queue.done(key)
        keys.append(key)
    return keys


async def test_a_version_the_store_holds_is_not_decided_again() -> None:
    engine = _engine()
    domain = served(manifests.domain("acme-com", "acme", "acme.com"), version=7)
    engine.observe("Domain", domain)
    assert await _queued(engine) == [("Domain", NS, "acme-com"), ("Tenant", NS, "acme"), (MAIL, NS, "acme")]
    engine.observe("Domain", dict(domain))  # the same version again (an echo, a re-list)
    assert await _queued(engine) == []
    engine.observe("Domain", served(manifests.domain("acme-com", "acme", "acme.com"), version=8))
    assert len(await _queued(engine)) == 3
    engine.observe("Domain", domain, deleted=True)
    assert len(await _queued(engine)) == 3


async def test_a_version_older_than_the_one_held_changes_nothing() -> None:
    """Two writes in a row put version 9 into the store; the watch still brings 8 (then 9)."""
    engine = _engine()
    written = served(manifests.domain("acme-com", "acme", "acme.com"), version=9)
    engine.store.put("Domain", written)
    engine.observe("Domain", served(manifests.domain("acme-com", "acme", "renamed.com"), version=8))
    assert await _queued(engine) == []
    held = engine.store.get("Domain", NS, "acme-com")
    assert held is not None
    assert held.raw["metadata"]["resourceVersion"] == "9"
    assert held.raw["spec"]["domainName"] == "acme.com"
    engine.observe("Domain", served(manifests.domain("acme-com", "acme", "acme.com"), version=10))
    assert len(await _queued(engine)) == 3


@pytest.mark.parametrize(
    ("version", "held", "is_newer"),
    [
        ("10", "9", True),  # compared as numbers, not strings
        ("9", "10", False),
        ("9", "9", False),
        ("b", "a", True),  # not numbers: any other version is newer
        ("a", "a", False),
        ("7", None, True),
    ],
)
def test_newer_versions(version: str, held: str | None, is_newer: bool) -> None:
    assert newer(version, {} if held is None else {"resourceVersion": held}) is is_newer


async def test_a_write_wakes_what_it_affects_but_not_its_writer() -> None:
    engine = _engine()
    domain = served(manifests.domain("acme-com", "acme", "acme.com"))
    engine.store.put("Domain", domain)

    def written_while_processing() -> None:
        engine_module._PROCESSING.set(("Domain", NS, "acme-com"))
        engine.written("Domain", domain, status_only=True)

    contextvars.copy_context().run(written_while_processing)
    assert await _queued(engine) == [("Tenant", NS, "acme"), (MAIL, NS, "acme")]
    # Outside any reconcile (nothing is processing), every affected aggregate is woken.
    engine.written("Domain", domain, status_only=True)
    assert await _queued(engine) == [("Domain", NS, "acme-com"), ("Tenant", NS, "acme"), (MAIL, NS, "acme")]
