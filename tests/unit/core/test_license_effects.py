"""What a tenant's licenses mean for its orders: the best period counts; purged only once done."""

from __future__ import annotations

import pytest

from seppmail_lifecycle.api.license import LicenseStatus
from seppmail_lifecycle.api.states import LicensePeriod as L
from seppmail_lifecycle.core.license_effects import license_effects, tenant_keeper
from seppmail_lifecycle.core.model import License

from .builders import T0
from .test_licenses import lic


def _with(*periods: L | None, purged: bool = False) -> list[License]:
    return [lic(status=LicenseStatus(period=p, purged_at=T0 if purged and p is L.PURGED else None)) for p in periods]


@pytest.mark.parametrize(
    ("periods", "purged", "frozen", "is_purged", "alive"),
    [
        ((), False, False, False, False),
        ((None,), False, False, False, True),
        ((L.GRACE, L.FREEZE), False, False, False, True),
        ((L.FREEZE,), False, True, False, True),  # frozen, still renewable: its data is kept
        ((L.PURGED,), False, True, False, False),  # due but not carried out: still only frozen
        ((L.PURGED,), True, True, True, False),
        ((L.PURGED, L.LICENSE), True, False, False, True),  # a new license keeps the tenant
    ],
    ids=["none", "undecided", "grace-wins", "frozen", "purge-pending", "purged", "renewed-by-another"],
)
def test_the_best_license_counts(
    periods: tuple[L | None, ...], purged: bool, frozen: bool, is_purged: bool, alive: bool
) -> None:
    licenses = _with(*periods, purged=purged)
    effects = license_effects(licenses)
    assert (effects.frozen, effects.purged) == (frozen, is_purged)
    assert (tenant_keeper(licenses) is not None) is alive
