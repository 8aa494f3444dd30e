"""The operator process: starts against the real API server, answers liveness, logs JSON on
request, and stops cleanly on SIGTERM."""

from __future__ import annotations

from pathlib import Path

import pytest

from seppmail_lifecycle import __version__
from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from tests.operator_process import OperatorProcess

pytestmark = pytest.mark.e2e


def test_operator_runs_answers_liveness_and_stops_cleanly(crds: ControlPlane, namespace: str, tmp_path: Path) -> None:
    # Scoped to its own namespace: other tests' namespaces may be terminating meanwhile.
    operator = OperatorProcess(crds, tmp_path / "operator.log", namespaces=[namespace])
    operator.start()
    health = operator.liveness()
    assert health is not None
    assert health["version"] == __version__
    assert operator.stop() == 0
    lines = operator.log_lines()
    assert lines
    assert not any(line.get("unparsed") for line in lines), operator.log_tail()
    assert any("authentication has finished" in line["message"] for line in lines)
    assert not any(line.get("severity") in ("error", "critical") for line in lines), operator.log_tail()
