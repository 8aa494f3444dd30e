"""What the API server's API Priority and Fairness grants the operator: which priority level its
requests fall into (the server says so in a header of every answer) and how many seats that level
has (the server's own metrics; estimated from the level's shares when those cannot be read)."""

from __future__ import annotations

from seppmail_lifecycle.core.concurrency import PriorityLevel
from seppmail_lifecycle.kube.client import Body, KubeClient
from seppmail_lifecycle.kube.errors import ApiError

__all__ = ["nominal_seats", "priority_level", "read_priority_level"]

SEATS_METRIC = "apiserver_flowcontrol_nominal_limit_seats"


def nominal_seats(metrics: str, level: str) -> int | None:
    """The nominal seats of ``level`` in the API server's Prometheus text, if it names them."""
    label = f'priority_level="{level}"'
    for line in metrics.splitlines():
        if line.startswith(SEATS_METRIC + "{") and label in line:
            try:
                return int(float(line.rsplit(" ", 1)[1]))
            except (IndexError, ValueError):
                return None
    return None


def priority_level(uid: str, levels: list[Body], metrics: str | None) -> PriorityLevel | None:
    """The level with ``uid`` among ``levels`` (PriorityLevelConfigurations), with its seats."""
    shares = {
        body["metadata"]["uid"]: int(
            ((body.get("spec") or {}).get("limited") or {}).get("nominalConcurrencyShares", 30)
        )
        for body in levels
        if (body.get("spec") or {}).get("type") == "Limited"
    }
    for body in levels:
        if body["metadata"]["uid"] == uid:
            name = body["metadata"]["name"]
            if (body.get("spec") or {}).get("type") == "Exempt":
                return PriorityLevel(name, exempt=True)
            return PriorityLevel(
                name,
                seats=None if metrics is None else nominal_seats(metrics, name),
                shares=shares.get(uid),
                total_shares=sum(shares.values()),
            )
    return None


async def read_priority_level(client: KubeClient) -> tuple[PriorityLevel | None, str]:
    """The operator's priority level as the server describes it, or ``None`` and why not."""
    uid = client.priority_level_uid
    if uid is None:
        return None, "the API server names no priority level (API Priority and Fairness off)"
    try:
        levels = await client.list_priority_levels()
    except ApiError as error:
        return None, f"cannot read PriorityLevelConfigurations ({error})"
    try:
        metrics: str | None = await client.server_metrics()
    except ApiError:
        metrics = None  # without the metrics' get, the seats are estimated from the shares
    level = priority_level(uid, levels, metrics)
    return level, "" if level is not None else f"no PriorityLevelConfiguration has uid {uid}"
