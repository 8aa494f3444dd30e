"""How GitOps tools judge our objects, with their own logic: the chart's Argo CD health check
(``charts/seppmail-lifecycle/argocd/health.lua``) run as Argo CD runs it (a Lua VM with the object
as the global ``obj``, the script returning ``{status, message}``), and cli-utils' kstatus, which
Flux's health checks use (a checker the harness builds from the Go module)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from lupa import LuaRuntime

from seppmail_lifecycle.devcluster.binaries import ensure_kstatus
from seppmail_lifecycle.devcluster.controlplane import ControlPlane

HEALTH_LUA = Path(__file__).resolve().parents[1] / "charts" / "seppmail-lifecycle" / "argocd" / "health.lua"


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
