"""Nothing secret leaves the operator: the SMTP password (a wrong one that fails every login, then
the right one), the kubeconfig's client key and certificate, and a ServiceAccount token (what the
operator authenticates with in a pod) appear in none of its logs (at debug level too), the events,
the status of any object, the mail ledger, the metrics or the health report."""

from __future__ import annotations

import base64
import json
import secrets
import urllib.request
from pathlib import Path

import pytest
import yaml

from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from seppmail_lifecycle.runtime.mailer import parse_ledger
from tests import manifests
from tests.e2e.conftest import StartOperator
from tests.kube import apply, items, wait_for
from tests.reliability.conftest import Report
from tests.reliability.scenario import KINDS
from tests.servers import MailSink

pytestmark = pytest.mark.e2e

POLICY = {"autoDeploy": {"every": "1s", "offset": "0s"}, "dns": {"verify": False}, "mail": {"retryInitial": "1s"}}


def _kubeconfig_secrets(path: Path) -> list[str]:
    """The kubeconfig's credentials, as stored and decoded (each PEM body line)."""
    config = yaml.safe_load(path.read_text())
    found: list[str] = []
    for user in config.get("users") or []:
        for field in ("client-key-data", "client-certificate-data", "token", "password"):
            value = (user.get("user") or {}).get(field)
            if not value:
                continue
            found.append(value)
            if field.endswith("-data"):
                pem = base64.b64decode(value).decode()
                found += [line for line in pem.splitlines() if len(line) > 40 and not line.startswith("-----")]
        for field in ("client-key", "client-certificate"):
            if file := (user.get("user") or {}).get(field):
                pem = Path(file).read_text()
                found += [line for line in pem.splitlines() if len(line) > 40 and not line.startswith("-----")]
    return found


def _token_kubeconfig(plane: ControlPlane, path: Path) -> Path:
    """A kubeconfig that authenticates with a ServiceAccount token from the TokenRequest API, as
    the operator's pod does (here bound to cluster-admin: what is tested is where the token goes)."""
    account = "lifecycle-operator-token"
    plane.kubectl("create", "serviceaccount", account, "-n", "default")
    plane.kubectl(
        "create", "clusterrolebinding", account, "--clusterrole=cluster-admin", f"--serviceaccount=default:{account}"
    )
    token = plane.kubectl("create", "token", account, "-n", "default", "--duration=1h").stdout.strip()
    config = yaml.safe_load(plane.admin_kubeconfig.read_text())
    for user in config["users"]:
        user["user"] = {"token": token}
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def _everything_the_operator_wrote(plane: ControlPlane, namespace: str) -> str:
    parts = [json.dumps(items(plane, f"{plural}.lifecycle", namespace)) for plural in KINDS.values()]
    parts.append(json.dumps(items(plane, "events.events.k8s.io", namespace)))
    parts.append(json.dumps(items(plane, "configmaps", namespace, "app.kubernetes.io/managed-by=seppmail-lifecycle")))
    return "\n".join(parts)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # loopback only
def test_no_password_key_or_token_reaches_logs_events_status_ledger_or_metrics(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator, tmp_path: Path, report: Report
) -> None:
    right, wrong = f"right-{secrets.token_urlsafe(16)}", f"wrong-{secrets.token_urlsafe(16)}"
    with MailSink(credentials={"lifecycle": right}) as sink:
        smtp = ["--smtp-host", sink.host, "--smtp-port", str(sink.port)]
        failing = start_operator(POLICY, *smtp, env={"SMTP_USERNAME": "lifecycle", "SMTP_PASSWORD": wrong})
        apply(catalogue, namespace, manifests.tenant("vault"), manifests.domain("vault"))

        def failed_login() -> bool:
            ledgers = items(catalogue, "configmaps", namespace, "lifecycle.seppmail.cloud/role=mail-ledger")
            return any(e.state == "failed" and e.attempts >= 2 for b in ledgers for e in parse_ledger(b).values())

        wait_for("a mail failing at LOGIN, retried", failed_login, timeout=30)
        seen = [failing.scrape(), json.dumps(failing.liveness())]
        failing.stop()

        token = _token_kubeconfig(catalogue, tmp_path / "token.kubeconfig")
        working = start_operator(
            POLICY,
            *smtp,
            "--verbose",
            env={"SMTP_USERNAME": "lifecycle", "SMTP_PASSWORD": right},
            kubeconfig=token,
        )
        sink.wait_for(1, timeout=30)
        seen += [working.scrape(), json.dumps(working.liveness())]
        with urllib.request.urlopen(working.metrics_url, timeout=5) as response:
            seen.append(response.read().decode())
        seen += [failing.log_path.read_text(), working.log_path.read_text()]
    seen.append(_everything_the_operator_wrote(catalogue, namespace))
    text = "\n".join(seen)

    assert "LOGIN" in text  # the failure is reported (where it failed), without what was sent
    assert working.liveness() is not None  # it ran on the token (a refused token never gets ready)
    checked = [right, wrong, *_kubeconfig_secrets(catalogue.admin_kubeconfig), *_kubeconfig_secrets(token)]
    leaked = [secret[:12] + "..." for secret in checked if secret in text]
    assert leaked == []
    report.add("secrets looked for in logs, events, status, ledger and metrics", len(checked))
    report.add("secrets found", len(leaked))
