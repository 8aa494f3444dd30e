"""Stable, unique, human-friendly IDs derived from an object's UID.

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
