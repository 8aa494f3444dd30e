"""``seppmail-lifecycle``: run the operator, print the CRDs, show the version."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from seppmail_lifecycle import __version__
from seppmail_lifecycle.api.policy import parse_duration


def workers_option(value: str) -> int | None:
    """``--workers``: a positive count, or ``auto`` (``None``: sized to the API server)."""
    if value == "auto":
        return None
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', not {value!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"at least 1 worker, not {count}")
    return count


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seppmail-lifecycle",
        description="Kubernetes operator for the seppmail.cloud lifecycle.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the operator in the foreground")
    scope = run.add_mutually_exclusive_group()
    scope.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        metavar="NS",
        help="watch this namespace (repeatable; glob patterns allowed)",
    )
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch every namespace (the default)")
    run.add_argument(
        "--log-format", choices=("plain", "json"), default="plain", help="log line format (default: plain)"
    )
    run.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    run.add_argument(
        "--liveness",
        metavar="URL",
        default=None,
        help="serve the liveness probe, e.g. http://0.0.0.0:8080/healthz",
    )
    run.add_argument(
        "--metrics",
        metavar="URL",
        default=None,
        help="serve Prometheus metrics, e.g. http://0.0.0.0:9090/metrics (on leader and standby)",
    )
    run.add_argument(
        "--policy",
        metavar="FILE",
        type=Path,
        default=None,
        help="YAML file overriding policy durations (the chart mounts a ConfigMap here)",
    )
    run.add_argument(
        "--smtp-host",
        metavar="HOST",
        default=None,
        help="SMTP server for notification mails (none: mails are not sent); SMTP_USERNAME and "
        "SMTP_PASSWORD from the environment authenticate",
    )
    run.add_argument("--smtp-port", metavar="PORT", type=int, default=25, help="SMTP port (default: 25)")
    run.add_argument("--smtp-starttls", action="store_true", help="upgrade the SMTP connection with STARTTLS")
    run.add_argument(
        "--mail-from",
        metavar="ADDRESS",
        default="seppmail.cloud <noreply@seppmail.cloud>",
        help="sender of notification mails",
    )
    run.add_argument(
        "--leader-elect",
        action="store_true",
        help="run as one of several replicas: act only while holding the coordination.k8s.io Lease",
    )
    run.add_argument(
        "--leader-elect-namespace",
        metavar="NS",
        default=None,
        help="namespace of the Lease (default: POD_NAMESPACE, else the pod's own namespace, else default)",
    )
    run.add_argument(
        "--leader-elect-id", metavar="NAME", default="seppmail-lifecycle", help="name of the Lease (one per shard)"
    )
    run.add_argument(
        "--leader-elect-lease-duration",
        metavar="DURATION",
        type=parse_duration,
        default="15s",
        help="how long a standby waits after the leader's last renewal before taking over (default: 15s)",
    )
    run.add_argument(
        "--leader-elect-renew-deadline",
        metavar="DURATION",
        type=parse_duration,
        default="10s",
        help="the leader stops acting when it could not renew for this long (default: 10s)",
    )
    run.add_argument(
        "--leader-elect-retry-period",
        metavar="DURATION",
        type=parse_duration,
        default="2s",
        help="time between renewals and between a standby's attempts (default: 2s)",
    )
    run.add_argument(
        "--workers",
        metavar="N|auto",
        type=workers_option,
        default="auto",
        help="concurrent reconciles (default: auto, half the seats API Priority and Fairness gives the operator, 1-32)",
    )

    run.add_argument(
        "--tenant-namespaces",
        action="store_true",
        help="tenants may live in namespaces of their own, labelled lifecycle.seppmail.cloud/partner=<partner "
        "namespace> (watches Namespaces)",
    )

    run.add_argument(
        "--time-offset",
        metavar="DURATION",
        type=parse_duration,
        default="0s",
        help="decide as if it were this much later (e.g. 32d): try calendar-month billing in minutes, or test it; "
        "never in production (statuses, events and mails carry the shifted times)",
    )

    sub.add_parser("crds", help="print the CustomResourceDefinitions as YAML")
    sub.add_parser("version", help="print the version")
    return parser


def run_operator(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    import kopf

    import seppmail_lifecycle.handlers  # noqa: F401  (registers the handlers)
    from seppmail_lifecycle.api.policy import Policy
    from seppmail_lifecycle.backend.mail import SmtpSettings
    from seppmail_lifecycle.cli.process import LeaderElection, OperatorProcess, ProcessOptions, identity, own_namespace

    kopf.configure(
        verbose=args.verbose,
        log_format=kopf.LogFormat.JSON if args.log_format == "json" else kopf.LogFormat.FULL,
    )
    if not args.verbose:
        # kopf logs every handled watch event at INFO ("Handler ... succeeded."); our own log says
        # one line per transition or effect, so kopf's per-object lines are for --verbose only.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    election = (
        LeaderElection(
            namespace=args.leader_elect_namespace or own_namespace(),
            lease_name=args.leader_elect_id,
            identity=identity(),
            lease_duration=args.leader_elect_lease_duration,
            renew_deadline=args.leader_elect_renew_deadline,
            retry_period=args.leader_elect_retry_period,
        )
        if args.leader_elect
        else None
    )
    options = ProcessOptions(
        policy=Policy.load(args.policy),
        namespaces=tuple(args.namespace),
        smtp=SmtpSettings.from_env(args.smtp_host, args.smtp_port, args.smtp_starttls, args.mail_from)
        if args.smtp_host
        else None,
        liveness=args.liveness,
        metrics=args.metrics,
        leader_election=election,
        verbose=args.verbose,
        workers=args.workers,
        tenant_namespaces=args.tenant_namespaces,
        time_offset=args.time_offset,
    )
    if args.tenant_namespaces:
        from seppmail_lifecycle.handlers.namespace import watch_namespaces

        watch_namespaces()
    return asyncio.run(OperatorProcess(options).run())


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "version":
        print(__version__)
    elif args.command == "crds":
        from seppmail_lifecycle.api.crdgen import all_crds

        sys.stdout.write(yaml.safe_dump_all(all_crds(), sort_keys=False, width=120))
    elif args.command == "run":
        return run_operator(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
