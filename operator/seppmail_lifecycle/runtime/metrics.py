"""The operator's Prometheus metrics: the catalogue of what it counts (``METRICS``), the counters
and histograms the shell updates as it works (``Counters``), and the gauges read from the running
operator when scraped (``OperatorCollector``: objects per kind and state, queue depth, timers,
leadership), in one registry per process, exposed by prometheus-client's text format.

Every metric is named ``seppmail_lifecycle_<name>`` and documented here; a name not in the
catalogue is a programming error (so no undocumented metric can appear).
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

PREFIX = "seppmail_lifecycle"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class Spec:
    type: Literal["counter", "histogram"]
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()


METRICS: dict[str, Spec] = {
    "reconciles_total": Spec("counter", "Reconciles of an aggregate, by aggregate kind.", ("aggregate",)),
    "reconcile_conflicts_total": Spec(
        "counter",
        "Reconciles whose write met a newer version of the object (409): decided again on the server's, by aggregate.",
        ("aggregate",),
    ),
    "reconcile_errors_total": Spec(
        "counter",
        "Reconciles that failed and are retried with backoff: reason backend (the backend refused an "
        "effect; also a condition on the object) or error (a bug or an unexpected API answer).",
        ("aggregate", "reason"),
    ),
    "reconcile_duration_seconds": Spec(
        "histogram",
        "Wall time of one reconcile (decide, effects, writes), by aggregate kind.",
        ("aggregate",),
        (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    ),
    "deadline_lateness_seconds": Spec(
        "histogram",
        "How long after an object's status.next.at its aggregate was taken up (timer, then queue); "
        "after a restart, how long overdue catch-up work waited.",
        (),
        (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600),
    ),
    "transitions_total": Spec(
        "counter",
        "State transitions written, by kind and from/to state (phase, period or state).",
        ("kind", "from", "to"),
    ),
    "api_writes_total": Spec(
        "counter", "Writes to the API server by the operator, by kind and verb.", ("kind", "verb")
    ),
    "mails_sent_total": Spec("counter", "Notification mails delivered to the SMTP server, by template.", ("template",)),
    "mails_failed_total": Spec(
        "counter", "Notification mail deliveries that failed (retried later), by template.", ("template",)
    ),
    "mail_ledger_pruned_total": Spec(
        "counter", "Mail ledger entries dropped because the object the mail was about no longer exists."
    ),
    "dns_checks_total": Spec(
        "counter", "DNS lookups of the records partners must set, by result (answered, error).", ("result",)
    ),
    "tenants_purged_total": Spec("counter", "Tenants whose backend data was purged at the end of Freeze."),
}


class Counters:
    """The counters and histograms of ``METRICS`` in ``registry``, created on first use."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self._metrics: dict[str, Counter | Histogram] = {}
        self._children: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}

    def _metric(self, name: str, kind: Literal["counter", "histogram"]) -> Counter | Histogram:
        metric = self._metrics.get(name)
        if metric is None:
            spec = METRICS.get(name)
            if spec is None or spec.type != kind:
                raise KeyError(f"{name!r} is not a {kind} of the catalogue (runtime.metrics.METRICS)")
            full = f"{PREFIX}_{name}"
            if kind == "counter":
                metric = Counter(full, spec.help, spec.labels, registry=self.registry)
            else:
                metric = Histogram(full, spec.help, spec.labels, registry=self.registry, buckets=spec.buckets)
            self._metrics[name] = metric
        return metric

    def _child(self, name: str, kind: Literal["counter", "histogram"], labels: dict[str, str]) -> Any:
        # The labelled child, looked up once per label set (prometheus-client's ``labels`` takes a lock).
        key = (name, tuple(labels.items()))
        child = self._children.get(key)
        if child is None:
            metric = self._metric(name, kind)
            child = self._children[key] = metric.labels(**labels) if labels else metric
        return child

    def inc(self, name: str, amount: int = 1, /, **labels: str) -> None:
        self._child(name, "counter", labels).inc(amount)

    def observe(self, name: str, value: float, /, **labels: str) -> None:
        self._child(name, "histogram", labels).observe(value)

    def snapshot(self) -> dict[str, int]:
        """The counters' values as ``name{label="value",...}`` (the health report, the tests)."""
        values: dict[str, int] = {}
        for name, metric in self._metrics.items():
            if not isinstance(metric, Counter):
                continue
            for family in metric.collect():
                for sample in family.samples:
                    if not sample.name.endswith("_total"):
                        continue  # the _created sample
                    suffix = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
                    values[f"{name}{{{suffix}}}" if suffix else name] = int(sample.value)
        return dict(sorted(values.items()))


class Running(Protocol):
    """What the collector reads of the running operator (``OperatorRuntime``)."""

    def states(self) -> Iterable[tuple[str, str, str | None]]:
        """(kind, state, subscription state) of every object held."""
        ...

    def gauges(self) -> dict[str, float]:
        """Queue depth, timers, workers, events waiting: name -> value."""
        ...

    def totals(self) -> dict[str, int]:
        """Counts kept outside ``Counters`` (events posted, throttled requests): name -> value."""
        ...


GAUGES = {
    "queue_depth": "Aggregates waiting for a worker.",
    "timers": "Deadline and retry timers pending (the one deadline heap).",
    "workers": "Concurrent reconciles allowed.",
    "events_waiting": "Kubernetes Events waiting to be posted (merged per object).",
}
TOTALS = {
    "events_posted_total": "Kubernetes Events posted for transitions.",
    "events_coalesced_total": "Transitions merged into an Event still waiting (no extra Event).",
    "events_repeated_total": "Repeats of a posted Event counted in its series (no extra Event).",
    "events_dropped_total": "Events dropped: backlog full or not posted at shutdown.",
    "events_failed_total": "Events the API server refused.",
    "api_throttled_total": "Requests the API server answered 429 (retried with jittered backoff).",
}


class OperatorCollector(Collector):
    """The gauges of the process: its version and leadership always; the running operator's
    objects, queue and event counts while it leads."""

    def __init__(self, version: str, running: Callable[[], Running | None], leading: Callable[[], bool]) -> None:
        self.version = version
        self.running = running
        self.leading = leading

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(f"{PREFIX}_info", "The operator's version.", labels=["version"])
        info.add_metric([self.version], 1)
        yield info
        yield GaugeMetricFamily(
            f"{PREFIX}_leader", "1 while this replica holds the lease and acts, else 0.", value=float(self.leading())
        )
        runtime = self.running()
        if runtime is None:
            return
        objects = GaugeMetricFamily(
            f"{PREFIX}_objects",
            "Objects held, by kind and state (order phase, license period, contract, invoice or payment "
            "state; Ready/NotReady for kinds without one; Invalid for a spec that does not parse).",
            labels=["kind", "state"],
        )
        subscriptions = GaugeMetricFamily(
            f"{PREFIX}_subscriptions", "Services by subscription state (seed 004).", labels=["state"]
        )
        by_state: Tally[tuple[str, str]] = Tally()
        by_subscription: Tally[str] = Tally()
        for kind, state, subscription in runtime.states():
            by_state[(kind, state)] += 1
            if subscription is not None:
                by_subscription[subscription] += 1
        for (kind, state), count in sorted(by_state.items()):
            objects.add_metric([kind, state], count)
        for state, count in sorted(by_subscription.items()):
            subscriptions.add_metric([state], count)
        yield objects
        yield subscriptions
        gauges = runtime.gauges()
        for name, help in GAUGES.items():
            yield GaugeMetricFamily(f"{PREFIX}_{name}", help, value=gauges.get(name, 0.0))
        totals = runtime.totals()
        for name, help in TOTALS.items():
            yield CounterMetricFamily(f"{PREFIX}_{name.removesuffix('_total')}", help, value=totals.get(name, 0))


def exposition(registry: CollectorRegistry) -> bytes:
    """The registry in Prometheus' text format."""
    return generate_latest(registry)
