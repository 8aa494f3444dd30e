"""Partner actions on the real control plane, against a real DNS server and a real SMTP server on
loopback: provisioning waits for the DNS records, the partner is mailed exactly once per action
and once on completion, the refresh annotation rechecks at once, restarts never resend a mail,
and an SMTP outage never holds up the lifecycle."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from seppmail_lifecycle.core.notifications import LEDGER_SHARDS, LedgerEntry
from seppmail_lifecycle.core.verification import verification_token
from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from seppmail_lifecycle.runtime.mailer import ledger_name, parse_ledger
from tests import manifests
from tests.conftest import fresh_namespace
from tests.e2e.conftest import StartOperator
from tests.kube import apply, condition, get, items, merge_patch, phase, wait_for
from tests.operator_process import OperatorProcess
from tests.servers import DnsServer, MailSink

pytestmark = pytest.mark.e2e

GATEWAY = "mx.gateway.test"
Body = dict[str, Any]


def policy(dns: DnsServer, recheck: str = "30s") -> dict[str, Any]:
    return {
        "autoDeploy": {"every": "1s", "offset": "0s"},
        "dns": {
            "nameservers": [dns.address],
            "timeout": "1s",
            "recheckInitial": recheck,
            "recheckMax": recheck,
            "mxGateways": [GATEWAY],
        },
        "mail": {"retryInitial": "1s", "retryMax": "2s"},
    }


def smtp_args(sink: MailSink) -> list[str]:
    return ["--smtp-host", sink.host, "--smtp-port", str(sink.port)]


def order(name: str) -> list[Body]:
    return [
        manifests.tenant(name, notifications={"recipients": [f"servicedesk@{name}.test"]}),
        manifests.domain(name),
        manifests.service(f"{name}-sign-only", name, "sign-only", users=5),
    ]


def provisioning_with_pending(plane: ControlPlane, namespace: str, name: str) -> Body | None:
    domain = get(plane, "domains.lifecycle", namespace, name)
    status = (domain or {}).get("status") or {}
    return domain if status.get("phase") == "provisioning" and status.get("pendingActions") else None


def test_provisioning_waits_for_the_txt_record_and_mails_exactly_once(
    catalogue: ControlPlane,
    namespace: str,
    start_operator: StartOperator,
    dns_server: DnsServer,
    mail_sink: MailSink,
) -> None:
    name = "dnsdemo"
    dns_server.set_mx(f"{name}.test", GATEWAY)
    operator = start_operator(policy(dns_server), *smtp_args(mail_sink))
    apply(catalogue, namespace, *order(name))

    domain = wait_for(
        "provisioning with a pending action", lambda: provisioning_with_pending(catalogue, namespace, name)
    )
    token = verification_token(domain["metadata"]["uid"])
    [action] = domain["status"]["pendingActions"]
    assert action["type"] == "DNSRecord"
    assert action["recordType"] == "TXT"
    assert action["name"] == f"_seppmail-verification.{name}.test"
    assert action["expected"] == f"seppmail-verification={token}"
    assert action["result"] == "no record found"
    assert action["lastChecked"]
    assert condition(domain, "AwaitingPartner")["status"] == "True"
    assert condition(domain, "Ready")["reason"] == "AwaitingPartner"
    assert domain["status"]["next"]["action"] == "RecheckDNS"
    service = get(catalogue, "services.lifecycle", namespace, f"{name}-sign-only")
    assert service["status"]["phase"] == "provisioning"

    [mail] = mail_sink.wait_for(1, key_prefix=f"Domain/{domain['metadata']['uid']}/dns-actions/")
    action_key = mail.key
    assert action_key is not None
    assert set(mail.envelope_to) == {f"it@{name}.test", f"servicedesk@{name}.test"}
    assert "TXT" in mail["Subject"]
    assert action["expected"] in mail.text
    assert action["expected"] in mail.html
    # No gateway accepts mail for a name before its owner proved it with the TXT record.
    assert items(catalogue, "configmaps", namespace, "lifecycle.seppmail.cloud/role=routing") == []

    # The partner adds the record and presses "Refresh data".
    dns_server.set_txt(action["name"], action["expected"])
    catalogue.kubectl(
        "annotate",
        "domains.lifecycle",
        name,
        "-n",
        namespace,
        f"lifecycle.seppmail.cloud/refresh={time.time()}",
        "--overwrite",
    )
    domain = wait_for(
        "provisioned after the refresh (long before the 30s recheck)",
        lambda: (
            (d := get(catalogue, "domains.lifecycle", namespace, name)) and d["status"]["phase"] == "provisioned" and d
        ),
        timeout=8,
    )
    assert domain["status"].get("pendingActions", []) == []
    assert condition(domain, "AwaitingPartner")["status"] == "False"
    assert domain["status"]["verification"]["verifiedAt"]
    assert domain["status"]["verification"]["ownershipVerifiedAt"]
    [routing] = items(catalogue, "configmaps", namespace, "lifecycle.seppmail.cloud/role=routing")
    assert routing["data"]["domain"] == f"{name}.test"
    assert routing["data"]["services"] == f"{name}-base=base\n{name}-sign-only=sign-only\n"
    wait_for(
        "the service provisioned",
        lambda: (
            get(catalogue, "services.lifecycle", namespace, f"{name}-sign-only")["status"]["phase"] == "provisioned"
        ),
    )
    done_key = f"Domain/{domain['metadata']['uid']}/provisioned"
    [done] = mail_sink.wait_for(1, key=done_key)
    assert f"{name}.test" in done["Subject"]
    assert "sign-only" in done.text

    # Killed and restarted: the ledger says both mails went out; none is sent again.
    operator.kill()
    start_operator(policy(dns_server), *smtp_args(mail_sink))
    time.sleep(3)
    assert len(mail_sink.with_key(action_key)) == 1
    assert len(mail_sink.with_key(done_key)) == 1
    shards = items(catalogue, "configmaps", namespace, "lifecycle.seppmail.cloud/role=mail-ledger")
    assert {shard["metadata"]["name"] for shard in shards} <= {ledger_name(name, shard) for shard in LEDGER_SHARDS}
    entries = [entry for shard in shards for entry in parse_ledger(shard).values()]
    assert sorted(entry.state for entry in entries) == ["sent", "sent"]


def test_a_squatter_ordering_the_name_first_never_routes_it_and_never_delays_the_owner(
    catalogue: ControlPlane,
    namespace: str,
    start_operator: StartOperator,
    dns_server: DnsServer,
    mail_sink: MailSink,
) -> None:
    name = f"owned-{uuid.uuid4().hex[:6]}"  # names are unique cluster-wide, even in deleted namespaces
    dns_server.set_mx(f"{name}.test", GATEWAY)
    with fresh_namespace(catalogue) as rival:
        start_operator(policy(dns_server, recheck="1s"), *smtp_args(mail_sink), also_watch=[rival])
        # Another partner's tenant orders the name first; it cannot publish the TXT record.
        apply(catalogue, rival, manifests.tenant("mallory"), manifests.domain("grab", "mallory", f"{name}.test"))
        wait_for("the squatter awaiting its TXT record", lambda: provisioning_with_pending(catalogue, rival, "grab"))
        time.sleep(1.1)  # clearly the older claim by its creation second
        apply(catalogue, namespace, *order(name))
        owner = wait_for(
            "the owner provisioning (not held by the older claim)",
            lambda: provisioning_with_pending(catalogue, namespace, name),
        )
        [action] = owner["status"]["pendingActions"]
        dns_server.set_txt(action["name"], action["expected"])
        wait_for(
            "the owner provisioned once its record is found",
            lambda: phase(catalogue, "domains.lifecycle", namespace, name) == "provisioned",
            timeout=8,
        )
        owner = get(catalogue, "domains.lifecycle", namespace, name)
        assert [(h.get("from"), h["to"]) for h in owner["status"]["history"]] == [
            ("ordered", "confirmed"),
            ("confirmed", "provisioning"),
            ("provisioning", "provisioned"),
        ]
        wait_for(
            "the squatter gives the name up", lambda: phase(catalogue, "domains.lifecycle", rival, "grab") == "ordered"
        )
        squatter = get(catalogue, "domains.lifecycle", rival, "grab")
        confirmed = condition(squatter, "Confirmed")
        assert (confirmed["status"], confirmed["reason"]) == ("False", "DomainConflict")
        assert "claimed by a tenant of another partner, whose owner proved it in DNS" in confirmed["message"]
        assert namespace not in confirmed["message"]
        assert squatter["status"].get("pendingActions", []) == []
        assert [h["to"] for h in squatter["status"]["history"]] == ["confirmed", "provisioning", "ordered"]
        wait_for(
            "the squatter's base service follows its domain",
            lambda: phase(catalogue, "services.lifecycle", rival, "grab-base") == "ordered",
        )
        # The squatter never had a routing config; the owner has the only one.
        assert "Provisioned" not in {h["reason"] for h in squatter["status"]["history"]}
        assert items(catalogue, "configmaps", rival, "lifecycle.seppmail.cloud/role=routing") == []
        [routing] = items(catalogue, "configmaps", namespace, "lifecycle.seppmail.cloud/role=routing")
        assert routing["data"]["tenant"] == name


def test_partner_action_mails_go_to_the_partners_admins_and_license_notices_to_the_tenant(
    catalogue: ControlPlane,
    namespace: str,
    start_operator: StartOperator,
    dns_server: DnsServer,
    mail_sink: MailSink,
) -> None:
    name = "partnered"
    dns_server.set_mx(f"{name}.test", GATEWAY)
    start_operator(
        policy(dns_server) | {"license": {"minimumGrace": "1h", "remindersFull": ["30d"]}}, *smtp_args(mail_sink)
    )
    apply(catalogue, namespace, *order(name))
    # Without a Partner the mails still go out (to the tenant), and the tenant says so.
    no_partner = wait_for(
        "the tenant says it has no partner",
        lambda: (
            (t := get(catalogue, "tenants.lifecycle", namespace, name))
            and (c := condition(t, "PartnerFound"))
            and c["reason"] == "NoPartner"
            and t
        ),
    )
    assert condition(no_partner, "PartnerFound")["status"] == "False"
    domain = wait_for("the domain awaiting its records", lambda: provisioning_with_pending(catalogue, namespace, name))
    [first] = mail_sink.wait_for(1, key_prefix=f"Domain/{domain['metadata']['uid']}/dns-actions/")
    assert set(first.envelope_to) == {f"it@{name}.test", f"servicedesk@{name}.test"}

    apply(
        catalogue,
        namespace,
        manifests.obj(
            "Partner",
            "reseller",
            {
                "displayName": "Reseller AG",
                "admins": [{"name": "Pat", "email": "pat@reseller.test"}],
                "workflowMails": ["workflow@reseller.test"],
            },
        ),
    )
    partner = wait_for(
        "the partner accepted",
        lambda: (
            (p := get(catalogue, "partners.lifecycle", namespace, "reseller"))
            and (c := condition(p, "Ready"))
            and c["status"] == "True"
            and p
        ),
    )
    assert partner["status"]["tenants"] == 1
    tenant = get(catalogue, "tenants.lifecycle", namespace, name)
    assert condition(tenant, "PartnerFound")["status"] == "True"
    # The partner sets the record: the completion mail goes to the partner's admins now.
    token = verification_token(domain["metadata"]["uid"])
    dns_server.set_txt(f"_seppmail-verification.{name}.test", f"seppmail-verification={token}")
    catalogue.kubectl(
        "annotate", "domains.lifecycle", name, "-n", namespace, f"lifecycle.seppmail.cloud/refresh={time.time()}",
        "--overwrite",
    )  # fmt: skip
    done_key = f"Domain/{domain['metadata']['uid']}/provisioned"
    [done] = mail_sink.wait_for(1, key=done_key)
    assert set(done.envelope_to) == {"pat@reseller.test", "workflow@reseller.test"}
    # What concerns the customer goes to the tenant, not the partner.
    apply(catalogue, namespace, manifests.license(name, name, "2099-01-01T00:00:00Z"))
    license_uid = get(catalogue, "licenses.lifecycle", namespace, name)["metadata"]["uid"]
    tomorrow = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))  # a reminder is due
    merge_patch(catalogue, namespace, "licenses.lifecycle", name, {"spec": {"expiresAt": tomorrow}})
    [reminder] = mail_sink.wait_for(1, key_prefix=f"License/{license_uid}/")
    assert set(reminder.envelope_to) == {f"it@{name}.test", f"servicedesk@{name}.test"}


def test_a_missing_record_is_rechecked_with_backoff_and_mailed_once(
    catalogue: ControlPlane,
    namespace: str,
    start_operator: StartOperator,
    dns_server: DnsServer,
    mail_sink: MailSink,
) -> None:
    name = "recheck"
    dns_server.set_txt(f"_seppmail-verification.{name}.test", "seppmail-verification=wrong")
    start_operator(policy(dns_server, recheck="1s"), *smtp_args(mail_sink))
    apply(catalogue, namespace, *order(name))
    domain = wait_for("pending actions", lambda: provisioning_with_pending(catalogue, namespace, name))
    results = {a["recordType"]: a["result"] for a in domain["status"]["pendingActions"]}
    assert results == {"TXT": "found: seppmail-verification=wrong", "MX": "no record found"}

    time.sleep(4)  # several rechecks
    domain = get(catalogue, "domains.lifecycle", namespace, name)
    assert domain["status"]["verification"]["attempts"] >= 3
    uid = domain["metadata"]["uid"]
    # One mail listing both records, not one per record, and not again at every recheck.
    [mail] = [m for m in mail_sink.messages if (m.key or "").startswith(f"Domain/{uid}/")]
    assert (mail.key or "").startswith(f"Domain/{uid}/dns-actions/")
    assert "TXT and MX records" in mail["Subject"]
    assert f"seppmail-verification={verification_token(uid)}" in mail.text
    assert GATEWAY in mail.text

    # Fixing the records is picked up by the next recheck, without any annotation.
    token = verification_token(uid)
    dns_server.set_txt(f"_seppmail-verification.{name}.test", f"seppmail-verification={token}")
    dns_server.set_mx(f"{name}.test", GATEWAY)
    wait_for(
        "provisioned at a recheck",
        lambda: get(catalogue, "domains.lifecycle", namespace, name)["status"]["phase"] == "provisioned",
        timeout=8,
    )


def test_an_smtp_outage_never_holds_up_the_lifecycle_and_failed_mails_are_retried(
    catalogue: ControlPlane,
    namespace: str,
    start_operator: StartOperator,
    dns_server: DnsServer,
) -> None:
    name = "nosmtp"
    closed_port = OperatorProcess.closed_port()
    start_operator(
        {**policy(dns_server), "dns": {"verify": False}}, "--smtp-host", "127.0.0.1", "--smtp-port", str(closed_port)
    )
    apply(catalogue, namespace, *order(name))
    wait_for(
        "provisioned without mail",
        lambda: get(catalogue, "domains.lifecycle", namespace, name)["status"].get("phase") == "provisioned",
    )

    def retried() -> LedgerEntry | None:
        found = items(catalogue, "configmaps", namespace, "lifecycle.seppmail.cloud/role=mail-ledger")
        entries = [entry for shard in found for entry in parse_ledger(shard).values()]
        return next((e for e in entries if e.state == "failed" and e.attempts >= 2), None)

    entry = wait_for("the failed mail retried", retried, timeout=10)
    assert entry.retry_at is not None
    assert entry.retry_at > entry.at
    assert entry.error
