"""The local control plane behaves like a real cluster where the operator relies on it.

Admin access through client certificates, RBAC denying and granting minted users, namespace
deletion and garbage collection finishing (kube-controller-manager at work), and the CLI's
detached cluster surviving across processes until `down`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from seppmail_lifecycle.devcluster.controlplane import ControlPlane

pytestmark = pytest.mark.e2e

# Controllers react within a second or two; the margin is for a loaded CI machine.
EVENTUALLY_SECONDS = 60.0


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    with ControlPlane.started(tmp_path_factory.mktemp("controlplane")) as started:
        yield started


@pytest.fixture
def needs_controller_manager(plane: ControlPlane) -> None:
    if plane.binaries.kube_controller_manager is None:
        pytest.skip("no kube-controller-manager binary (envtest assets ship none)")


def eventually(condition: Callable[[], bool], what: str, timeout: float = EVENTUALLY_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:.0f}s: {what}")
        time.sleep(0.5)


def exists(plane: ControlPlane, *resource: str) -> bool:
    result = plane.kubectl("get", *resource, "--ignore-not-found", "--output=name")
    return bool(result.stdout.strip())


def can_i(plane: ControlPlane, kubeconfig: Path, *request: str) -> str:
    # `auth can-i` exits 1 for "no"; the answer is on stdout either way.
    return plane.kubectl("auth", "can-i", *request, kubeconfig=kubeconfig, check=False).stdout.strip()


def test_admin_creates_a_namespace(plane: ControlPlane) -> None:
    plane.kubectl("create", "namespace", "made-by-admin")

    namespace = json.loads(plane.kubectl("get", "namespace", "made-by-admin", "--output=json").stdout)
    assert namespace["status"]["phase"] == "Active"


def test_user_without_bindings_is_forbidden(plane: ControlPlane) -> None:
    alice = plane.mint_kubeconfig("alice", ["sales"])

    whoami = plane.kubectl("auth", "whoami", "--output=json", kubeconfig=alice)
    user = json.loads(whoami.stdout)["status"]["userInfo"]
    assert user["username"] == "alice"
    assert "sales" in user["groups"]

    assert can_i(plane, alice, "list", "pods", "--namespace=default") == "no"
    listing = plane.kubectl("get", "pods", "--namespace=default", kubeconfig=alice, check=False)
    assert listing.returncode != 0
    assert "Forbidden" in listing.stderr
    assert 'User "alice" cannot list resource "pods"' in listing.stderr


def test_group_binding_grants_the_aggregated_view_role(plane: ControlPlane, needs_controller_manager: None) -> None:
    plane.kubectl("create", "namespace", "sales-team")
    plane.kubectl(
        "create", "rolebinding", "sales-view", "--clusterrole=view", "--group=sales", "--namespace=sales-team"
    )
    alice = plane.mint_kubeconfig("alice", ["sales"])

    # `view` only gets its rules from the clusterrole-aggregation controller.
    eventually(
        lambda: can_i(plane, alice, "list", "pods", "--namespace=sales-team") == "yes",
        "alice (group sales) may list pods in sales-team",
    )
    assert can_i(plane, alice, "list", "pods", "--namespace=default") == "no"
    assert can_i(plane, alice, "delete", "pods", "--namespace=sales-team") == "no"


def test_namespace_deletion_finishes(plane: ControlPlane, needs_controller_manager: None) -> None:
    plane.kubectl("create", "namespace", "doomed")
    plane.kubectl("create", "configmap", "contents", "--namespace=doomed", "--from-literal=key=value")

    plane.kubectl("delete", "namespace", "doomed", "--wait=false")

    eventually(lambda: not exists(plane, "namespace", "doomed"), "namespace doomed is gone")


def test_garbage_collector_deletes_dependents(plane: ControlPlane, needs_controller_manager: None) -> None:
    plane.kubectl("create", "configmap", "owner", "--namespace=default")
    owner_uid = plane.kubectl(
        "get", "configmap", "owner", "--namespace=default", "--output=jsonpath={.metadata.uid}"
    ).stdout
    dependent = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "dependent",
            "namespace": "default",
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner_uid}],
        },
        "data": {"key": "value"},
    }
    plane.kubectl("create", "--filename=-", input=json.dumps(dependent))

    # kubectl deletes in the background by default: the owner goes at once, dependents via GC.
    plane.kubectl("delete", "configmap", "owner", "--namespace=default")

    eventually(
        lambda: not exists(plane, "configmap", "dependent", "--namespace=default"),
        "the dependent ConfigMap is garbage-collected",
    )


def _cli(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "seppmail_lifecycle.devcluster", "--state-dir", str(state_dir), *args],
        capture_output=True,
        text=True,
        timeout=240,
    )


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    # Reparented processes may linger as zombies until init reaps them.
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[-1].split()[0] == "Z")


def test_cli_cluster_outlives_the_process_that_started_it(tmp_path: Path) -> None:
    state_dir = tmp_path / "devcluster"
    pids: list[int] = []
    try:
        up = _cli(state_dir, "up")
        assert up.returncode == 0, up.stderr
        assert up.stdout.strip() == f"export KUBECONFIG={state_dir / 'admin.kubeconfig'}"

        # `up` has exited; the cluster is still there for the next process.
        assert _cli(state_dir, "status").returncode == 0
        plane = ControlPlane.load(state_dir)
        assert plane.is_healthy()
        pids = list(plane.pids.values())

        again = _cli(state_dir, "up")
        assert again.returncode == 0, again.stderr
        assert "reusing" in again.stderr
        assert ControlPlane.load(state_dir).pids == plane.pids

        minted = _cli(state_dir, "kubeconfig", "--user", "bob", "--group", "ops")
        assert minted.returncode == 0, minted.stderr
        whoami = plane.kubectl("auth", "whoami", "--output=json", kubeconfig=Path(minted.stdout.strip()))
        assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == "bob"
    finally:
        down = _cli(state_dir, "down")

    assert down.returncode == 0, down.stderr
    assert not state_dir.exists()
    assert _cli(state_dir, "status").returncode == 1
    eventually(lambda: not any(_pid_running(pid) for pid in pids), "the cluster's processes are gone", 10)
