"""Mail and DNS outages: the SMTP server down (connections refused) and the nameserver silent (every
lookup times out) for a while, as licenses expire and domains wait for their records. The
licenses' deadlines are kept as if nothing happened (against the simulator), every mail that is
still due when the SMTP server is back goes out once (none twice), the domains provision once
DNS answers again."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from seppmail_lifecycle.core.verification import verification_token
from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from seppmail_lifecycle.devcluster.demo import DnsServer
from tests import manifests
from tests.e2e.conftest import StartOperator
from tests.kube import apply, get, items, wait_for
from tests.operator_process import samples, value
from tests.reliability import scenario
from tests.reliability.conftest import Report
from tests.servers import MailSink

pytestmark = pytest.mark.e2e

GATEWAY = "mx.gateway.test"
OUTAGE = 12.0
LICENSE = {"minimumGrace": "3s", "freeze": "40s", "remindersFull": ["2s"], "mxChangeNotice": "1s"}
ON_TIME = timedelta(seconds=1.5)
"""How much later than the uninterrupted run a license transition may be (the operator sees the
objects arrive over a few hundred milliseconds, and deadlines are met to the second)."""


@pytest.fixture
def quiet_dns() -> Iterator[DnsServer]:
    with DnsServer() as server:  # its own: this test silences it
        yield server


@pytest.fixture
def sink() -> Iterator[MailSink]:
    with MailSink() as server:  # its own: this test takes it down
        yield server


def _policy(dns: DnsServer) -> dict[str, Any]:
    return {
        "autoDeploy": {"every": "1s", "offset": "0s"},
        "dns": {
            "nameservers": [dns.address],
            "timeout": "1s",
            "recheckInitial": "1s",
            "recheckMax": "2s",
            "mxGateways": [GATEWAY],
        },
        "mail": {"retryInitial": "1s", "retryMax": "2s"},
        "license": LICENSE,
    }


def test_deadlines_hold_and_mails_go_out_once_through_smtp_and_dns_outages(
    catalogue: ControlPlane,
    namespace: str,
    start_operator: StartOperator,
    quiet_dns: DnsServer,
    sink: MailSink,
    report: Report,
) -> None:
    names = [f"calm{n}" for n in range(6)]
    expiring = names[::2]  # their licenses expire during the outage; the others' in 2030
    for name in names:
        quiet_dns.set_mx(f"{name}.test", GATEWAY)
    operator = start_operator(_policy(quiet_dns), "--smtp-host", sink.host, "--smtp-port", str(sink.port))
    start = datetime.now(UTC)
    docs: list[dict[str, Any]] = []
    for n, name in enumerate(names):
        expires = (start + timedelta(seconds=5 + n)).replace(microsecond=0)
        docs += [
            manifests.tenant(name),
            manifests.domain(name),
            manifests.service(f"{name}-sign", name, "sign-only", users=2),
            manifests.license(
                name, name, expires.isoformat().replace("+00:00", "Z") if name in expiring else "2030-01-01T00:00:00Z"
            ),
        ]
    apply(catalogue, namespace, *docs)
    for name in names:  # the partners' TXT records, set at once: only the outage delays them
        uid = wait_for(f"domain {name}", lambda n=name: get(catalogue, "domains.lifecycle", namespace, n))
        token = verification_token(uid["metadata"]["uid"])
        quiet_dns.set_txt(f"_seppmail-verification.{name}.test", f"seppmail-verification={token}")

    began = time.monotonic()
    quiet_dns.silence()
    with sink.outage():
        time.sleep(OUTAGE)
    quiet_dns.silence(False)
    outage = time.monotonic() - began
    scraped = samples(operator.scrape())
    failed_during = int(value(scraped, "seppmail_lifecycle_mails_failed_total"))
    dns_errors = int(value(scraped, "seppmail_lifecycle_dns_checks_total", result="error"))

    licensed = [name for name in names if name not in expiring]

    def provisioned() -> bool:
        domains = items(catalogue, "domains.lifecycle", namespace)
        phases = {d["metadata"]["name"]: (d.get("status") or {}).get("phase") for d in domains}
        return all(phases.get(name) == "provisioned" for name in licensed)

    wait_for("the licensed tenants' domains provisioned once DNS answers", provisioned, timeout=30)
    domains = {b["metadata"]["name"]: b["metadata"]["uid"] for b in items(catalogue, "domains.lifecycle", namespace)}
    licenses = {b["metadata"]["uid"]: b["metadata"]["name"] for b in items(catalogue, "licenses.lifecycle", namespace)}
    done = {f"Domain/{domains[name]}/provisioned" for name in licensed}
    wait_for("every provisioned domain's mail", lambda: done <= set(_keys(sink)), timeout=20)
    wait_for("every frozen license's mail", lambda: len(_freezes(sink, licenses)) == len(expiring), timeout=20)
    time.sleep(2)  # any retry still under way

    # Deadlines: the licenses went into Grace and Freeze on time, during the outage.
    simulated = _simulated(catalogue, docs, namespace, start, quiet_dns)
    reference = {key: body for key, body in simulated.items() if key[0] == "License"}
    real = {key: body for key, body in scenario.real_objects(catalogue, namespace).items() if key[0] == "License"}
    result = scenario.compare(real, reference, lambda due: due + ON_TIME)
    assert result.differences == []
    assert result.early == []
    assert result.late == []
    ends = {name: scenario.history(body)[-1][1] for (_, name), body in real.items() if name in expiring}
    assert ends == dict.fromkeys(expiring, "Freeze")

    # Mails: none twice; those of the domains and the freezes all arrived after the outage.
    sent = Counter(_keys(sink))
    duplicates = [key for key, count in sent.items() if count > 1]
    assert duplicates == []
    assert failed_during > 0, "the outage did not fail a single mail"
    assert dns_errors > 0, "the outage did not fail a single DNS lookup"
    superseded = [key for key in _expected_license_mails(reference) if key not in _named(sent, licenses)]
    report.add("seconds of SMTP down and DNS silent (together)", round(outage))
    report.add("mails failed during the outage, retried", failed_during)
    report.add("DNS lookups failed during the outage", dns_errors)
    report.add("mails delivered twice after the outage", len(duplicates))
    report.add("notices superseded during the SMTP outage (grace, MX change)", len(superseded))
    report.add("license transitions late through the outage", len(result.late))


def _keys(sink: MailSink) -> list[str]:
    return [m.key for m in sink.messages if m.key]


def _freezes(sink: MailSink, licenses: dict[str, str]) -> set[str]:
    return {key for key in _keys(sink) if key.split("/")[1] in licenses and "/freeze/" in key}


def _named(sent: Counter[str], licenses: dict[str, str]) -> set[tuple[str, str]]:
    """(license name, mail kind) of the license mails sent."""
    return {(licenses[key.split("/")[1]], key.split("/")[2]) for key in sent if key.split("/")[1] in licenses}


def _expected_license_mails(reference: scenario.Objects) -> list[tuple[str, str]]:
    kinds = {"Grace": "grace", "Freeze": "freeze"}
    return [
        (name, kinds[to]) for (_, name), body in reference.items() for _, to in scenario.history(body) if to in kinds
    ]


def _simulated(
    catalogue: ControlPlane, docs: list[dict[str, Any]], namespace: str, start: datetime, dns: DnsServer
) -> Any:
    timeline = scenario.simulated(scenario.products(catalogue), docs, namespace, start, _policy(dns))
    return {(kind, name): body for (kind, _, name), body in timeline.objects.items()}
