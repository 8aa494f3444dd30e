"""The operator's in-memory view of the cluster: every object of our kinds and every routing
ConfigMap, with the secondary indexes the reconcilers look things up by.

Fed by the watch (kopf event handlers) and primed by one LIST per kind at start-up, so nothing is
decided on a partial view. Objects are parsed when they arrive; typed views not read for
``KEEP_TYPED_FOR`` seconds are dropped and parsed again when next read.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from seppmail_lifecycle import GROUP
from seppmail_lifecycle.api import KINDS_BY_NAME
from seppmail_lifecycle.api.kinds import KindInfo
from seppmail_lifecycle.core.conditions import READY, is_true
from seppmail_lifecycle.core.model import Obj
from seppmail_lifecycle.core.status_edits import StatusEdit, status_edit
from seppmail_lifecycle.kube.affinity import ThreadAffinity
from seppmail_lifecycle.kube.convert import Body, InvalidObject, normalized_status, parse, status_body, stored_obj

Key = tuple[str, str]  # (namespace or "", name)
ROUTING = "RoutingConfigMap"


KEEP_TYPED_FOR = 30.0
"""Seconds an object's typed view is kept after it was last read; then it is dropped and parsed
again (about 35 us) when next read. A Domain's status typed is 17 KB, as compact JSON 2 KB: all
10,000 objects kept typed would be most of the operator's memory once things settle, while a burst
(every license of a tenant read at each deadline) reads the same objects again and again, and a
count-bounded cache smaller than the burst misses every time."""


class Recent:
    """The entries whose typed view is kept, least recently read first; those not read for
    ``keep_for`` seconds drop their typed view: checked whenever one is read, and, on the event
    loop, by one timer while any are kept (so a quiet operator lets go of them too)."""

    def __init__(self, keep_for: float = KEEP_TYPED_FOR, clock: Callable[[], float] = time.monotonic) -> None:
        self.keep_for = keep_for
        self._clock = clock
        self._entries: OrderedDict[Entry, float] = OrderedDict()
        self._sweeping = False

    def touch(self, entry: Entry) -> None:
        now = self._clock()
        read_at = self._entries.get(entry)
        if read_at is not None and now - read_at < self.keep_for / 30:
            return  # read a moment ago: its place in the order is near enough (it may go a second early)
        self._entries[entry] = now
        self._entries.move_to_end(entry)
        self._release_before(now - self.keep_for)
        self._schedule()

    def _release_before(self, moment: float) -> None:
        while self._entries:
            oldest, read_at = next(iter(self._entries.items()))
            if read_at >= moment:
                return
            del self._entries[oldest]
            oldest.release()

    def _schedule(self) -> None:
        if self._sweeping:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a script, a unit test): released on the next read
            return
        self._sweeping = True
        loop.call_later(self.keep_for, self._sweep)

    def _sweep(self) -> None:
        self._sweeping = False
        self._release_before(self._clock() - self.keep_for)
        if self._entries:
            self._schedule()

    def forget(self, entry: Entry) -> None:
        self._entries.pop(entry, None)

    def __len__(self) -> int:
        return len(self._entries)


class Entry:
    """One object as the store keeps it: ``raw`` as the API server sent it, apart from what
    ``lean`` leaves out and, when its status was read, the status, which lives on as compact JSON;
    ``obj`` its typed view (parsed again when it was released), or None when its spec cannot be
    read (``error`` says why) or it is a ConfigMap."""

    __slots__ = ("_info", "_obj", "_recent", "_status", "error", "raw", "status_edit")

    def __init__(
        self,
        raw: Body,
        obj: Obj[Any, Any] | None,
        error: str | None,
        *,
        info: KindInfo | None = None,
        status: bytes | None = None,
        recent: Recent | None = None,
    ) -> None:
        self.raw = raw
        self.error = error
        self.status_edit: StatusEdit | None = None
        """Status fields another field manager wrote (read before managedFields are dropped)."""
        self._obj = obj
        self._info = info
        self._status = status  # the status as read, when ``raw`` goes without it
        self._recent = recent
        if recent is not None and status is not None:
            recent.touch(self)

    @property
    def obj(self) -> Obj[Any, Any] | None:
        if self._obj is None and self._status is not None:
            assert self._info is not None
            self._obj = stored_obj(self._info, self.raw, self._status)
        if self._recent is not None and self._status is not None:
            self._recent.touch(self)
        return self._obj

    def release(self) -> None:
        """Drop the typed view if it can be parsed again."""
        if self._status is not None:
            self._obj = None

    @property
    def parsed(self) -> bool:
        """Whether the typed view is held now (not parsed again on the next read)."""
        return self._obj is not None

    def holds(self, status: object) -> bool:
        """Whether ``status`` equals the typed status held (then writing it changes nothing). A
        cheap first check: decisions share what they did not change with what they read."""
        obj = self.obj if self._status is not None else None
        return obj is not None and obj.status == status

    def status(self, info: KindInfo) -> tuple[Body, Body]:
        """The status as the server holds it, and in the writer's normal form: what a status
        write is patched from, and compared with."""
        obj = self.obj
        if self._status is not None and obj is not None:
            wire = status_body(obj.status)
            return wire, wire
        return self.raw.get("status") or {}, normalized_status(info, self.raw)


def state_of(obj: Obj[Any, Any] | None) -> tuple[str, str | None]:
    """What the metrics count an object as: its phase, period or state (Ready or NotReady for a
    kind without one, Invalid when its spec does not parse), and a Service's subscription state."""
    if obj is None:
        return "Invalid", None
    status = obj.status
    state = getattr(status, "phase", None) or getattr(status, "period", None) or getattr(status, "state", None)
    if state is None:
        state = "Ready" if is_true(status.conditions, READY) else "NotReady"
    subscription = getattr(status, "subscription", None)
    sub_state = getattr(subscription, "state", None) if subscription is not None else None
    return str(getattr(state, "value", state)), (str(getattr(sub_state, "value", sub_state)) if sub_state else None)


def key_of(body: Body) -> Key:
    metadata = body["metadata"]
    return (metadata.get("namespace") or "", metadata["name"])


def lean(body: Body) -> Body:
    """The object as the store keeps it: without ``metadata.managedFields``, the API server's
    field-ownership bookkeeping, which nothing here reads and which is half of an object's
    memory (a Domain: 24 KB as parsed JSON, 11 KB without). The caller's body is not changed."""
    metadata = body["metadata"]
    if "managedFields" not in metadata:
        return body
    return {**body, "metadata": {key: value for key, value in metadata.items() if key != "managedFields"}}


def _spec(body: Body, *path: str) -> str | None:
    node: Any = body.get("spec") or {}
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, str) else None


# index name -> (kind, function from the raw body to the index value, or None)
NAMESPACE = "Namespace"
"""Tenant namespaces: a Namespace labelled ``PARTNER_LABEL`` holds tenants of the partner whose
namespace the label names (kept only with ``--tenant-namespaces``)."""
PARTNER_LABEL = f"{GROUP}/partner"

INDEXES: dict[str, tuple[str, Callable[[Body], Any]]] = {
    "services_by_domain": ("Service", lambda b: (key_of(b)[0], _spec(b, "domainRef", "name"))),
    "services_by_product": ("Service", lambda b: _spec(b, "product")),
    "domains_by_tenant": ("Domain", lambda b: (key_of(b)[0], _spec(b, "tenantRef", "name"))),
    "domains_by_name": ("Domain", lambda b: _spec(b, "domainName")),
    "domains_by_namespace": ("Domain", lambda b: key_of(b)[0]),
    "deployrequests_by_namespace": ("DeployRequest", lambda b: key_of(b)[0]),
    "partners_by_namespace": ("Partner", lambda b: key_of(b)[0]),
    "tenants_by_namespace": ("Tenant", lambda b: key_of(b)[0]),
    "namespaces_by_partner": (NAMESPACE, lambda b: (b["metadata"].get("labels") or {}).get(PARTNER_LABEL)),
    "licenses_by_tenant": ("License", lambda b: (key_of(b)[0], _spec(b, "tenantRef", "name"))),
    "services_by_contract": ("Service", lambda b: (key_of(b)[0], _spec(b, "contractRef", "name"))),
    "contracts_by_tenant": ("Contract", lambda b: (key_of(b)[0], _spec(b, "tenantRef", "name"))),
    "invoices_by_contract": ("Invoice", lambda b: (key_of(b)[0], _spec(b, "contractRef", "name"))),
    "invoices_by_tenant": ("Invoice", lambda b: (key_of(b)[0], _spec(b, "tenantRef", "name"))),
    "payments_by_invoice": ("Payment", lambda b: (key_of(b)[0], _spec(b, "invoiceRef", "name"))),
    "routing_by_domain": (
        ROUTING,
        lambda b: (key_of(b)[0], (b["metadata"].get("labels") or {}).get("lifecycle.seppmail.cloud/domain-object")),
    ),
}


class Store:
    def __init__(self, namespaces: Sequence[str] = (), recent: Recent | None = None) -> None:
        """``namespaces``: glob patterns of the watched namespaces; empty means all. ``recent``:
        which typed views are kept (see ``KEEP_TYPED_FOR``)."""
        self.namespaces = tuple(namespaces)
        self._entries: dict[str, dict[Key, Entry]] = defaultdict(dict)
        self._states: dict[str, dict[Key, tuple[str, str | None]]] = defaultdict(dict)
        self._index: dict[str, dict[Any, set[Key]]] = {name: defaultdict(set) for name in INDEXES}
        self._uids: set[str] = set()
        self._affinity = ThreadAffinity("Store")  # written only from the event loop's thread
        self._recent = recent if recent is not None else Recent()

    def watches(self, body: Body) -> bool:
        namespace = body["metadata"].get("namespace")
        if not self.namespaces or not namespace:  # cluster-scoped objects are always seen
            return True
        return any(fnmatch.fnmatchcase(namespace, pattern) for pattern in self.namespaces)

    def put(self, kind: str, body: Body) -> Entry | None:
        """Record an object; None when its namespace is not watched."""
        self._affinity.check()
        if not self.watches(body):
            return None
        key = key_of(body)
        self._unindex(kind, key)
        edit = status_edit(body["metadata"].get("managedFields"))
        body = lean(body)
        if kind in (ROUTING, NAMESPACE):
            entry = Entry(body, None, None)
        else:
            info = KINDS_BY_NAME[kind]
            try:
                obj, status_read = parse(info, body)
            except InvalidObject as error:
                entry = Entry(body, None, str(error))
            else:
                if status_read:  # kept as compact JSON: as parsed JSON it is 9 KB, typed 17 KB
                    kept = {key: value for key, value in body.items() if key != "status"}
                    compact = json.dumps(body.get("status") or {}, separators=(",", ":")).encode()
                    entry = Entry(kept, obj, None, info=info, status=compact, recent=self._recent)
                else:  # a status this version cannot read stays as it is, for the writer to replace
                    entry = Entry(body, obj, None)
        entry.status_edit = edit
        self._entries[kind][key] = entry
        if uid := body["metadata"].get("uid"):
            self._uids.add(uid)
        if kind not in (ROUTING, NAMESPACE):
            self._states[kind][key] = state_of(entry.obj)
        for name, (indexed_kind, value_of) in INDEXES.items():
            if indexed_kind == kind:
                self._index[name][value_of(body)].add(key)
        return entry

    def delete(self, kind: str, body: Body) -> None:
        self._affinity.check()
        key = key_of(body)
        self._unindex(kind, key)
        self._entries[kind].pop(key, None)
        self._states[kind].pop(key, None)

    def _unindex(self, kind: str, key: Key) -> None:
        previous = self._entries[kind].get(key)
        if previous is None:
            return
        self._recent.forget(previous)
        self._uids.discard(previous.raw["metadata"].get("uid", ""))
        for name, (indexed_kind, value_of) in INDEXES.items():
            if indexed_kind == kind:
                bucket = self._index[name].get(value_of(previous.raw))
                if bucket is not None:
                    bucket.discard(key)

    def holds_uid(self, uid: str) -> bool:
        """Is an object with this uid here (of any kind kept)?"""
        return uid in self._uids

    def get(self, kind: str, namespace: str, name: str) -> Entry | None:
        return self._entries[kind].get((namespace, name))

    def lookup(self, index: str, value: Any) -> list[Entry]:
        kind = INDEXES[index][0]
        keys = sorted(self._index[index].get(value, ()))
        return [self._entries[kind][key] for key in keys]

    def objects(self, index: str, value: Any) -> list[Any]:
        """The parsed objects found by ``lookup``, leaving out those whose spec cannot be read."""
        return [entry.obj for entry in self.lookup(index, value) if entry.obj is not None]

    def all(self, kind: str) -> Iterator[Entry]:
        return iter(list(self._entries[kind].values()))

    def count(self, kind: str) -> int:
        return len(self._entries[kind])

    def states(self) -> Iterator[tuple[str, str, str | None]]:
        """(kind, state, subscription state) of every object of our kinds (see ``state_of``)."""
        for kind, states in self._states.items():
            for state, subscription in states.values():
                yield kind, state, subscription
