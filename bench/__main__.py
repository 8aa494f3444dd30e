"""``python -m bench [--quick] [--json FILE]``: the benchmark on a control plane of its own.

Prints each figure as median [min-max] over the runs and writes them all as JSON. ``--quick`` is
small enough for a laptop (a few minutes); the full run takes the sizes the targets are set at.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench import scenarios
from bench.measure import shown, spread
from bench.scenarios import Cluster, Throughput
from seppmail_lifecycle.api import ALL_KINDS
from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from seppmail_lifecycle.kube.client import KubeClient

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Sizes:
    runs: int
    throughput: tuple[int, ...]
    idle_seconds: float
    timers: int
    timeout: float
    simulated_services: int = 400
    simulated_days: int = 400


QUICK = Sizes(runs=3, throughput=(400,), idle_seconds=10, timers=500, timeout=300)
FULL = Sizes(
    runs=3, throughput=(2_000, 10_000), idle_seconds=60, timers=5_000, timeout=1_800, simulated_services=10_000
)
SIMULATOR_TARGET = 10.0
"""Seconds for 10,000 services over 400 days (issue 12); smaller runs are compared pro rata."""


def _writes_per_object(results: Sequence[Throughput], exclude_creates: bool) -> dict[str, float]:
    """Mean API writes per object by verb and resource over the runs; without the bench's own
    creates of the objects (one POST each) where the writer under test did not make them (the
    tight client makes them as part of the replay)."""
    keys = sorted({key for r in results for key in r.writes})
    table: dict[str, float] = {}
    for key in keys:
        total = sum(r.writes.get(key, 0) for r in results)
        if exclude_creates and key in ("POST domains", "POST services"):
            total -= sum(r.objects // 2 for r in results)
        if total > 0:
            table[key] = total / sum(r.objects for r in results)
    return table


def _throughput_report(n: int, runs: dict[str, list[Throughput]]) -> dict[str, Any]:
    tight, kopf, operator = runs["tight"], runs["kopf"], runs["operator"]
    ratios = [o.rate / t.rate for o, t in zip(operator, tight, strict=True)]
    kopf_ratios = [o.rate / k.rate for o, k in zip(operator, kopf, strict=True)]
    print(f"\n(a) throughput, bulk apply of {n} objects to provisioned ({len(operator)} runs)")
    for label, results in (("tight client", tight), ("plain kopf", kopf), ("operator", operator)):
        line = f"  {label:<13} {shown([r.rate for r in results], ' objects/s')}"
        plane = [1000 * r.plane_cpu_seconds / r.objects for r in results]
        line += f"; API server + etcd CPU {shown(plane, ' ms/object')}"
        if results[0].cpu_seconds is not None:
            cpu = [1000 * (r.cpu_seconds or 0) / r.objects for r in results]
            line += (
                f"; CPU {shown(cpu, ' ms/object')}; peak RSS {shown([r.peak_rss_mb or 0 for r in results], ' MB', 0)}"
            )
        print(line)
    print(f"  operator / tight client {shown(ratios, '', 2)}; operator / plain kopf {shown(kopf_ratios, '', 2)}")
    report: dict[str, Any] = {
        "objects": n,
        "objects_per_second": {k: spread([r.rate for r in v]) for k, v in runs.items()},
        "ratio_to_tight_client": spread(ratios),
        "ratio_to_plain_kopf": spread(kopf_ratios),
        "runs": {k: [asdict(r) for r in v] for k, v in runs.items()},
    }
    for label, results in runs.items():
        table = _writes_per_object(results, exclude_creates=label != "tight")
        report.setdefault("writes_per_object", {})[label] = table
        total = sum(table.values())
        detail = ", ".join(f"{key} {value:.2f}" for key, value in table.items())
        print(f"  writes/object by {label:<13} {total:.2f}: {detail}")
    report["cpu_ms_per_object"] = spread([1000 * (r.cpu_seconds or 0) / r.objects for r in operator])
    report["peak_rss_mb"] = spread([r.peak_rss_mb or 0 for r in operator])
    return report


async def run(
    sizes: Sizes, workdir: Path, operator_args: Sequence[str] = (), only_throughput: bool = False
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count() or 0, "python": platform.python_version()},
        "sizes": asdict(sizes),
    }
    with ControlPlane.started(workdir / "control-plane") as plane:
        plane.kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
        plane.kubectl("wait", "--for=condition=Established", "--timeout=60s", *[f"crd/{i.crd_name}" for i in ALL_KINDS])
        plane.kubectl("apply", "-f", str(ROOT / "manifests" / "examples" / "00-products.yaml"))
        client = await KubeClient.connect(str(plane.admin_kubeconfig))
        cluster = Cluster(plane, client, workdir, operator_args)
        try:
            report["throughput"] = []
            population = None
            for n in sizes.throughput:
                runs: dict[str, list[Throughput]] = {"tight": [], "kopf": [], "operator": []}
                for _ in range(sizes.runs):
                    # The operator first: the tight client makes its writes again. Each runs alone.
                    result, population = await scenarios.operator_throughput(cluster, n, sizes.timeout)
                    population.operator.stop()
                    runs["operator"].append(result)
                    runs["tight"].append(await scenarios.tight_client(cluster, population.namespace, n, sizes.timeout))
                    runs["kopf"].append(await scenarios.plain_kopf(cluster, n, sizes.timeout))
                report["throughput"].append(_throughput_report(n, runs))
            assert population is not None
            if only_throughput:
                return report
            cost = await scenarios.idle_cost(population, sizes.idle_seconds, sizes.timeout)
            print(f"\n(b) idle, {cost.objects} objects settled, deadlines days away, over {sizes.idle_seconds:.0f} s")
            print(f"  CPU {cost.cpu_percent:.2f}% of one core; RSS {cost.rss_mb:.0f} MB")
            report["idle"] = asdict(cost)
            restarted = await scenarios.restart(cluster, population, sizes.timeout)
            print(f"\n(d) restart, {restarted.overdue} licenses overdue among {restarted.objects} objects")
            print(
                f"  all in Grace {restarted.all_done_seconds:.1f} s after start; idle after "
                f"{restarted.idle_seconds:.1f} s; {restarted.cpu_seconds:.1f} CPU-s; RSS {restarted.rss_mb:.0f} MB"
            )
            report["restart"] = asdict(restarted)
            population.operator.stop()
            timers = await scenarios.timers(cluster, sizes.timers, sizes.timeout)
            figures = timers.figures()
            print(f"\n(c) timers, {timers.deadlines} licenses expiring within the same 10 s")
            print(
                f"  Grace late by p50 {figures['p50']:.2f} s, p99 {figures['p99']:.2f} s, max {figures['max']:.2f} s; "
                f"early {timers.early}; all settled before the first expiry: {timers.settled_before_first}"
            )
            per = timers.deadlines
            detail = ", ".join(f"{key} {count / per:.2f}" for key, count in timers.writes.items())
            print(
                f"  {per / timers.seconds:.0f} transitions/s from the first expiry to the last; per transition: "
                f"API writes {sum(timers.writes.values()) / per:.2f} ({detail}); operator CPU "
                f"{1000 * timers.cpu_seconds / per:.1f} ms; "
                f"API server + etcd CPU {1000 * timers.plane_cpu_seconds / per:.1f} ms"
            )
            report["timers"] = {
                **figures,
                "transitions_per_second": per / timers.seconds,
                "writes_per_transition": {key: count / per for key, count in timers.writes.items()},
                "cpu_ms_per_transition": 1000 * timers.cpu_seconds / per,
                "plane_cpu_ms_per_transition": 1000 * timers.plane_cpu_seconds / per,
                "deadlines": timers.deadlines,
                "early": timers.early,
                "settled_before_first": timers.settled_before_first,
            }
            sim = await asyncio.to_thread(scenarios.simulator, sizes.simulated_services, sizes.simulated_days)
            target = SIMULATOR_TARGET * sim.services / 10_000 * sim.days / 400
            print(f"\n(e) simulator: {sim.services} services over {sim.days} days, no cluster")
            print(
                f"  {sim.seconds:.1f} s ({sim.cpu_seconds:.1f} s CPU), target {target:.1f} s: ratio "
                f"{sim.seconds / target:.1f}; {sim.reconciles} reconciles, "
                f"{1000 * sim.cpu_seconds / max(1, sim.reconciles):.2f} ms CPU each; {sim.entries} timeline entries"
            )
            report["simulator"] = {**asdict(sim), "target_seconds": target}
        finally:
            await client.close()
    return report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="laptop sizes (a few minutes)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench-results.json", help="where the figures go")
    parser.add_argument(
        "--operator-args", default="", help="extra flags for `seppmail-lifecycle run`, e.g. '--workers 16'"
    )
    parser.add_argument("--only-throughput", action="store_true", help="scenario (a) only")
    parser.add_argument("--objects", type=int, help="scenario (a) at this size only")
    parser.add_argument("--runs", type=int, help="runs per figure (default 3)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.objects:
        sizes = replace(sizes, throughput=(args.objects,))
    if args.runs:
        sizes = replace(sizes, runs=args.runs)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="seppmail-bench-") as workdir:
        report = asyncio.run(run(sizes, Path(workdir), args.operator_args.split(), args.only_throughput))
    report["seconds"] = time.time() - started
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nfigures written to {args.json} ({report['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
