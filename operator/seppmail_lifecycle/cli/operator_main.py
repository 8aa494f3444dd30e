"""``seppmail-lifecycle``: run the operator, print the CRDs, show the version."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from seppmail_lifecycle import __version__


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
        "--peering",
        metavar="NAME",
        default=None,
        help="coordinate replicas through this KopfPeering (default: standalone, one replica)",
    )

    sub.add_parser("crds", help="print the CustomResourceDefinitions as YAML")
    sub.add_parser("version", help="print the version")
    return parser


def run_operator(args: argparse.Namespace) -> None:
    import kopf

    import seppmail_lifecycle.handlers  # noqa: F401  (registers the handlers)
    from seppmail_lifecycle.api.policy import Policy
    from seppmail_lifecycle.backend.mail import SmtpSettings
    from seppmail_lifecycle.handlers.startup import configure

    kopf.configure(
        verbose=args.verbose,
        log_format=kopf.LogFormat.JSON if args.log_format == "json" else kopf.LogFormat.FULL,
    )
    standalone = args.peering is None

    @kopf.on.startup()  # type: ignore[untyped-decorator,unused-ignore]
    def _startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        configure(settings, standalone=standalone)

    # kopf.run installs SIGINT/SIGTERM handlers: handlers finish, then the process exits cleanly.
    kopf.run(
        memo=kopf.Memo(
            policy=Policy.load(args.policy),
            namespaces=tuple(args.namespace),
            smtp=SmtpSettings.from_env(args.smtp_host, args.smtp_port, args.smtp_starttls, args.mail_from)
            if args.smtp_host
            else None,
        ),
        clusterwide=not args.namespace,
        namespaces=args.namespace,
        liveness_endpoint=args.liveness,
        standalone=standalone,
        peering_name=args.peering,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "version":
        print(__version__)
    elif args.command == "crds":
        from seppmail_lifecycle.api.crdgen import all_crds

        sys.stdout.write(yaml.safe_dump_all(all_crds(), sort_keys=False, width=120))
    elif args.command == "run":
        run_operator(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
