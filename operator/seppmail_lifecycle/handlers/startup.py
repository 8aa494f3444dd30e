"""The kopf settings, chosen deliberately, applied at start-up."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from seppmail_lifecycle import FINALIZER, GROUP

REPORTING_COMPONENT = "seppmail-lifecycle"


def apply_settings(settings: kopf.OperatorSettings) -> None:
    """Set every kopf setting the operator depends on; called at start-up."""
    # Our finalizer and bookkeeping annotations carry our own prefix: the operator writes only
    # status, finalizers, its own annotations and objects it owns (never a field that lives in Git).
    # kopf owns the finalizer named here and strips it from deleted objects when it has no
    # deletion handlers, so it must not be ours: our FINALIZER holds a deleted order until it
    # is deprovisioned, and only the reconciler may release it.
    settings.persistence.finalizer = f"{GROUP}/kopf"
    assert settings.persistence.finalizer != FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )

    # Transitions post their own events with the condition's reason; kopf's automatic per-log
    # events would flood `kubectl describe`, so only handler warnings and errors become events.
    settings.posting.level = logging.WARNING
    settings.posting.reporting_component = REPORTING_COMPONENT
    settings.posting.event_name_prefix = f"{REPORTING_COMPONENT}-"

    # Watches are re-established by the server every 5 minutes; a silent connection (e.g. a dead
    # load balancer) is dropped by the client a little later instead of hanging forever.
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 10
    settings.networking.connect_timeout = 10
    settings.networking.request_timeout = 60

    # kopf's per-object workers exit after its default idle_timeout (5 s): a longer one only keeps
    # a task and the last body of every object of a bulk import alive (it batches nothing).


@kopf.on.startup()  # type: ignore[untyped-decorator,unused-ignore]
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """kopf's settings for this operator, set before its watches start."""
    apply_settings(settings)
    # Leadership is ours (a coordination.k8s.io Lease, runtime.leader), never kopf's peering.
    settings.peering.standalone = True
    # Our kinds are known: no cluster-wide watch of CRDs and namespaces, which a namespaced
    # install (Roles only) may not read. Glob patterns need the namespaces scanned.
    namespaces: tuple[str, ...] = memo.runtime.store.namespaces
    settings.scanning.disabled = not any(char in ns for ns in namespaces for char in "*?[")
