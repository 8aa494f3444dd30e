"""A thin async client for exactly the calls the operator makes.

Status and metadata are written with JSON merge patches; every call names its kind by
``KindInfo``, so one method serves all eight kinds. Every failure is a typed error from
``kube.errors`` (NotFound, Conflict, AlreadyExists, Gone, ...), never an HTTP status code.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from seppmail_lifecycle import __version__
from seppmail_lifecycle.api.kinds import KindInfo
from seppmail_lifecycle.core.status_edits import FIELD_MANAGER
from seppmail_lifecycle.kube.errors import AlreadyExists, Conflict, NotFound, api_errors

MERGE_PATCH = "application/merge-patch+json"
Body = dict[str, Any]

__all__ = ["Body", "KubeClient"]


PROXY_VARIABLES = ("https_proxy", "http_proxy", "all_proxy", "netrc")


def proxy_configured(environ: Mapping[str, str]) -> bool:
    """Whether the environment names a proxy (or a .netrc) that requests must honour."""
    return any(name.lower() in PROXY_VARIABLES for name, value in environ.items() if value)


THROTTLE_RETRIES = 10
PRIORITY_LEVEL_HEADER = "X-Kubernetes-PF-PriorityLevel-UID"
MAX_RETRY_AFTER = 10.0


def retry_after(error: ApiException) -> float:
    """The seconds a 429 asks the client to wait (its Retry-After header; 1 s if it names none)."""
    headers: Mapping[str, str] = error.headers or {}
    try:
        seconds = float(headers.get("Retry-After", ""))
    except ValueError:
        seconds = 1.0
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class BackpressureApiClient(client.ApiClient):  # type: ignore[misc]
    """The API client that waits when the API server says it is busy, as client-go does: a 429
    (API Priority and Fairness rejecting the request, or the max-inflight limit) is retried
    after its Retry-After (up to twice that, at random), up to ``THROTTLE_RETRIES`` times, holding
    the caller meanwhile. The operator's workers thus slow down to what the server admits instead
    of failing reconciles."""

    throttled = 0  # 429s answered so far, for the health endpoint
    priority_level_uid: str | None = None  # which APF priority level the server put us in

    async def request(self, *args: Any, **kwargs: Any) -> Any:
        for attempt in range(1, THROTTLE_RETRIES + 1):
            try:
                response = await super().request(*args, **kwargs)
                headers = getattr(response, "headers", None) or getattr(response, "aiohttp_response", response).headers
                self.priority_level_uid = headers.get(PRIORITY_LEVEL_HEADER, self.priority_level_uid)
                return response
            except ApiException as error:
                if error.status != 429 or attempt == THROTTLE_RETRIES:
                    raise
                self.throttled += 1
                # Jittered (as client-go's backoff is): callers rejected together would otherwise
                # all come back in the same instant and mostly be rejected again.
                await asyncio.sleep(retry_after(error) * (1 + random.random()))
        raise AssertionError("unreachable")


class KubeClient:
    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)

    @classmethod
    async def connect(cls, kubeconfig: str | None = None, context: str | None = None) -> KubeClient:
        """In-cluster credentials inside a pod, else the kubeconfig (given, KUBECONFIG or
        ~/.kube/config) with its current context, or ``context``."""
        configuration = client.Configuration()
        in_pod = os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("KUBECONFIG")
        if kubeconfig is None and context is None and in_pod:
            config.load_incluster_config(client_configuration=configuration)
        else:
            await config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration)
        # Many concurrent status writes during bulk imports; aiohttp's default pool is 100.
        configuration.connection_pool_maxsize = 64
        api = BackpressureApiClient(configuration)
        # The API server names a write's field manager after the user agent's product: what tells
        # the operator's status writes from anyone else's (core.status_edits).
        api.user_agent = f"{FIELD_MANAGER}/{__version__}"
        if not proxy_configured(os.environ):
            # kubernetes_asyncio opens its session with trust_env=True: every request then looks up
            # ~/.netrc and the proxy variables in a thread of its own (two thread hops per write,
            # 5% of the operator's CPU in bulk). Without proxy variables there is nothing to find.
            api.rest_client.pool_manager._trust_env = False
        return cls(api)

    @staticmethod
    def default_namespace(kubeconfig: str | None = None, context: str | None = None) -> str:
        """The namespace of the kubeconfig's (current or named) context, as kubectl uses it."""
        try:
            contexts, current = config.list_kube_config_contexts(kubeconfig)
        except (config.ConfigException, OSError):
            return "default"
        chosen = next((c for c in contexts if c.get("name") == context), None) if context else current
        namespace = ((chosen or {}).get("context") or {}).get("namespace")
        return namespace if isinstance(namespace, str) and namespace else "default"

    @property
    def priority_level_uid(self) -> str | None:
        """The UID of the APF priority level the server's last answer said our requests are in."""
        uid = getattr(self.api, "priority_level_uid", None)
        return None if uid is None else str(uid)

    @property
    def throttled(self) -> int:
        """How many requests the API server answered with 429 (each retried after its Retry-After)."""
        return int(getattr(self.api, "throttled", 0))

    async def close(self) -> None:
        await self.api.close()

    async def list_objects(self, info: KindInfo, namespaces: Sequence[str] = ()) -> list[Body]:
        """Every object of a kind: cluster-wide, or only in ``namespaces`` (exact names) for a
        namespaced kind, so an install with Roles in those namespaces can read them."""
        return [body async for page in self.list_pages(info, namespaces) for body in page]

    async def list_pages(self, info: KindInfo, namespaces: Sequence[str] = ()) -> AsyncIterator[list[Body]]:
        """``list_objects`` a page (500 objects) at a time, so a caller keeping what it needs of
        each holds one page of whole objects at a time, not all of them."""
        listings: list[Any]
        if not info.namespaced or not namespaces:
            listings = [
                lambda **kw: self.custom.list_cluster_custom_object(info.group, info.version, info.plural, **kw)
            ]
        else:
            listings = [
                lambda ns=namespace, **kw: self.custom.list_namespaced_custom_object(
                    info.group, info.version, ns, info.plural, **kw
                )
                for namespace in namespaces
            ]
        for list_page in listings:
            async for page in self._pages(list_page):
                yield page

    @staticmethod
    async def _pages(list_page: Any) -> AsyncIterator[list[Body]]:
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": 500}
            if token:
                kwargs["_continue"] = token
            with api_errors():
                page = await list_page(**kwargs)
            yield page.get("items", [])
            token = page.get("metadata", {}).get("continue")
            if not token:
                return

    async def get(self, info: KindInfo, namespace: str | None, name: str) -> Body:
        with api_errors():
            if info.namespaced:
                result = await self.custom.get_namespaced_custom_object(
                    info.group, info.version, namespace, info.plural, name
                )
            else:
                result = await self.custom.get_cluster_custom_object(info.group, info.version, info.plural, name)
        return dict(result)

    async def patch_status(self, info: KindInfo, namespace: str | None, name: str, patch: Body) -> Body:
        """A merge patch of the status; with ``metadata.resourceVersion`` in ``patch`` it applies
        only to that version (else Conflict)."""
        with api_errors():
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
        with api_errors():
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
        with api_errors():
            result = await self.custom.create_namespaced_custom_object(
                info.group, info.version, namespace, info.plural, body
            )
        return dict(result)

    async def delete(self, info: KindInfo, namespace: str, name: str, uid: str) -> bool:
        """Delete the object if it still is the one with ``uid`` (not one re-created under its
        name); False if it is gone or is another one by now."""
        try:
            with api_errors():
                await self.custom.delete_namespaced_custom_object(
                    info.group,
                    info.version,
                    namespace,
                    info.plural,
                    name,
                    body=client.V1DeleteOptions(preconditions=client.V1Preconditions(uid=uid)),
                )
        except (NotFound, Conflict):
            return False
        return True

    async def list_configmaps(self, label_selector: str, namespaces: Sequence[str] = ()) -> list[Body]:
        """The labelled ConfigMaps: cluster-wide, or only in ``namespaces`` (exact names)."""
        with api_errors():
            if not namespaces:
                results = [await self.core.list_config_map_for_all_namespaces(label_selector=label_selector)]
            else:
                results = [
                    await self.core.list_namespaced_config_map(namespace, label_selector=label_selector)
                    for namespace in namespaces
                ]
        return [self.api.sanitize_for_serialization(item) for result in results for item in result.items]

    async def get_configmap(self, namespace: str, name: str) -> Body | None:
        try:
            with api_errors():
                result = await self.core.read_namespaced_config_map(name, namespace)
        except NotFound:
            return None
        found: Body = self.api.sanitize_for_serialization(result)
        return found

    async def create_configmap(self, namespace: str, body: Body) -> Body:
        with api_errors():
            result = await self.core.create_namespaced_config_map(namespace, body)
        created: Body = self.api.sanitize_for_serialization(result)
        return created

    async def patch_configmap(self, namespace: str, name: str, patch: Body) -> Body:
        """A merge patch; with metadata.resourceVersion in ``patch`` it applies only to that version."""
        with api_errors():
            result = await self.core.patch_namespaced_config_map(name, namespace, patch, _content_type=MERGE_PATCH)
        patched: Body = self.api.sanitize_for_serialization(result)
        return patched

    async def apply_configmap(self, namespace: str, body: Body) -> Body:
        """Create the ConfigMap, or replace its labels, owners and data if it exists."""
        try:
            return await self.create_configmap(namespace, body)
        except AlreadyExists:
            return await self.patch_configmap(namespace, body["metadata"]["name"], body)

    async def delete_configmap(self, namespace: str, name: str, resource_version: str | None = None) -> None:
        """Delete the ConfigMap (with ``resource_version``: only if unchanged since, else Conflict)."""
        options = client.V1DeleteOptions(preconditions=client.V1Preconditions(resource_version=resource_version))
        try:
            with api_errors():
                await self.core.delete_namespaced_config_map(name, namespace, body=options)
        except NotFound:
            pass

    async def create_event(self, namespace: str, event: Body) -> None:
        """Post an Event: ``events.k8s.io/v1`` when it is one (the operator's), else ``core/v1``."""
        # Posted without a response type: nobody reads the created Event, and deserialising it
        # into the client's V1Event model (datetimes and all) was 4% of the operator's CPU.
        new_style = event.get("apiVersion") == "events.k8s.io/v1"
        with api_errors():
            await self.api.call_api(
                "/apis/events.k8s.io/v1/namespaces/{namespace}/events"
                if new_style
                else "/api/v1/namespaces/{namespace}/events",
                "POST",
                path_params={"namespace": namespace},
                header_params={"Accept": "application/json", "Content-Type": "application/json"},
                body=event,
                auth_settings=["BearerToken"],
                response_types_map={},
                _return_http_data_only=True,
            )

    async def patch_event(self, namespace: str, name: str, patch: Body) -> None:
        """Merge-patch an ``events.k8s.io/v1`` Event (its series, when it repeats)."""
        with api_errors():
            await self.api.call_api(
                "/apis/events.k8s.io/v1/namespaces/{namespace}/events/{name}",
                "PATCH",
                path_params={"namespace": namespace, "name": name},
                header_params={"Accept": "application/json", "Content-Type": "application/merge-patch+json"},
                body=patch,
                auth_settings=["BearerToken"],
                response_types_map={},
                _return_http_data_only=True,
            )

    async def list_namespaces(self) -> list[Body]:
        """Every Namespace, as plain bodies (their labels say which are tenant namespaces)."""
        return await self._list_plain("/api/v1/namespaces")

    async def list_priority_levels(self) -> list[Body]:
        """The API server's PriorityLevelConfigurations (API Priority and Fairness)."""
        return await self._list_plain("/apis/flowcontrol.apiserver.k8s.io/v1/prioritylevelconfigurations")

    async def _list_plain(self, path: str) -> list[Body]:
        """The items of a LIST at ``path`` as plain JSON (not the client's typed models)."""
        with api_errors():
            listed = await self.api.call_api(
                path,
                "GET",
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
                response_types_map={200: "object"},
                _return_http_data_only=True,
            )
        items: list[Body] = listed.get("items", [])
        return items

    async def server_metrics(self) -> str:
        """The API server's own /metrics, as Prometheus text."""
        with api_errors():
            response = await self.api.call_api(
                "/metrics",
                "GET",
                header_params={"Accept": "text/plain"},
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
            )
        text: str = await response.text()
        return text
