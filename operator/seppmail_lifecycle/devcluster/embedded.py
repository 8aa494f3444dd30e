"""``make run``: the product on its embedded default.

With a reachable cluster (``KUBECONFIG`` or ``~/.kube/config``) it uses that cluster; otherwise it
starts the local control plane (kept running afterwards; ``make cluster-down`` stops it). Either way
it installs the CRDs, applies ``manifests/examples/`` into a demo namespace, starts the demo's DNS
zone (``kubectl lifecycle demo dns DOMAIN`` sets the records a partner would) and mail drop (each
mail a file under ``<state>/mail/`` and a line here), prints what to try, and runs the operator in
the foreground with them until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from seppmail_lifecycle.devcluster.binaries import ensure_binaries
from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from seppmail_lifecycle.devcluster.demo import DnsServer, MailDrop, zone_path

DEMO_NAMESPACE = "partner-demo"


def _reachable(kubectl: Path, env: dict[str, str]) -> bool:
    try:
        probe = subprocess.run(
            [str(kubectl), "get", "--raw=/readyz", "--request-timeout=5s"],
            env=env,
            capture_output=True,
            text=True,
            timeout=15,
        )
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0


def _existing_kubeconfig() -> Path | None:
    configured = os.environ.get("KUBECONFIG")
    if configured:
        return Path(configured.split(os.pathsep)[0])
    default = Path.home() / ".kube" / "config"
    return default if default.exists() else None


def _local_cluster(state_dir: Path) -> ControlPlane:
    try:
        plane = ControlPlane.load(state_dir)
        if plane.is_healthy():
            print(f"[run] reusing the local control plane in {state_dir}", file=sys.stderr)
            return plane
        plane.stop()
    except FileNotFoundError:
        pass
    print(f"[run] no cluster reachable: starting the local control plane in {state_dir}", file=sys.stderr)
    plane = ControlPlane(state_dir, ensure_binaries())
    plane.start(detach=True)
    return plane


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__)
    parser.add_argument("--state-dir", type=Path, default=Path(".devcluster"))
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="project checkout (crds/, manifests/)")
    parser.add_argument("--local", action="store_true", help="always use the local control plane")
    parser.add_argument("--policy", type=Path, default=None, help="policy file for the operator")
    parser.add_argument("operator_args", nargs="*", help="extra arguments for `seppmail-lifecycle run`")
    args = parser.parse_args(argv)

    binaries = ensure_binaries()
    env = dict(os.environ)
    kubeconfig = None if args.local else _existing_kubeconfig()
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    if kubeconfig is None or not _reachable(binaries.kubectl, env):
        kubeconfig = _local_cluster(args.state_dir.absolute()).admin_kubeconfig
        env["KUBECONFIG"] = str(kubeconfig)

    def kubectl(*command: str) -> None:
        subprocess.run([str(binaries.kubectl), *command], env=env, check=True)

    kubectl("apply", "--server-side", "-f", str(args.root / "crds"))
    kubectl(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd",
        "-l",
        "app.kubernetes.io/part-of=seppmail-lifecycle",
    )
    namespace = subprocess.run(
        [str(binaries.kubectl), "create", "namespace", DEMO_NAMESPACE, "--dry-run=client", "-o", "yaml"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    subprocess.run([str(binaries.kubectl), "apply", "-f", "-"], env=env, input=namespace, text=True, check=True)
    kubectl("apply", "-n", DEMO_NAMESPACE, "-f", str(args.root / "manifests" / "examples"))

    print(
        "\n[run] examples applied to namespace "
        f"{DEMO_NAMESPACE}. In another terminal:\n\n"
        f"    export KUBECONFIG={kubeconfig}\n"
        f"    kubectl get lifecycle -n {DEMO_NAMESPACE}\n",
        file=sys.stderr,
        flush=True,
    )
    state = args.state_dir.absolute()
    zone = zone_path(state)
    zone.parent.mkdir(parents=True, exist_ok=True)
    dns = DnsServer().start().follow(zone)
    mail = MailDrop(state / "mail").start()
    policy = yaml.safe_load(args.policy.read_text()) if args.policy else {}
    policy = {**policy, "dns": {**(policy.get("dns") or {}), "nameservers": [dns.address]}}
    policy_file = state / "demo-policy.yaml"
    policy_file.write_text(yaml.safe_dump(policy))
    print(
        f"[run] demo DNS zone {zone} on {dns.address}; mails go to {mail.directory}. Try:\n\n"
        f"    kubectl lifecycle demo dns acme-ch -n {DEMO_NAMESPACE}   # the partner sets the DNS records\n"
        f"    kubectl lifecycle tree -n {DEMO_NAMESPACE}\n"
        f"    kubectl lifecycle simulate manifests/examples --until +400d   # the year ahead, no cluster\n",
        file=sys.stderr,
        flush=True,
    )
    operator = [
        sys.executable, "-m", "seppmail_lifecycle.cli.operator_main", "run", "-A", "--policy", str(policy_file),
        "--smtp-host", "127.0.0.1", "--smtp-port", str(mail.port), *args.operator_args,
    ]  # fmt: skip
    process = subprocess.Popen(operator, env=env)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.send_signal(signal.SIGTERM)
        return process.wait()
    finally:
        mail.stop()
        dns.stop()


if __name__ == "__main__":
    sys.exit(main())
