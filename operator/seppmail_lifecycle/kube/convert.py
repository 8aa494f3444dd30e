"""Raw API objects to the core's typed views, and typed statuses back to the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from seppmail_lifecycle import API_VERSION
from seppmail_lifecycle.api.kinds import KindInfo
from seppmail_lifecycle.core.model import Meta, Obj

Body = dict[str, Any]


class InvalidObject(ValueError):
    """The object's spec does not parse: reported on the object, never raised past the handler."""


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def meta_of(body: Body) -> Meta:
    metadata = body["metadata"]
    created = parse_time(metadata.get("creationTimestamp"))
    assert created is not None, "the API server always sets creationTimestamp"
    return Meta(
        name=metadata["name"],
        namespace=metadata.get("namespace"),
        uid=metadata["uid"],
        generation=int(metadata.get("generation", 1)),
        created=created,
        deleted=parse_time(metadata.get("deletionTimestamp")),
        annotations=dict(metadata.get("annotations") or {}),
        labels=dict(metadata.get("labels") or {}),
        owner_uids=tuple(ref["uid"] for ref in metadata.get("ownerReferences") or ()),
    )


def parse(info: KindInfo, body: Body) -> tuple[Obj[Any, Any], bool]:
    """The typed view of ``body``, and whether its status was read as it is (False: rebuilt)."""
    try:
        spec = info.spec.model_validate(body.get("spec") or {})
    except ValidationError as error:
        raise InvalidObject(_explain(error)) from error
    try:
        status, read = info.status.model_validate(body.get("status") or {}), True
    except ValidationError:
        # A status this version cannot read (written by another version) is rebuilt, not fatal.
        status, read = info.status(), False
    return Obj(meta=meta_of(body), spec=spec, status=status), read


def stored_obj(info: KindInfo, body: Body, status: bytes) -> Obj[Any, Any]:
    """The typed view of an object the store keeps as ``body`` (its spec known to parse) and its
    status as compact JSON (known to parse)."""
    spec = info.spec.model_validate(body.get("spec") or {})
    return Obj(meta=meta_of(body), spec=spec, status=info.status.model_validate_json(status))


def _explain(error: ValidationError) -> str:
    parts = []
    for problem in error.errors()[:5]:
        where = ".".join(str(p) for p in problem["loc"])
        parts.append(f"spec.{where}: {problem['msg']}")
    return "; ".join(parts)


def status_body(status: BaseModel) -> Body:
    """The wire form of a status, as the comparison and the patch use it."""
    dumped: Body = status.model_dump(by_alias=True, exclude_none=True, mode="json")
    return {key: value for key, value in dumped.items() if value not in ([], {})}


def normalized_status(info: KindInfo, body: Body) -> Body:
    try:
        return status_body(info.status.model_validate(body.get("status") or {}))
    except ValidationError:
        return {}


def merge_patch(old: Body, new: Body) -> Body:
    """The RFC 7386 merge patch turning ``old`` into ``new`` (null deletes a key)."""
    patch: Body = {}
    for key in old.keys() - new.keys():
        patch[key] = None
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            nested = merge_patch(before, value)
            if nested:
                patch[key] = nested
        elif value != before:
            patch[key] = value
    return patch


def controller_reference(kind: str, name: str, uid: str) -> Body:
    """An ownerReference making an object of our API the controller of another (garbage
    collected with it)."""
    return {"apiVersion": API_VERSION, "kind": kind, "name": name, "uid": uid, "controller": True}
