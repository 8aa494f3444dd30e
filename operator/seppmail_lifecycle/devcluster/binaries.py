"""Locating, or building once, the control-plane binaries the local cluster runs.

The envtest convention comes first: when ``KUBEBUILDER_ASSETS`` names a directory holding
``etcd`` and ``kube-apiserver``, those are used. Otherwise the binaries are built from the
official Kubernetes and etcd Go modules at pinned releases, through the Go module proxy, into a
cache outside git (``$SEPPMAIL_LIFECYCLE_CACHE`` or ``~/.cache/seppmail-lifecycle``), so a new
machine needs only the Go toolchain and builds them once.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

KUBERNETES_VERSION = "v1.34.4"
# The staging modules (k8s.io/api, k8s.io/apimachinery, ...) are tagged v0.<minor>.<patch>.
STAGING_VERSION = "v0." + KUBERNETES_VERSION.removeprefix("v1.")
# The etcd server release that k8s.io/kubernetes itself depends on at KUBERNETES_VERSION.
ETCD_VERSION = "v3.6.4"

HELM_VERSION = "v3.19.0"

# Each binary we need and the Go package that builds it.
GO_PACKAGES: dict[str, str] = {
    "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
    "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
    "kubectl": "k8s.io/kubernetes/cmd/kubectl",
    "etcd": "go.etcd.io/etcd/server/v3",
}


@dataclass(frozen=True)
class Binaries:
    """Paths of the executables the local control plane and the tests use."""

    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path | None
    kubectl: Path
    helm: Path | None

    @property
    def directory(self) -> Path:
        return self.kube_apiserver.parent


def cache_root() -> Path:
    configured = os.environ.get("SEPPMAIL_LIFECYCLE_CACHE")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "seppmail-lifecycle"


# Bumped when the way the binaries are built changes, so caches of older builds are not reused.
BUILD_REVISION = 2


def build_dir() -> Path:
    return cache_root() / f"kubernetes-{KUBERNETES_VERSION}-r{BUILD_REVISION}"


def _version_ldflags() -> str:
    """Stamp the release into the binaries: helm and kubectl compare server versions."""
    major, minor, _ = KUBERNETES_VERSION.removeprefix("v").split(".")
    stamps = []
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        stamps += [
            f"-X {package}.gitVersion={KUBERNETES_VERSION}",
            f"-X {package}.gitMajor={major}",
            f"-X {package}.gitMinor={minor}",
            f"-X {package}.gitTreeState=clean",
        ]
    return " ".join(["-s", "-w", *stamps])


def _log(message: str) -> None:
    print(f"[devcluster] {message}", file=sys.stderr, flush=True)


def _from_kubebuilder_assets() -> Binaries | None:
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if not assets:
        return None
    directory = Path(assets)
    etcd, apiserver = directory / "etcd", directory / "kube-apiserver"
    if not (etcd.exists() and apiserver.exists()):
        raise FileNotFoundError(f"KUBEBUILDER_ASSETS={assets} must contain etcd and kube-apiserver")
    controller_manager = directory / "kube-controller-manager"
    kubectl = directory / "kubectl"
    return Binaries(
        etcd=etcd,
        kube_apiserver=apiserver,
        # envtest assets ship no controller manager; namespace deletion and GC then do not run.
        kube_controller_manager=controller_manager if controller_manager.exists() else None,
        kubectl=kubectl if kubectl.exists() else Path(shutil.which("kubectl") or "kubectl"),
        helm=ensure_helm(),
    )


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise RuntimeError(
            "building the control plane needs the Go toolchain (go) on PATH, "
            "or KUBEBUILDER_ASSETS pointing at prebuilt etcd and kube-apiserver binaries"
        )
    return go


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GOFLAGS", "-buildvcs=false")
    env["CGO_ENABLED"] = "0"
    return env


def _staging_modules(go: str, workdir: Path) -> list[str]:
    """The staging module paths that k8s.io/kubernetes replaces with local directories."""
    out = subprocess.run(
        [go, "mod", "download", "-json", f"k8s.io/kubernetes@{KUBERNETES_VERSION}"],
        cwd=workdir,
        env=_go_env(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    gomod = Path(json.loads(out)["GoMod"]).read_text()
    return sorted(set(re.findall(r"^\s*(k8s\.io/[\w.-]+)\s*=>\s*\./staging/", gomod, re.M)))


def _write_module(go: str, workdir: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "go.mod").write_text("module seppmail-lifecycle/controlplane\n\ngo 1.24\n")
    # A tools file pins the main packages as dependencies so `go mod tidy` keeps them.
    imports = "\n".join(f'\t_ "{pkg}"' for pkg in GO_PACKAGES.values())
    (workdir / "tools.go").write_text("//go:build tools\n\npackage tools\n\nimport (\n" + imports + "\n)\n")
    staging = _staging_modules(go, workdir)
    replaces = "\n".join(f"\t{module} => {module} {STAGING_VERSION}" for module in staging)
    with (workdir / "go.mod").open("a") as gomod:
        gomod.write(f"\nrequire (\n\tk8s.io/kubernetes {KUBERNETES_VERSION}\n")
        gomod.write(f"\tgo.etcd.io/etcd/server/v3 {ETCD_VERSION}\n)\n")
        gomod.write(f"\nreplace (\n{replaces}\n)\n")
    subprocess.run([go, "mod", "tidy"], cwd=workdir, env=_go_env(), check=True)


def build_control_plane() -> Path:
    """Build the binaries once; return the directory holding them."""
    target = build_dir()
    bin_dir = target / "bin"
    if all((bin_dir / name).exists() for name in GO_PACKAGES):
        return bin_dir
    go = _go()
    module_dir = target / "src"
    _log(f"building Kubernetes {KUBERNETES_VERSION} and etcd {ETCD_VERSION} into {bin_dir} (once)")
    _write_module(go, module_dir)
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, package in GO_PACKAGES.items():
        if (bin_dir / name).exists():
            continue
        _log(f"go build {package}")
        partial = bin_dir / f".{name}.partial"
        subprocess.run(
            [go, "build", "-trimpath", f"-ldflags={_version_ldflags()}", "-o", str(partial), package],
            cwd=module_dir,
            env=_go_env(),
            check=True,
        )
        partial.rename(bin_dir / name)
    return bin_dir


def _helm_ldflags() -> str:
    """What helm's release build stamps: its version, and the Kubernetes version `helm template`
    and `helm lint` assume without a cluster (else v1.20, and charts' kubeVersion checks fail)."""
    major, minor, _ = KUBERNETES_VERSION.removeprefix("v").split(".")
    stamps = [f"-X helm.sh/helm/v3/internal/version.version={HELM_VERSION}"]
    for package in ("helm.sh/helm/v3/pkg/chartutil", "helm.sh/helm/v3/pkg/lint/rules"):
        stamps += [f"-X {package}.k8sVersionMajor={major}", f"-X {package}.k8sVersionMinor={minor}"]
    return " ".join(["-s", "-w", *stamps])


def _built_once(name: str, version: str, what: str, build: Callable[[Path], None]) -> Path | None:
    """The cached build of the Go tool ``name`` at ``version``, built by ``build(binary)`` the first
    time; None without the Go toolchain."""
    binary = cache_root() / f"{name}-{version}-r{BUILD_REVISION}" / name
    if binary.exists():
        return binary
    if shutil.which("go") is None:
        return None
    _log(f"building {what} (once)")
    binary.parent.mkdir(parents=True, exist_ok=True)
    build(binary)
    return binary


def ensure_helm() -> Path | None:
    """Helm from PATH, else built once from its Go module; None when neither is possible."""
    on_path = shutil.which("helm")
    if on_path:
        return Path(on_path)

    def build(binary: Path) -> None:
        env = _go_env()
        env["GOBIN"] = str(binary.parent)
        module = f"helm.sh/helm/v3/cmd/helm@{HELM_VERSION}"
        subprocess.run([_go(), "install", "-trimpath", f"-ldflags={_helm_ldflags()}", module], env=env, check=True)

    return _built_once("helm", HELM_VERSION, f"helm {HELM_VERSION}", build)


CLI_UTILS_VERSION = "v0.37.2"
"""sigs.k8s.io/cli-utils: its kstatus is what Flux's health checks (``wait``, ``healthChecks``) use."""

KSTATUS_MAIN = """\
// kstatus: the verdict of sigs.k8s.io/cli-utils' kstatus (what Flux's health checks use) on each
// object of a Kubernetes List read from stdin, as JSON lines: kind, name, status, message.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type verdict struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kstatus: reading stdin:", err)
		os.Exit(2)
	}
	// As the API machinery decodes it (integers as int64, which kstatus expects).
	var list unstructured.UnstructuredList
	if err := list.UnmarshalJSON(data); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus: reading a List from stdin:", err)
		os.Exit(2)
	}
	out := json.NewEncoder(os.Stdout)
	for i := range list.Items {
		object := &list.Items[i]
		result, err := status.Compute(object)
		v := verdict{Kind: object.GetKind(), Name: object.GetName()}
		if err != nil {
			v.Status, v.Message = "Error", err.Error()
		} else {
			v.Status, v.Message = string(result.Status), result.Message
		}
		if err := out.Encode(v); err != nil {
			os.Exit(2)
		}
	}
}
"""


def ensure_kstatus() -> Path | None:
    """A tiny checker built once from cli-utils' kstatus (the library Flux judges health with):
    reads a List on stdin, prints each object's verdict; None without the Go toolchain."""
    return _built_once(
        "kstatus",
        CLI_UTILS_VERSION,
        f"the kstatus checker from sigs.k8s.io/cli-utils {CLI_UTILS_VERSION}",
        lambda binary: _build_go_tool(binary, KSTATUS_MAIN, [f"sigs.k8s.io/cli-utils@{CLI_UTILS_VERSION}"]),
    )


FLUX_RUNTIME_VERSION = "v0.110.0"
"""github.com/fluxcd/pkg/runtime: its ``cel`` package evaluates a Kustomization's ``healthCheckExprs``
in kustomize-controller (the newest release that builds with the Go of this machine)."""

FLUX_HEALTH_MAIN = """\
// flux-health: the verdict of Flux's own CEL health check (fluxcd/pkg/runtime/cel, what
// kustomize-controller runs for a Kustomization's spec.healthCheckExprs) on each object of a
// Kubernetes List read from stdin, with the healthCheckExprs entries read from the file named by
// the first argument (JSON), as JSON lines: kind, name, status, message (an evaluation error).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/fluxcd/pkg/apis/kustomize"
	"github.com/fluxcd/pkg/runtime/cel"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

type verdict struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func fail(what string, err error) {
	fmt.Fprintln(os.Stderr, "flux-health:", what+":", err)
	os.Exit(2)
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: flux-health EXPRS.json < list.json")
		os.Exit(2)
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("reading the expressions", err)
	}
	var checks []kustomize.CustomHealthCheck
	if err := json.Unmarshal(raw, &checks); err != nil {
		fail("reading the expressions", err)
	}
	evaluators := map[string]*cel.StatusEvaluator{}
	for i := range checks {
		evaluator, err := cel.NewStatusEvaluator(&checks[i].HealthCheckExpressions)
		if err != nil {
			fail("compiling the expressions of "+checks[i].Kind, err)
		}
		evaluators[checks[i].APIVersion+"/"+checks[i].Kind] = evaluator
	}
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("reading stdin", err)
	}
	var list unstructured.UnstructuredList
	if err := list.UnmarshalJSON(data); err != nil {
		fail("reading a List from stdin", err)
	}
	out := json.NewEncoder(os.Stdout)
	for i := range list.Items {
		object := &list.Items[i]
		v := verdict{Kind: object.GetKind(), Name: object.GetName()}
		evaluator, found := evaluators[object.GetAPIVersion()+"/"+object.GetKind()]
		if !found {
			v.Status, v.Message = "NoExpressions", "no healthCheckExprs entry for this kind"
		} else if result, err := evaluator.Evaluate(context.Background(), object); err != nil {
			v.Status, v.Message = "Unknown", err.Error()
		} else {
			v.Status, v.Message = string(result.Status), result.Message
		}
		if err := out.Encode(v); err != nil {
			os.Exit(2)
		}
	}
}
"""


def _build_go_tool(binary: Path, main: str, requires: Sequence[str]) -> None:
    """Build a one-file Go program ``main`` that needs the modules ``requires`` into ``binary``."""
    source = binary.parent / "src"
    source.mkdir(parents=True, exist_ok=True)
    (source / "go.mod").write_text(f"module seppmail-lifecycle/{binary.name}\n\ngo 1.24\n")
    (source / "main.go").write_text(main)
    env, go = _go_env(), _go()
    for module in requires:
        subprocess.run([go, "mod", "edit", f"-require={module}"], cwd=source, env=env, check=True)
    subprocess.run([go, "mod", "tidy"], cwd=source, env=env, check=True)
    partial = binary.with_name(f".{binary.name}.partial")
    subprocess.run(
        [go, "build", "-trimpath", "-ldflags=-s -w", "-o", str(partial), "."], cwd=source, env=env, check=True
    )
    partial.rename(binary)


def ensure_flux_health() -> Path | None:
    """A tiny checker built once from Flux's own CEL health evaluation: ``flux-health EXPRS.json``
    reads a List on stdin and prints each object's verdict; None without the Go toolchain."""
    return _built_once(
        "flux-health",
        FLUX_RUNTIME_VERSION,
        f"the Flux health checker from github.com/fluxcd/pkg/runtime {FLUX_RUNTIME_VERSION}",
        lambda binary: _build_go_tool(
            binary, FLUX_HEALTH_MAIN, [f"github.com/fluxcd/pkg/runtime@{FLUX_RUNTIME_VERSION}"]
        ),
    )


def ensure_binaries() -> Binaries:
    """The binaries to use: KUBEBUILDER_ASSETS when set, else the cached build (built if missing)."""
    assets = _from_kubebuilder_assets()
    if assets is not None:
        return assets
    bin_dir = build_control_plane()
    return Binaries(
        etcd=bin_dir / "etcd",
        kube_apiserver=bin_dir / "kube-apiserver",
        kube_controller_manager=bin_dir / "kube-controller-manager",
        kubectl=bin_dir / "kubectl",
        helm=ensure_helm(),
    )


def link_tools(binaries: Binaries, directory: Path) -> None:
    """Symlink kubectl and helm into ``directory`` (the venv's bin), so they are on PATH with it."""
    for tool in (binaries.kubectl, binaries.helm):
        if tool is None or not tool.exists():
            continue
        link = directory / tool.name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(tool.absolute())


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Locate or build the local control plane binaries.")
    parser.add_argument("--link", type=Path, metavar="DIR", help="symlink kubectl and helm into DIR")
    args = parser.parse_args(argv)
    found = ensure_binaries()
    ensure_kstatus()  # the tests judge live objects with it, as Flux does
    ensure_flux_health()  # and with Flux's own evaluation of the chart's healthCheckExprs
    if args.link:
        link_tools(found, args.link)
    print(found.directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
