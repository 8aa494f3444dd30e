"""The operator as the real process users run (`seppmail-lifecycle run`), for e2e tests that
start, stop and restart it against the harness's control plane."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from seppmail_lifecycle.devcluster.controlplane import ControlPlane


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def samples(text: str) -> list[Sample]:
    """The samples of a scrape."""
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def value(found: Iterable[Sample], name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    return sum(s.value for s in found if s.name == name and labels.items() <= s.labels.items())


def replica_args(namespace: str, lease_id: str, lease: float, smtp_host: str, smtp_port: int) -> list[str]:
    """The arguments of one replica of a release electing its leader in ``namespace`` (a short
    lease, 2 s renew deadline), mailing the given SMTP server."""
    return [
        *("--leader-elect", "--leader-elect-namespace", namespace, "--leader-elect-id", lease_id),
        *("--leader-elect-lease-duration", f"{lease:g}s", "--leader-elect-renew-deadline", "2s"),
        *("--leader-elect-retry-period", "250ms", "--smtp-host", smtp_host, "--smtp-port", str(smtp_port)),
    ]


class OperatorProcess:
    def __init__(
        self,
        plane: ControlPlane,
        log_path: Path,
        namespaces: Sequence[str] = (),
        policy: Path | None = None,
        extra_args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        kubeconfig: Path | None = None,
    ) -> None:
        self.plane = plane
        self.env = dict(env or {})
        self.kubeconfig = kubeconfig or plane.admin_kubeconfig
        self.log_path = log_path
        scope = [arg for namespace in namespaces for arg in ("-n", namespace)] or ["-A"]
        self.extra_args = [*scope, *(["--policy", str(policy)] if policy else []), *extra_args]
        self.port = free_port()
        self.metrics_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def liveness_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/healthz"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def scrape(self) -> str:
        """The metrics endpoint's answer, as Prometheus scrapes it."""
        with urllib.request.urlopen(self.metrics_url, timeout=5) as response:
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text: str = response.read().decode()
            return text

    def start(self, timeout: float = 30.0, ready: bool = True) -> None:
        """Start the process; wait until it answers its health endpoint and, with ``ready``, is
        the acting replica with its watches running (a standby never is)."""
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig), **self.env)
        args = [
            sys.executable,
            "-m",
            "seppmail_lifecycle.cli.operator_main",
            "run",
            "--log-format",
            "json",
            "--liveness",
            self.liveness_url,
            "--metrics",
            self.metrics_url,
            *self.extra_args,
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"operator exited with {self.process.returncode}:\n{self.log_tail()}")
            health = self.liveness()
            if health is not None and (health.get("ready") or not ready):
                return
            time.sleep(0.1)
        raise TimeoutError(f"operator not live after {timeout}s:\n{self.log_tail()}")

    def liveness(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(self.liveness_url, timeout=1) as response:
                payload: dict[str, Any] = json.loads(response.read())
                return payload
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, as Kubernetes stops a pod; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    @staticmethod
    def closed_port() -> int:
        """A loopback port nothing listens on (bound and released)."""
        return free_port()

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, as when a node dies."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for raw in self.log_path.read_text().splitlines():
            try:
                lines.append(json.loads(raw))
            except json.JSONDecodeError:
                lines.append({"message": raw, "unparsed": True})
        return lines

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text().splitlines()[-lines:]) if self.log_path.exists() else ""
