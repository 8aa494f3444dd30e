"""Command line for the local control plane: ``python -m seppmail_lifecycle.devcluster``.

``up`` starts a detached cluster (or reuses a healthy one) and prints ``export KUBECONFIG=...`` on
stdout, so ``eval "$(python -m seppmail_lifecycle.devcluster up)"`` works; everything else goes to
stderr. ``down`` stops it and removes its state directory, ``status`` exits 0 only when it is
running and ready, ``kubeconfig`` mints credentials for any user and groups to test RBAC with.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from seppmail_lifecycle.devcluster.binaries import ensure_binaries
from seppmail_lifecycle.devcluster.controlplane import (
    STATE_FILE,
    ControlPlane,
    ControlPlaneError,
    remove_state_dir,
    stop_from_state,
)

DEFAULT_STATE_DIR = Path(".devcluster")


def _say(message: str) -> None:
    print(f"[devcluster] {message}", file=sys.stderr, flush=True)


def _healthy(state_dir: Path) -> ControlPlane | None:
    try:
        plane = ControlPlane.load(state_dir)
    except FileNotFoundError:
        return None
    return plane if plane.is_healthy() else None


def _up(state_dir: Path) -> int:
    plane = _healthy(state_dir)
    if plane is not None:
        _say(f"reusing the running cluster at {plane.server}")
    else:
        # Whatever a dead or half-started cluster left behind: stray processes, old credentials.
        stop_from_state(state_dir)
        remove_state_dir(state_dir)
        plane = ControlPlane(state_dir, ensure_binaries())
        began = time.monotonic()
        try:
            plane.start(detach=True)
        except ControlPlaneError as error:
            _say(f"failed to start:\n{error}")
            return 1
        _say(f"cluster at {plane.server} ready in {time.monotonic() - began:.1f}s (logs in {state_dir})")
    print(f"export KUBECONFIG={plane.admin_kubeconfig}")
    return 0


def _down(state_dir: Path) -> int:
    if stop_from_state(state_dir):
        _say("cluster stopped")
    else:
        _say(f"no cluster recorded in {state_dir}")
    remove_state_dir(state_dir)
    return 0


def _status(state_dir: Path) -> int:
    plane = _healthy(state_dir)
    if plane is None:
        print("not running")
        return 1
    pids = ", ".join(f"{name}={pid}" for name, pid in plane.pids.items())
    print(f"running at {plane.server} ({pids}); KUBECONFIG={plane.admin_kubeconfig}")
    return 0


def _kubeconfig(state_dir: Path, user: str, groups: list[str]) -> int:
    if not (state_dir / STATE_FILE).exists():
        _say(f"no cluster recorded in {state_dir}; run `up` first")
        return 1
    print(ControlPlane.load(state_dir).mint_kubeconfig(user, groups))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m seppmail_lifecycle.devcluster",
        description="A local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager).",
    )
    state_help = f"directory holding the cluster's state, keys and logs (default: {DEFAULT_STATE_DIR}/)"
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help=state_help)
    # Also accepted after the command; SUPPRESS keeps the subcommand from resetting the default.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state-dir", type=Path, default=argparse.SUPPRESS, help=state_help)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", parents=[common], help="start the cluster (or reuse a running one)")
    commands.add_parser("down", parents=[common], help="stop the cluster and remove its state")
    commands.add_parser("status", parents=[common], help="exit 0 when running, 1 otherwise")
    mint = commands.add_parser("kubeconfig", parents=[common], help="mint a kubeconfig for a user")
    mint.add_argument("--user", required=True, help="user name (certificate CN)")
    mint.add_argument(
        "--group",
        dest="groups",
        action="extend",
        nargs="+",
        default=[],
        metavar="GROUP",
        help="group(s) (certificate O); repeatable",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    state_dir: Path = args.state_dir.absolute()
    if args.command == "up":
        return _up(state_dir)
    if args.command == "down":
        return _down(state_dir)
    if args.command == "status":
        return _status(state_dir)
    return _kubeconfig(state_dir, args.user, args.groups)


if __name__ == "__main__":
    sys.exit(main())
