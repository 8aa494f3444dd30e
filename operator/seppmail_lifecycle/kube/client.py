"""A thin async client for exactly the calls the operator makes.

Status and metadata are written with JSON merge patches; every call names its kind by
``KindInfo``, so one method serves all eight kinds.
"""

from __future__ import annotations

import os
from typing import Any

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from seppmail_lifecycle.api.kinds import KindInfo

MERGE_PATCH = "application/merge-patch+json"
Body = dict[str, Any]

__all__ = ["ApiException", "Body", "KubeClient"]


class KubeClient:
    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)

    @classmethod
    async def connect(cls, kubeconfig: str | None = None) -> KubeClient:
        """In-cluster credentials inside a pod, else the kubeconfig (given, KUBECONFIG or ~/.kube/config)."""
        configuration = client.Configuration()
        if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("KUBECONFIG"):
            config.load_incluster_config(client_configuration=configuration)
        else:
            await config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
        # Many concurrent status writes during bulk imports; aiohttp's default pool is 100.
        configuration.connection_pool_maxsize = 64
        return cls(client.ApiClient(configuration))

    async def close(self) -> None:
        await self.api.close()

    async def list_all(self, info: KindInfo) -> list[Body]:
        items: list[Body] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": 500}
            if token:
                kwargs["_continue"] = token
            page = await self.custom.list_cluster_custom_object(info.group, info.version, info.plural, **kwargs)
            items.extend(page.get("items", []))
            token = page.get("metadata", {}).get("continue")
            if not token:
                return items

    async def patch_status(self, info: KindInfo, namespace: str | None, name: str, patch: Body) -> Body:
        if info.namespaced:
            result = await self.custom.patch_namespaced_custom_object_status(
                info.group, info.version, namespace, info.plural, name, patch, _content_type=MERGE_PATCH
            )
        else:
            result = await self.custom.patch_cluster_custom_object_status(
                info.group, info.version, info.plural, name, patch, _content_type=MERGE_PATCH
            )
        return dict(result)

    async def patch(self, info: KindInfo, namespace: str | None, name: str, patch: Body) -> Body:
        if info.namespaced:
            result = await self.custom.patch_namespaced_custom_object(
                info.group, info.version, namespace, info.plural, name, patch, _content_type=MERGE_PATCH
            )
        else:
            result = await self.custom.patch_cluster_custom_object(
                info.group, info.version, info.plural, name, patch, _content_type=MERGE_PATCH
            )
        return dict(result)

    async def create(self, info: KindInfo, namespace: str, body: Body) -> Body:
        result = await self.custom.create_namespaced_custom_object(
            info.group, info.version, namespace, info.plural, body
        )
        return dict(result)

    async def list_configmaps(self, label_selector: str) -> list[Body]:
        result = await self.core.list_config_map_for_all_namespaces(label_selector=label_selector)
        return [self.api.sanitize_for_serialization(item) for item in result.items]

    async def get_configmap(self, namespace: str, name: str) -> Body | None:
        try:
            result = await self.core.read_namespaced_config_map(name, namespace)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        found: Body = self.api.sanitize_for_serialization(result)
        return found

    async def create_configmap(self, namespace: str, body: Body) -> Body:
        result = await self.core.create_namespaced_config_map(namespace, body)
        created: Body = self.api.sanitize_for_serialization(result)
        return created

    async def patch_configmap(self, namespace: str, name: str, patch: Body) -> Body:
        """A merge patch; with metadata.resourceVersion in ``patch`` it applies only to that version."""
        result = await self.core.patch_namespaced_config_map(name, namespace, patch, _content_type=MERGE_PATCH)
        patched: Body = self.api.sanitize_for_serialization(result)
        return patched

    async def apply_configmap(self, namespace: str, body: Body) -> Body:
        """Create the ConfigMap, or replace its labels, owners and data if it exists."""
        try:
            return await self.create_configmap(namespace, body)
        except ApiException as error:
            if error.status != 409:
                raise
        return await self.patch_configmap(namespace, body["metadata"]["name"], body)

    async def delete_configmap(self, namespace: str, name: str) -> None:
        try:
            await self.core.delete_namespaced_config_map(name, namespace)
        except ApiException as error:
            if error.status != 404:
                raise
