"""The container image, as far as this machine can take it without a container runtime: the
Dockerfile is multi-stage with a slim, non-root final stage holding only the venv; its build
stage's steps, run in a venv here, install a working operator; and the chart's Deployment runs
that image's entrypoint with arguments the installed CLI accepts."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from seppmail_lifecycle.devcluster.binaries import ensure_helm
from tests.conftest import ROOT
from tests.helm import RELEASE, Helm

pytestmark = pytest.mark.e2e

DOCKERFILE = ROOT / "Dockerfile"
VENV = "/opt/seppmail-lifecycle"
PARSE_ARGS = "import sys; from seppmail_lifecycle.cli.operator_main import _parser; _parser().parse_args(sys.argv[1:])"


def stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's stages, each a list of (instruction, arguments), continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    found: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        instruction, _, arguments = line.strip().partition(" ")
        if instruction.upper() == "FROM":
            found.append([])
        if found:
            found[-1].append((instruction.upper(), arguments.strip()))
    return found


def test_the_final_stage_is_slim_non_root_and_holds_only_the_venv() -> None:
    build, final = stages()
    assert build[0] == ("FROM", "python:${PYTHON_VERSION}-slim AS build")
    assert final[0] == ("FROM", "python:${PYTHON_VERSION}-slim")
    instructions = [i for i, _ in final]
    assert "RUN" not in instructions  # nothing installed in the final stage: no build tools
    assert [a for i, a in final if i == "COPY"] == [f"--from=build {VENV} {VENV}"]
    user = next(a for i, a in final if i == "USER")
    assert re.fullmatch(r"[1-9][0-9]*:[1-9][0-9]*", user), "a numeric non-root UID:GID (runAsNonRoot checks it)"
    entrypoint = next(a for i, a in final if i == "ENTRYPOINT")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint == '["seppmail-lifecycle"]'
    assert "seppmail-lifecycle" in scripts
    # The build stage removes pip from the venv it hands over.
    assert any(i == "RUN" and "pip uninstall --yes pip setuptools" in a for i, a in build)


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The build stage's steps, run as written (the venv at a temporary path instead of /opt)."""
    build, _ = stages()
    work = tmp_path_factory.mktemp("image")
    src, venv = work / "src", work / "venv"
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    for instruction, arguments in build:
        if instruction == "ENV":
            env.update(dict(pair.split("=", 1) for pair in shlex.split(arguments)))
        elif instruction == "COPY":  # as Docker does: a directory's contents, files into the target directory
            *sources, target = arguments.split()
            into = src / target
            for source in sources:
                origin = ROOT / source
                if origin.is_dir():
                    shutil.copytree(origin, into, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
                else:
                    into.mkdir(parents=True, exist_ok=True)
                    shutil.copy(origin, into / origin.name)
        elif instruction == "RUN":
            command = arguments.replace(VENV, str(venv)).replace("python -m venv", f"{sys.executable} -m venv")
            # The image keeps no pip cache (a smaller layer); here pip may reuse the machine's.
            run_env = {k: v for k, v in env.items() if k != "PIP_NO_CACHE_DIR"}
            done = subprocess.run(["bash", "-c", command], cwd=src, env=run_env, capture_output=True, text=True)
            assert done.returncode == 0, f"RUN {arguments}\n{done.stdout}\n{done.stderr}"
    return venv


def test_the_build_stage_installs_an_operator_without_pip(image_venv: Path) -> None:
    version = subprocess.run([image_venv / "bin" / "seppmail-lifecycle", "version"], capture_output=True, text=True)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert not (image_venv / "bin" / "pip").exists()
    help_text = subprocess.run(
        [image_venv / "bin" / "seppmail-lifecycle", "run", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--metrics" in help_text
    assert "--liveness" in help_text


def test_the_charts_deployment_runs_the_entrypoint_with_arguments_the_cli_accepts(
    image_venv: Path, tmp_path: Path
) -> None:
    binary = ensure_helm()
    if binary is None:
        pytest.skip("no helm binary (not on PATH, and no Go toolchain to build it)")
    helm = Helm(binary, tmp_path)
    _, final = stages()
    default_args = next(a for i, a in final if i == "CMD")
    for values in ([], ["--set", "leaderElection.enabled=false", "--set", "watchNamespaces={a,b}"]):
        deployment = next(
            d for d in helm.template(*values) if d["kind"] == "Deployment" and d["metadata"]["name"] == RELEASE
        )
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["image"].startswith("ghcr.io/seppmail/seppmail-lifecycle:")
        assert container["command"] == ["seppmail-lifecycle"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 65532
        # The installed CLI parses the rendered arguments (and the image's own default ones).
        for args in (container["args"], json.loads(default_args)):
            parsed = subprocess.run(
                [
                    image_venv / "bin" / "python",
                    "-c",
                    PARSE_ARGS,
                    *args,
                ],
                capture_output=True,
                text=True,
            )
            assert parsed.returncode == 0, (args, parsed.stderr)
