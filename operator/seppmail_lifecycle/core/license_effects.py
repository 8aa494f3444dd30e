"""What a tenant's licenses mean for its orders: blocked (frozen) or purged.

A tenant may hold several licenses (a trial, then a full one); the best period among them
counts. Frozen: mail traffic blocked, services suspended, console access blocked. Purged: only
once the purge was carried out (``status.purgedAt``), so nothing is marked purged that is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from seppmail_lifecycle.api.states import LicensePeriod
from seppmail_lifecycle.core.model import License

_RANK = [LicensePeriod.LICENSE, LicensePeriod.GRACE, LicensePeriod.FREEZE, LicensePeriod.PURGED]


@dataclass(frozen=True)
class LicenseEffects:
    frozen: bool = False
    purged_at: datetime | None = None
    license: str | None = None
    """The license deciding it, for messages."""

    @property
    def purged(self) -> bool:
        return self.purged_at is not None


NONE = LicenseEffects()


def license_effects(licenses: Sequence[License]) -> LicenseEffects:
    if not licenses:
        return NONE
    best = min(licenses, key=lambda lic: _RANK.index(lic.status.period or LicensePeriod.LICENSE))
    period = best.status.period or LicensePeriod.LICENSE
    if period is LicensePeriod.PURGED and best.status.purged_at is not None:
        return LicenseEffects(frozen=True, purged_at=best.status.purged_at, license=best.name)
    # Purged but not carried out yet: still frozen until the purge has happened.
    return LicenseEffects(frozen=period in (LicensePeriod.FREEZE, LicensePeriod.PURGED), license=best.name)


def tenant_keeper(licenses: Sequence[License]) -> License | None:
    """The license that keeps the tenant's data (the best of those not at their purge: License,
    Grace or Freeze, all still renewable), so that another of its licenses reaching its purge
    deletes nothing; None if none does."""
    alive = [lic for lic in licenses if (lic.status.period or LicensePeriod.LICENSE) is not LicensePeriod.PURGED]
    return min(alive, key=lambda lic: (_RANK.index(lic.status.period or LicensePeriod.LICENSE), lic.name), default=None)
