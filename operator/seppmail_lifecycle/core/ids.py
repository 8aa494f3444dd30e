"""Stable, unique, human-friendly IDs derived from an object's UID, and the names of objects
derived from another object's name.

A UID never changes for the life of an object, so the ID survives operator restarts and needs no
stored counter; the hash spreads it over 50 bits of Crockford base32.
"""

from __future__ import annotations

import hashlib

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIXES = {"Tenant": "TEN", "Domain": "DOM", "Service": "SVC"}


def object_id(kind: str, uid: str) -> str:
    digest = int.from_bytes(hashlib.sha256(f"{kind}/{uid}".encode()).digest()[:7], "big") >> 6
    chars = []
    for _ in range(10):
        digest, index = divmod(digest, 32)
        chars.append(_ALPHABET[index])
    return f"{PREFIXES[kind]}-{''.join(reversed(chars))}"


MAX_NAME = 253
"""The longest object name (a DNS subdomain)."""


def derived_name(prefix: str, name: str, suffix: str = "") -> str:
    """``prefix + name + suffix`` as an object name: as it is when it fits, else ``name`` cut and
    a hash of the whole of it added, so two long names never derive the same one and the result
    still ends in a letter or digit (a plain cut could end in ``-`` or ``.``, which the API server
    refuses)."""
    whole = f"{prefix}{name}{suffix}"
    if len(whole) <= MAX_NAME:
        return whole
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    kept = name[: MAX_NAME - len(prefix) - len(suffix) - len(digest) - 1].rstrip("-.")
    return f"{prefix}{kept}-{digest}{suffix}"
