"""What every kind's event handler shares: keep the store current and reach the runtime."""

from __future__ import annotations

import kopf

from seppmail_lifecycle.kube.store import Entry
from seppmail_lifecycle.runtime.operator_runtime import OperatorRuntime


def runtime_of(memo: kopf.Memo) -> OperatorRuntime:
    runtime: OperatorRuntime = memo.runtime
    return runtime


def observe(memo: kopf.Memo, kind: str, event: kopf.RawEvent) -> tuple[OperatorRuntime, Entry | None]:
    """Record a watch event in the store; returns the runtime and the entry (None once deleted)."""
    runtime = runtime_of(memo)
    body = dict(event["object"])
    if event.get("type") == "DELETED":
        runtime.store.delete(kind, body)
        return runtime, None
    return runtime, runtime.store.put(kind, body)


def namespace_of(event: kopf.RawEvent) -> str:
    namespace: str = event["object"]["metadata"].get("namespace") or ""
    return namespace


def name_of(event: kopf.RawEvent) -> str:
    name: str = event["object"]["metadata"]["name"]
    return name


def spec_ref(event: kopf.RawEvent, field: str) -> str | None:
    ref = ((event["object"].get("spec") or {}).get(field) or {}).get("name")
    return ref if isinstance(ref, str) else None


def enqueue_tenant_domains(runtime: OperatorRuntime, namespace: str, tenant: str) -> None:
    """Every domain of a tenant: their decisions depend on the tenant and its licenses."""
    for domain in runtime.store.lookup("domains_by_tenant", (namespace, tenant)):
        runtime.reconciler.enqueue(("Domain", namespace, domain.raw["metadata"]["name"]))
