"""Which mails a domain's state calls for, their idempotency keys, and what the ledger lets out."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from seppmail_lifecycle.api.domain import DomainStatus, PendingAction
from seppmail_lifecycle.api.states import OrderPhase as P
from seppmail_lifecycle.api.tenant import TenantNotifications
from seppmail_lifecycle.core.notifications import (
    LEDGER_SHARDS,
    LedgerEntry,
    Notification,
    domain_notifications,
    failed,
    ledger_shard,
    ledger_slot,
    next_retry,
    prunable,
    slot_owner,
    to_send,
)
from seppmail_lifecycle.core.partners import tenant_recipients

from .builders import T0, domain, service, tenant, with_spec, with_status

ACTION = PendingAction(type="DNSRecord", record_type="TXT", name="_v.acme.com", expected="v=1", result="none")


MX = PendingAction(type="DNSRecord", record_type="MX", name="acme.com", expected="mx1.seppmail.cloud", result="")


def test_one_mail_per_domain_listing_every_missing_record() -> None:
    d = domain(status=DomainStatus(phase=P.PROVISIONING, pending_actions=[ACTION, MX]))
    [mail] = domain_notifications(d, tenant(), [])
    assert mail.key.startswith(f"Domain/{d.meta.uid}/dns-actions/")
    assert mail.template == "dns-action"
    assert mail.params["records"] == ("TXT\t_v.acme.com\tv=1\tnone", "MX\tacme.com\tmx1.seppmail.cloud\t")


@pytest.mark.parametrize(
    ("change", "new_mail"),
    [
        ({"pending_actions": [ACTION.model_copy(update={"expected": "v=2"}), MX]}, True),
        ({"pending_actions": [ACTION]}, True),  # one of them was created: the rest, anew
        ({"pending_actions": [MX, ACTION]}, False),  # the same list
        ({"pending_actions": [ACTION.model_copy(update={"result": "v=0"}), MX]}, False),  # only DNS's answer
    ],
    ids=["value-changed", "one-done", "reordered", "answer-changed"],
)
def test_a_new_mail_only_when_the_list_of_records_changes(change: dict[str, object], new_mail: bool) -> None:
    d = domain(status=DomainStatus(phase=P.PROVISIONING, pending_actions=[ACTION, MX]))
    [before] = domain_notifications(d, tenant(), [])
    [after] = domain_notifications(with_status(d, **change), tenant(), [])
    assert (before.key != after.key) is new_mail


def test_one_completion_mail_once_provisioned_listing_the_provisioned_services() -> None:
    d = domain(status=DomainStatus(phase=P.PROVISIONED))
    services = [
        with_status(service("acme-sig", "sig-only"), phase=P.PROVISIONED),
        with_status(service("acme-x", "archive"), phase=P.CANCELLED),
    ]
    [mail] = domain_notifications(d, tenant(), services)
    assert mail.key == f"Domain/{d.meta.uid}/provisioned"
    assert mail.params["services"] == ("sig-only",)


def test_the_completion_mail_waits_for_services_still_provisioning() -> None:
    # The domain's status write can be seen before its services' (written right after it, in the
    # same reconcile): the mail must not go out listing fewer services than were deployed.
    d = domain(status=DomainStatus(phase=P.PROVISIONED))
    services = [
        with_status(service("acme-base", "base"), phase=P.PROVISIONED),
        with_status(service("acme-sig", "sig-only"), phase=P.PROVISIONING),
    ]
    assert domain_notifications(d, tenant(), services) == []
    settled = [services[0], with_status(services[1], phase=P.PROVISIONED)]
    assert domain_notifications(d, tenant(), settled)[0].params["services"] == ("base", "sig-only")


@pytest.mark.parametrize("phase", [P.ORDERED, P.CONFIRMED, P.CANCELLED, P.DEPROVISIONED])
def test_no_mail_in_other_phases(phase: P) -> None:
    d = domain(status=DomainStatus(phase=phase, pending_actions=[ACTION]))
    assert domain_notifications(d, tenant(), []) == []


def test_recipients_are_the_contact_and_the_workflow_mails_addresses_once_each() -> None:
    t = with_spec(tenant(), notifications=TenantNotifications(recipients=["desk@acme.example", "Admin@Acme.example"]))
    assert tenant_recipients(t) == ("admin@acme.example", "desk@acme.example")


UID = "0c5a8e2e-59f1-4c1e-9d7a-3f0b3a1c2d4e"


@pytest.mark.parametrize(
    ("key", "owner"),
    [
        (f"Domain/{UID}/provisioned", UID),
        (f"License/{UID}/reminder/2027-01-01T00:00:00+00:00-30", UID),
        ("sim-00000042/x", None),  # no object part: never pruned
        ("Domain/not a uid!/provisioned", None),
        ("k", None),
    ],
)
def test_ledger_slots_are_valid_configmap_keys_naming_their_object(key: str, owner: str | None) -> None:
    slot = ledger_slot(key)
    assert re.fullmatch(r"[-._a-zA-Z0-9]{1,253}", slot)
    assert slot_owner(slot) == owner
    assert ledger_shard(slot) in LEDGER_SHARDS
    assert ledger_slot(key) == slot
    assert ledger_slot(key + "x") != slot


def test_the_shards_share_out_one_objects_mails() -> None:
    shards = {ledger_shard(ledger_slot(f"License/{UID}/reminder/{day}")) for day in range(200)}
    assert shards == set(LEDGER_SHARDS)


def test_only_mails_about_objects_gone_are_prunable() -> None:
    living, gone = UID, UID.replace("0c5a", "ffff")
    slots = [ledger_slot(f"Domain/{living}/provisioned"), ledger_slot(f"Domain/{gone}/provisioned"), ledger_slot("k")]
    ledger = {slot: LedgerEntry(slot, "sent", T0) for slot in slots}
    assert prunable(ledger, lambda uid: uid == living) == [slots[1]]
    assert prunable(ledger, lambda uid: True) == []


MAIL = Notification("k", "domain-provisioned", ("a@b.example",))


@pytest.mark.parametrize(
    ("entry", "due"),
    [
        (None, True),
        (LedgerEntry("k", "sending", T0), False),
        (LedgerEntry("k", "sent", T0), False),
        (LedgerEntry("k", "failed", T0, retry_at=T0 + timedelta(minutes=1)), False),
        (LedgerEntry("k", "failed", T0, retry_at=T0), True),
    ],
    ids=["never-sent", "outcome-unknown-never-resent", "sent", "failed-retry-later", "failed-retry-due"],
)
def test_what_the_ledger_lets_out(entry: LedgerEntry | None, due: bool) -> None:
    ledger = {} if entry is None else {ledger_slot("k"): entry}
    assert (to_send([MAIL], ledger, T0) == [MAIL]) is due


def test_a_failure_backs_off_and_the_earliest_retry_is_next() -> None:
    first = failed(None, "k", "refused", T0, timedelta(minutes=1), timedelta(hours=1))
    second = failed(first, "k", "refused", T0, timedelta(minutes=1), timedelta(hours=1))
    assert (first.attempts, first.retry_at) == (1, T0 + timedelta(minutes=1))
    assert (second.attempts, second.retry_at) == (2, T0 + timedelta(minutes=2))
    other = ledger_slot("other")
    ledger = {ledger_slot("k"): second, other: LedgerEntry(other, "failed", T0, retry_at=T0)}
    assert next_retry(ledger, ["k"]) == T0 + timedelta(minutes=2)
    assert next_retry(ledger, ["k", "other"]) == T0
