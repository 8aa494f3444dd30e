"""``kubectl lifecycle`` through the real kubectl (plugin discovery on the PATH) against the real
control plane with the operator running: the tree, and each button's effect, including the
refusal to change live what Git manages."""

from __future__ import annotations

import calendar
import json
import os
import subprocess
import sys
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from tests import manifests
from tests.e2e.conftest import StartOperator
from tests.kube import apply, get, items, wait_for, wait_phases

pytestmark = pytest.mark.e2e

POLICY: dict[str, Any] = {
    "autoDeploy": {"every": "24h", "offset": "0s"},  # nothing deploys unless the button says so
    "dns": {"verify": False},
    "billing": {"invoiceLeadTime": "40d"},
}
ARGO = {"argocd.argoproj.io/tracking-id": "partner:lifecycle.seppmail.cloud/Service:ns/name"}


def kubectl(plane: ControlPlane, *args: str) -> subprocess.CompletedProcess[str]:
    """kubectl as a person runs it, with the venv's plugins on the PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["KUBECONFIG"] = str(plane.admin_kubeconfig)
    env["KUBECACHEDIR"] = str(plane.state_dir / "kubectl-cache")
    return subprocess.run([str(plane.binaries.kubectl), *args], env=env, capture_output=True, text=True, timeout=60)


def lifecycle(plane: ControlPlane, *args: str) -> subprocess.CompletedProcess[str]:
    """``kubectl lifecycle ARGS``: kubectl finds the plugin on the PATH."""
    return kubectl(plane, "lifecycle", *args)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def booking(name: str) -> list[dict[str, Any]]:
    """Tenant, contract, a base and a sign-only service, then the domain (so the operator does not
    book a base service of its own for a domain it sees first)."""
    return [
        manifests.tenant(name),
        manifests.obj("Contract", name, {"tenantRef": {"name": name}}),
        manifests.service(f"{name}-main", name, "base", users=4, contractRef={"name": name}),
        manifests.service(f"{name}-sign", name, "sign-only", users=4, contractRef={"name": name}),
        manifests.domain(name),
    ]


def test_the_tree_and_the_buttons(catalogue: ControlPlane, namespace: str, start_operator: StartOperator) -> None:
    assert "discontinue" in ok(lifecycle(catalogue, "--help"))
    start_operator(POLICY)
    apply(catalogue, namespace, *booking("umbrella"))
    wait_for(
        "the orders confirmed",
        lambda: (
            {s["status"].get("phase") for s in items(catalogue, "services.lifecycle", namespace) if s.get("status")}
            == {"confirmed"}
        ),
    )

    # Deploy domains and services: a DeployRequest (the automatic window is a day away).
    said = ok(lifecycle(catalogue, "deploy", "umbrella", "-n", namespace))
    assert said.startswith("deployrequest.lifecycle.seppmail.cloud/deploy-")
    wait_phases(catalogue, namespace, "services.lifecycle", "provisioned")

    tree = ok(lifecycle(catalogue, "tree", "-n", namespace))
    for shown in (
        "Tenant umbrella",
        "Domain umbrella  umbrella.test  provisioned",
        "Service umbrella-main  #1  base  provisioned  OK  billingStart 20",
    ):
        assert shown in tree, tree
    as_json = json.loads(ok(lifecycle(catalogue, "tree", "umbrella", "-n", namespace, "-o", "json")))
    (tenant,) = as_json["children"]
    assert (tenant["name"], tenant["domains"], tenant["services"]) == ("umbrella", 1, 2)

    # Pay the invoice the contract wrote: by default what is still open.
    invoice = wait_for(
        "the invoice",
        lambda: next((i for i in items(catalogue, "invoices.lifecycle", namespace) if i.get("status")), None),
        timeout=40,
    )
    name = invoice["metadata"]["name"]
    said = ok(lifecycle(catalogue, "pay", name, "--reference", "TX 77", "-n", namespace))
    assert f"for invoice {name}" in said
    wait_for(
        "the invoice paid",
        lambda: (get(catalogue, "invoices.lifecycle", namespace, name).get("status") or {}).get("state") == "paid",
    )
    again = lifecycle(catalogue, "pay", name, "--reference", "TX 78", "-n", namespace)
    assert again.returncode == 1
    assert "is paid: nothing is due" in again.stderr

    # Discontinue and continue; pressing a button twice says what is already so.
    ok(lifecycle(catalogue, "discontinue", "umbrella-sign", "-n", namespace))
    assert get(catalogue, "services.lifecycle", namespace, "umbrella-sign")["spec"]["autoRenew"] is False
    twice = lifecycle(catalogue, "discontinue", "umbrella-sign", "-n", namespace)
    assert twice.returncode == 1
    assert twice.stderr.startswith("error: service 'umbrella-sign' already has autoRenew: false")
    ok(lifecycle(catalogue, "continue", "umbrella-sign", "-n", namespace))
    assert get(catalogue, "services.lifecycle", namespace, "umbrella-sign")["spec"]["autoRenew"] is True

    # Refresh data, cancel, expedite.
    ok(lifecycle(catalogue, "refresh", "umbrella", "-n", namespace))
    annotations = get(catalogue, "domains.lifecycle", namespace, "umbrella")["metadata"]["annotations"]
    assert "lifecycle.seppmail.cloud/refresh" in annotations
    ok(lifecycle(catalogue, "cancel", "umbrella-sign", "--end-billing", "2099-12-31", "-n", namespace))
    cancelled = get(catalogue, "services.lifecycle", namespace, "umbrella-sign")
    assert cancelled["spec"]["cancellation"] == {"endBillingDate": "2099-12-31"}
    ok(lifecycle(catalogue, "expedite", "service/umbrella-sign", "-n", namespace))
    wait_for(
        "the expedited removal",
        lambda: (
            get(catalogue, "services.lifecycle", namespace, "umbrella-sign")["status"].get("phase") == "deprovisioned"
        ),
    )

    # Completion through kubectl itself (kubectl runs kubectl_complete-lifecycle, 1.26+).
    completed = kubectl(catalogue, "__complete", "lifecycle", "discontinue", "-n", namespace, "umbrella-")
    assert completed.stdout.splitlines() == ["umbrella-main", "umbrella-sign", ":4"], completed.stdout
    commands = kubectl(catalogue, "__complete", "lifecycle", "dis").stdout.splitlines()
    assert commands[0] == "discontinue"

    missing = lifecycle(catalogue, "discontinue", "nope", "-n", namespace)
    assert missing.returncode == 1
    assert missing.stderr == f"error: services.lifecycle.seppmail.cloud 'nope' not found in namespace '{namespace}'\n"
    assert "Traceback" not in missing.stderr


def test_a_spec_change_of_what_git_manages_is_printed_to_commit_not_made(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator
) -> None:
    start_operator(POLICY)
    managed = manifests.service("wayne-sign", "wayne", "sign-only", users=1)
    managed["metadata"]["annotations"] = ARGO
    apply(catalogue, namespace, manifests.tenant("wayne"), managed, manifests.domain("wayne"))

    refused = lifecycle(catalogue, "discontinue", "wayne-sign", "-n", namespace)
    assert refused.returncode == 1
    assert "is managed by Argo CD (argocd.argoproj.io/tracking-id)" in refused.stderr
    assert "spec:\n  autoRenew: false" in refused.stderr
    assert get(catalogue, "services.lifecycle", namespace, "wayne-sign")["spec"].get("autoRenew", True) is True
    # An annotation is not undone by a sync: made live.
    ok(lifecycle(catalogue, "expedite", "service/wayne-sign", "-n", namespace))
    # --force: live anyway.
    ok(lifecycle(catalogue, "discontinue", "wayne-sign", "--force", "-n", namespace))
    assert get(catalogue, "services.lifecycle", namespace, "wayne-sign")["spec"]["autoRenew"] is False


def test_usage_and_offer_price_what_the_cluster_holds(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator, tmp_path: Path
) -> None:
    start_operator({**POLICY, "autoDeploy": {"every": "1s", "offset": "0s"}})
    apply(catalogue, namespace, *booking("cyberdyne"))
    wait_phases(catalogue, namespace, "services.lifecycle", "provisioned")
    main = get(catalogue, "services.lifecycle", namespace, "cyberdyne-main")
    start = date.fromisoformat(main["status"]["billing"]["start"])
    month_days = calendar.monthrange(start.year, start.month)[1]
    days = month_days - start.day + 1

    statement = json.loads(
        ok(lifecycle(catalogue, "usage", "--month", f"{start:%Y-%m}", "-n", namespace, "-o", "json"))
    )
    by_service = {line["service"]: line for line in statement["lines"]}
    # base 2.50 and sign-only 1.50 per user and month, 4 users, from the day billing started.
    for name, price in (("cyberdyne-main", "2.50"), ("cyberdyne-sign", "1.50")):
        expected = (Decimal(price) * 4 * days / month_days).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        assert (by_service[name]["days"], by_service[name]["amount"]) == (f"{days}/{month_days}", str(expected))
    csv_out = ok(lifecycle(catalogue, "usage", "--month", f"{start:%Y-%m}", "--tenant", "cyberdyne", "-n", namespace,
                           "-o", "csv"))  # fmt: skip
    assert csv_out.splitlines()[0] == "tenant,domain,service,number,product,users,days,discount,amount,currency"

    planned = tmp_path / "planned.yaml"
    planned.write_text(
        "apiVersion: lifecycle.seppmail.cloud/v1alpha1\nkind: Service\nmetadata: {name: cyberdyne-encrypt}\n"
        "spec: {domainRef: {name: cyberdyne}, product: sign-encrypt, users: 10,\n"
        "       discount: {percent: 20, reason: promo}}\n"
    )
    quote = ok(lifecycle(catalogue, "offer", "cyberdyne", "-f", str(planned), "-n", namespace, "-o", "markdown"))
    assert (
        "| cyberdyne | cyberdyne.test | cyberdyne-encrypt |  | sign-encrypt | 10 |  | 20 (promo) | 24.00 | CHF |"
        in quote
    )
    assert "**Total cyberdyne: 40.00 CHF**" in quote  # 10.00 + 6.00 + 24.00 per month
    unknown = lifecycle(catalogue, "offer", "nobody", "-n", namespace)
    assert unknown.returncode == 1
    assert unknown.stderr == f"error: tenant 'nobody' not found in namespace '{namespace}'\n"
