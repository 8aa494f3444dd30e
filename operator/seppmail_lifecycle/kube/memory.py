"""An in-memory object API for the simulator: the calls the operator's writer and backend make
(``get``, ``patch``, ``patch_status``, ``create``, ``delete`` of our kinds; the ConfigMap calls),
answered as the API server answers them, with a watch callback.

It keeps what the simulation needs of the API server's semantics: uids, ``resourceVersion``
(a status patch naming an older one is a Conflict), ``generation`` (bumped by spec changes only),
``creationTimestamp`` from the virtual clock, the status subresource (a status patch changes only
status, a patch never does), deletion held by finalizers, and garbage collection of what a
deleted object owns. Every change is told to ``on_change`` as a watch event would be. It is not a
test double for the operator's tests (those run against a real API server); it is the world
``kubectl lifecycle simulate`` runs the operator's own loop in.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from seppmail_lifecycle.api.kinds import KindInfo
from seppmail_lifecycle.kube.errors import AlreadyExists, Conflict, NotFound

Body = dict[str, Any]
ObjectKey = tuple[str, str, str]  # (kind, namespace, name)
ChangeSink = Callable[[str, Body, bool], None]
CONFIGMAP = "ConfigMap"


def _copy(value: Any) -> Any:
    """A copy of a JSON value (dicts, lists, scalars): what ``copy.deepcopy`` does, many times faster."""
    if type(value) is dict:
        return {k: _copy(v) for k, v in value.items()}
    if type(value) is list:
        return [_copy(v) for v in value]
    return value


def _merge(target: Body, patch: Body) -> Body:
    """RFC 7386: ``patch`` merged into ``target``, as a new body sharing what the patch leaves
    alone (None deletes a key). Held bodies are never changed in place, so sharing is safe."""
    out: Body = dict(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = _copy(value)
    return out


def _stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


class MemoryApi:
    def __init__(self, clock: Callable[[], datetime], on_change: ChangeSink) -> None:
        self.clock = clock
        self.on_change = on_change
        self.objects: dict[ObjectKey, Body] = {}
        # What a deletion collects and a label selector lists, without scanning every object.
        self._owned: dict[str, set[ObjectKey]] = defaultdict(set)
        self._labelled: dict[tuple[str, str, str], set[ObjectKey]] = defaultdict(set)
        self._versions = itertools.count(1)
        self._uids = itertools.count(1)

    # ------------------------------------------------------------------------------- bookkeeping

    def _key(self, kind: str, namespace: str | None, name: str) -> ObjectKey:
        return (kind, namespace or "", name)

    def _held(self, kind: str, namespace: str | None, name: str) -> Body:
        found = self.objects.get(self._key(kind, namespace, name))
        if found is None:
            raise NotFound(404, "NotFound", f'{kind.lower()} "{name}" not found')
        return found

    def _index(self, key: ObjectKey, body: Body, add: bool) -> None:
        metadata = body["metadata"]
        entries = [self._owned[ref["uid"]] for ref in metadata.get("ownerReferences") or () if ref.get("uid")]
        if key[0] == CONFIGMAP:
            entries += [self._labelled[(key[1], k, v)] for k, v in (metadata.get("labels") or {}).items()]
        for keys in entries:
            if add:
                keys.add(key)
            else:
                keys.discard(key)

    def _store(self, kind: str, body: Body) -> Body:
        body["metadata"] = metadata = dict(body["metadata"], resourceVersion=str(next(self._versions)))
        key = self._key(kind, metadata.get("namespace"), metadata["name"])
        if (previous := self.objects.get(key)) is not None:
            self._index(key, previous, add=False)
        self.objects[key] = body
        self._index(key, body, add=True)
        # One copy for the watch and the caller: both only read it (the store keeps it).
        seen: Body = _copy(body)
        self.on_change(kind, seen, False)
        return seen

    def _remove(self, kind: str, body: Body) -> None:
        metadata = body["metadata"]
        key = self._key(kind, metadata.get("namespace"), metadata["name"])
        self._index(key, self.objects.pop(key), add=False)
        self.on_change(kind, _copy(body), True)
        # Garbage collection: whatever it owned goes with it.
        for owned in sorted(self._owned.pop(metadata["uid"], ())):
            if (other := self.objects.get(owned)) is not None:
                self._delete_body(owned[0], other)

    def _delete_body(self, kind: str, body: Body) -> None:
        if body["metadata"].get("finalizers"):
            if not body["metadata"].get("deletionTimestamp"):
                changed = _copy(body)
                changed["metadata"]["deletionTimestamp"] = _stamp(self.clock())
                self._store(kind, changed)
            return
        self._remove(kind, body)

    def add(self, kind: str, namespace: str | None, body: Body) -> Body:
        """Create an object as ``kubectl apply`` would (what a partner commits)."""
        if self._key(kind, namespace, body["metadata"]["name"]) in self.objects:
            raise AlreadyExists(409, "AlreadyExists", f'{kind.lower()} "{body["metadata"]["name"]}" already exists')
        created = _copy(body)
        metadata = created["metadata"]
        if namespace:
            metadata["namespace"] = namespace
        metadata["uid"] = f"sim-{next(self._uids):08d}"
        metadata["creationTimestamp"] = _stamp(self.clock())
        metadata["generation"] = 1
        return self._store(kind, created)

    # ------------------------------------------------------------------------- our kinds (KubeClient)

    async def get(self, info: KindInfo, namespace: str | None, name: str) -> Body:
        held: Body = _copy(self._held(info.kind, namespace, name))
        return held

    async def patch_status(self, info: KindInfo, namespace: str | None, name: str, patch: Body) -> Body:
        held = self._held(info.kind, namespace, name)
        wanted = (patch.get("metadata") or {}).get("resourceVersion")
        if wanted is not None and wanted != held["metadata"]["resourceVersion"]:
            raise Conflict(409, "Conflict", f"the object {name!r} has been modified")
        changed = {**held, "status": _merge(held.get("status") or {}, patch.get("status") or {})}
        return self._store(info.kind, changed)

    async def patch(self, info: KindInfo, namespace: str | None, name: str, patch: Body) -> Body:
        held = self._held(info.kind, namespace, name)
        wanted = (patch.get("metadata") or {}).get("resourceVersion")
        if wanted is not None and wanted != held["metadata"]["resourceVersion"]:
            raise Conflict(409, "Conflict", f"the object {name!r} has been modified")
        changes = {k: v for k, v in patch.items() if k != "status"}
        metadata_patch = {k: v for k, v in (changes.get("metadata") or {}).items() if k != "resourceVersion"}
        changed = _merge(held, {**changes, "metadata": metadata_patch})
        if changed.get("spec") != held.get("spec"):
            changed["metadata"]["generation"] = int(held["metadata"].get("generation", 1)) + 1
        if changed["metadata"].get("deletionTimestamp") and not changed["metadata"].get("finalizers"):
            self._remove(info.kind, changed)
            return changed
        return self._store(info.kind, changed)

    async def create(self, info: KindInfo, namespace: str, body: Body) -> Body:
        return self.add(info.kind, namespace, body)

    async def delete(self, info: KindInfo, namespace: str, name: str, uid: str) -> bool:
        held = self.objects.get(self._key(info.kind, namespace, name))
        if held is None or held["metadata"]["uid"] != uid:
            return False
        self._delete_body(info.kind, held)
        return True

    # ------------------------------------------------------------------------------- ConfigMaps

    async def get_configmap(self, namespace: str, name: str) -> Body | None:
        found = self.objects.get((CONFIGMAP, namespace, name))
        return _copy(found) if found is not None else None

    async def apply_configmap(self, namespace: str, body: Body) -> Body:
        held = self.objects.get((CONFIGMAP, namespace, body["metadata"]["name"]))
        if held is None:
            return self.add(CONFIGMAP, namespace, body)
        changed = _copy(held)
        for field in ("labels", "annotations", "ownerReferences"):
            if field in body["metadata"]:
                changed["metadata"][field] = _copy(body["metadata"][field])
        changed["data"] = _copy(body.get("data") or {})
        return self._store(CONFIGMAP, changed)

    async def delete_configmap(self, namespace: str, name: str) -> None:
        held = self.objects.get((CONFIGMAP, namespace, name))
        if held is not None:
            self._remove(CONFIGMAP, held)

    async def list_configmaps(self, label_selector: str, namespaces: Sequence[str] = ()) -> list[Body]:
        # Equality terms (``k=v``) and inequality terms (``k!=v``: the label absent or another value).
        terms = [term.partition("=") for term in filter(None, label_selector.split(","))]
        equal = [(k, v) for k, _, v in terms if not k.endswith("!")]
        unequal = [(k[:-1], v) for k, _, v in terms if k.endswith("!")]
        if not equal:
            raise ValueError("the simulator lists ConfigMaps by label equality only")
        found: set[ObjectKey] = set()
        for namespace in namespaces or sorted({ns for (ns, _, _) in self._labelled}):
            matching = set.intersection(*(self._labelled.get((namespace, k, v), set()) for k, v in equal))
            for k, v in unequal:
                matching -= self._labelled.get((namespace, k, v), set())
            found |= matching
        return [_copy(self.objects[key]) for key in sorted(found)]
