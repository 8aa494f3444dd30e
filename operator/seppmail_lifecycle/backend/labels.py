"""Labels and annotations on backend objects, so gateways and purge can select them."""

from __future__ import annotations

import hashlib
import re

from seppmail_lifecycle import GROUP

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "seppmail-lifecycle"
TENANT_LABEL = f"{GROUP}/tenant"
DOMAIN_LABEL = f"{GROUP}/domain"
DOMAIN_OBJECT_LABEL = f"{GROUP}/domain-object"
ROLE_LABEL = f"{GROUP}/role"
"""What a ConfigMap of ours is: ``routing`` (a domain's, for the gateways) or ``mail-ledger``."""
ROUTING_SELECTOR = f"{MANAGED_BY}={MANAGER},{ROLE_LABEL}=routing"

_VALID = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def label_value(text: str) -> str:
    """``text`` if it is a valid label value, else a stable shortened form with a hash suffix."""
    if _VALID.match(text):
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    prefix = re.sub(r"[^-A-Za-z0-9_.]", "-", text)[:52].strip("-_.") or "x"
    return f"{prefix}-{digest}"
