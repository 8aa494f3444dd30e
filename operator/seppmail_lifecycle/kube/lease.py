"""Reading and writing one coordination.k8s.io/v1 Lease, with typed errors (``kube.errors``).

Bodies are plain dicts as the API server sends them (camelCase). A replace is conditional on the
resourceVersion of the body it is based on: a ``Conflict`` means another replica wrote the Lease
since, i.e. won the round; a create that finds the Lease raises ``AlreadyExists``.
"""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio import client

from seppmail_lifecycle.kube.client import KubeClient
from seppmail_lifecycle.kube.errors import NotFound, api_errors

Body = dict[str, Any]

__all__ = ["Body", "LeaseClient"]

API_VERSION = "coordination.k8s.io/v1"
# Metadata a replace carries over from the body it is based on (the rest is the server's).
_KEPT_METADATA = ("labels", "annotations", "ownerReferences")


class LeaseClient:
    """The Lease ``namespace/name``."""

    def __init__(self, kube: KubeClient, namespace: str, name: str) -> None:
        self.kube = kube
        self.api = client.CoordinationV1Api(kube.api)
        self.namespace = namespace
        self.name = name

    def _body(self, result: Any) -> Body:
        body: Body = self.kube.api.sanitize_for_serialization(result)
        return body

    async def get(self) -> Body | None:
        """The Lease, or None if there is none."""
        try:
            with api_errors():
                result = await self.api.read_namespaced_lease(self.name, self.namespace)
        except NotFound:
            return None
        return self._body(result)

    async def create(self, spec: Body) -> Body:
        """Create the Lease with ``spec``; ``AlreadyExists`` if another replica was first."""
        body = {"apiVersion": API_VERSION, "kind": "Lease", "metadata": {"name": self.name}, "spec": spec}
        with api_errors():
            result = await self.api.create_namespaced_lease(self.namespace, body)
        return self._body(result)

    async def replace(self, current: Body, spec: Body) -> Body:
        """Replace the spec of the Lease ``current`` (as read or last written); ``Conflict`` if
        the Lease changed since (its resourceVersion), ``NotFound`` if it was deleted."""
        metadata = current.get("metadata") or {}
        kept = {key: metadata[key] for key in _KEPT_METADATA if metadata.get(key)}
        body = {
            "apiVersion": API_VERSION,
            "kind": "Lease",
            "metadata": {**kept, "name": self.name, "resourceVersion": metadata["resourceVersion"]},
            "spec": spec,
        }
        with api_errors():
            result = await self.api.replace_namespaced_lease(self.name, self.namespace, body)
        return self._body(result)
