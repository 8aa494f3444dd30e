"""``kubectl lifecycle`` (``kubectl-lifecycle`` on the PATH is a kubectl plugin): the command line
partners, support and tech use beside kubectl.

Commands: ``tree`` (partner -> tenants -> domains -> services, contracts, invoices, licenses) and
the seed's buttons: ``deploy``, ``refresh``, ``cancel``, ``discontinue``, ``continue``,
``expedite``, ``pay``. What a button writes is decided by ``core.buttons`` (pure); this module
reads the objects, applies the change, and says what it did. A spec change of an object Argo CD or
Flux manages is not made live (the next sync would undo it): the change to commit is printed
instead, unless ``--force``. kubectl's conventions: ``-n/--namespace``, ``--context``,
``--kubeconfig``, ``-o json|yaml``, errors as one line on stderr, exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from seppmail_lifecycle import __version__
from seppmail_lifecycle.api import KINDS_BY_NAME
from seppmail_lifecycle.core import buttons
from seppmail_lifecycle.core.model import Obj
from seppmail_lifecycle.kube.client import KubeClient
from seppmail_lifecycle.kube.convert import parse
from seppmail_lifecycle.kube.errors import ApiError, NotFound

Body = dict[str, Any]


DEMO_ZONE = Path(os.environ.get("SEPPMAIL_LIFECYCLE_STATE", ".devcluster")) / "dns" / "zone.json"
"""The zone ``make run``'s DNS server answers from (``devcluster.demo.zone_path``; JSON: name -> type
-> values, MX values as "preference exchange")."""


class CommandError(Exception):
    """What the user must know, as one line (no stack trace)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubectl lifecycle",
        description="The seppmail.cloud lifecycle beside kubectl: the tree of a partner's tenants, and the buttons.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    cluster = argparse.ArgumentParser(add_help=False)
    cluster.add_argument("-n", "--namespace", help="the partner (or tenant) namespace (default: the context's)")
    cluster.add_argument("--context", help="the kubeconfig context to use")
    cluster.add_argument("--kubeconfig", help="the kubeconfig file (default: KUBECONFIG or ~/.kube/config)")
    common = argparse.ArgumentParser(add_help=False, parents=[cluster])
    common.add_argument("-o", "--output", choices=("text", "json", "yaml"), default="text", help="output format")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    simulate = sub.add_parser(
        "simulate",
        help="the manifests in DIR through the operator's own loop over a virtual clock: no cluster needed",
    )
    simulate.add_argument("dir", metavar="DIR", type=Path, help="a directory of YAML manifests (or one file)")
    simulate.add_argument(
        "--until", default="+400d", help="end: +DURATION after the start (e.g. +400d, +36h) or a date (default +400d)"
    )
    simulate.add_argument("--at", type=_instant, help="start (date or RFC 3339 time; default: now)")
    simulate.add_argument("--policy", type=Path, help="a policy YAML file (default: the built-in defaults)")
    simulate.add_argument("-n", "--namespace", default="simulation", help="the namespace the manifests go into")
    simulate.add_argument("-o", "--output", choices=("text", "json", "yaml"), default="text", help="output format")

    validate = sub.add_parser(
        "validate", help="check partner YAML before committing it: schemas, CEL rules, consistency (no cluster)"
    )
    validate.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="YAML files or directories")
    validate.add_argument("-o", "--output", choices=("text", "json"), default="text", help="output format")

    tree = sub.add_parser("tree", parents=[common], help="partner -> tenants -> domains -> services, contracts ...")
    tree.add_argument("tenant", nargs="?", help="only this tenant")

    usage = sub.add_parser("usage", parents=[cluster], help="the usage statement of a month (seed 001)")
    usage.add_argument("--month", type=_month, required=True, metavar="YYYY-MM", help="the month")
    usage.add_argument("--tenant", help="only this tenant")
    usage.add_argument("-o", "--output", choices=("table", "csv", "json"), default="table", help="output format")
    offer = sub.add_parser("offer", parents=[cluster], help="a quote for a tenant's services and planned ones")
    offer.add_argument("tenant", metavar="TENANT")
    offer.add_argument("-f", "--filename", type=Path, help="planned Services (YAML manifests) to quote as well")
    offer.add_argument("-o", "--output", choices=("text", "markdown", "json"), default="text", help="output format")

    demo = sub.add_parser("demo", help="the local demo of `make run`")
    demo_sub = demo.add_subparsers(dest="demo", required=True, metavar="WHAT")
    dns = demo_sub.add_parser(
        "dns", parents=[common], help="set the DNS records a partner would set for a domain, in the demo's zone"
    )
    dns.add_argument("domain", metavar="DOMAIN", help="the Domain object")
    dns.add_argument("--zone", type=Path, default=DEMO_ZONE, help=f"the demo zone file (default: {DEMO_ZONE})")

    button = argparse.ArgumentParser(add_help=False, parents=[common])
    button.add_argument("--force", action="store_true", help="change an object Git manages live anyway")
    button.add_argument("--dry-run", action="store_true", help="print the change, do not make it")

    deploy = sub.add_parser("deploy", parents=[button], help="deploy domains and services now (Tech)")
    deploy.add_argument("domains", nargs="*", metavar="DOMAIN", help="Domain objects (none: every confirmed one)")
    refresh = sub.add_parser("refresh", parents=[button], help="recheck a domain's DNS records now")
    refresh.add_argument("domain", metavar="DOMAIN")
    cancel = sub.add_parser("cancel", parents=[button], help="cancel a service (cannot be withdrawn)")
    cancel.add_argument("service", metavar="SERVICE")
    cancel.add_argument("--end-billing", type=date.fromisoformat, metavar="YYYY-MM-DD", help="last billed day")
    cancel.add_argument("--reason", help="why")
    for name, what in (("discontinue", "Discontinue Service: autoRenew false"), ("continue", "Continue Service")):
        sub.add_parser(name, parents=[button], help=what).add_argument("service", metavar="SERVICE")
    expedite = sub.add_parser("expedite", parents=[button], help="remove a cancelled object now (platform support)")
    expedite.add_argument("object", metavar="service/NAME|domain/NAME")
    pay = sub.add_parser("pay", parents=[button], help="record a payment for an invoice (billing, platform support)")
    pay.add_argument("invoice", metavar="INVOICE")
    pay.add_argument("--amount", help="decimal amount (default: what is still open)")
    pay.add_argument("--currency", help="ISO currency (default: the invoice's)")
    pay.add_argument("--reference", required=True, help="the billing system's reference, e.g. a transaction id")
    pay.add_argument("--paid-at", type=datetime.fromisoformat, help="when the money arrived (default: now)")
    return parser


def _month(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month like 2027-01") from None


def _instant(text: str) -> datetime:
    """A date (its midnight, UTC) or an RFC 3339 time (UTC unless it says otherwise)."""
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date or time like 2027-01-31 or 2027-01-31T08:00Z"
        ) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _manifests(path: Path) -> list[Body]:
    from seppmail_lifecycle.cli.files import load, manifest_files

    files = manifest_files([path])
    if not files:
        raise CommandError(f"no YAML manifests in {path}")
    docs: list[Body] = []
    for file in files:
        try:
            docs += load(file)
        except (OSError, yaml.YAMLError) as error:
            raise CommandError(f"{file}: {error}") from None
    return docs


async def _simulate(args: argparse.Namespace) -> None:
    from seppmail_lifecycle.api.policy import Policy, parse_duration
    from seppmail_lifecycle.runtime.simulator import simulate

    start = (args.at or datetime.now(UTC)).replace(microsecond=0)
    try:
        until = start + parse_duration(args.until[1:]) if args.until.startswith("+") else _instant(args.until)
        policy = Policy.load(args.policy)
    except (ValueError, argparse.ArgumentTypeError, OSError) as error:
        raise CommandError(str(error)) from None
    docs = _manifests(args.dir)
    with _progress(f"simulating {len(docs)} objects", (until - start).total_seconds()) as advance:
        try:
            timeline = await simulate(
                docs, policy, args.namespace, start, until, lambda now: advance((now - start).total_seconds())
            )
        except ValueError as error:  # a manifest that is not one of our kinds, or does not parse
            raise CommandError(str(error)) from None
    if not timeline.settled:
        raise CommandError(f"the decisions did not settle after {timeline.reconciles} reconciles")
    if args.output != "text":
        _emit(
            {
                "start": start.isoformat(),
                "until": until.isoformat(),
                "reconciles": timeline.reconciles,
                "timeline": [
                    {
                        "at": e.at.isoformat(),
                        "kind": e.kind,
                        "name": e.name,
                        "what": e.what,
                        "reason": e.reason,
                        "message": e.message,
                    }
                    for e in timeline.entries
                ],
            },
            args.output,
        )
        return
    by_object: dict[tuple[str, str], list[Any]] = {}
    for entry in timeline.entries:
        by_object.setdefault((entry.kind, entry.name), []).append(entry)
    print(f"{len(docs)} objects from {args.dir}, {start.isoformat()} to {until.isoformat()}")
    for (kind, name), entries in by_object.items():
        print(f"\n{kind} {name}")
        for e in entries:
            print(f"  {e.at:%Y-%m-%d %H:%M:%S}  {e.reason:<24} {e.message}")


@contextlib.contextmanager
def _progress(what: str, total: float) -> Iterator[Callable[[float], None]]:
    """A progress bar on stderr while a long run goes on (only on a terminal: never in pipes or logs)."""
    if not sys.stderr.isatty():
        yield lambda _: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True, console=Console(stderr=True), redirect_stdout=False) as bar:
        task = bar.add_task(what, total=total)
        yield lambda done: bar.update(task, completed=done)


async def _get(client: KubeClient, kind: str, namespace: str, name: str) -> Obj[Any, Any]:
    info = KINDS_BY_NAME[kind]
    try:
        body = await client.get(info, namespace, name)
    except NotFound:
        raise CommandError(f"{info.plural}.{info.group} {name!r} not found in namespace {namespace!r}") from None
    obj, ok = parse(info, body)
    if not ok:
        raise CommandError(f"{kind} {name!r} cannot be read: its spec is invalid (kubectl describe says why)")
    return obj


async def _list(client: KubeClient, kind: str, namespace: str) -> list[Any]:
    info = KINDS_BY_NAME[kind]
    readable = []
    for body in await client.list_objects(info, [namespace]):
        obj, ok = parse(info, body)
        if ok:  # one whose spec cannot be read says so itself (kubectl describe)
            readable.append(obj)
    return readable


def _emit(data: Any, output: str) -> None:
    if output == "json":
        print(json.dumps(data, indent=2, default=str))
    else:
        print(yaml.safe_dump(data, sort_keys=False, default_flow_style=False), end="")


async def _tree(client: KubeClient, args: argparse.Namespace, namespace: str) -> None:
    from rich.console import Console

    from seppmail_lifecycle.cli.tree import build, render

    objects = {kind: await _list(client, kind, namespace) for kind in (
        "Partner", "Tenant", "Domain", "Service", "Contract", "Invoice", "License"
    )}  # fmt: skip
    if args.tenant and not any(t.name == args.tenant for t in objects["Tenant"]):
        raise CommandError(f"tenant {args.tenant!r} not found in namespace {namespace!r}")
    root = build(
        namespace,
        objects["Partner"],
        objects["Tenant"],
        objects["Domain"],
        objects["Service"],
        objects["Contract"],
        objects["Invoice"],
        objects["License"],
        only=args.tenant,
    )
    if args.output != "text":
        _emit(root.as_dict(), args.output)
        return
    # Piped or redirected: whole lines (rich would cut them at 80 columns), for grep and diff.
    width = None if sys.stdout.isatty() else 10_000
    Console(highlight=False, soft_wrap=True, width=width).print(render(root))


def _planned(path: Path, namespace: str) -> list[Any]:
    """Planned Services from a file: quoted as if booked (not created)."""
    from seppmail_lifecycle.api.service import ServiceSpec, ServiceStatus
    from seppmail_lifecycle.core.model import Meta

    planned = []
    for doc in _manifests(path):
        if doc.get("kind") != "Service":
            continue
        name = (doc.get("metadata") or {}).get("name", "planned")
        try:
            spec = ServiceSpec.model_validate(doc.get("spec") or {})
        except ValueError as error:
            raise CommandError(f"{path}: Service {name!r}: {error}") from None
        meta = Meta(name=name, namespace=namespace, uid=f"planned-{name}", generation=1, created=datetime.now(UTC))
        planned.append(Obj(meta, spec, ServiceStatus()))
    return planned


async def _priced(client: KubeClient, args: argparse.Namespace, namespace: str) -> None:
    """``usage`` and ``offer``: what the catalogue says the services cost."""
    from seppmail_lifecycle.core import pricing

    domains = await _list(client, "Domain", namespace)
    services = await _list(client, "Service", namespace)
    products = {p.name: p for p in await _list(client, "Product", "")}
    if args.command == "usage":
        lines = [
            line
            for line in pricing.usage_statement(args.month, domains, services, products)
            if args.tenant is None or line.tenant == args.tenant
        ]
        title = f"Usage {args.month:%Y-%m}" + (f", tenant {args.tenant}" if args.tenant else "")
    else:
        if not any(t.name == args.tenant for t in await _list(client, "Tenant", namespace)):
            raise CommandError(f"tenant {args.tenant!r} not found in namespace {namespace!r}")
        planned = _planned(args.filename, namespace) if args.filename else []
        lines = pricing.offer(args.tenant, domains, [*services, *planned], products)
        title = f"Offer for tenant {args.tenant} (per month; one-time once)"
    columns = ["tenant", "domain", "service", "number", "product", "users", "days", "discount", "amount", "currency"]
    rows = [
        [
            line.tenant,
            line.domain,
            line.service,
            "" if line.number is None else str(line.number),
            line.product + (" (one-time)" if line.one_time else ""),
            str(line.users),
            f"{line.days}/{line.month_days}" if line.days is not None else "",
            line.discount or "",
            str(line.amount),
            line.currency,
        ]
        for line in lines
    ]
    sums = pricing.totals(lines)
    if args.output == "json":
        print(json.dumps({"title": title, "lines": [dict(zip(columns, r, strict=True)) for r in rows],
                          "totals": [{"tenant": t, "currency": c, "oneTime": o, "amount": str(a)}
                                     for (t, c, o), a in sorted(sums.items())]}, indent=2))  # fmt: skip
        return
    if args.output == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
        return
    if args.output == "markdown":
        print(f"# {title}\n")
        print("| " + " | ".join(columns) + " |")
        print("|" + "---|" * len(columns))
        for row in rows:
            print("| " + " | ".join(row) + " |")
        print()
        for (tenant, currency, one_time), amount in sorted(sums.items()):
            print(f"**Total {tenant}{' (one-time)' if one_time else ''}: {amount} {currency}**  ")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*[c.upper() for c in columns], title=title, box=None, title_justify="left", pad_edge=False)
    for row in rows:
        table.add_row(*row)
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 10_000)
    console.print(table)
    for (tenant, currency, one_time), amount in sorted(sums.items()):
        console.print(f"total {tenant}{' one-time' if one_time else ''}: {amount} {currency}", markup=False)


async def _demo_dns(client: KubeClient, args: argparse.Namespace, namespace: str) -> None:
    """The records the domain waits for, into the demo zone; then a refresh, so it is checked now."""
    domain = await _get(client, "Domain", namespace, args.domain)
    pending = domain.status.pending_actions
    if not pending:
        raise CommandError(
            f"domain {args.domain!r} waits for no DNS record (phase {domain.status.phase or 'ordered'}): nothing to set"
        )
    if not args.zone.parent.exists():
        raise CommandError(f"{args.zone.parent} does not exist: is `make run` running in this directory?")
    zone: dict[str, dict[str, list[str]]] = json.loads(args.zone.read_text()) if args.zone.exists() else {}
    for action in pending:
        values = zone.setdefault(action.name, {}).setdefault(action.record_type, [])
        value = action.expected if action.record_type == "TXT" else f"{10 * (len(values) + 1)} {action.expected}"
        if all(v.split()[-1] != action.expected for v in values):
            values.append(value)
        print(f"{action.record_type:<4} {action.name}  {value}")
    args.zone.write_text(json.dumps(zone, indent=2, sort_keys=True) + "\n")
    refresh = buttons.refresh(domain, datetime.now(UTC))
    assert refresh.patch is not None
    await client.patch(KINDS_BY_NAME["Domain"], namespace, domain.name, refresh.patch)
    print(f"set in {args.zone}; domain {domain.name} is checked again now")


async def _press(client: KubeClient, args: argparse.Namespace, namespace: str) -> Body | None:
    """Decide the change a button makes, then make it (or say why not); the changed object."""
    now = datetime.now(UTC)
    target: Obj[Any, Any] | None = None
    command = args.command
    if command == "deploy":
        change = buttons.deploy(namespace, list(args.domains), now)
    elif command == "refresh":
        target = await _get(client, "Domain", namespace, args.domain)
        change = buttons.refresh(target, now)
    elif command in ("cancel", "discontinue", "continue"):
        target = await _get(client, "Service", namespace, args.service)
        change = (
            buttons.cancel(target, args.end_billing, args.reason)
            if command == "cancel"
            else buttons.set_auto_renew(target, renew=command == "continue")
        )
    elif command == "expedite":
        kind_name, _, name = args.object.partition("/")
        kind = {"service": "Service", "services": "Service", "domain": "Domain", "domains": "Domain"}.get(
            kind_name.lower().split(".")[0]
        )
        if kind is None or not name:
            raise CommandError(f"expedite takes service/NAME or domain/NAME, not {args.object!r}")
        target = await _get(client, kind, namespace, name)
        change = buttons.expedite(target, kind)
    else:
        invoice = await _get(client, "Invoice", namespace, args.invoice)
        paid_at = args.paid_at or now
        if paid_at.tzinfo is None:
            paid_at = paid_at.replace(tzinfo=UTC)
        change = buttons.pay(invoice, args.amount, args.reference, paid_at, args.currency)
    decided = buttons.live(change, target.meta, args.force) if target is not None else change
    if isinstance(decided, buttons.Refusal):
        snippet = yaml.safe_dump(decided.change.patch, sort_keys=False).rstrip()
        refused = KINDS_BY_NAME[change.kind]
        raise CommandError(
            f"{refused.plural}.{refused.group} {change.name!r} is managed by {decided.manager}: the next sync "
            f"would undo a live change. Commit this to its manifest in Git instead (or pass --force):\n{snippet}"
        )
    info = KINDS_BY_NAME[change.kind]
    if args.dry_run:
        print(f"would {change.says} (dry run)")
        return change.patch or change.create
    if change.create is not None:
        result = await client.create(info, namespace, change.create)
    else:
        assert change.patch is not None
        result = await client.patch(info, namespace, change.name, change.patch)
    if args.output == "text":
        print(f"{info.singular}.{info.group}/{result['metadata']['name']}: {change.says}")
    return result


def _validate(args: argparse.Namespace) -> int:
    from seppmail_lifecycle.cli.validate import validate

    missing = [p for p in args.paths if not p.exists()]
    if missing:
        raise CommandError(f"no such file or directory: {missing[0]}")
    from seppmail_lifecycle.cli.files import manifest_files

    files = manifest_files(args.paths)
    with _progress(f"validating {len(files)} files", len(files)) as advance:
        findings, count = validate(files, advance)
    if args.output == "json":
        print(json.dumps({"manifests": count, "problems": [f.__dict__ for f in findings]}, indent=2))
    else:
        for finding in findings:
            print(finding.line())
        summary = f"{count} manifests, {len(findings)} problem(s)" if findings else f"{count} manifests, no problems"
        print(summary, file=sys.stderr)
    return 1 if findings else 0


async def _run(args: argparse.Namespace) -> int:
    if args.command == "simulate":
        await _simulate(args)
        return 0
    if args.command == "validate":
        return _validate(args)
    namespace = args.namespace or KubeClient.default_namespace(args.kubeconfig, args.context)
    try:
        client = await KubeClient.connect(args.kubeconfig, args.context)
    except Exception as error:  # a missing or broken kubeconfig: say so, as kubectl does
        raise CommandError(f"cannot read the kubeconfig: {error}") from None
    try:
        if args.command == "tree":
            await _tree(client, args, namespace)
        elif args.command in ("usage", "offer"):
            await _priced(client, args, namespace)
        elif args.command == "demo":
            await _demo_dns(client, args, namespace)
        else:
            result = await _press(client, args, namespace)
            if result is not None and args.output != "text":
                _emit(result, args.output)
    finally:
        await client.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(_run(args))
    except (CommandError, buttons.ButtonError) as error:
        print(f"error: {error}", file=sys.stderr)
    except ApiError as error:
        print(f"error: the API server refused it: {error.message or error}", file=sys.stderr)
    except OSError as error:  # the API server cannot be reached
        print(f"error: {error}", file=sys.stderr)
    return 1


# What each command's positional argument names, for completion.
_COMPLETES = {
    "tree": "Tenant",
    "offer": "Tenant",
    "deploy": "Domain",
    "refresh": "Domain",
    "cancel": "Service",
    "discontinue": "Service",
    "continue": "Service",
    "pay": "Invoice",
}
NO_FILES, FILES = ":4", ":0"
"""Cobra's completion directives, which kubectl passes on for plugins: no file names / file names."""


def candidates(words: Sequence[str], names: Sequence[str] = ()) -> tuple[list[str], str]:
    """What completes the last of ``words`` (the command line after ``kubectl lifecycle``): a
    command, a flag of the command, or ``names`` (the objects its argument names); and the
    directive."""
    parser = _parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    partial = words[-1] if words else ""
    if len(words) <= 1:
        return sorted(c for c in sub.choices if c.startswith(partial)), NO_FILES
    command = sub.choices.get(words[0])
    if command is None:
        return [], NO_FILES
    if partial.startswith("-"):
        flags = sorted(f for a in command._actions for f in a.option_strings if f.startswith(partial))
        return flags, NO_FILES
    if words[0] in ("simulate", "validate"):
        return [], FILES
    return sorted(n for n in names if n.startswith(partial)), NO_FILES


def complete(argv: Sequence[str] | None = None) -> int:
    """``kubectl_complete-lifecycle``: kubectl runs it to complete ``kubectl lifecycle`` (kubectl
    1.26+); object names come from the cluster, quietly nothing when it cannot be reached."""
    words = list(sys.argv[1:] if argv is None else argv) or [""]
    names: list[str] = []
    kind = _COMPLETES.get(words[0]) if len(words) > 1 else None
    if words[0] == "expedite" and len(words) > 1:
        kind = "Domain" if words[-1].startswith("domain/") else "Service"
    if kind is not None and not words[-1].startswith("-"):
        flags = {w: words[i + 1] for i, w in enumerate(words[:-2]) if w in ("-n", "--namespace", "--context")}
        try:
            names = asyncio.run(_names(kind, flags.get("-n") or flags.get("--namespace"), flags.get("--context")))
        except Exception:
            names = []
        if words[0] == "expedite":
            names = [f"{kind.lower()}/{n}" for n in names]
    found, directive = candidates(words, names)
    print("\n".join([*found, directive]))
    return 0


async def _names(kind: str, namespace: str | None, context: str | None) -> list[str]:
    client = await KubeClient.connect(None, context)
    try:
        ns = namespace or KubeClient.default_namespace(None, context)
        return [body["metadata"]["name"] for body in await client.list_objects(KINDS_BY_NAME[kind], [ns])]
    finally:
        await client.close()


if __name__ == "__main__":
    sys.exit(main())
