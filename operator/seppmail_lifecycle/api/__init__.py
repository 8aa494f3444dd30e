"""The API of ``lifecycle.seppmail.cloud/v1alpha1``: pydantic models of every kind's spec and
status, the CRD metadata beside them, and (later) the policy. The CRDs are generated from here.
"""

from __future__ import annotations

from seppmail_lifecycle.api import (
    contract,
    deployrequest,
    domain,
    invoice,
    license,
    partner,
    payment,
    product,
    service,
    tenant,
)
from seppmail_lifecycle.api.kinds import KindInfo

ALL_KINDS: tuple[KindInfo, ...] = (
    product.INFO,
    partner.INFO,
    tenant.INFO,
    domain.INFO,
    service.INFO,
    contract.INFO,
    invoice.INFO,
    payment.INFO,
    license.INFO,
    deployrequest.INFO,
)

KINDS_BY_NAME: dict[str, KindInfo] = {info.kind: info for info in ALL_KINDS}
