"""Partners: a namespace's partner, who receives which mails, and a Partner's own status."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from seppmail_lifecycle.api.domain import DomainStatus, PendingAction
from seppmail_lifecycle.api.partner import PartnerAdmin, PartnerSpec, PartnerStatus
from seppmail_lifecycle.api.policy import Audience, MailPolicy, Policy
from seppmail_lifecycle.api.states import OrderPhase as P
from seppmail_lifecycle.core.conditions import condition
from seppmail_lifecycle.core.driver import tenant_notifications
from seppmail_lifecycle.core.license_effects import NONE
from seppmail_lifecycle.core.model import Obj, Partner
from seppmail_lifecycle.core.partners import addressed_to, decide_partner, namespace_partner, partner_condition
from seppmail_lifecycle.core.tenants import decide_tenant

from .builders import CREATED, POLICY, T0, domain, meta, tenant
from .test_licenses import EXP, lic

TENANT = tenant()
TENANT_ONLY = ("admin@acme.example",)
PARTNER_ADDRESSES = ("pat@reseller.example", "ops@reseller.example", "workflow@reseller.example")


def partner(name: str = "reseller", created_after: timedelta = timedelta(0)) -> Partner:
    spec = PartnerSpec(
        display_name="Reseller AG",
        admins=[PartnerAdmin(name="Pat", email="Pat@Reseller.example"), PartnerAdmin(email="ops@reseller.example")],
        workflow_mails=["workflow@reseller.example", "ops@reseller.example"],
    )
    return Obj(meta("Partner", name, created=CREATED + created_after), spec, PartnerStatus())


def test_the_oldest_live_partner_is_the_namespaces() -> None:
    first, second = partner("a-first"), partner("b-second", timedelta(hours=1))
    assert namespace_partner([second, first]) == first
    assert namespace_partner([replace(first, meta=replace(first.meta, deleted=T0)), second]) == second
    assert namespace_partner([]) is None


@pytest.mark.parametrize(
    ("audiences", "with_partner", "to"),
    [
        (["partner"], True, PARTNER_ADDRESSES),
        (["partner"], False, TENANT_ONLY),  # no Partner: nothing goes unsent
        (["tenant"], True, TENANT_ONLY),
        (["partner", "tenant"], True, (*PARTNER_ADDRESSES, *TENANT_ONLY)),
        (["tenant", "partner"], False, TENANT_ONLY),  # each address once
    ],
)
def test_mails_are_addressed_to_the_audiences_the_policy_names(
    audiences: list[Audience], with_partner: bool, to: tuple[str, ...]
) -> None:
    assert addressed_to(audiences, TENANT, partner() if with_partner else None) == to


ACTION = PendingAction(type="DNSRecord", record_type="TXT", name="_v.acme.com", expected="v=1", result="")


@pytest.mark.parametrize(
    ("mail", "partner_actions", "customer", "with_partner"),
    [
        (MailPolicy(), PARTNER_ADDRESSES, TENANT_ONLY, True),
        (MailPolicy(), TENANT_ONLY, TENANT_ONLY, False),
        (
            MailPolicy(partner_actions_to=["tenant"], customer_notices_to=["tenant", "partner"]),
            TENANT_ONLY,
            (*TENANT_ONLY, *PARTNER_ADDRESSES),
            True,
        ),
    ],
    ids=["default", "no-partner", "configured"],
)
def test_partner_actions_go_to_the_partner_and_customer_notices_to_the_tenant(
    mail: MailPolicy, partner_actions: tuple[str, ...], customer: tuple[str, ...], with_partner: bool
) -> None:
    policy = Policy(mail=mail, license=POLICY.license)
    provisioning = domain(status=DomainStatus(phase=P.PROVISIONING, pending_actions=[ACTION]))
    expired = lic()  # in grace at EXP + 1 day: a grace mail
    found = tenant_notifications(
        TENANT, [(provisioning, [])], [expired], policy, EXP + timedelta(days=1), partner() if with_partner else None
    )
    by_template = {n.template: n.to for n in found}
    assert by_template == {"dns-action": partner_actions, "license-grace": customer}


def test_a_tenant_says_whom_its_partner_action_mails_go_to() -> None:
    found = decide_tenant(TENANT, [], [], NONE, T0, partner()).status
    cond = condition(found.conditions, "PartnerFound")
    assert cond is not None
    assert (cond.status, cond.reason) == ("True", "PartnerFound")
    assert "'reseller' (Reseller AG)" in cond.message
    assert "2 admin(s) and 2 Workflow_Mails address(es)" in cond.message
    assert partner_condition(None).reason == "NoPartner"


def test_the_namespaces_partner_is_ready_and_counts_its_tenants() -> None:
    p = partner()
    status = decide_partner(p, [p], 3, T0).status
    assert status.tenants == 3
    ready = condition(status.conditions, "Ready")
    assert ready is not None
    assert (ready.status, ready.reason) == ("True", "Accepted")
    assert ready.message == (
        "Partner of 3 tenant(s); partner-action mails go to pat@reseller.example, ops@reseller.example, "
        "workflow@reseller.example."
    )
    again = decide_partner(replace(p, status=status), [p], 3, T0 + timedelta(hours=1)).status
    assert again == status


def test_a_second_partner_in_a_namespace_is_ignored_and_says_which_counts() -> None:
    first, second = partner("a-first"), partner("b-second", timedelta(hours=1))
    status = decide_partner(second, [first, second], 3, T0).status
    assert status.tenants is None
    stalled = condition(status.conditions, "Stalled")
    assert stalled is not None
    assert (stalled.status, stalled.reason) == ("True", "AnotherPartner")
    assert "Partner 'a-first' is this namespace's partner" in stalled.message
