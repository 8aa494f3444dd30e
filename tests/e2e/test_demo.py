"""``make run``'s demo on the real control plane: the demo DNS zone and mail drop with the
operator, and ``kubectl lifecycle demo dns`` setting the records a partner would, after which the
domain is provisioned; every mail is a file a person can open."""

from __future__ import annotations

import json
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from seppmail_lifecycle.devcluster.demo import DnsServer, MailDrop
from tests import manifests
from tests.e2e.conftest import StartOperator
from tests.e2e.test_plugin import lifecycle, ok
from tests.kube import apply, get, wait_for

pytestmark = pytest.mark.e2e


def test_the_demo_zone_and_mail_drop_take_a_domain_to_provisioned(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator, tmp_path: Path
) -> None:
    zone = tmp_path / "dns" / "zone.json"
    zone.parent.mkdir()
    lines: list[str] = []
    with DnsServer() as dns:
        dns.follow(zone)
        drop = MailDrop(tmp_path / "mail", log=lines.append).start()
        try:
            start_operator(
                {
                    "autoDeploy": {"every": "1s", "offset": "0s"},
                    "dns": {"nameservers": [dns.address], "recheckInitial": "1h", "recheckMax": "1h"},
                },
                "--smtp-host", "127.0.0.1", "--smtp-port", str(drop.port),
            )  # fmt: skip
            apply(catalogue, namespace, manifests.tenant("initech"), manifests.domain("initech"))
            waiting = wait_for(
                "the domain waiting for the partner's records",
                lambda: (
                    (d := get(catalogue, "domains.lifecycle", namespace, "initech"))
                    and (d.get("status") or {}).get("pendingActions")
                    and d
                ),
            )
            assert len(waiting["status"]["pendingActions"]) == 3  # TXT and two MX
            mail = wait_for("the partner-action mail", lambda: sorted(drop.directory.glob("*.eml")))
            message = BytesParser(policy=policy.default).parsebytes(mail[0].read_bytes())
            assert "initech.test" in str(message["Subject"])
            assert lines[0].startswith("[mail] to it@initech.test: ")

            said = ok(lifecycle(catalogue, "demo", "dns", "initech", "-n", namespace, "--zone", str(zone)))
            assert "TXT  _seppmail-verification.initech.test" in said
            records = json.loads(zone.read_text())
            assert records["initech.test"]["MX"] == ["10 mx1.seppmail.cloud", "20 mx2.seppmail.cloud"]
            wait_for(
                "the domain provisioned (checked again at once: no recheck was due for an hour)",
                lambda: (
                    (get(catalogue, "domains.lifecycle", namespace, "initech").get("status") or {}).get("phase")
                    == "provisioned"
                ),
            )
            again = lifecycle(catalogue, "demo", "dns", "initech", "-n", namespace, "--zone", str(zone))
            assert again.returncode == 1
            assert "waits for no DNS record (phase provisioned)" in again.stderr
        finally:
            drop.stop()
