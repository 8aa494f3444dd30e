"""Two operator processes with leader election on the real control plane: only the lease holder
acts; SIGKILL the leader and the standby takes over within the lease duration, with no mail sent
twice and no transition missing or doubled; SIGTERM hands the lease over at once; a leader whose
lease is taken stops acting and exits."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from tests.e2e.test_licenses import POLICY, tenant_with_domain
from tests.kube import apply, get, items, wait_for
from tests.operator_process import OperatorProcess, replica_args
from tests.servers import MailSink

pytestmark = pytest.mark.e2e

LEASE = 3.0
Body = dict[str, Any]


@pytest.fixture
def replicas(catalogue: ControlPlane, namespace: str, tmp_path: Path, mail_sink: MailSink) -> Iterator[Any]:
    """Starts replicas of one release (same Lease) watching the test's namespace."""
    started: list[OperatorProcess] = []
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump({**POLICY, "license": {**POLICY["license"], "freeze": "120s"}}))

    def start(name: str, ready: bool = True) -> OperatorProcess:
        replica = OperatorProcess(
            catalogue,
            tmp_path / f"{name}.log",
            namespaces=[namespace],
            policy=policy,
            extra_args=replica_args(namespace, "lifecycle-test", LEASE, mail_sink.host, mail_sink.port),
            env={"POD_NAME": name},
        )
        replica.start(ready=ready)
        started.append(replica)
        return replica

    yield start
    for replica in started:
        if replica.process is not None and replica.process.poll() is None:
            replica.stop()


def role(replica: OperatorProcess) -> str | None:
    health = replica.liveness()
    return None if health is None else health.get("role")


def wait_role(replica: OperatorProcess, expected: str, timeout: float) -> float:
    started = time.monotonic()
    wait_for(f"{replica.log_path.stem} {expected}", lambda: role(replica) == expected, timeout, interval=0.05)
    return time.monotonic() - started


def errors(replica: OperatorProcess) -> list[Body]:
    return [line for line in replica.log_lines() if line.get("severity") in ("error", "critical")]


def assert_history_continuous(body: Body) -> None:
    """Each transition once, each starting where the one before ended: none missing or doubled."""
    history = body["status"]["history"]
    moves = [(h.get("from"), h["to"]) for h in history if h.get("from") != h["to"]]
    assert len(moves) == len(set(moves)), history
    for before, after in itertools.pairwise(moves):
        assert after[0] == before[1], history


def test_the_standby_takes_over_after_the_leader_is_killed(
    catalogue: ControlPlane, namespace: str, replicas: Any, mail_sink: MailSink
) -> None:
    first = replicas("first")
    wait_role(first, "leader", 10)
    second = replicas("second", ready=False)
    assert role(second) == "standby"
    lease = get(catalogue, "leases.coordination.k8s.io", namespace, "lifecycle-test")
    assert lease["spec"]["holderIdentity"] == "first"

    # Licenses expiring one after the other: reminders, grace and freeze fall due across the kill.
    apply(
        catalogue, namespace, *[o for n, t in (("one", 4), ("two", 6), ("three", 8)) for o in tenant_with_domain(n, t)]
    )
    wait_for("a first reminder", lambda: any(m.key and "/reminder/" in m.key for m in mail_sink.messages), 10)
    first.kill()
    took = wait_role(second, "leader", LEASE + 2)
    assert took <= LEASE + 1.5, took

    for name in ("one", "two", "three"):
        wait_for(
            f"license {name} frozen",
            lambda n=name: (
                ((get(catalogue, "licenses.lifecycle", namespace, n) or {}).get("status") or {}).get("period")
                == "Freeze"
            ),
            timeout=25,
        )
    uids = {
        body["metadata"]["uid"]
        for resource in ("licenses.lifecycle", "domains.lifecycle")
        for body in items(catalogue, resource, namespace)
    }
    keys = Counter(m.key for m in mail_sink.messages if m.key and m.key.split("/")[1] in uids)
    assert keys, "no mails at all"
    assert [key for key, count in keys.items() if count > 1] == []
    for resource in ("licenses.lifecycle", "domains.lifecycle", "services.lifecycle"):
        for body in items(catalogue, resource, namespace):
            assert_history_continuous(body)
    licenses = {b["metadata"]["name"]: b for b in items(catalogue, "licenses.lifecycle", namespace)}
    for body in licenses.values():
        assert [h["to"] for h in body["status"]["history"]][-2:] == ["Grace", "Freeze"]
    assert errors(second) == [], second.log_tail()


def test_sigterm_hands_the_lease_over_at_once(namespace: str, replicas: Any) -> None:
    first = replicas("first")
    wait_role(first, "leader", 10)
    second = replicas("second", ready=False)
    assert role(second) == "standby"
    assert first.stop() == 0
    took = wait_role(second, "leader", LEASE)
    assert took < LEASE / 2, took  # released, not expired
    assert errors(first) == [], first.log_tail()


def test_a_leader_whose_lease_is_taken_stops_acting_and_exits(
    catalogue: ControlPlane, namespace: str, replicas: Any
) -> None:
    leader = replicas("leader")
    wait_role(leader, "leader", 10)
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    catalogue.kubectl(
        "patch", "leases.coordination.k8s.io", "lifecycle-test", "-n", namespace, "--type=merge",
        "-p", f'{{"spec": {{"holderIdentity": "thief", "renewTime": "{now}"}}}}',
    )  # fmt: skip
    assert leader.process is not None
    assert leader.process.wait(timeout=LEASE + 2) == 1
    assert any("lost the lease" in line["message"] for line in leader.log_lines()), leader.log_tail()
