"""The API server's back-pressure on the real control plane: requests API Priority and Fairness
rejects (429 with Retry-After) are retried after the wait it asks for, never failed; and the
operator runs as many workers as the priority level its requests fall into has room for."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from seppmail_lifecycle.api import KINDS_BY_NAME
from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from seppmail_lifecycle.kube.client import KubeClient
from seppmail_lifecycle.kube.flowcontrol import nominal_seats
from tests.kube import wait_for
from tests.operator_process import OperatorProcess

pytestmark = pytest.mark.e2e


def rejected(plane: ControlPlane, level: str) -> int:
    text = plane.kubectl("get", "--raw", "/metrics").stdout
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("apiserver_flowcontrol_rejected_requests_total{") and f'priority_level="{level}"' in line
    )


def level_seats(plane: ControlPlane, level: str) -> int | None:
    return nominal_seats(plane.kubectl("get", "--raw", "/metrics").stdout, level)


@contextlib.contextmanager
def own_priority_level(
    plane: ControlPlane, shares: int, limit_response: str, role: str = "cluster-admin"
) -> Iterator[tuple[str, str]]:
    """A user bound to ``role`` whose every request falls into a priority level of its own with
    ``shares`` (nominalConcurrencyShares); yields (user, level)."""
    user, level = f"throttled-{uuid.uuid4().hex[:6]}", f"tiny-{uuid.uuid4().hex[:6]}"
    plane.kubectl(
        "apply",
        "-f",
        "-",
        input=f"""
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {user}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {role}}}
subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: User, name: {user}}}]
---
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: PriorityLevelConfiguration
metadata: {{name: {level}}}
spec:
  type: Limited
  limited:
    nominalConcurrencyShares: {shares}
    lendablePercent: 0
    limitResponse: {limit_response}
---
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: FlowSchema
metadata: {{name: {level}}}
spec:
  matchingPrecedence: 50
  priorityLevelConfiguration: {{name: {level}}}
  distinguisherMethod: {{type: ByUser}}
  rules:
  - subjects: [{{kind: User, user: {{name: {user}}}}}]
    resourceRules:
    - {{verbs: ["*"], apiGroups: ["*"], resources: ["*"], namespaces: ["*"], clusterScope: true}}
    nonResourceRules:
    - {{verbs: ["*"], nonResourceURLs: ["*"]}}
""",
    )
    try:
        # The server's flow-control controller takes the new level up asynchronously.
        wait_for(f"the API server applies priority level {level}", lambda: level_seats(plane, level), timeout=20)
        yield user, level
    finally:
        plane.kubectl("delete", "flowschema,prioritylevelconfiguration", level)
        plane.kubectl("delete", "clusterrolebinding", user)


async def test_requests_the_server_rejects_as_too_many_are_retried_until_they_succeed(
    crds: ControlPlane, namespace: str
) -> None:
    with own_priority_level(crds, shares=1, limit_response="{type: Reject}") as (user, level):
        client = await KubeClient.connect(str(crds.mint_kubeconfig(user)))
        try:
            info = KINDS_BY_NAME["Tenant"]
            before = rejected(crds, level)
            results = await asyncio.gather(*(client.list_objects(info, [namespace]) for _ in range(200)))
            assert results == [[]] * 200  # every request answered, none failed
            assert rejected(crds, level) > before  # the server did push back ...
            assert client.throttled > 0  # ... and every rejected request was retried until admitted
        finally:
            await client.close()


QUEUE = "{type: Queue, queuing: {queues: 16, handSize: 4, queueLengthLimit: 50}}"


def started_workers(plane: ControlPlane, kubeconfig: Path, namespace: str, log: Path) -> dict[str, object]:
    operator = OperatorProcess(plane, log, namespaces=[namespace], kubeconfig=kubeconfig)
    operator.start()
    try:
        health = operator.liveness()
        assert health is not None
        workers: dict[str, object] = health["workers"]
        return workers
    finally:
        assert operator.stop() == 0, operator.log_tail()


@pytest.mark.parametrize("shares", [3, 40])
def test_the_operator_runs_half_the_seats_of_its_priority_level_as_workers(
    catalogue: ControlPlane, namespace: str, tmp_path: Path, shares: int
) -> None:
    with own_priority_level(catalogue, shares=shares, limit_response=QUEUE) as (user, level):
        seats = level_seats(catalogue, level)
        assert seats is not None
        workers = started_workers(catalogue, catalogue.mint_kubeconfig(user), namespace, tmp_path / "operator.log")
    assert workers["count"] == min(32, max(1, seats // 2))
    assert f"priority level {level}'s {seats} seats" in str(workers["reason"])


def test_as_admin_the_operator_is_exempt_and_runs_the_most_workers(
    catalogue: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    # system:masters falls into the exempt level: the server never limits it.
    workers = started_workers(catalogue, catalogue.admin_kubeconfig, namespace, tmp_path / "operator.log")
    assert workers == {"count": 32, "reason": "priority level exempt is not limited; the most"}


def test_without_flow_control_read_the_operator_says_why_it_runs_the_default(
    catalogue: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    with own_priority_level(catalogue, shares=40, limit_response=QUEUE, role="lifecycle-reader") as (user, _):
        catalogue.kubectl(
            "apply",
            "-f",
            "-",
            input="""
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: lifecycle-reader}
rules:
- {apiGroups: [lifecycle.seppmail.cloud], resources: ["*"], verbs: [get, list, watch, patch, update]}
- {apiGroups: [""], resources: [events, configmaps], verbs: ["*"]}
- {apiGroups: [events.k8s.io], resources: [events], verbs: ["*"]}
""",
        )
        try:
            workers = started_workers(catalogue, catalogue.mint_kubeconfig(user), namespace, tmp_path / "operator.log")
        finally:
            catalogue.kubectl("delete", "clusterrole", "lifecycle-reader")
    assert workers["count"] == 16
    assert str(workers["reason"]).startswith("cannot read PriorityLevelConfigurations (403 Forbidden")
    assert str(workers["reason"]).endswith("; the default")
