"""Reading and writing a coordination.k8s.io/v1 Lease, with typed errors; writes conditional on
the resourceVersion read (a Conflict means another replica won the round)."""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio import client

from seppmail_lifecycle.kube.client import KubeClient
from seppmail_lifecycle.kube.errors import NotFound, api_errors

Body = dict[str, Any]


class LeaseClient:
    def __init__(self, kube: KubeClient, namespace: str, name: str) -> None:
        self.kube = kube
        self.api = client.CoordinationV1Api(kube.api)
        self.namespace = namespace
        self.name = name

    async def get(self) -> Body | None:
        try:
            with api_errors():
                result = await self.api.read_namespaced_lease(self.name, self.namespace)
        except NotFound:
            return None
        body: Body = self.kube.api.sanitize_for_serialization(result)
        return body

    async def create(self, spec: Body) -> Body:
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": self.name}, "spec": spec}
        with api_errors():
            result = await self.api.create_namespaced_lease(self.namespace, body)
        created: Body = self.kube.api.sanitize_for_serialization(result)
        return created

    async def replace(self, resource_version: str, spec: Body) -> Body:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "resourceVersion": resource_version},
            "spec": spec,
        }
        with api_errors():
            result = await self.api.replace_namespaced_lease(self.name, self.namespace, body)
        replaced: Body = self.kube.api.sanitize_for_serialization(result)
        return replaced
