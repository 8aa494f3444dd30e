"""The license lifecycle on the real control plane with a seconds-scale policy and a real SMTP
sink: reminders, grace, freeze (blocked routing, suspended services, blocked console), renewal,
purge (only the tenant's objects), purge holds, punctual transitions, and catch-up after a stop."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from tests import manifests
from tests.e2e.conftest import StartOperator
from tests.kube import apply, condition, get, items, wait_for
from tests.servers import MailSink

pytestmark = pytest.mark.e2e

Body = dict[str, Any]

POLICY: dict[str, Any] = {
    "autoDeploy": {"every": "1s", "offset": "0s"},
    "dns": {"verify": False},
    "license": {
        "minimumGrace": "4s",
        "freeze": "4s",
        "remindersFull": ["6s", "4s", "2s"],
        "remindersTrial": ["3s", "1s"],
        "mxChangeNotice": "2s",
    },
}


def with_license(**overrides: str) -> dict[str, Any]:
    """POLICY with some license durations longer, so that a test observes a period reliably."""
    return {**POLICY, "license": {**POLICY["license"], **overrides}}


def at(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def tenant_with_domain(name: str, expires_in: float, **license_spec: Any) -> list[Body]:
    return [
        manifests.tenant(name),
        manifests.domain(name),
        manifests.service(f"{name}-sign-only", name, "sign-only", users=3),
        manifests.license(name, name, at(expires_in), **license_spec),
    ]


def period(plane: ControlPlane, namespace: str, name: str) -> str | None:
    body = get(plane, "licenses.lifecycle", namespace, name)
    return ((body or {}).get("status") or {}).get("period")


def wait_period(plane: ControlPlane, namespace: str, name: str, expected: str, timeout: float = 20) -> Body:
    def reached() -> Body | None:
        body = get(plane, "licenses.lifecycle", namespace, name)
        return body if ((body or {}).get("status") or {}).get("period") == expected else None

    return wait_for(f"license {name} in {expected}", reached, timeout)


def license_mails(sink: MailSink, uid: str) -> list[str]:
    return [
        m.key.split("/")[2] + ("/" + m.key.split("/")[-1] if "/reminder/" in m.key else "")
        for m in sink.messages
        if m.key and m.key.startswith(f"License/{uid}/")
    ]


def provisioned(plane: ControlPlane, namespace: str, name: str) -> None:
    wait_for(
        f"{name} provisioned",
        lambda: (
            (get(plane, "services.lifecycle", namespace, f"{name}-sign-only") or {}).get("status", {}).get("phase")
            == "provisioned"
        ),
    )


def test_reminders_arrive_in_order_only_without_auto_renew_and_transitions_are_punctual(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator, mail_sink: MailSink
) -> None:
    # A long grace: both licenses are observed in Grace however slowly the polls come.
    start_operator(with_license(minimumGrace="60s"), "--smtp-host", mail_sink.host, "--smtp-port", str(mail_sink.port))
    apply(catalogue, namespace, *tenant_with_domain("alpha", 7), *tenant_with_domain("beta", 7, autoRenew=True))
    alpha = wait_period(catalogue, namespace, "alpha", "Grace", timeout=15)
    beta = wait_period(catalogue, namespace, "beta", "Grace", timeout=5)

    assert license_mails(mail_sink, alpha["metadata"]["uid"])[:3] == ["reminder/6s", "reminder/4s", "reminder/2s"]
    assert not [k for k in license_mails(mail_sink, beta["metadata"]["uid"]) if k.startswith("reminder")]
    wait_for(
        "the grace mails", lambda: all("grace" in license_mails(mail_sink, b["metadata"]["uid"]) for b in (alpha, beta))
    )
    assert condition(alpha, "InGrace")["status"] == "True"
    assert alpha["status"]["notice"]

    # Transitions happen within a second of their due time.
    expires = datetime.fromisoformat(alpha["spec"]["expiresAt"].replace("Z", "+00:00"))
    grace = next(h for h in alpha["status"]["history"] if h["to"] == "Grace")
    lateness = datetime.fromisoformat(grace["at"].replace("Z", "+00:00")) - expires
    assert timedelta(0) <= lateness < timedelta(seconds=1), lateness


def test_freeze_blocks_mail_suspends_services_and_renewal_lifts_exactly_that(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator
) -> None:
    start_operator(with_license(freeze="60s"))  # long enough to observe the freeze and renew in it
    apply(
        catalogue,
        namespace,
        *tenant_with_domain("gamma", 3),
        manifests.service("gamma-misused", "gamma", "onboarding", users=1, suspension={"reason": "misuse"}),
    )
    provisioned(catalogue, namespace, "gamma")
    wait_period(catalogue, namespace, "gamma", "Freeze", timeout=15)

    def frozen() -> bool:
        routing = get(catalogue, "configmaps", namespace, "routing-gamma")
        service = get(catalogue, "services.lifecycle", namespace, "gamma-sign-only")
        tenant = get(catalogue, "tenants.lifecycle", namespace, "gamma")
        return (
            routing["data"]["accepted"] == "false"
            and service["status"]["subscription"] == {"state": "SUSPENDED", "reason": "license-frozen"}
            and condition(tenant, "ConsoleAccessBlocked")["status"] == "True"
        )

    wait_for("the freeze effects", frozen, timeout=5)
    assert condition(get(catalogue, "domains.lifecycle", namespace, "gamma"), "Blocked")["status"] == "True"

    catalogue.kubectl(
        "patch",
        "licenses.lifecycle",
        "gamma",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        f'{{"spec": {{"expiresAt": "{at(3600)}"}}}}',
    )
    wait_period(catalogue, namespace, "gamma", "License", timeout=5)

    def lifted() -> bool:
        routing = get(catalogue, "configmaps", namespace, "routing-gamma")
        service = get(catalogue, "services.lifecycle", namespace, "gamma-sign-only")
        tenant = get(catalogue, "tenants.lifecycle", namespace, "gamma")
        return (
            routing["data"]["accepted"] == "true"
            and service["status"]["subscription"]["state"] == "OK"
            and condition(tenant, "ConsoleAccessBlocked")["status"] == "False"
        )

    wait_for("the freeze lifted", lifted, timeout=5)
    # The misuse suspension is not the license's to lift.
    misused = get(catalogue, "services.lifecycle", namespace, "gamma-misused")
    assert misused["status"]["subscription"] == {"state": "SUSPENDED", "reason": "misuse"}


def test_purge_deletes_only_the_tenants_objects_for_good_and_a_hold_blocks_it(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator
) -> None:
    start_operator(POLICY)
    apply(
        catalogue,
        namespace,
        *tenant_with_domain("delta", 2),
        *tenant_with_domain("epsilon", 3600),
        *tenant_with_domain("zeta", 2, purgeHold={"reason": "legal hold 2026-17"}),
    )
    for name in ("delta", "epsilon", "zeta"):
        provisioned(catalogue, namespace, name)

    delta = wait_period(catalogue, namespace, "delta", "Purged", timeout=20)
    assert delta["status"]["purgedAt"]
    assert condition(delta, "Purged")["status"] == "True"
    # Gone by the time the license says Purged: a domain reconcile under way when the purge fell due
    # finished first (and the purge deleted what it applied), later ones read the purge
    # (runtime.tenant_locks).
    routed = {
        cm["metadata"]["name"]
        for cm in items(catalogue, "configmaps", namespace, "app.kubernetes.io/managed-by=seppmail-lifecycle")
    }
    assert "routing-delta" not in routed
    assert {"routing-epsilon", "routing-zeta"} <= routed
    for resource, name in (("domains.lifecycle", "delta"), ("services.lifecycle", "delta-sign-only")):
        purged = wait_for(
            f"{name} deprovisioned",
            lambda r=resource, n=name: (
                (b := get(catalogue, r, namespace, n)) and b["status"]["phase"] == "deprovisioned" and b
            ),
        )
        assert purged["status"]["history"][-1]["reason"] == "Purged"

    # Held: frozen, never purged, and says why.
    zeta = wait_period(catalogue, namespace, "zeta", "Freeze")
    time.sleep(3)  # past its purge time
    zeta = get(catalogue, "licenses.lifecycle", namespace, "zeta")
    assert zeta["status"]["period"] == "Freeze"
    held = condition(zeta, "PurgeScheduled")
    assert (held["status"], held["reason"]) == ("False", "PurgeHold")
    assert "legal hold 2026-17" in held["message"]
    assert get(catalogue, "configmaps", namespace, "routing-zeta") is not None

    # Renewing after the purge resurrects nothing, and says so.
    catalogue.kubectl(
        "patch",
        "licenses.lifecycle",
        "delta",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        f'{{"spec": {{"expiresAt": "{at(3600)}"}}}}',
    )
    renewed = wait_for(
        "the renewal refused",
        lambda: (
            (b := get(catalogue, "licenses.lifecycle", namespace, "delta"))
            and (condition(b, "Stalled") or {}).get("status") == "True"
            and b
        ),
    )
    assert renewed["status"]["period"] == "Purged"
    assert get(catalogue, "configmaps", namespace, "routing-delta") is None

    # Releasing the hold lets the purge proceed.
    catalogue.kubectl(
        "patch",
        "licenses.lifecycle",
        "zeta",
        "-n",
        namespace,
        "--type=json",
        "-p",
        '[{"op": "remove", "path": "/spec/purgeHold"}]',
    )
    wait_period(catalogue, namespace, "zeta", "Purged", timeout=10)
    wait_for("zeta's routing purged", lambda: get(catalogue, "configmaps", namespace, "routing-zeta") is None)
    assert get(catalogue, "configmaps", namespace, "routing-epsilon") is not None


def test_a_license_reaching_its_purge_while_another_keeps_the_tenant_purges_nothing_and_says_so(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator
) -> None:
    start_operator(POLICY)
    apply(
        catalogue,
        namespace,
        *tenant_with_domain("theta", 2),  # this license ends: grace 4 s, freeze 4 s, then its purge
        manifests.license("theta-full", "theta", at(3600)),
    )
    provisioned(catalogue, namespace, "theta")
    ended = wait_period(catalogue, namespace, "theta", "Purged", timeout=20)
    time.sleep(1)  # a purge (wrongly) carried out would show within this
    ended = get(catalogue, "licenses.lifecycle", namespace, "theta")
    assert "purgedAt" not in ended["status"]
    assert "notice" not in ended["status"]
    for type_ in ("Purged", "PurgeScheduled", "Ready"):
        assert (condition(ended, type_)["status"], condition(ended, type_)["reason"]) == ("False", "KeptByLicense")
    assert condition(ended, "Reconciling")["status"] == "False"
    assert "license 'theta-full' keeps the tenant's data" in condition(ended, "Ready")["message"]
    assert ended["status"]["history"][-1]["reason"] == "Ended"
    # Nothing of the tenant was deleted: its domain still runs.
    assert get(catalogue, "configmaps", namespace, "routing-theta") is not None
    assert get(catalogue, "services.lifecycle", namespace, "theta-sign-only")["status"]["phase"] == "provisioned"


def test_a_stopped_operator_catches_up_once_without_duplicate_mail(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator, mail_sink: MailSink
) -> None:
    smtp = ("--smtp-host", mail_sink.host, "--smtp-port", str(mail_sink.port))
    # A long grace: the catch-up must land in Grace however long the stop and restart take.
    policy = with_license(minimumGrace="60s")
    operator = start_operator(policy, *smtp)
    apply(catalogue, namespace, *tenant_with_domain("eta", 3, autoRenew=True))
    provisioned(catalogue, namespace, "eta")
    assert operator.stop() == 0
    time.sleep(4)  # grace starts while no operator runs
    assert period(catalogue, namespace, "eta") == "License"
    start_operator(policy, *smtp)
    eta = wait_period(catalogue, namespace, "eta", "Grace", timeout=5)
    time.sleep(2)
    eta = get(catalogue, "licenses.lifecycle", namespace, "eta")
    assert [h["to"] for h in eta["status"]["history"]].count("Grace") == 1
    assert license_mails(mail_sink, eta["metadata"]["uid"]).count("grace") == 1


def test_without_a_synced_grace_period_the_license_source_decides_it(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator
) -> None:
    # Seed 003: LMP syncs 45 days of grace, CLP 30 (the minimum); here scaled to seconds.
    start_operator({**POLICY, "license": {**POLICY["license"], "graceBySource": {"lmp": "45s"}, "minimumGrace": "30s"}})
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=10)
    stamp = expires.isoformat().replace("+00:00", "Z")
    apply(
        catalogue,
        namespace,
        manifests.tenant("umbrella"),
        manifests.license("umbrella-lmp", "umbrella", stamp, source="lmp"),
        manifests.license("umbrella-clp", "umbrella", stamp, source="clp"),
        manifests.license("umbrella-synced", "umbrella", stamp, source="lmp", gracePeriodDays=60),
    )
    graces = {}
    for name in ("umbrella-lmp", "umbrella-clp", "umbrella-synced"):
        status = wait_for(
            f"{name} decided",
            lambda n=name: (
                ((b := get(catalogue, "licenses.lifecycle", namespace, n)) or {}).get("status", {}).get("graceEndsAt")
                and b["status"]
            ),
        )
        graces[name] = datetime.fromisoformat(status["graceEndsAt"]) - expires
    assert graces == {
        "umbrella-lmp": timedelta(seconds=45),
        "umbrella-clp": timedelta(seconds=30),
        "umbrella-synced": timedelta(days=60),
    }
