"""The API server's back-pressure on the real control plane: requests API Priority and Fairness
rejects (429 with Retry-After) are retried after the wait it asks for, never failed."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from seppmail_lifecycle.api import KINDS_BY_NAME
from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from seppmail_lifecycle.kube.client import KubeClient

pytestmark = pytest.mark.e2e


def rejected(plane: ControlPlane, level: str) -> int:
    text = plane.kubectl("get", "--raw", "/metrics").stdout
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("apiserver_flowcontrol_rejected_requests_total{") and f'priority_level="{level}"' in line
    )


async def test_requests_the_server_rejects_as_too_many_are_retried_until_they_succeed(
    crds: ControlPlane, namespace: str
) -> None:
    user, level = f"throttled-{uuid.uuid4().hex[:6]}", f"tiny-{uuid.uuid4().hex[:6]}"
    crds.kubectl(
        "apply",
        "-f",
        "-",
        input=f"""
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {user}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}}
subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: User, name: {user}}}]
---
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: PriorityLevelConfiguration
metadata: {{name: {level}}}
spec:
  type: Limited
  limited:
    nominalConcurrencyShares: 1
    lendablePercent: 0
    limitResponse: {{type: Reject}}
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
""",
    )
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
        crds.kubectl("delete", "flowschema,prioritylevelconfiguration", level)
        crds.kubectl("delete", "clusterrolebinding", user)
