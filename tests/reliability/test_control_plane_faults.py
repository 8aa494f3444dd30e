"""Control-plane faults, on a control plane of this test's own: while the bulk scenario runs, the
operator's connections are cut (its watches with them), the kube-apiserver is SIGKILLed and
started again (the watches then resume from versions its new cache no longer holds: 410), etcd
is SIGKILLed and started again, a concurrent writer changes the operator's objects under it
(409s), and every request of the operator falls into a priority level of one seat that rejects
what does not fit (429s). The operator is never restarted; it converges to what the simulator
(never interrupted) ends with, with no mail twice and no invoice twice."""

from __future__ import annotations

import base64
import contextlib
import json
import ssl
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from tests.conftest import install_crds
from tests.e2e.conftest import install_catalogue
from tests.e2e.test_backpressure import own_priority_level, rejected
from tests.kube import apply, items, wait_for
from tests.operator_process import OperatorProcess, samples, value
from tests.reliability import scenario
from tests.reliability.conftest import Report
from tests.reliability.proxy import CuttingProxy
from tests.servers import MailSink

pytestmark = pytest.mark.e2e

NAMESPACE = "faults"
CATCH_UP = 6.0
"""Seconds the operator may take, once the control plane answers again, for what fell due in the
fault: its watches back off and re-list, its writes back off (429s included)."""


@pytest.fixture(scope="module")
def own_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    with ControlPlane.started(tmp_path_factory.mktemp("faulty-plane")) as plane:
        install_catalogue(install_crds(plane))
        plane.kubectl("create", "namespace", NAMESPACE)
        yield plane


def _through(proxy: CuttingProxy, kubeconfig: Path, target: Path) -> Path:
    config = yaml.safe_load(kubeconfig.read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = proxy.server()
    target.write_text(yaml.safe_dump(config))
    return target


class Faults:
    """Each fault, timed: the stretches in between are when the operator could act."""

    def __init__(self) -> None:
        self.windows: list[tuple[datetime, datetime]] = []
        self.counts: Counter[str] = Counter()

    @contextlib.contextmanager
    def fault(self, name: str) -> Iterator[None]:
        began = datetime.now(UTC)
        try:
            yield
        finally:
            self.windows.append((began, datetime.now(UTC)))
            self.counts[name] += 1

    def acting(self, start: datetime) -> list[tuple[datetime, datetime]]:
        stretches, since = [], start
        for began, ended in sorted(self.windows):
            stretches.append((since, began))
            since = ended
        return [*stretches, (since, datetime.max.replace(tzinfo=UTC))]


class _Direct:
    """Plain HTTPS requests to the API server as a kubeconfig's user: many a second, no retries."""

    def __init__(self, plane: ControlPlane, kubeconfig: Path, files: Path) -> None:
        user = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]
        cert, key = files / f"{kubeconfig.stem}.crt", files / f"{kubeconfig.stem}.key"
        cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
        key.write_bytes(base64.b64decode(user["client-key-data"]))
        self.context = ssl.create_default_context(cafile=str(plane.pki_dir / "ca.crt"))
        self.context.load_cert_chain(str(cert), str(key))
        self.base = f"{plane.server}/apis/lifecycle.seppmail.cloud/v1alpha1/namespaces/{NAMESPACE}"

    def request(self, path: str, patch: dict[str, Any] | None = None) -> Any:
        data = None if patch is None else json.dumps(patch).encode()
        request = urllib.request.Request(f"{self.base}/{path}", data=data, method="GET" if patch is None else "PATCH")
        request.add_header("Content-Type", "application/merge-patch+json")
        with urllib.request.urlopen(request, context=self.context, timeout=5) as response:
            return json.loads(response.read())


def _conflicting_writer(direct: _Direct, stop: threading.Event, counts: Counter[str]) -> None:
    """Annotates the operator's services and licenses as fast as the API server takes it: the
    operator's writes, conditional on the version it read, then conflict (409)."""
    n = 0
    while not stop.is_set():
        for plural in ("services", "licenses", "domains"):
            with contextlib.suppress(OSError, ValueError):  # the API server is down for a while
                for body in direct.request(plural)["items"]:
                    n += 1
                    change = {"metadata": {"annotations": {"chaos.test/n": str(n)}}}
                    direct.request(f"{plural}/{body['metadata']['name']}", change)
                    counts["concurrent writes"] += 1


def _crowd(direct: _Direct, seconds: float) -> int:
    """Requests in the operator's own priority level from 8 threads that never wait, for
    ``seconds``: a neighbour that leaves the operator's requests no seat, so the API server
    rejects them (429). The number of requests the crowd made."""
    deadline = time.monotonic() + seconds
    made = Counter[str]()

    def hammer() -> None:
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):  # 429s (HTTPError) included
                direct.request("tenants")
            made["requests"] += 1

    threads = [threading.Thread(target=hammer, daemon=True) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return made["requests"]


def test_the_operator_converges_through_control_plane_faults_without_a_restart(
    own_plane: ControlPlane, tmp_path: Path, report: Report
) -> None:
    plane = own_plane
    faults = Faults()
    with (
        MailSink() as sink,
        own_priority_level(plane, shares=1, limit_response="{type: Reject}") as (user, level),
    ):
        proxy = CuttingProxy(plane.ports["kube-apiserver"])
        crowded = plane.mint_kubeconfig(user)
        policy = tmp_path / "policy.yaml"
        policy.write_text(yaml.safe_dump(scenario.POLICY))
        operator = OperatorProcess(
            plane,
            tmp_path / "operator.log",
            namespaces=[NAMESPACE],
            policy=policy,
            extra_args=["--smtp-host", sink.host, "--smtp-port", str(sink.port), "--verbose"],
            kubeconfig=_through(proxy, crowded, tmp_path / "throttled.kubeconfig"),
        )
        operator.start()
        try:
            catalog = scenario.products(plane)
            start = datetime.now(UTC)
            docs = scenario.bulk("f", 9, start, expiring_over=24)
            docs += scenario.payments(catalog, docs, NAMESPACE, start)
            apply(plane, NAMESPACE, *docs)

            time.sleep(2)
            with faults.fault("connections cut"):
                proxy.cut()
            stop = threading.Event()
            admin = _Direct(plane, plane.admin_kubeconfig, tmp_path)
            writer = threading.Thread(target=_conflicting_writer, args=(admin, stop, faults.counts), daemon=True)
            writer.start()
            time.sleep(3)
            with faults.fault("kube-apiserver killed and restarted"):
                plane.kill("kube-apiserver")
                time.sleep(2)
                plane.revive("kube-apiserver")
            time.sleep(3)
            stop.set()
            writer.join()
            with faults.fault("API server unreachable (connections refused)"), proxy.refusing():
                time.sleep(3)
            with faults.fault("priority level crowded (429s)"):  # as the second license expires
                faults.counts["requests of the crowd"] += _crowd(_Direct(plane, crowded, tmp_path), 8)
            time.sleep(2)
            with faults.fault("etcd killed and restarted"):
                plane.kill("etcd")
                time.sleep(2)
                plane.revive("etcd")
                wait_for("the API server ready again", plane.is_ready, timeout=30)
            time.sleep(3)
            with faults.fault("connections cut"):
                proxy.cut()

            licenses = [d for d in docs if d["kind"] == "License"]
            expiring = [d["metadata"]["name"] for d in licenses if "2030" not in d["spec"]["expiresAt"]]
            wait_for(
                "every expiring license purged",
                lambda: all(
                    (b.get("status") or {}).get("period") == "Purged"
                    for b in items(plane, "licenses.lifecycle", NAMESPACE)
                    if b["metadata"]["name"] in expiring
                ),
                timeout=90,
            )
            result = scenario.Comparison()
            latest = scenario.latest_within(faults.acting(start), CATCH_UP)

            def same() -> bool:
                nonlocal result
                timeline = scenario.simulated(catalog, docs, NAMESPACE, start)
                reference = {(k, n): b for (k, _, n), b in timeline.objects.items() if k in scenario.KINDS}
                result = scenario.compare(scenario.real_objects(plane, NAMESPACE), reference, latest)
                return not result.differences

            with contextlib.suppress(AssertionError):
                wait_for("the same story as the uninterrupted run", same, timeout=30, interval=1.0)
            assert result.differences == []
            assert result.early == []
            assert result.late == []

            assert operator.process is not None
            exits = int(operator.process.poll() is not None)
            assert not exits, "the operator exited"
            health = operator.liveness()
            assert health is not None
            assert health.get("ready")
            metrics = samples(operator.scrape())
            rejections = rejected(plane, level)
            sent = Counter(m.key for m in sink.messages if m.key)
            assert [key for key, count in sent.items() if count > 1] == []
            in_force = Counter(
                (b["spec"]["contractRef"]["name"], b["spec"]["period"]["start"])
                for b in items(plane, "invoices.lifecycle", NAMESPACE)
                if (b.get("status") or {}).get("state") != "void"
            )
            assert [key for key, count in in_force.items() if count > 1] == []
        finally:
            if operator.process is not None and operator.process.poll() is None:
                operator.stop()
            proxy.stop()

    throttled = int(value(metrics, "seppmail_lifecycle_api_throttled_total"))
    conflicts = int(value(metrics, "seppmail_lifecycle_reconcile_conflicts_total"))
    relisted = sum("Restarting the watch-stream" in str(line.get("message")) for line in operator.log_lines())
    assert rejections > 0, "the priority level never rejected a request: no 429 fault was injected"
    for name, count in sorted(faults.counts.items()):
        report.add(f"faults: {name}", count)
    report.add("faults: 429s the operator's priority level answered", rejections)
    report.add("faults: 429s of the operator's own requests, retried", throttled)
    report.add("faults: watches resumed from a version gone (410), listed anew", relisted)
    report.add("faults: 409s from the concurrent writer, decided again", conflicts)
    report.add("faults: transitions compared with the simulator", result.transitions)
    report.add("faults: transitions early, late or different", len(result.early + result.late + result.differences))
    report.add("faults: operator exits (it converges without a restart)", exits)
