"""One small reconciler per aggregate kind, and the table that dispatches a key to its own.

Each reconciler gathers from the store, lets the core decide (driving the core's plan through
the effects when there are any), and hands the outcome to the writer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from seppmail_lifecycle.runtime.context import Context
from seppmail_lifecycle.runtime.keys import MAIL
from seppmail_lifecycle.runtime.reconcilers.contract import reconcile_contract
from seppmail_lifecycle.runtime.reconcilers.deployrequest import reconcile_deploy_request
from seppmail_lifecycle.runtime.reconcilers.domain import BackendFailure, reconcile_domain
from seppmail_lifecycle.runtime.reconcilers.license import reconcile_license
from seppmail_lifecycle.runtime.reconcilers.mail import reconcile_mail
from seppmail_lifecycle.runtime.reconcilers.partner import reconcile_partner
from seppmail_lifecycle.runtime.reconcilers.payment import reconcile_payment
from seppmail_lifecycle.runtime.reconcilers.product import reconcile_product
from seppmail_lifecycle.runtime.reconcilers.tenant import reconcile_tenant

Reconcile = Callable[[Context, str, str], Awaitable[None]]

RECONCILERS: dict[str, Reconcile] = {
    "Domain": reconcile_domain,
    "Tenant": reconcile_tenant,
    "License": reconcile_license,
    "DeployRequest": reconcile_deploy_request,
    "Product": reconcile_product,
    "Partner": reconcile_partner,
    "Contract": reconcile_contract,
    "Payment": reconcile_payment,
    MAIL: reconcile_mail,
}

__all__ = ["RECONCILERS", "BackendFailure", "Reconcile"]
