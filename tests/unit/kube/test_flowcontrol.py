"""Reading the operator's priority level from PriorityLevelConfigurations and the server's metrics."""

from __future__ import annotations

from typing import Any

from seppmail_lifecycle.core.concurrency import PriorityLevel
from seppmail_lifecycle.kube.flowcontrol import nominal_seats, priority_level

METRICS = """\
# HELP apiserver_flowcontrol_nominal_limit_seats [BETA] Nominal number of execution seats per priority level
# TYPE apiserver_flowcontrol_nominal_limit_seats gauge
apiserver_flowcontrol_nominal_limit_seats{priority_level="catch-all"} 13
apiserver_flowcontrol_nominal_limit_seats{priority_level="workload-low"} 245
apiserver_flowcontrol_nominal_limit_seats{priority_level="workload-low-2"} 7
apiserver_flowcontrol_current_limit_seats{priority_level="workload-low"} 300
"""


def level(name: str, uid: str, type_: str = "Limited", shares: int | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": type_}
    if type_ == "Limited":
        spec["limited"] = {} if shares is None else {"nominalConcurrencyShares": shares}
    return {"metadata": {"name": name, "uid": uid}, "spec": spec}


LEVELS = [level("exempt", "u0", "Exempt"), level("workload-low", "u1", shares=100), level("catch-all", "u2", shares=5)]


def test_the_nominal_seats_of_exactly_the_named_level() -> None:
    assert nominal_seats(METRICS, "workload-low") == 245
    assert nominal_seats(METRICS, "catch-all") == 13
    assert nominal_seats(METRICS, "workload") is None
    assert nominal_seats("", "workload-low") is None


def test_the_level_with_the_uid_the_server_named() -> None:
    assert priority_level("u1", LEVELS, METRICS) == PriorityLevel(
        "workload-low", seats=245, shares=100, total_shares=105
    )
    assert priority_level("u0", LEVELS, METRICS) == PriorityLevel("exempt", exempt=True)
    assert priority_level("u9", LEVELS, METRICS) is None


def test_without_metrics_the_shares_remain_for_an_estimate() -> None:
    # A level without nominalConcurrencyShares has the API's default of 30.
    levels = [*LEVELS, level("custom", "u3")]
    assert priority_level("u3", levels, None) == PriorityLevel("custom", seats=None, shares=30, total_shares=135)
