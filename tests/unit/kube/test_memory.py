"""The simulator's in-memory API keeps the API server's semantics the operator relies on:
conflicts, generation, garbage collection of owned objects, label-selected ConfigMaps, and
versions that later writes never change."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from seppmail_lifecycle.api import KINDS_BY_NAME
from seppmail_lifecycle.kube.errors import Conflict
from seppmail_lifecycle.kube.memory import CONFIGMAP, MemoryApi

Body = dict[str, Any]
NOW = datetime(2027, 1, 1, tzinfo=UTC)
CONTRACT, INVOICE = KINDS_BY_NAME["Contract"], KINDS_BY_NAME["Invoice"]


def world() -> tuple[MemoryApi, list[tuple[str, str, bool]]]:
    seen: list[tuple[str, str, bool]] = []
    api = MemoryApi(lambda: NOW, lambda kind, body, deleted: seen.append((kind, body["metadata"]["name"], deleted)))
    return api, seen


def body(kind: str, name: str, **extra: Any) -> Body:
    return {"kind": kind, "metadata": {"name": name, **extra.pop("metadata", {})}, **extra}


def owned_by(owner: Body) -> dict[str, Any]:
    return {
        "ownerReferences": [{"kind": owner["kind"], "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"]}]
    }


def test_a_status_patch_on_an_older_version_conflicts_and_a_spec_change_bumps_the_generation() -> None:
    api, _ = world()
    held = api.add("Contract", "ns", body("Contract", "acme", spec={"trialDays": 14}))
    first = asyncio.run(api.patch_status(CONTRACT, "ns", "acme", {"status": {"state": "trial"}}))
    with pytest.raises(Conflict):
        asyncio.run(api.patch_status(CONTRACT, "ns", "acme", {"metadata": held["metadata"], "status": {"x": 1}}))
    assert first["metadata"]["generation"] == 1
    changed = asyncio.run(api.patch(CONTRACT, "ns", "acme", {"spec": {"autoRenew": False}}))
    assert changed["metadata"]["generation"] == 2
    assert changed["status"] == {"state": "trial"}  # a patch never changes the status


def test_later_writes_never_change_a_version_handed_out() -> None:
    api, _ = world()
    api.add("Contract", "ns", body("Contract", "acme", spec={"trialDays": 14}))
    first = asyncio.run(api.patch_status(CONTRACT, "ns", "acme", {"status": {"state": "trial", "n": {"a": 1}}}))
    snapshot = repr(first)
    asyncio.run(api.patch_status(CONTRACT, "ns", "acme", {"status": {"state": "active", "n": {"a": 2}}}))
    asyncio.run(api.patch(CONTRACT, "ns", "acme", {"metadata": {"labels": {"x": "y"}}}))
    assert repr(first) == snapshot
    held = api.objects[("Contract", "ns", "acme")]
    assert held["status"] == {"state": "active", "n": {"a": 2}}
    assert held["metadata"]["labels"] == {"x": "y"}


def test_deleting_an_owner_collects_what_it_owns_and_holds_what_has_finalizers() -> None:
    api, seen = world()
    owner = api.add("Contract", "ns", body("Contract", "acme"))
    api.add("Invoice", "ns", body("Invoice", "acme-r1", metadata=owned_by(owner)))
    api.add("Invoice", "ns", body("Invoice", "acme-r2", metadata={**owned_by(owner), "finalizers": ["f"]}))
    api.add("Invoice", "ns", body("Invoice", "other"))
    assert asyncio.run(api.delete(CONTRACT, "ns", "acme", owner["metadata"]["uid"]))
    assert sorted(name for (kind, _, name) in api.objects) == ["acme-r2", "other"]
    assert api.objects[("Invoice", "ns", "acme-r2")]["metadata"]["deletionTimestamp"] == "2027-01-01T00:00:00Z"
    assert ("Invoice", "acme-r1", True) in seen
    # Its finalizer released, it goes too.
    held = api.objects[("Invoice", "ns", "acme-r2")]
    asyncio.run(api.patch(INVOICE, "ns", "acme-r2", {"metadata": {**held["metadata"], "finalizers": []}}))
    assert ("Invoice", "ns", "acme-r2") not in api.objects


def test_configmaps_are_listed_by_every_label_of_the_selector_in_the_namespaces_asked() -> None:
    api, _ = world()
    for namespace, name, labels in [
        ("a", "one", {"app": "x", "tenant": "acme"}),
        ("a", "two", {"app": "x", "tenant": "wayne"}),
        ("b", "three", {"app": "x", "tenant": "acme"}),
    ]:
        asyncio.run(api.apply_configmap(namespace, body(CONFIGMAP, name, metadata={"labels": labels}, data={})))
    names = lambda found: [b["metadata"]["name"] for b in found]  # noqa: E731
    assert names(asyncio.run(api.list_configmaps("app=x,tenant=acme", ["a"]))) == ["one"]
    assert names(asyncio.run(api.list_configmaps("app=x,tenant=acme"))) == ["one", "three"]
    # Relabelled: found by its new labels only.
    relabelled = body(CONFIGMAP, "two", metadata={"labels": {"app": "x", "tenant": "acme"}}, data={})
    asyncio.run(api.apply_configmap("a", relabelled))
    assert names(asyncio.run(api.list_configmaps("app=x,tenant=acme", ["a"]))) == ["one", "two"]
    assert names(asyncio.run(api.list_configmaps("tenant=wayne", ["a"]))) == []
    asyncio.run(api.delete_configmap("a", "one"))
    assert names(asyncio.run(api.list_configmaps("app=x", ["a"]))) == ["two"]


def test_a_selector_excludes_by_inequality_as_the_api_server_does() -> None:
    """The purge's selector (``role!=mail-ledger``): a label absent or of another value matches."""
    api, _ = world()
    for name, labels in [
        ("routing", {"app": "x", "role": "routing"}),
        ("ledger", {"app": "x", "role": "mail-ledger"}),
        ("plain", {"app": "x"}),
    ]:
        asyncio.run(api.apply_configmap("a", body(CONFIGMAP, name, metadata={"labels": labels}, data={})))
    names = lambda found: [b["metadata"]["name"] for b in found]  # noqa: E731
    assert names(asyncio.run(api.list_configmaps("app=x,role!=mail-ledger", ["a"]))) == ["plain", "routing"]
    assert names(asyncio.run(api.list_configmaps("app=x,role!=routing,role!=mail-ledger"))) == ["plain"]
    with pytest.raises(ValueError, match="equality"):
        asyncio.run(api.list_configmaps("role!=routing"))
