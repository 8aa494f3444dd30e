"""Stable, unique IDs derived from an object's UID."""

from __future__ import annotations

import re
import uuid

import pytest

from seppmail_lifecycle.core.ids import PREFIXES, object_id

UID = "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f"
FORMAT = re.compile(r"^(TEN|DOM|SVC)-[0-9A-HJKMNP-TV-Z]{10}$")  # Crockford base32: no I, L, O, U


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("Tenant", "TEN-S8GKWHPEQB"), ("Domain", "DOM-T0JXMRGYG3"), ("Service", "SVC-33H81ZJ0KN")],
)
def test_the_id_of_a_uid_never_changes(kind: str, expected: str) -> None:
    """Pinned: an ID shown to partners must survive restarts and upgrades."""
    assert object_id(kind, UID) == expected
    assert object_id(kind, UID) == object_id(kind, str(uuid.UUID(UID)))


@pytest.mark.parametrize("kind", sorted(PREFIXES))
def test_format(kind: str) -> None:
    for i in range(500):
        value = object_id(kind, str(uuid.UUID(int=i * 7919 + 1)))
        assert FORMAT.match(value), value
        assert value.startswith(PREFIXES[kind] + "-")


def test_prefixes() -> None:
    assert PREFIXES == {"Tenant": "TEN", "Domain": "DOM", "Service": "SVC"}


def test_distinct_per_kind_for_the_same_uid() -> None:
    suffixes = {object_id(kind, UID).split("-", 1)[1] for kind in PREFIXES}
    assert len(suffixes) == 3


def test_distinct_per_uid() -> None:
    uids = [str(uuid.UUID(int=i)) for i in range(20_000)]
    assert len({object_id("Service", u) for u in uids}) == len(uids)


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(KeyError):
        object_id("Contract", UID)
