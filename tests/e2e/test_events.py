"""Transition events on the real API server: one per object per burst, whatever is lost counted."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from seppmail_lifecycle.kube.client import KubeClient
from seppmail_lifecycle.kube.events import EventRecorder
from tests import manifests
from tests.kube import apply, events_for, get, wait_for

pytestmark = pytest.mark.e2e
Body = dict[str, Any]
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


async def _until(what: str, probe: Callable[[], bool]) -> None:
    for _ in range(600):
        if probe():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after 30 s waiting for {what}")


@contextlib.asynccontextmanager
async def _posting(recorder: EventRecorder) -> AsyncIterator[None]:
    """The recorder's posters run for the duration of the block, as in the operator."""
    posting = asyncio.create_task(recorder.run())
    try:
        yield
    finally:
        posting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await posting


def _two_tenants(crds: ControlPlane, namespace: str) -> tuple[Body, Body]:
    apply(crds, namespace, manifests.tenant("a"), manifests.tenant("b"))
    return get(crds, "tenants.lifecycle", namespace, "a"), get(crds, "tenants.lifecycle", namespace, "b")


def _drained(recorder: EventRecorder) -> Callable[[], bool]:
    return lambda: recorder.counts()["events_waiting"] == 0 and recorder.counts()["events_posted_total"] > 0


async def test_a_burst_of_transitions_is_one_event_per_object(
    crds: ControlPlane, namespace: str, client: KubeClient
) -> None:
    names = [f"t-{n:02}" for n in range(20)]
    apply(crds, namespace, *(manifests.tenant(name) for name in names))
    bodies = [get(crds, "tenants.lifecycle", namespace, name) for name in names]
    recorder = EventRecorder(client, lambda: NOW)
    # Three transitions of each object before any poster runs: a bulk burst.
    for step, reason in enumerate(("Confirmed", "DeploymentStarted", "Provisioned")):
        for body in bodies:
            recorder(body, type="Warning" if step == 1 else "Normal", reason=reason, message=f"step {step}.")
    assert recorder.counts()["events_waiting"] == len(names)

    async with _posting(recorder):
        # Not only taken off the backlog: posts in flight are counted once they are answered.
        await _until("the backlog posted", lambda: recorder.counts()["events_posted_total"] >= len(names))
        wait_for("the events listed", lambda: len(events_for(crds, namespace, names[-1])) == 1)
    for name in names:
        (event,) = events_for(crds, namespace, name)
        assert (event["reason"], event["type"]) == ("Provisioned", "Warning")
        assert event["message"] == "step 0.; then step 1.; then step 2."
    counts = recorder.counts()
    assert (counts["events_posted_total"], counts["events_coalesced_total"]) == (20, 40)
    assert (counts["events_dropped_total"], counts["events_failed_total"]) == (0, 0)


async def test_a_full_backlog_and_a_refused_post_are_counted(
    crds: ControlPlane, namespace: str, client: KubeClient
) -> None:
    a, b = _two_tenants(crds, namespace)
    recorder = EventRecorder(client, lambda: NOW, capacity=1)
    recorder(a, type="Normal", reason="First", message="kept.")
    recorder(b, type="Normal", reason="Second", message="no room.")
    assert recorder.counts()["events_dropped_total"] == 1
    # An event into a namespace that does not exist: the API server refuses it.
    gone = {**a, "metadata": {**a["metadata"], "uid": "other", "namespace": "no-such-namespace"}}
    async with _posting(recorder):
        await _until("the kept event posted", _drained(recorder))
        recorder(gone, type="Normal", reason="Refused", message="namespace missing.")
        await _until("the refused post counted", lambda: recorder.counts()["events_failed_total"] == 1)
    counts = recorder.counts()
    assert (counts["events_posted_total"], counts["events_dropped_total"], counts["events_failed_total"]) == (1, 1, 1)
    assert [e["reason"] for e in events_for(crds, namespace, "a")] == ["First"]


async def test_transitions_within_the_window_are_one_event_and_stopping_posts_what_waits(
    crds: ControlPlane, namespace: str, client: KubeClient
) -> None:
    a, b = _two_tenants(crds, namespace)
    recorder = EventRecorder(client, lambda: NOW, window=1.0)
    async with _posting(recorder):
        recorder(a, type="Normal", reason="Confirmed", message="first.")
        await asyncio.sleep(0.5)
        recorder(a, type="Normal", reason="Provisioned", message="half a second later.")
        await _until("the merged event posted", _drained(recorder))
        recorder(b, type="Normal", reason="Confirmed", message="waiting at shutdown.")
    assert recorder.counts()["events_waiting"] == 1
    await recorder.flush()
    assert [(e["reason"], e["message"]) for e in events_for(crds, namespace, "a")] == [
        ("Provisioned", "first.; then half a second later.")
    ]
    assert [e["reason"] for e in events_for(crds, namespace, "b")] == ["Confirmed"]
    assert recorder.counts()["events_posted_total"] == 2


async def test_repeats_are_one_event_with_a_series_shown_by_kubectl_describe_and_events(
    crds: ControlPlane, namespace: str, client: KubeClient
) -> None:
    a, _ = _two_tenants(crds, namespace)
    recorder = EventRecorder(client, lambda: NOW, window=0.2, instance="operator-pod-1")
    async with _posting(recorder):
        recorder(a, type="Warning", reason="BackendError", message="the backend refused the routing config.")
        await _until("the first posted", _drained(recorder))
        for _ in range(4):  # the same failure, retried: counted, not posted again
            recorder(a, type="Warning", reason="BackendError", message="the backend refused the routing config.")
            await asyncio.sleep(0.3)
        await _until("the series patched", lambda: recorder.counts()["events_repeated_total"] == 4)
        recorder(a, type="Normal", reason="Provisioned", message="applied at last.")
        await _until("the new event posted", lambda: recorder.counts()["events_posted_total"] == 2)
    (new_style,) = [
        e
        for e in json.loads(crds.kubectl("get", "events.events.k8s.io", "-n", namespace, "-o", "json").stdout)["items"]
        if e["regarding"]["name"] == "a" and e["reason"] == "BackendError"
    ]
    assert new_style["series"]["count"] == 5
    assert (new_style["reportingController"], new_style["reportingInstance"]) == (
        "lifecycle.seppmail.cloud/operator",
        "operator-pod-1",
    )
    assert new_style["note"] == "the backend refused the routing config."
    assert sorted(e["reason"] for e in events_for(crds, namespace, "a")) == ["BackendError", "Provisioned"]
    described = crds.kubectl("describe", "tenants.lifecycle", "a", "-n", namespace).stdout
    assert "BackendError" in described
    assert "the backend refused the routing config." in described
    listed = crds.kubectl("events", "-n", namespace, "--for", "tenant.lifecycle.seppmail.cloud/a").stdout
    assert "BackendError" in listed
    assert "applied at last." in listed
    counts = recorder.counts()
    assert (counts["events_posted_total"], counts["events_repeated_total"], counts["events_failed_total"]) == (2, 4, 0)
