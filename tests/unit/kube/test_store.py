"""The store: objects as the API server sends them, the secondary indexes, the watched namespaces."""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from seppmail_lifecycle.api import KINDS_BY_NAME
from seppmail_lifecycle.backend.labels import DOMAIN_OBJECT_LABEL
from seppmail_lifecycle.kube.convert import Body, normalized_status
from seppmail_lifecycle.kube.store import INDEXES, NAMESPACE, PARTNER_LABEL, ROUTING, Key, Recent, Store, key_of
from tests import manifests
from tests.unit.core.builders import NS, uid
from tests.unit.served import routing_configmap, served

OTHER_NS = "partner-b"


def keys(entries: list[Any]) -> list[Key]:
    return [key_of(entry.raw) for entry in entries]


def namespace_body(name: str, labels: dict[str, str], version: int = 1) -> Body:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "uid": f"ns-{name}", "resourceVersion": str(version), "labels": labels},
    }


def assert_indexes_consistent(store: Store) -> None:
    """Every index holds exactly the keys its function gives for the objects in the store."""
    for name, (kind, value_of) in INDEXES.items():
        expected: dict[Any, set[Key]] = defaultdict(set)
        for entry in store.all(kind):
            expected[value_of(entry.raw)].add(key_of(entry.raw))
        actual = {value: bucket for value, bucket in store._index[name].items() if bucket}
        assert actual == dict(expected), f"index {name}"
        for value, bucket in expected.items():
            assert keys(store.lookup(name, value)) == sorted(bucket), f"lookup {name} {value!r}"
    held = {entry.raw["metadata"]["uid"] for kind in list(store._entries) for entry in store.all(kind)}
    assert store._uids == held, "uids"
    assert all(store.holds_uid(uid) for uid in held)


# ------------------------------------------------------------------------------------------ indexes


@dataclass(frozen=True)
class Move:
    """An object of the index's kind built with one indexed value, then replaced with another."""

    index: str
    build: Callable[[str], Body]
    first: str
    second: str
    before: Any
    after: Any


def _service_on(domain: str) -> Body:
    return served(manifests.service("s1", domain, "base"))


def _service_of(product: str) -> Body:
    return served(manifests.service("s1", "d1", product))


def _domain_of(tenant: str) -> Body:
    return served(manifests.domain("d1", tenant, "d1.example"))


def _domain_named(domain_name: str) -> Body:
    return served(manifests.domain("d1", "t1", domain_name))


def _license_of(tenant: str) -> Body:
    return served(manifests.license("l1", tenant, "2027-01-01T00:00:00Z"))


def _routing_labelled(domain_object: str) -> Body:
    """The ConfigMap ``routing-d1`` relabelled for another domain object (its name stays)."""
    body = routing_configmap("d1")
    body["metadata"]["labels"][DOMAIN_OBJECT_LABEL] = domain_object
    return body


MOVES = [
    Move("services_by_domain", _service_on, "d1", "d2", (NS, "d1"), (NS, "d2")),
    Move("services_by_product", _service_of, "base", "sig-only", "base", "sig-only"),
    Move("domains_by_tenant", _domain_of, "t1", "t2", (NS, "t1"), (NS, "t2")),
    Move("domains_by_name", _domain_named, "one.example", "two.example", "one.example", "two.example"),
    Move("licenses_by_tenant", _license_of, "t1", "t2", (NS, "t1"), (NS, "t2")),
    Move("routing_by_domain", _routing_labelled, "d1", "d2", (NS, "d1"), (NS, "d2")),
]


@pytest.mark.parametrize("move", MOVES, ids=[move.index for move in MOVES])
def test_an_object_whose_indexed_field_changes_moves_buckets_and_delete_removes_it(move: Move) -> None:
    kind = INDEXES[move.index][0]
    store = Store()
    store.put(kind, move.build(move.first))
    key = key_of(move.build(move.first))
    assert keys(store.lookup(move.index, move.before)) == [key]
    assert_indexes_consistent(store)

    changed = move.build(move.second)
    changed["metadata"]["resourceVersion"] = "2"
    store.put(kind, changed)
    assert store.lookup(move.index, move.before) == []
    assert keys(store.lookup(move.index, move.after)) == [key]
    assert store.count(kind) == 1
    assert_indexes_consistent(store)

    store.delete(kind, changed)
    assert store.lookup(move.index, move.after) == []
    assert store.get(kind, *key) is None
    assert store.count(kind) == 0
    assert_indexes_consistent(store)


def test_delete_unindexes_by_the_stored_object_not_the_deleted_body() -> None:
    """The DELETED event carries the object's last state, which may differ from what was stored."""
    store = Store()
    store.put("Service", served(manifests.service("s1", "d1", "base")))
    store.delete("Service", served(manifests.service("s1", "d2", "sig-only"), version=3))
    assert store.lookup("services_by_domain", (NS, "d1")) == []
    assert store.lookup("services_by_product", "base") == []
    assert_indexes_consistent(store)


def test_deleting_an_unknown_object_does_nothing() -> None:
    store = Store()
    store.delete("Service", served(manifests.service("nobody", "d1", "base")))
    store.delete(ROUTING, routing_configmap("nobody"))
    assert store.count("Service") == 0
    assert_indexes_consistent(store)


def test_every_index_stays_consistent_through_a_history_of_events() -> None:
    """Puts, replacements, moves and deletes of every kind, in two namespaces: after each event
    every index (whatever INDEXES holds) matches the objects in the store."""
    events: list[tuple[str, str, Body]] = []  # (put|delete, kind, body)
    for namespace in (NS, OTHER_NS):
        events += [
            ("put", "Tenant", served(manifests.tenant("t1"), namespace)),
            ("put", "Domain", served(manifests.domain("d1", "t1", "d1.example"), namespace)),
            ("put", "Domain", served(manifests.domain("d2", "t1", "d2.example"), namespace)),
            ("put", "Service", served(manifests.service("s1", "d1", "base"), namespace)),
            ("put", "Service", served(manifests.service("s2", "d1", "sig-only"), namespace)),
            ("put", "License", served(manifests.license("l1", "t1", "2027-01-01T00:00:00Z"), namespace)),
            ("put", "DeployRequest", served(manifests.VALID["DeployRequest"], namespace)),
            ("put", "Contract", served(manifests.VALID["Contract"], namespace)),
            ("put", "Invoice", served(manifests.VALID["Invoice"], namespace)),
            ("put", "Payment", served(manifests.VALID["Payment"], namespace)),
            ("put", "Partner", served(manifests.VALID["Partner"], namespace)),
            ("put", ROUTING, routing_configmap("d1", namespace)),
        ]
    events += [
        ("put", "Product", served(manifests.VALID["Product"], None)),
        ("put", "Service", served(manifests.service("s1", "d2", "base"), NS, version=2)),
        ("put", "Domain", served(manifests.domain("d2", "t2", "renamed.example"), NS, version=2)),
        ("put", "License", served(manifests.license("l1", "t2", "2027-01-01T00:00:00Z"), OTHER_NS, version=2)),
        ("put", ROUTING, routing_configmap("d2", NS, version=2)),  # a second ConfigMap
        ("put", NAMESPACE, namespace_body("tenant-a", {PARTNER_LABEL: NS})),
        ("put", NAMESPACE, namespace_body("tenant-b", {PARTNER_LABEL: NS})),
        ("put", NAMESPACE, namespace_body("tenant-a", {PARTNER_LABEL: OTHER_NS}, version=2)),  # relabelled
        ("put", NAMESPACE, namespace_body("tenant-b", {}, version=2)),  # no longer a tenant namespace
        ("delete", "Service", served(manifests.service("s2", "d1", "sig-only"), NS)),
        ("put", "Service", served(manifests.service("s1", "d2", "base", contractRef={"name": "c1"}), NS, version=3)),
        ("delete", "Payment", served(manifests.VALID["Payment"], OTHER_NS)),
        ("delete", "DeployRequest", served(manifests.VALID["DeployRequest"], OTHER_NS)),
        ("delete", ROUTING, routing_configmap("d1", NS)),
        ("put", "Service", served(manifests.service("s2", "d2", "archive"), NS, version=5)),  # re-created
        ("delete", "Domain", served(manifests.domain("d1", "t1", "d1.example"), OTHER_NS)),
        ("put", "Domain", served(manifests.domain("d1", "t1", "d2.example"), OTHER_NS, version=6)),
    ]
    assert {kind for kind, _ in INDEXES.values()} <= {kind for _, kind, _ in events}, "a kind is left out"

    store = Store()
    for action, kind, body in events:
        if action == "put":
            assert store.put(kind, body) is not None
        else:
            store.delete(kind, body)
        assert_indexes_consistent(store)

    assert keys(store.lookup("services_by_domain", (NS, "d2"))) == [(NS, "s1"), (NS, "s2")]
    assert keys(store.lookup("namespaces_by_partner", OTHER_NS)) == [("", "tenant-a")]
    assert keys(store.lookup("namespaces_by_partner", NS)) == []
    assert keys(store.lookup("domains_by_name", "d2.example")) == [(OTHER_NS, "d1"), (OTHER_NS, "d2")]
    assert keys(store.lookup("routing_by_domain", (NS, "d2"))) == [(NS, "routing-d2")]
    assert store.lookup("routing_by_domain", (NS, "d1")) == []


def test_lookup_is_sorted_by_namespace_then_name() -> None:
    store = Store()
    for namespace, name in [(OTHER_NS, "a"), (NS, "s3"), (NS, "s1"), ("a-first", "z"), (NS, "s2")]:
        store.put("Service", served(manifests.service(name, "d1", "base"), namespace))
    assert keys(store.lookup("services_by_product", "base")) == [
        ("a-first", "z"),
        (NS, "s1"),
        (NS, "s2"),
        (NS, "s3"),
        (OTHER_NS, "a"),
    ]
    assert store.lookup("services_by_product", "nothing") == []


# ------------------------------------------------------------------------------------------ parsing


def test_objects_leaves_out_entries_whose_spec_does_not_parse() -> None:
    store = Store()
    store.put("Service", served(manifests.service("good", "d1", "base")))
    bad = served(manifests.service("bad", "d1", "base", users=-1))
    entry = store.put("Service", bad)

    assert entry is not None
    assert entry.obj is None
    assert entry.error is not None
    assert "spec.users" in entry.error
    assert store.get("Service", NS, "bad") is entry
    assert keys(store.lookup("services_by_domain", (NS, "d1"))) == [(NS, "bad"), (NS, "good")], "still indexed"
    assert [obj.name for obj in store.objects("services_by_domain", (NS, "d1"))] == ["good"]

    fixed = served(manifests.service("bad", "d1", "base", users=3), version=2)
    entry = store.put("Service", fixed)
    assert entry is not None
    assert entry.error is None
    assert entry.obj is not None
    assert entry.obj.spec.users == 3
    assert entry.obj.meta.uid == uid("Service", "bad", NS)
    assert [obj.name for obj in store.objects("services_by_domain", (NS, "d1"))] == ["bad", "good"]


@pytest.mark.parametrize(
    "case",
    [case for case in manifests.INVALID if case.pydantic_sees_it and case.kind in ("Service", "Domain", "License")],
    ids=lambda case: case.id,
)
def test_every_invalid_manifest_is_kept_with_its_error(case: manifests.InvalidCase) -> None:
    store = Store()
    entry = store.put(case.kind, served(case.manifest()))
    assert entry is not None
    assert entry.obj is None
    assert entry.error is not None
    assert case.field.split("[")[0] in entry.error
    assert_indexes_consistent(store)


def test_routing_configmaps_are_kept_raw() -> None:
    store = Store()
    entry = store.put(ROUTING, routing_configmap("d1"))
    assert entry is not None
    assert (entry.obj, entry.error) == (None, None)
    assert entry.raw["data"]["services"] == "s1=base\n"


@pytest.mark.parametrize("kind", ["Domain", ROUTING])
def test_objects_are_kept_without_managed_fields_and_the_given_body_is_untouched(kind: str) -> None:
    body = served(manifests.domain("d1", "t1", "d1.example")) if kind == "Domain" else routing_configmap("d1")
    fields = [{"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:spec": {}}}]
    body["metadata"]["managedFields"] = fields
    store = Store()
    entry = store.put(kind, body)
    assert entry is not None
    assert "managedFields" not in entry.raw["metadata"]
    assert entry.raw["metadata"]["name"] == body["metadata"]["name"]
    assert body["metadata"]["managedFields"] == fields


def _with_status(name: str, status: Body) -> Body:
    return {**served(manifests.domain(name, "t1", f"{name}.example")), "status": status}


STATUS: Body = {
    "phase": "confirmed",
    "id": "DOM-1",
    "confirmedAt": "2026-11-02T10:00:00Z",
    "conditions": [
        {
            "type": "Ready",
            "status": "False",
            "reason": "Confirmed",
            "message": "Waiting.",
            "lastTransitionTime": "2026-11-02T10:00:00Z",
        }
    ],
}


def test_typed_views_not_read_for_a_while_are_released_and_parsed_again_as_they_were() -> None:
    now = [0.0]
    store = Store(recent=Recent(keep_for=30.0, clock=lambda: now[0]))
    entries = []
    for i in range(3):
        entry = store.put("Domain", _with_status(f"d{i}", STATUS))
        assert entry is not None
        entries.append(entry)
        now[0] += 10.0  # put at 0, 10, 20
    typed = entries[0].obj  # read at 30: kept (read within 30 s)
    assert [entry.parsed for entry in entries] == [True, True, True]
    assert all("status" not in entry.raw for entry in entries)

    now[0] = 45.0  # d1 last read at 10, d2 at 20: more than 30 s ago once d0 is read again
    assert entries[0].obj is typed
    assert [entry.parsed for entry in entries] == [True, False, True]
    now[0] = 80.0
    again = entries[1].obj
    assert [entry.parsed for entry in entries] == [False, True, False]
    assert again is not None
    assert again == store.put("Domain", _with_status("d1", STATUS)).obj  # type: ignore[union-attr]
    assert typed is not None
    assert entries[0].obj == typed  # parsed again, equal to what it was
    assert entries[0].obj is not typed


async def test_on_the_event_loop_typed_views_are_released_without_further_reads() -> None:
    now = [0.0]
    store = Store(recent=Recent(keep_for=0.01, clock=lambda: now[0]))
    entry = store.put("Domain", _with_status("d1", STATUS))
    assert entry is not None
    assert entry.parsed
    now[0] = 1.0  # long past keep_for, and nothing is read any more
    for _ in range(200):
        if not entry.parsed:
            break
        await asyncio.sleep(0.01)
    assert not entry.parsed
    assert entry.obj is not None  # parsed again when read


def test_the_status_a_write_starts_from_is_the_one_read() -> None:
    store = Store()
    body = _with_status("d1", STATUS)
    entry = store.put("Domain", body)
    assert entry is not None
    held, normalized = entry.status(KINDS_BY_NAME["Domain"])
    assert held == normalized == normalized_status(KINDS_BY_NAME["Domain"], body)
    assert held["conditions"][0]["message"] == "Waiting."


def test_a_status_this_version_cannot_read_is_kept_as_it_is_for_the_writer_to_replace() -> None:
    store = Store()
    unreadable = {"phase": "teleported"}
    entry = store.put("Domain", _with_status("d1", unreadable))
    assert entry is not None
    assert entry.obj is not None
    assert entry.obj.status.phase is None
    assert entry.status(KINDS_BY_NAME["Domain"]) == (unreadable, {})


# ------------------------------------------------------------------------------------------ namespaces


@pytest.mark.parametrize(
    ("patterns", "namespace", "watched"),
    [
        ((), "anything", True),
        (("partner-*",), "partner-a", True),
        (("partner-*",), "partner-", True),
        (("partner-*",), "partnera", False),
        (("partner-*",), "Partner-a", False),
        (("partner-?",), "partner-ab", False),
        (("partner-[ab]",), "partner-b", True),
        (("partner-[ab]",), "partner-c", False),
        (("exact",), "exact", True),
        (("exact",), "exact-not", False),
        (("exact", "other-*"), "other-1", True),
    ],
)
def test_watches_namespaces_by_glob(patterns: tuple[str, ...], namespace: str, watched: bool) -> None:
    store = Store(patterns)
    body = served(manifests.service("s1", "d1", "base"), namespace)
    assert store.watches(body) is watched
    entry = store.put("Service", body)
    assert (entry is not None) is watched
    assert store.count("Service") == int(watched)
    assert bool(store.lookup("services_by_product", "base")) is watched


@pytest.mark.parametrize("patterns", [(), ("partner-*",), ("nothing-matches",)])
def test_cluster_scoped_objects_are_always_watched(patterns: tuple[str, ...]) -> None:
    store = Store(patterns)
    body = served(manifests.VALID["Product"], None)
    assert store.watches(body)
    entry = store.put("Product", body)
    assert entry is not None
    assert entry.obj is not None
    assert store.get("Product", "", "test-product") is entry


# ------------------------------------------------------------------------------------------ threads


@pytest.mark.parametrize("method", ["put", "delete"])
def test_writing_the_store_from_another_thread_raises(method: str) -> None:
    store = Store()
    body = served(manifests.service("s1", "d1", "base"))
    store.put("Service", body)  # binds the store to this thread
    errors: list[BaseException] = []

    def other() -> None:
        try:
            getattr(store, method)("Service", served(manifests.service("s2", "d1", "base")))
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=other, name="kopf-sync-handler")
    thread.start()
    thread.join(timeout=5)
    assert len(errors) == 1
    assert isinstance(errors[0], RuntimeError)
    assert "Store" in str(errors[0])
    assert "kopf-sync-handler" in str(errors[0])
    assert store.count("Service") == 1
    store.put("Service", served(manifests.service("s2", "d1", "base")))  # the owner still can
    assert store.count("Service") == 2
