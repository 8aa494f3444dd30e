"""How GitOps tools judge our objects, with their own logic: the chart's Argo CD health check
(``charts/seppmail-lifecycle/argocd/health.lua``) run as Argo CD runs it (a Lua VM with the object
as the global ``obj``, the script returning ``{status, message}``); cli-utils' kstatus, which
Flux's health checks use; and Flux's own evaluation of the chart's ``healthCheckExprs``
(``fluxcd/pkg/runtime/cel``). Both Go checkers are built by the harness from their modules."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from lupa import LuaRuntime

from seppmail_lifecycle.api.flux_health import health_check_exprs
from seppmail_lifecycle.devcluster.binaries import ensure_flux_health, ensure_kstatus
from seppmail_lifecycle.devcluster.controlplane import ControlPlane

CHART = Path(__file__).resolve().parents[1] / "charts" / "seppmail-lifecycle"
HEALTH_LUA = CHART / "argocd" / "health.lua"
FLUX_EXPRS = CHART / "flux" / "health-check-exprs.yaml"

ARGO_TO_FLUX = {"Progressing": "InProgress", "Degraded": "Failed", "Healthy": "Current", "Suspended": "Current"}
"""What the chart's healthCheckExprs make of each Argo CD verdict: what waits for someone else
(Suspended) is Current for Flux, so that ``wait: true`` settles on what the operator decided."""


def argocd_health(obj: dict[str, Any], script: str | None = None) -> tuple[str, str]:
    """Argo CD's verdict on ``obj`` (a body as the API server returns it): (status, message)."""
    lua = LuaRuntime(unpack_returned_tuples=True, register_eval=False)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(script if script is not None else HEALTH_LUA.read_text())
    return str(result["status"]), str(result["message"])


def kstatus(plane: ControlPlane, namespace: str, resources: str) -> dict[tuple[str, str], tuple[str, str]]:
    """The verdict of cli-utils' kstatus (Flux's health checks) on the live objects of
    ``resources`` (a kubectl resource list): (kind, name) -> (status, message)."""
    checker = ensure_kstatus()
    if checker is None:
        pytest.fail("the kstatus checker needs the Go toolchain (the harness builds it once)")
    listed = plane.kubectl("get", resources, "-n", namespace, "-o", "json").stdout
    done = subprocess.run([str(checker)], input=listed, capture_output=True, text=True, check=True)
    verdicts = [json.loads(line) for line in done.stdout.splitlines()]
    return {(v["kind"], v["name"]): (v["status"], v["message"]) for v in verdicts}


def flux_health(bodies: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Flux's verdict on each of ``bodies`` with the chart's ``healthCheckExprs`` (kustomize-
    controller's own evaluation, ``fluxcd/pkg/runtime/cel``): (status, message) in order."""
    checker = ensure_flux_health()
    if checker is None:
        pytest.fail("the Flux health checker needs the Go toolchain (the harness builds it once)")
    with tempfile.NamedTemporaryFile("w", suffix=".json") as exprs:
        json.dump(health_check_exprs(), exprs)
        exprs.flush()
        listed = json.dumps({"apiVersion": "v1", "kind": "List", "items": bodies})
        done = subprocess.run([str(checker), exprs.name], input=listed, capture_output=True, text=True, check=True)
    verdicts = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(verdicts) == len(bodies), done.stderr
    return [(v["status"], v["message"]) for v in verdicts]
