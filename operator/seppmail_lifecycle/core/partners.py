"""Partners (seed 000: actions are communicated to the partners via e-mail): which Partner a
namespace has, who receives which mails, and a Partner's own status.

A namespace has at most one partner: the oldest Partner object in it (by creation, then name);
any other says it is ignored. Mails go to audiences the policy names (``mail.partnerActionsTo``,
``mail.customerNoticesTo``): ``partner`` is the partner's admins and Workflow_Mails addresses,
``tenant`` the tenant's contact and recipients; without a Partner, ``partner`` falls back to the
tenant, so nothing goes unsent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from seppmail_lifecycle.api.partner import PartnerStatus
from seppmail_lifecycle.api.policy import Audience
from seppmail_lifecycle.core.conditions import Cond, merge_conditions, summary
from seppmail_lifecycle.core.model import Partner, Tenant
from seppmail_lifecycle.core.orders import Decision

PARTNER_FOUND = "PartnerFound"


def namespace_partner(partners: Sequence[Partner]) -> Partner | None:
    """The partner of a namespace: its oldest Partner that is not being deleted."""
    live = [p for p in partners if p.meta.deleted is None]
    return min(live, key=lambda p: (p.meta.created, p.name), default=None)


def partner_recipients(partner: Partner) -> tuple[str, ...]:
    """The partner's admins and Workflow_Mails addresses, each once, lowercase."""
    addresses = [admin.email for admin in partner.spec.admins] + list(partner.spec.workflow_mails)
    return tuple(dict.fromkeys(address.lower() for address in addresses))


def tenant_recipients(tenant: Tenant) -> tuple[str, ...]:
    """The tenant contact and the tenant's own recipients, each once, lowercase."""
    addresses = [tenant.spec.contact.email]
    if tenant.spec.notifications:
        addresses += tenant.spec.notifications.recipients
    return tuple(dict.fromkeys(address.lower() for address in addresses))


def addressed_to(audiences: Sequence[Audience], tenant: Tenant, partner: Partner | None) -> tuple[str, ...]:
    """The addresses of ``audiences`` (``partner`` without a Partner: the tenant's), each once."""
    addresses: list[str] = []
    for audience in audiences:
        if audience == "partner" and partner is not None:
            addresses += partner_recipients(partner)
        else:
            addresses += tenant_recipients(tenant)
    return tuple(dict.fromkeys(addresses))


def partner_condition(partner: Partner | None) -> Cond:
    """The Tenant's PartnerFound condition: whose addresses its partner-action mails go to."""
    if partner is not None:
        admins = len(partner.spec.admins)
        return Cond(
            PARTNER_FOUND,
            "True",
            "PartnerFound",
            f"Partner {partner.name!r} ({partner.spec.display_name}): partner-action mails go to its {admins} "
            f"admin(s) and {len(partner.spec.workflow_mails)} Workflow_Mails address(es).",
        )
    return Cond(
        PARTNER_FOUND,
        "False",
        "NoPartner",
        "No Partner in this namespace: partner-action mails (DNS records to set, deployment done) go to the "
        "tenant's contact and recipients. Create a Partner to send them to the partner's admins.",
    )


def decide_partner(
    partner: Partner, in_namespace: Sequence[Partner], tenants: int, now: datetime
) -> Decision[PartnerStatus]:
    """A Partner's status: the namespace's partner (Ready), or ignored because an older one is."""
    status = partner.status.model_copy(deep=True)
    status.observed_generation = partner.meta.generation
    chosen = namespace_partner(in_namespace)
    if chosen is not None and chosen.name != partner.name:
        message = (
            f"Partner {chosen.name!r} is this namespace's partner (the oldest); this one is ignored. "
            "A namespace has one partner: delete this one or merge it into that one."
        )
        status.tenants = None
        conditions = summary("AnotherPartner", message, ready=False, stalled=True)
    else:
        status.tenants = tenants
        to = ", ".join(partner_recipients(partner))
        conditions = summary(
            "Accepted", f"Partner of {tenants} tenant(s); partner-action mails go to {to}.", ready=True
        )
    status.conditions = merge_conditions(partner.status.conditions, conditions, partner.meta.generation, now)
    return Decision(partner.name, status)
