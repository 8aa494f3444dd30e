"""A namespaced install: the chart with `watchNamespaces` gives the operator's ServiceAccount Roles
in the watched namespace (and read of the cluster-scoped catalogue) but no cluster-wide read; the
operator, running as exactly that identity with leader election, takes the examples to
provisioned without one Forbidden."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from seppmail_lifecycle.kube.flowcontrol import nominal_seats
from tests.conftest import EXAMPLES_DIR
from tests.helm import CHART, Helm
from tests.kube import get, wait_phases
from tests.operator_process import OperatorProcess

pytestmark = pytest.mark.e2e

GROUP = "lifecycle.seppmail.cloud"


@pytest.fixture
def release(catalogue: ControlPlane, namespace: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The chart installed for ``namespace`` only; yields (release namespace, service account)."""
    if catalogue.binaries.helm is None:
        pytest.skip("the control plane has no helm binary")
    helm = Helm(catalogue.binaries.helm, tmp_path / "helm-home")
    # Short: the ServiceAccount's user name is a certificate's CN (at most 64 characters).
    system = f"lc-{uuid.uuid4().hex[:6]}"
    name = "lc"
    args = (name, "--namespace", system, f"--kubeconfig={catalogue.admin_kubeconfig}")
    helm("install", *args, str(CHART), "--create-namespace", "--skip-crds", "--set", f"watchNamespaces={{{namespace}}}")
    try:
        yield system, f"{name}-seppmail-lifecycle"
    finally:
        helm("uninstall", *args, "--wait", "--timeout=60s", check=False)
        catalogue.kubectl("delete", "namespace", system, "--wait=false", check=False)


def can_i(plane: ControlPlane, who: str, verb: str, resource: str, *scope: str) -> bool:
    answer = plane.kubectl("auth", "can-i", verb, resource, f"--as={who}", *scope, check=False).stdout.strip()
    return answer == "yes"


def test_the_operator_runs_on_roles_in_the_watched_namespace_only(
    catalogue: ControlPlane, namespace: str, release: tuple[str, str], tmp_path: Path
) -> None:
    system, account = release
    user = f"system:serviceaccount:{system}:{account}"
    assert can_i(catalogue, user, "watch", f"domains.{GROUP}", "-n", namespace)
    assert can_i(catalogue, user, "update", "leases.coordination.k8s.io", "-n", system)
    assert can_i(catalogue, user, "list", f"products.{GROUP}")
    for verb, resource in [("list", f"tenants.{GROUP}"), ("list", "configmaps"), ("list", "namespaces")]:
        assert not can_i(catalogue, user, verb, resource, "--all-namespaces"), (verb, resource)
    assert not can_i(catalogue, user, "list", "customresourcedefinitions.apiextensions.k8s.io")

    kubeconfig = catalogue.mint_kubeconfig(
        user, ["system:serviceaccounts", f"system:serviceaccounts:{system}", "system:authenticated"]
    )
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump({"autoDeploy": {"every": "2s", "offset": "0s"}, "dns": {"verify": False}}))
    operator = OperatorProcess(
        catalogue,
        tmp_path / "operator.log",
        namespaces=[namespace],
        policy=policy,
        extra_args=["--leader-elect", "--leader-elect-namespace", system, "--leader-elect-id", account],
        kubeconfig=kubeconfig,
    )
    operator.start()
    try:
        # The chart lets it read its flow control: a ServiceAccount's requests are workload-low's.
        health = operator.liveness()
        assert health is not None
        seats = nominal_seats(catalogue.kubectl("get", "--raw", "/metrics").stdout, "workload-low")
        assert seats is not None
        assert health["workers"]["count"] == min(32, seats // 2)
        assert "workload-low" in health["workers"]["reason"]
        catalogue.kubectl("apply", "-n", namespace, "-f", str(EXAMPLES_DIR))
        wait_phases(catalogue, namespace, "domains.lifecycle", "provisioned", timeout=40)
        assert get(catalogue, "leases.coordination.k8s.io", system, account)["spec"]["holderIdentity"]
    finally:
        assert operator.stop() == 0
    problems = [
        line for line in operator.log_lines() if line.get("severity") in ("warn", "warning", "error", "critical")
    ]
    assert not [p for p in problems if "forbidden" in p["message"].lower()], problems
    assert not [p for p in problems if p.get("severity") in ("error", "critical")], problems
