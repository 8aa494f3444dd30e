"""Bounded bookkeeping: one tenant's thousands of mails through the real ledger (ConfigMaps on the
real API server, mails to a real SMTP server). Each mail goes out once; the ledger is spread over
its shards, compact, and forgets the mails of objects that are gone (and only those); the ledger
of earlier versions is moved into the shards without sending anything again."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from seppmail_lifecycle.api.policy import MailPolicy
from seppmail_lifecycle.backend.mail import SmtpSettings
from seppmail_lifecycle.core.notifications import LEDGER_SHARDS, Notification, ledger_shard, ledger_slot, slot_owner
from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from seppmail_lifecycle.kube.client import KubeClient
from seppmail_lifecycle.runtime.mailer import Mailer, ledger_name, legacy_ledger_name, parse_ledger
from seppmail_lifecycle.runtime.metrics import Counters
from tests import manifests
from tests.kube import apply, get, items, wait_for
from tests.reliability.conftest import Report, Sizes
from tests.servers import MailSink

TENANT = "busy"


def _tenant(plane: ControlPlane, namespace: str) -> str:
    """The Tenant object (the ledger's owner: without it the garbage collector takes the ledger)."""
    apply(plane, namespace, manifests.tenant(TENANT))
    uid: str = get(plane, "tenants.lifecycle", namespace, TENANT)["metadata"]["uid"]
    return uid


LEDGERS = "lifecycle.seppmail.cloud/role=mail-ledger"
OBJECT_LIMIT = 1024 * 1024
"""etcd's default request limit, 1.5 MiB, less what an object carries besides its data."""


def _now() -> datetime:
    return datetime.now(UTC)


def _mail(uid: str, what: str) -> Notification:
    return Notification(
        key=f"License/{uid}/{what}",
        template="license-mx-change",
        to=("admin@busy.example",),
        params={"tenant_name": "Busy Ltd", "grace_ends_on": "2027-01-01"},
    )


def _mailer(client: KubeClient, sink: MailSink, exists: set[str], counters: Counters | None = None) -> Mailer:
    smtp = SmtpSettings(host=sink.host, port=sink.port)
    return Mailer(client, smtp, MailPolicy(), _now, counters or Counters(), exists=exists.__contains__)


def _ledger(plane: ControlPlane, namespace: str) -> list[dict[str, Any]]:
    return items(plane, "configmaps", namespace, LEDGERS)


def _one_for_each_shard(uids: list[str], what: str) -> list[Notification]:
    """A mail for each shard, about the given objects (round robin), so every shard is written."""
    wanted, out, n = set(LEDGER_SHARDS), [], 0
    while wanted:
        mail = _mail(uids[n % len(uids)], f"{what}/{n}")
        shard = ledger_shard(ledger_slot(mail.key))
        if shard in wanted:
            wanted.discard(shard)
            out.append(mail)
        n += 1
    return out


# A hang guard that scales with the size: 10,000 mails through the real API server and SMTP took
# close to the suite's 300 s on a slow day (the mails' own waits bound the test).
@pytest.mark.timeout(900)
async def test_ten_thousand_mails_of_one_tenant_go_out_once_each_in_a_bounded_ledger(
    crds: ControlPlane, namespace: str, client: KubeClient, mail_sink: MailSink, sizes: Sizes, report: Report
) -> None:
    mail_sink.clear()
    tenant_uid = _tenant(crds, namespace)
    objects = [str(uuid.uuid4()) for _ in range(sizes.mails // 10)]
    mails = [_mail(uid, f"reminder/{n}") for uid in objects for n in range(10)]
    living = set(objects)

    mailer = _mailer(client, mail_sink, living)
    for start in range(0, len(mails), 500):  # as reconciles would: some at a time, each sends what is new
        await mailer.deliver(namespace, TENANT, tenant_uid, mails[: start + 500])
    await mail_sink.wait_for_async(len(mails), timeout=60)

    # Again, by this mailer and by a new one (a new leader, nothing cached): nothing is sent twice.
    await mailer.deliver(namespace, TENANT, tenant_uid, mails)
    await _mailer(client, mail_sink, living).deliver(namespace, TENANT, tenant_uid, mails)
    sent = Counter(mail.key for mail in mail_sink.messages)
    assert set(sent) == {mail.key for mail in mails}
    duplicates = sum(count - 1 for count in sent.values())
    assert duplicates == 0

    shards = _ledger(crds, namespace)
    assert sorted(shard["metadata"]["name"] for shard in shards) == sorted(
        ledger_name(TENANT, shard) for shard in LEDGER_SHARDS
    )
    sizes_of = [len(json.dumps(shard["data"])) for shard in shards]
    entries = [entry for shard in shards for entry in parse_ledger(shard).values()]
    assert len(entries) == len(mails)
    assert {entry.state for entry in entries} == {"sent"}
    per_mail = sum(sizes_of) / len(mails)
    assert per_mail < 90, per_mail  # 230 bytes a mail before
    # Spread evenly: the largest shard holds about a sixteenth (10,000 mails: ~55 KB of 1 MiB).
    assert max(sizes_of) < 2 * sum(sizes_of) / len(LEDGER_SHARDS)
    assert max(sizes_of) * 16 < OBJECT_LIMIT

    # Half the objects are deleted: the next write of each shard drops their entries, only theirs.
    gone = set(objects[::2])
    living -= gone
    counters = Counters()
    later = _one_for_each_shard(sorted(living), "renewed")
    await _mailer(client, mail_sink, living, counters).deliver(namespace, TENANT, tenant_uid, later)
    await mail_sink.wait_for_async(len(mails) + len(later), timeout=30)
    left = [entry for shard in _ledger(crds, namespace) for entry in parse_ledger(shard).values()]
    owners = Counter(slot_owner(entry.slot) for entry in left)
    assert set(owners) == living
    assert len(left) == 10 * len(living) + len(later)
    assert counters.snapshot()["mail_ledger_pruned_total"] == 10 * len(gone)

    # The ledger goes with its tenant (the garbage collector follows its owner reference).
    crds.kubectl("delete", "tenants.lifecycle", TENANT, "-n", namespace)
    wait_for("the ledger gone with the tenant", lambda: _ledger(crds, namespace) == [], timeout=30)

    report.add("mails sent through the ledger", len(mails) + len(later))
    report.add("mails sent twice", duplicates)
    report.add("ledger bytes per mail (rounded up)", int(per_mail) + 1)
    report.add("largest ledger shard (KB)", max(sizes_of) // 1024)
    report.add("ledger entries pruned (objects gone)", 10 * len(gone))


async def test_the_ledger_of_earlier_versions_moves_into_the_shards_without_a_mail_sent_again(
    crds: ControlPlane, namespace: str, client: KubeClient, mail_sink: MailSink, report: Report
) -> None:
    mail_sink.clear()
    tenant_uid = _tenant(crds, namespace)
    uid = str(uuid.uuid4())
    sent, sending, new = _mail(uid, "sent"), _mail(uid, "sending"), _mail(uid, "new")
    old_slot = "0123456789abcdef0123456789abcdef01234567"  # the earlier slots: a 40-digit hash

    def old_entry(key: str, state: str) -> str:
        return json.dumps({"key": key, "state": state, "at": "2026-11-01T10:00:00+00:00", "attempts": 1})

    apply(
        crds,
        namespace,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": legacy_ledger_name(TENANT),
                "labels": {
                    "app.kubernetes.io/managed-by": "seppmail-lifecycle",
                    "lifecycle.seppmail.cloud/role": "mail-ledger",
                    "lifecycle.seppmail.cloud/tenant": TENANT,
                },
            },
            "data": {old_slot: old_entry(sent.key, "sent"), old_slot[::-1]: old_entry(sending.key, "sending")},
        },
    )
    await _mailer(client, mail_sink, {uid}).deliver(namespace, TENANT, tenant_uid, [sent, sending, new])
    [mail] = await mail_sink.wait_for_async(1)
    assert mail.key == new.key
    ledgers = _ledger(crds, namespace)
    assert legacy_ledger_name(TENANT) not in {ledger["metadata"]["name"] for ledger in ledgers}
    states = {entry.slot: entry.state for ledger in ledgers for entry in parse_ledger(ledger).values()}
    assert states == {ledger_slot(sent.key): "sent", ledger_slot(sending.key): "sending", ledger_slot(new.key): "sent"}
    assert [m.key for m in mail_sink.messages] == [new.key]
    report.add("legacy ledgers migrated", 1)
