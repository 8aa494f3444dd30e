"""The simulator: the operator's own loop (engine, reconcilers, core plans, writer, backend) over a
virtual clock with the example manifests, no cluster."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from seppmail_lifecycle.api.policy import Policy
from seppmail_lifecycle.cli.plugin import main
from seppmail_lifecycle.runtime.simulator import Timeline, VirtualClock, VirtualQueue, simulate

EXAMPLES = Path(__file__).parents[3] / "manifests" / "examples"
START = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def examples() -> list[dict[str, Any]]:
    return [d for f in sorted(EXAMPLES.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]


def run(days: int, policy: Policy | None = None) -> Timeline:
    return asyncio.run(simulate(examples(), policy or Policy(), "demo", START, START + timedelta(days=days)))


def moments(timeline: Timeline, kind: str, name: str) -> list[tuple[datetime, str]]:
    return [(e.at, e.reason) for e in timeline.of(kind, name)]


def test_the_examples_live_through_deployment_invoicing_expiry_and_the_license_grace() -> None:
    timeline = run(60)
    window = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)  # the first automatic deployment window
    assert moments(timeline, "Domain", "acme-ch") == [(START, "ConsistencyCheckPassed"), (window, "Provisioned")]
    assert (window, "BaseServiceBooked") not in moments(timeline, "Service", "acme-ch-base")  # declared in Git
    assert (START, "BaseServiceBooked") in moments(timeline, "Service", "globex-de-base")  # booked by the operator
    # globex: a 30-day trial ends 2 January; its invoice 14 days before; unpaid, the service
    # expires a day after the trial.
    assert moments(timeline, "Contract", "globex-monthly")[:3] == [
        (START, "TrialStarted"),
        (datetime(2026, 12, 19, tzinfo=UTC), "InvoiceCreated"),
        (datetime(2027, 1, 2, tzinfo=UTC), "Expired"),
    ]
    assert (datetime(2027, 1, 3, tzinfo=UTC), "Expired") in moments(timeline, "Service", "globex-de-sign-only")
    assert (datetime(2027, 1, 31, 23, 59, 59, tzinfo=UTC), "GraceStarted") in moments(
        timeline, "License", "globex-trial"
    )
    mails = [e.message for e in timeline.entries if e.what == "mail"]
    templates = Counter(e.reason for e in timeline.entries if e.what == "mail")
    assert templates["domain-provisioned"] == 2
    assert templates["service-expired"] == 1
    assert templates["license-reminder"] == 3  # the trial license: 7, 3 and 1 days before
    assert len(mails) == len(set(mails)), "a mail went out twice"


def test_a_year_on_the_unpaid_service_is_discontinued_and_removed_and_the_lapsed_trial_purged() -> None:
    timeline = run(400)
    sign_only = [reason for _, reason in moments(timeline, "Service", "globex-de-sign-only")]
    assert "Expired" in sign_only
    assert "Cancelled" in sign_only  # discontinued: cancelled for good
    purge = moments(timeline, "License", "globex-trial")
    assert [reason for _, reason in purge][-1] == "Purged"
    assert any(e.reason == "TenantPurged" for e in timeline.entries)


def test_a_simulation_is_deterministic() -> None:
    first, second = run(45), run(45)
    assert [(e.at, e.kind, e.name, e.reason) for e in first.entries] == [
        (e.at, e.kind, e.name, e.reason) for e in second.entries
    ]


def test_the_virtual_queue_replaces_a_deadline_and_releases_what_is_due() -> None:
    clock = VirtualClock(START)
    queue = VirtualQueue(clock)
    key = ("Domain", "demo", "d")
    queue.add_after(key, START + timedelta(hours=2))
    queue.add_after(key, START + timedelta(hours=1))  # replaces the earlier deadline
    assert queue.next_due() == START + timedelta(hours=1)
    clock.now = START + timedelta(hours=1)
    queue.release_due()
    assert queue.pop() == key
    assert queue.pop() is None
    assert queue.next_due() is None  # the replaced deadline is gone too


def test_the_command_prints_json_and_says_what_is_wrong(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["simulate", str(EXAMPLES), "--at", "2026-12-03T10:00:00Z", "--until", "+2d", "-o", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["start"] == "2026-12-03T10:00:00+00:00"
    provisioned = [e for e in out["timeline"] if e["name"] == "simulation/acme-ch" and e["reason"] == "Provisioned"]
    assert [e["at"] for e in provisioned] == ["2026-12-03T14:00:00+00:00"]
    assert main(["simulate", str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"error: no YAML manifests in {tmp_path}\n"
    (tmp_path / "x.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n")
    assert main(["simulate", str(tmp_path)]) == 1
    assert "kind 'Pod' is not one of ours" in capsys.readouterr().err
