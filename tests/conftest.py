"""Fixtures shared by every test layer.

``control_plane`` starts a real etcd + kube-apiserver + kube-controller-manager once per test
session (only when an e2e test asks for it); unit tests of the pure core never start it.
"""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from seppmail_lifecycle.api import ALL_KINDS
from seppmail_lifecycle.devcluster.controlplane import ControlPlane

ROOT = Path(__file__).resolve().parents[1]
CRD_DIR = ROOT / "crds"
EXAMPLES_DIR = ROOT / "manifests" / "examples"


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    with ControlPlane.started(tmp_path_factory.mktemp("control-plane")) as plane:
        yield plane


def install_crds(plane: ControlPlane) -> ControlPlane:
    """Every CRD of the project installed and established."""
    plane.kubectl("apply", "--server-side", "-f", str(CRD_DIR))
    plane.kubectl("wait", "--for=condition=Established", "--timeout=60s", *[f"crd/{i.crd_name}" for i in ALL_KINDS])
    return plane


@pytest.fixture(scope="session")
def crds(control_plane: ControlPlane) -> ControlPlane:
    """The control plane with every CRD of the project installed and established."""
    return install_crds(control_plane)


@contextlib.contextmanager
def fresh_namespace(plane: ControlPlane) -> Iterator[str]:
    """A new namespace, deleted afterwards (without waiting for it to finish)."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    plane.kubectl("create", "namespace", name)
    yield name
    plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def namespace(crds: ControlPlane) -> Iterator[str]:
    """A fresh namespace per test."""
    with fresh_namespace(crds) as name:
        yield name


def kubectl_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, f"kubectl unexpectedly succeeded: {result.stdout}"
    return result.stderr
