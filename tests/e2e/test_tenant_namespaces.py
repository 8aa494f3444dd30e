"""Tenant namespaces on the real control plane: a partner's tenants in namespaces of their own,
labelled with the partner namespace. The chart's bindings (rendered by real helm, applied to the
real API server) let a tenant's admins read their own tenant only; the operator, watching
Namespaces, sends the tenants' partner-action mails to the partner's admins; domain names stay
unique across all of them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from seppmail_lifecycle.kube.store import PARTNER_LABEL
from tests import manifests
from tests.helm import CHART, KUBE_VERSION, Helm
from tests.kube import apply, condition, get, wait_for
from tests.operator_process import OperatorProcess
from tests.servers import MailSink

pytestmark = pytest.mark.e2e

FAST = {"autoDeploy": {"every": "1s", "offset": "0s"}, "dns": {"verify": False}}


@pytest.fixture
def namespaces(catalogue: ControlPlane) -> Iterator[tuple[str, str, str]]:
    """(partner namespace, tenant namespace A, tenant namespace B), A and B labelled with the partner."""
    suffix = uuid.uuid4().hex[:6]
    partner, a, b = f"partner-{suffix}", f"tenant-a-{suffix}", f"tenant-b-{suffix}"
    for name in (partner, a, b):
        catalogue.kubectl("create", "namespace", name)
    for name in (a, b):
        catalogue.kubectl("label", "namespace", name, f"{PARTNER_LABEL}={partner}")
    yield partner, a, b
    for name in (partner, a, b):
        catalogue.kubectl("delete", "namespace", name, "--wait=false", check=False)


def chart_rbac(plane: ControlPlane, tmp_path: Path, partner: str, a: str, b: str) -> list[dict[str, Any]]:
    """The chart's ClusterRoles and RoleBindings for one partner with two tenant namespaces."""
    assert plane.binaries.helm is not None
    helm = Helm(plane.binaries.helm, tmp_path / "helm-home")
    values = [
        f"partnerNamespaces[0].namespace={partner}",
        "partnerNamespaces[0].salesGroups[0]=tn-sales",
        f"tenantNamespaces[0].namespace={a}",
        f"tenantNamespaces[0].partner={partner}",
        "tenantNamespaces[0].tenantAdminGroups[0]=tn-admins-a",
        f"tenantNamespaces[1].namespace={b}",
        f"tenantNamespaces[1].partner={partner}",
        "tenantNamespaces[1].tenantAdminGroups[0]=tn-admins-b",
    ]
    out = helm(
        "template", "tn", str(CHART), "--kube-version", KUBE_VERSION, *[arg for v in values for arg in ("--set", v)]
    ).stdout
    return [
        doc
        for doc in yaml.safe_load_all(out)
        if doc and doc["kind"] in ("ClusterRole", "RoleBinding") and doc["metadata"]["name"].startswith("tn-")
    ]


def can_read_tenants(plane: ControlPlane, kubeconfig: Path, namespace: str) -> bool:
    listed = plane.kubectl("get", "tenants.lifecycle", "-n", namespace, kubeconfig=kubeconfig, check=False)
    assert listed.returncode == 0 or "forbidden" in listed.stderr.lower(), listed.stderr
    return listed.returncode == 0


def test_a_tenant_admin_reads_their_own_tenant_only(
    catalogue: ControlPlane, namespaces: tuple[str, str, str], tmp_path: Path
) -> None:
    if catalogue.binaries.helm is None:
        pytest.skip("the control plane has no helm binary")
    partner, a, b = namespaces
    rbac = chart_rbac(catalogue, tmp_path, partner, a, b)
    catalogue.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(rbac))
    try:
        for namespace, name in ((a, "tenant-a"), (b, "tenant-b")):
            apply(catalogue, namespace, manifests.tenant(name))
        admin_a = catalogue.mint_kubeconfig("ada", ["tn-admins-a"])
        sales = catalogue.mint_kubeconfig("sam", ["tn-sales"])
        assert can_read_tenants(catalogue, admin_a, a)
        assert not can_read_tenants(catalogue, admin_a, b)  # the other tenant's namespace
        assert not can_read_tenants(catalogue, admin_a, partner)
        # The partner's staff work in every one of its tenant namespaces.
        assert all(can_read_tenants(catalogue, sales, ns) for ns in (partner, a, b))
    finally:
        catalogue.kubectl("delete", "-f", "-", "--wait=false", input=yaml.safe_dump_all(rbac), check=False)


def test_tenants_in_their_own_namespaces_are_served_by_their_partner(
    catalogue: ControlPlane, namespaces: tuple[str, str, str], tmp_path: Path, mail_sink: MailSink
) -> None:
    partner, a, b = namespaces
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(FAST))
    operator = OperatorProcess(
        catalogue,
        tmp_path / "operator.log",
        namespaces=[partner, a, b],
        policy=policy,
        extra_args=["--tenant-namespaces", "--smtp-host", mail_sink.host, "--smtp-port", str(mail_sink.port)],
    )
    operator.start()
    try:
        apply(
            catalogue,
            partner,
            manifests.obj(
                "Partner", "reseller", {"displayName": "Reseller AG", "admins": [{"email": "pat@reseller.test"}]}
            ),
        )
        # Domain names are unique cluster-wide (other tests' domains linger in deleted namespaces).
        name = f"{a}.test"
        apply(catalogue, a, manifests.tenant("alpha"), manifests.domain("alpha", "alpha", name))

        alpha = wait_for(
            "alpha provisioned",
            lambda: (
                (d := get(catalogue, "domains.lifecycle", a, "alpha"))
                and d["status"].get("phase") == "provisioned"
                and d
            ),
        )
        tenant = get(catalogue, "tenants.lifecycle", a, "alpha")
        found = condition(tenant, "PartnerFound")
        assert (found["status"], found["reason"]) == ("True", "PartnerFound")
        assert "'reseller'" in found["message"]
        [done] = mail_sink.wait_for(1, key=f"Domain/{alpha['metadata']['uid']}/provisioned")
        assert done.envelope_to == ("pat@reseller.test",)
        # Domain names are unique across every namespace: the younger claim waits.
        apply(catalogue, b, manifests.tenant("beta"), manifests.domain("beta", "beta", name))
        beta = wait_for(
            "beta's claim refused",
            lambda: (
                (d := get(catalogue, "domains.lifecycle", b, "beta"))
                and (c := condition(d, "Confirmed"))
                and c["reason"] == "DomainConflict"
                and d
            ),
        )
        assert beta["status"]["phase"] == "ordered"
        # Which customers another partner has is not beta's business: the owner is not named.
        message = condition(beta, "Confirmed")["message"]
        assert "claimed by a tenant of another partner" in message
        assert f"{a}/" not in message  # (the domain name itself is made of the namespace's name)
        assert "'alpha'" not in message
        wait_for(
            "the partner counts the tenants of its tenant namespaces",
            lambda: (
                (get(catalogue, "partners.lifecycle", partner, "reseller") or {}).get("status", {}).get("tenants") == 2
            ),
        )
    finally:
        assert operator.stop() == 0, operator.log_tail()
    errors = [line for line in operator.log_lines() if line.get("severity") in ("error", "critical")]
    assert errors == [], errors
