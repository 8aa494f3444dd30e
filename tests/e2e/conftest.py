"""Fixtures of the e2e scenarios: the product catalogue, and the operator as a real process
watching the test's namespace with the test's policy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from seppmail_lifecycle.kube.client import KubeClient
from tests.conftest import EXAMPLES_DIR
from tests.kube import apply
from tests.operator_process import OperatorProcess
from tests.servers import dns_server, mail_sink

__all__ = ["StartOperator", "catalogue", "client", "dns_server", "mail_sink", "start_operator"]

API = "lifecycle.seppmail.cloud/v1alpha1"
StartOperator = Callable[..., OperatorProcess]


@pytest.fixture(scope="session")
def catalogue(crds: ControlPlane) -> ControlPlane:
    """The example products, plus `archiving`, which requires sign-only (so a test can leave it out)."""
    return install_catalogue(crds)


def install_catalogue(crds: ControlPlane) -> ControlPlane:
    """``catalogue``'s products, on a control plane with the CRDs."""
    crds.kubectl("apply", "-f", str(EXAMPLES_DIR / "00-products.yaml"))
    apply(
        crds,
        "default",
        {
            "apiVersion": API,
            "kind": "Product",
            "metadata": {"name": "archiving"},
            "spec": {"displayName": "Archiving", "requires": ["base", "sign-only"], "billing": {"type": "recurring"}},
        },
    )
    return crds


@pytest.fixture
async def client(crds: ControlPlane) -> AsyncIterator[KubeClient]:
    """A client of the real API server, as the cluster admin."""
    connected = await KubeClient.connect(str(crds.admin_kubeconfig))
    yield connected
    await connected.close()


@pytest.fixture
def start_operator(catalogue: ControlPlane, namespace: str, tmp_path: Path) -> Iterator[StartOperator]:
    started: list[OperatorProcess] = []

    def start(
        policy: dict[str, Any],
        *extra_args: str,
        env: dict[str, str] | None = None,
        also_watch: Sequence[str] = (),
        kubeconfig: Path | None = None,
    ) -> OperatorProcess:
        policy_file = tmp_path / "policy.yaml"
        policy_file.write_text(yaml.safe_dump(policy))
        operator = OperatorProcess(
            catalogue,
            tmp_path / "operator.log",
            namespaces=[namespace, *also_watch],
            policy=policy_file,
            extra_args=extra_args,
            env=env,
            kubeconfig=kubeconfig,
        )
        operator.start()
        started.append(operator)
        return operator

    yield start
    for operator in started:
        if operator.process is not None and operator.process.poll() is None:
            assert operator.stop() == 0, operator.log_tail()
    errors = [line for op in started[-1:] for line in op.log_lines() if line.get("severity") in ("error", "critical")]
    assert errors == [], errors
