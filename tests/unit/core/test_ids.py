"""Stable, unique IDs derived from an object's UID."""

from __future__ import annotations

import re
import uuid

import pytest

from seppmail_lifecycle.core.ids import MAX_NAME, PREFIXES, derived_name, object_id

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


@pytest.mark.parametrize(
    ("prefix", "name", "suffix"),
    [
        pytest.param("routing-", "a" * 253, "", id="routing-of-a-longest-domain-name"),
        pytest.param("mail-ledger-", "t" * 240 + "-" * 5 + "x" * 8, "", id="ledger-cut-at-dashes"),
        pytest.param("", "d" * 250, "-sign-encrypt", id="booked-service"),
    ],
)
def test_derived_names_of_long_names_stay_valid_and_distinct(prefix: str, name: str, suffix: str) -> None:
    derived = derived_name(prefix, name, suffix)
    other = derived_name(prefix, name[:-1] + "z", suffix)  # the same up to its last character
    assert len(derived) <= MAX_NAME
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", derived), derived
    assert derived.startswith(prefix)
    assert derived.endswith(suffix)
    assert derived != other  # a plain cut gave both the same name: two tenants' ledgers in one
    assert derived == derived_name(prefix, name, suffix)  # stable


def test_a_derived_name_that_fits_is_the_plain_one() -> None:
    assert derived_name("routing-", "acme-ch") == "routing-acme-ch"
    assert derived_name("", "acme-ch", "-base") == "acme-ch-base"
