"""The operator's in-memory view of the cluster: every object of our kinds and every routing
ConfigMap, with the secondary indexes the reconcilers look things up by.

Fed by the watch (kopf event handlers) and primed by one LIST per kind at start-up, so nothing is
decided on a partial view. Objects are parsed once, when they arrive.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from seppmail_lifecycle.api import KINDS_BY_NAME
from seppmail_lifecycle.api.kinds import KindInfo
from seppmail_lifecycle.core.model import Obj
from seppmail_lifecycle.kube.affinity import ThreadAffinity
from seppmail_lifecycle.kube.convert import Body, InvalidObject, normalized_status, parse, status_body

Key = tuple[str, str]  # (namespace or "", name)
ROUTING = "RoutingConfigMap"


@dataclass
class Entry:
    """One object: ``raw`` as the API server sent it, apart from what the store leaves out (see
    ``lean``; the status too once ``obj`` holds it as read), ``obj`` its typed view (None when
    its spec cannot be read, then ``error`` says why)."""

    raw: Body
    obj: Obj[Any, Any] | None
    error: str | None

    def status(self, info: KindInfo) -> tuple[Body, Body]:
        """The status as the server holds it, and in the writer's normal form: what a status
        write is patched from, and compared with."""
        if "status" not in self.raw and self.obj is not None:
            wire = status_body(self.obj.status)
            return wire, wire
        return self.raw.get("status") or {}, normalized_status(info, self.raw)


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
INDEXES: dict[str, tuple[str, Callable[[Body], Any]]] = {
    "services_by_domain": ("Service", lambda b: (key_of(b)[0], _spec(b, "domainRef", "name"))),
    "services_by_product": ("Service", lambda b: _spec(b, "product")),
    "domains_by_tenant": ("Domain", lambda b: (key_of(b)[0], _spec(b, "tenantRef", "name"))),
    "domains_by_name": ("Domain", lambda b: _spec(b, "domainName")),
    "domains_by_namespace": ("Domain", lambda b: key_of(b)[0]),
    "deployrequests_by_namespace": ("DeployRequest", lambda b: key_of(b)[0]),
    "licenses_by_tenant": ("License", lambda b: (key_of(b)[0], _spec(b, "tenantRef", "name"))),
    "routing_by_domain": (
        ROUTING,
        lambda b: (key_of(b)[0], (b["metadata"].get("labels") or {}).get("lifecycle.seppmail.cloud/domain-object")),
    ),
}


class Store:
    def __init__(self, namespaces: Sequence[str] = ()) -> None:
        """``namespaces``: glob patterns of the watched namespaces; empty means all."""
        self.namespaces = tuple(namespaces)
        self._entries: dict[str, dict[Key, Entry]] = defaultdict(dict)
        self._index: dict[str, dict[Any, set[Key]]] = {name: defaultdict(set) for name in INDEXES}
        self._affinity = ThreadAffinity("Store")  # written only from the event loop's thread

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
        body = lean(body)
        if kind == ROUTING:
            entry = Entry(body, None, None)
        else:
            try:
                obj, status_read = parse(KINDS_BY_NAME[kind], body)
            except InvalidObject as error:
                entry = Entry(body, None, str(error))
            else:
                # A status read as it is lives on in ``obj`` alone: kept twice it would be two
                # thirds of the store's memory (a provisioned Domain: 14 KB with it, 5 KB without).
                kept = {key: value for key, value in body.items() if key != "status"} if status_read else body
                entry = Entry(kept, obj, None)
        self._entries[kind][key] = entry
        for name, (indexed_kind, value_of) in INDEXES.items():
            if indexed_kind == kind:
                self._index[name][value_of(body)].add(key)
        return entry

    def delete(self, kind: str, body: Body) -> None:
        self._affinity.check()
        key = key_of(body)
        self._unindex(kind, key)
        self._entries[kind].pop(key, None)

    def _unindex(self, kind: str, key: Key) -> None:
        previous = self._entries[kind].get(key)
        if previous is None:
            return
        for name, (indexed_kind, value_of) in INDEXES.items():
            if indexed_kind == kind:
                bucket = self._index[name].get(value_of(previous.raw))
                if bucket is not None:
                    bucket.discard(key)

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
