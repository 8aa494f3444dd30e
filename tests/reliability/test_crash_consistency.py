"""Crash consistency: a bulk scenario in two partner namespaces (tenants, domains, services,
licenses that expire, grace, freeze and purge, contracts with invoices, some paid) on the real
control plane, while the leader is SIGKILLed again and again and a standby takes over each time.

At the end every object has the history and the state the simulator (the operator's own loop,
never interrupted) gives the same manifests: no transition missing or doubled, none earlier than
due, none later than a takeover explains; no mail received twice and none the uninterrupted run
would not send; no invoice twice."""

from __future__ import annotations

import contextlib
import random
import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from seppmail_lifecycle.core.notifications import ledger_slot
from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from seppmail_lifecycle.runtime.mailer import parse_ledger
from tests.conftest import fresh_namespace
from tests.kube import apply, items, wait_for
from tests.operator_process import OperatorProcess, replica_args
from tests.reliability import scenario
from tests.reliability.conftest import Report, Sizes
from tests.servers import MailSink

pytestmark = pytest.mark.e2e

LEASE = 3.0
CATCH_UP = 5.0
"""Seconds a new leader may take, once acting, for what fell due while no one was: it lists every
object and works through everything overdue (the chain a purge starts, too), while the replica
started in place of the killed one takes a core to start up."""
Body = dict[str, Any]


@pytest.fixture
def second_namespace(crds: ControlPlane) -> Iterator[str]:
    with fresh_namespace(crds) as name:
        yield name


class Replicas:
    """Replicas of one release (one Lease), watching both namespaces, mailing the sink."""

    def __init__(self, plane: ControlPlane, namespaces: list[str], tmp_path: Path, sink: MailSink) -> None:
        self.plane, self.namespaces, self.tmp_path, self.sink = plane, namespaces, tmp_path, sink
        self.policy = tmp_path / "policy.yaml"
        self.policy.write_text(yaml.safe_dump(scenario.POLICY))
        self.started: list[OperatorProcess] = []

    def start(self, ready: bool) -> OperatorProcess:
        name = f"replica-{len(self.started)}"
        replica = OperatorProcess(
            self.plane,
            self.tmp_path / f"{name}.log",
            namespaces=self.namespaces,
            policy=self.policy,
            extra_args=replica_args(self.namespaces[0], "lifecycle-crash", LEASE, self.sink.host, self.sink.port),
            env={"POD_NAME": name},
        )
        replica.start(ready=ready)
        self.started.append(replica)
        return replica

    def alive(self) -> list[OperatorProcess]:
        return [r for r in self.started if r.process is not None and r.process.poll() is None]

    def leader(self, timeout: float) -> OperatorProcess:
        def acting() -> OperatorProcess | None:
            return next((r for r in self.alive() if (r.liveness() or {}).get("role") == "leader"), None)

        return wait_for("a leader", acting, timeout, interval=0.05)

    def stop(self) -> None:
        for replica in self.alive():
            replica.stop()

    def errors(self) -> list[str]:
        return [
            f"{r.log_path.stem}: {line.get('message')}"
            for r in self.started
            for line in r.log_lines()
            if line.get("severity") in ("error", "critical")
        ]


@pytest.fixture
def replicas(
    catalogue: ControlPlane, namespace: str, second_namespace: str, tmp_path: Path, mail_sink: MailSink
) -> Iterator[Replicas]:
    group = Replicas(catalogue, [namespace, second_namespace], tmp_path, mail_sink)
    yield group
    group.stop()


KEY = re.compile(r"\(([^()]+)\)$")


def mail_keys(
    keys: list[str], uids: dict[str, tuple[str, str]], leaving_out: set[tuple[str, str]]
) -> Counter[tuple[str, str, str]]:
    """Mail keys by the object they are about ((kind, name), the rest of the key), not its uid;
    those about the objects ``leaving_out`` left out."""
    found: Counter[tuple[str, str, str]] = Counter()
    for key in keys:
        _, uid, rest = key.split("/", 2)
        if uid in uids and uids[uid] not in leaving_out:
            found[(*uids[uid], rest)] += 1
    return found


def test_every_object_ends_as_an_uninterrupted_run_ends_however_often_the_leader_is_killed(
    catalogue: ControlPlane,
    namespace: str,
    second_namespace: str,
    replicas: Replicas,
    mail_sink: MailSink,
    sizes: Sizes,
    report: Report,
) -> None:
    mail_sink.clear()
    catalog = scenario.products(catalogue)
    replicas.start(ready=True)
    replicas.start(ready=False)
    replicas.leader(timeout=10)

    start = datetime.now(UTC)
    docs = {
        ns: scenario.bulk(prefix, sizes.crash_tenants, start, expiring_over=sizes.kills * 2.5)
        for ns, prefix in ((namespace, "a"), (second_namespace, "b"))
    }
    for ns in docs:
        docs[ns] += scenario.payments(catalog, docs[ns], ns, start)
        apply(catalogue, ns, *docs[ns])

    # The kills: at random moments, each of the leader then acting; a new standby each time.
    chance = random.Random(sizes.seed)
    tenures: list[tuple[datetime, datetime]] = []  # when a leader was acting
    took = datetime.now(UTC)
    while len(tenures) < sizes.kills:
        time.sleep(chance.uniform(0.5, 4.0))
        replicas.leader(timeout=LEASE + 10).kill()
        tenures.append((took, datetime.now(UTC)))
        replicas.start(ready=False)
        replicas.leader(timeout=LEASE + 10)
        took = datetime.now(UTC)
    tenures.append((took, datetime.max.replace(tzinfo=UTC)))
    kills = len(tenures) - 1

    latest = scenario.latest_within(tenures, CATCH_UP)

    expiring = [
        (ns, d["metadata"]["name"])
        for ns in docs
        for d in docs[ns]
        if d["kind"] == "License" and not d["spec"]["expiresAt"].startswith("2030")
    ]

    def settled() -> bool:
        licenses = {
            (ns, b["metadata"]["name"]): (b.get("status") or {}).get("period")
            for ns in docs
            for b in items(catalogue, "licenses.lifecycle", ns)
        }
        return all(licenses.get(key) == "Purged" for key in expiring)

    wait_for("every expiring license purged", settled, timeout=60)

    # Against the uninterrupted run until now: retried a while, a last transition may be on its way.
    results: dict[str, scenario.Comparison] = {}
    timelines: dict[str, Any] = {}

    def same() -> bool:
        for ns in docs:
            timelines[ns] = scenario.simulated(catalog, docs[ns], ns, start)
            reference = {
                (kind, name): body for (kind, _, name), body in timelines[ns].objects.items() if kind in scenario.KINDS
            }
            results[ns] = scenario.compare(scenario.real_objects(catalogue, ns), reference, latest)
        return all(not r.differences for r in results.values())

    with contextlib.suppress(AssertionError):  # then the assertions below say what differs
        wait_for("the same story as the uninterrupted run", same, timeout=20, interval=1.0)
    differences = [d for r in results.values() for d in r.differences]
    early = [e for r in results.values() for e in r.early]
    late = [e for r in results.values() for e in r.late]
    assert differences == [], "\n".join(differences)
    assert early == []
    acted = [(began.time(), ended.time()) for began, ended in tenures]
    assert late == [], "\n".join(f"{what}: {seconds:.1f}s late (leaders acted {acted})" for what, seconds in late)

    # Mails: none twice; none the uninterrupted run does not send; any it sends that did not
    # arrive was being sent at a kill (the ledger says "sending": at most once beats twice).
    real_uids = {
        body["metadata"]["uid"]: key for ns in docs for key, body in scenario.real_objects(catalogue, ns).items()
    }
    # Mails of invoice revisions the runs made differently (see scenario.compare) are not matched
    # one by one (but none may come twice either).
    revised = {key for r in results.values() for key in r.revisions_differing}
    keys = [m.key for m in mail_sink.messages if m.key]
    duplicates = {key: count for key, count in mail_keys(keys, real_uids, set()).items() if count > 1}
    received = mail_keys(keys, real_uids, revised)
    assert duplicates == {}
    expected: dict[tuple[str, str, str], datetime] = {}  # by when the uninterrupted run sent it
    for timeline in timelines.values():
        sim_uids = {body["metadata"]["uid"]: (kind, name) for (kind, _, name), body in timeline.objects.items()}
        for entry in timeline.entries:
            if entry.what == "mail" and (match := KEY.search(entry.message)):
                for mail in mail_keys([match.group(1)], sim_uids, revised):
                    expected.setdefault(mail, entry.at)
    assert set(received) - set(expected) == set()
    sending = {
        entry.slot
        for ns in docs
        for ledger in items(catalogue, "configmaps", ns, "lifecycle.seppmail.cloud/role=mail-ledger")
        for entry in parse_ledger(ledger).values()
        if entry.state == "sending"
    }
    names = {key: uid for uid, key in real_uids.items()}

    def acting(moment: datetime) -> bool:
        margin = timedelta(seconds=CATCH_UP)
        return any(began + margin <= moment and moment + margin <= ended for began, ended in tenures)

    mid_send, superseded, lost = [], [], []
    for kind, name, rest in sorted(set(expected) - set(received)):
        uid = names.get((kind, name))
        if uid is not None and ledger_slot(f"{kind}/{uid}/{rest}") in sending:
            mid_send.append((kind, name, rest))  # at most once: its outcome is unknown
        elif not acting(expected[(kind, name, rest)]):
            superseded.append((kind, name, rest))  # its moment passed while no leader acted
        else:
            lost.append((kind, name, rest))
    assert lost == []

    # The purges took only their own tenants' backend objects: every other domain is routed.
    for ns in docs:
        purged = {name for n, name in expiring if n == ns}
        routing = items(catalogue, "configmaps", ns, "lifecycle.seppmail.cloud/role=routing")
        routed = {cm["metadata"]["name"] for cm in routing}
        tenants = {d["metadata"]["name"] for d in docs[ns] if d["kind"] == "Tenant"}
        assert routed == {f"routing-{name}" for name in tenants - purged}

    # One invoice in force per contract and period (a revision voids the one it supersedes).
    invoices = Counter(
        (ns, b["spec"]["contractRef"]["name"], b["spec"]["period"]["start"])
        for ns in docs
        for b in items(catalogue, "invoices.lifecycle", ns)
        if (b.get("status") or {}).get("state") != "void"
    )
    assert [key for key, count in invoices.items() if count > 1] == []
    assert replicas.errors() == []

    report.add("leader kills survived", kills)
    report.add("objects compared with the simulator", sum(r.objects for r in results.values()))
    report.add("transitions compared with the simulator", sum(r.transitions for r in results.values()))
    report.add("transitions early", len(early))
    seen_later = sum(len(r.first_seen_later) for r in results.values())
    revisions = len(revised)
    report.add("invoice revisions made another way (same invoices in force)", revisions)
    report.add("objects created while no leader acted, first seen later", seen_later)
    report.add("most a transition was later than uninterrupted (ms)", max(r.latest_ms for r in results.values()))
    report.add("transitions missing, doubled or different", len(differences))
    report.add("mails received", sum(received.values()))
    report.add("mails received twice", len(duplicates))
    report.add("mails lost to a kill mid-send (at most once)", len(mid_send))
    report.add("notices superseded while no leader acted", len(superseded))
    report.add("mails lost otherwise", len(lost))
    report.add("invoices created twice", sum(count - 1 for count in invoices.values() if count > 1))
