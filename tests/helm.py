"""The real helm binary for tests, isolated from the user's helm and kube configuration."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

CHART = ROOT / "charts" / "seppmail-lifecycle"
RELEASE = "seppmail-lifecycle"
SYSTEM_NAMESPACE = "seppmail-system"
# `helm template` without a cluster assumes the Kubernetes version compiled into helm (v1.20 for a
# plain `go install` build), which the chart's kubeVersion (>=1.30) refuses.
KUBE_VERSION = "1.34.0"

Docs = list[dict[str, Any]]


class Helm:
    """The real helm binary, isolated from the user's helm and kube configuration."""

    def __init__(self, binary: Path, home: Path) -> None:
        self.binary = binary
        self.env = {key: value for key, value in os.environ.items() if key != "KUBECONFIG"}
        for name in ("CACHE", "CONFIG", "DATA"):
            self.env[f"HELM_{name}_HOME"] = str(home / name.lower())
        self.env["KUBECACHEDIR"] = str(home / "kube-cache")

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.binary), *args], env=self.env, capture_output=True, text=True, timeout=180, check=False
        )
        if check and result.returncode != 0:
            pytest.fail(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def template(self, *args: str) -> Docs:
        out = self(
            "template", RELEASE, str(CHART), "--namespace", SYSTEM_NAMESPACE, "--kube-version", KUBE_VERSION, *args
        )
        return [doc for doc in yaml.safe_load_all(out.stdout) if doc]
