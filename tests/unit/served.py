"""Objects as the API server sends them (uid, creationTimestamp, resourceVersion, generation),
built from the shared manifests: what the store and the engine are fed by the watch."""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

from seppmail_lifecycle.backend.routing_configmap import to_configmap
from seppmail_lifecycle.kube.convert import Body
from tests import manifests
from tests.unit.core.builders import CREATED, NS, routing, uid


def served(
    manifest: manifests.Manifest,
    namespace: str | None = NS,
    *,
    version: int = 1,
    generation: int | None = 1,
) -> Body:
    """``manifest`` as the API server returns it: namespaced (None: cluster-scoped), with uid,
    creationTimestamp, resourceVersion and (for custom resources) generation."""
    body = copy.deepcopy(manifest)
    metadata = body["metadata"]
    if namespace is not None:
        metadata["namespace"] = namespace
    metadata["uid"] = uid(body["kind"], metadata["name"], namespace)
    metadata["creationTimestamp"] = CREATED.strftime("%Y-%m-%dT%H:%M:%SZ")
    metadata["resourceVersion"] = str(version)
    if generation is not None:
        metadata["generation"] = generation
    return body


@dataclass(frozen=True)
class _Owner:
    namespace: str
    name: str
    uid: str


def routing_configmap(domain_object: str, namespace: str = NS, *, version: int = 1) -> Body:
    """The routing ConfigMap the backend writes for ``domain_object`` (ConfigMaps have no generation)."""
    owner = _Owner(namespace, domain_object, uid("Domain", domain_object, namespace))
    config = replace(routing(("s1", "base")), domain_object=domain_object)
    return served(to_configmap(owner, config), namespace, version=version, generation=None)
