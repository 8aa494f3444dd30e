"""The bulk scenario the reliability tests run: tenants with a domain, services, a license and
(every other one) a monthly contract whose invoices are partly paid, on seconds-scale durations;
and the comparison of the real cluster with the simulator's timeline of the same manifests (the
operator's own loop, never interrupted)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from seppmail_lifecycle.api.policy import Policy
from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from seppmail_lifecycle.runtime.simulator import simulate
from tests import manifests
from tests.e2e.test_simulator import POLICY as SIMULATOR_POLICY
from tests.kube import items

Body = dict[str, Any]

POLICY: dict[str, Any] = {
    **SIMULATOR_POLICY,  # seconds-scale durations
    "license": {**SIMULATOR_POLICY["license"], "remindersFull": ["4s"]},
    "billing": {"invoiceLeadTime": "40d"},  # the next period's invoice at once
}
KINDS = {
    "Tenant": "tenants",
    "Domain": "domains",
    "Service": "services",
    "License": "licenses",
    "Contract": "contracts",
    "Invoice": "invoices",
    "Payment": "payments",
}


def _at(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def bulk(prefix: str, tenants: int, start: datetime, expiring_over: float) -> list[Body]:
    """``tenants`` tenants named ``<prefix><n>``: a partner, and each a domain with a sign-only
    and an archiving service (and the base service the operator books); every third one's license
    expires within ``expiring_over`` seconds of ``start`` (then Grace, Freeze and the purge
    follow), the others' in 2030; every other one has a monthly contract for its services."""
    docs: list[Body] = [
        manifests.obj(
            "Partner",
            f"{prefix}partner",
            {
                "displayName": f"{prefix} Partners",
                "admins": [{"name": "Admin", "email": f"admin@{prefix}partner.test"}],
            },
        )
    ]
    expiring = [n for n in range(tenants) if n % 3 == 0]
    for n in range(tenants):
        name = f"{prefix}{n}"
        contract = {"contractRef": {"name": name}} if n % 2 == 0 else {}
        if n in expiring:
            offset = 6 + expiring_over * expiring.index(n) / max(1, len(expiring) - 1)
            expires = _at(start + timedelta(seconds=offset))
        else:
            expires = "2030-01-01T00:00:00Z"
        docs += [
            manifests.tenant(name),
            manifests.domain(name),
            manifests.service(f"{name}-sign", name, "sign-only", users=3 + n, **contract),
            manifests.service(f"{name}-archive", name, "archiving", users=3 + n, **contract),
            manifests.license(name, name, expires),
        ]
        if contract:
            docs.append(
                manifests.obj(
                    "Contract", name, {"tenantRef": {"name": name}, "billingInterval": "monthly", "autoRenew": True}
                )
            )
    return docs


def products(plane: ControlPlane) -> list[Body]:
    return [
        {
            "apiVersion": p["apiVersion"],
            "kind": "Product",
            "metadata": {"name": p["metadata"]["name"]},
            "spec": p["spec"],
        }
        for p in items(plane, "products.lifecycle", "")
    ]


def payments(catalogue: Sequence[Body], docs: Sequence[Body], namespace: str, start: datetime) -> list[Body]:
    """A payment of every other invoice the contracts make at once (names and totals as the
    simulator's run of the same manifests invoices them)."""
    timeline = asyncio.run(
        simulate([*catalogue, *docs], Policy.model_validate(POLICY), namespace, start, start + timedelta(seconds=1))
    )
    invoices = sorted(
        (body for (kind, _, _), body in timeline.objects.items() if kind == "Invoice"),
        key=lambda body: body["metadata"]["name"],
    )
    return [
        manifests.payment(f"pay-{body['metadata']['name']}", body["metadata"]["name"], body["spec"]["total"]["amount"])
        for body in invoices[::2]
    ]


Objects = dict[tuple[str, str], Body]


def real_objects(plane: ControlPlane, namespace: str) -> Objects:
    return {
        (kind, body["metadata"]["name"]): body
        for kind, plural in KINDS.items()
        for body in items(plane, f"{plural}.lifecycle", namespace)
    }


def simulated(
    catalogue: Sequence[Body], docs: Sequence[Body], namespace: str, start: datetime, policy: Body = POLICY
) -> Any:
    """The simulator's timeline of ``docs`` applied at ``start``, until now."""
    return asyncio.run(
        simulate([*catalogue, *docs], Policy.model_validate(policy), namespace, start, datetime.now(UTC))
    )


def history(body: Body) -> list[tuple[str | None, str]]:
    return [(h.get("from"), h["to"]) for h in (body.get("status") or {}).get("history", [])]


def moments(body: Body) -> list[datetime]:
    entries = (body.get("status") or {}).get("history", [])
    return [datetime.fromisoformat(h["at"].replace("Z", "+00:00")) for h in entries]


def state(body: Body) -> tuple[Any, ...]:
    """What an object has come to: its phase, period, state, subscription state."""
    status = body.get("status") or {}
    return (
        status.get("phase"),
        status.get("period"),
        status.get("state"),
        (status.get("subscription") or {}).get("state"),
    )


@dataclass
class Comparison:
    """The real run against the simulated one, object by object."""

    objects: int = 0
    transitions: int = 0
    early: list[str] = field(default_factory=list)
    """Transitions made before the never-interrupted run made them."""
    late: list[tuple[str, float]] = field(default_factory=list)
    """Transitions made after ``latest`` of their due time, and by how many seconds."""
    revisions_differing: list[tuple[str, str]] = field(default_factory=list)
    """Invoice revisions one run made on the way and the other did not, or made otherwise (the
    invoices in force being the same)."""
    first_seen_later: list[str] = field(default_factory=list)
    """Objects created while no leader acted, first seen in a later state (their history starts there)."""
    latest_ms: int = 0
    """The most any transition came after the uninterrupted run's, in milliseconds."""
    differences: list[str] = field(default_factory=list)
    """Objects (or histories, or end states) the two runs do not share."""


def latest_within(acting: Sequence[tuple[datetime, datetime]], catch_up: float) -> Callable[[datetime], datetime]:
    """By when a transition due at a moment must have happened, when the operator could act only
    in the ``acting`` stretches (a leader acting, the control plane up): in the first one that
    lasts ``catch_up`` seconds from the due time (or from its start, for one due before it)."""

    def latest(due: datetime) -> datetime:
        for began, ended in acting:
            acting_from = max(due, began)
            if acting_from + timedelta(seconds=catch_up) <= ended:
                return acting_from + timedelta(seconds=catch_up)
        return acting[-1][1]

    return latest


History = list[tuple[str | None, str]]


def _first_seen_later(
    real: History, reference: History, at: list[datetime], latest: Callable[[datetime], datetime]
) -> int | None:
    """Where the reference history joins the real one when the operator first saw the object
    only once it had moved on (created while no leader acted): the real history then starts at
    ``(None, X)``, the reference went there through earlier states it had no chance to see."""
    if not real or real[0][0] is not None:
        return None
    for index, (_, to) in enumerate(reference):
        if to == real[0][1] and index > 0 and reference[index + 1 :] == real[1:]:
            return index if latest(at[0]) >= at[index] else None
    return None


def in_force(objects: Objects) -> dict[tuple[str, str], tuple[Any, ...]]:
    """The invoices in force (not void), by contract and period: what each bills and its state."""
    return {
        (body["spec"]["contractRef"]["name"], body["spec"]["period"]["start"]): (
            (body.get("status") or {}).get("state"),
            body["spec"]["total"]["amount"],
            tuple((line["service"], line["description"], line["amount"]) for line in body["spec"]["lines"]),
        )
        for (kind, _), body in objects.items()
        if kind == "Invoice" and (body.get("status") or {}).get("state") != "void"
    }


def compare(
    real: Objects, simulated_objects: Objects, latest: Callable[[datetime], datetime], allowed_early: float = 1.0
) -> Comparison:
    """``latest``: by when a transition due at a moment must have happened (the runs may differ
    by up to ``allowed_early`` seconds: the operator sees a commit's objects arrive one by one).

    Invoices are compared by what is in force per contract and period (state, total, lines): how
    many revisions a period went through on the way depends on when the contract saw its services
    change (a purge removing three services at once or one by one; a period invoiced before or
    after its services settled), so a revision only one run made, or voided another way, is
    counted (``revisions_differing``), not a difference. Invoices both runs made alike are
    compared like every other object."""
    result = Comparison(objects=len(real))
    one_sided = sorted(set(real) ^ set(simulated_objects))
    result.revisions_differing = [key for key in one_sided if key[0] == "Invoice"]
    if missing := sorted(k for k in set(simulated_objects) - set(real) if k[0] != "Invoice"):
        result.differences.append(f"missing in the cluster: {missing}")
    if extra := sorted(k for k in set(real) - set(simulated_objects) if k[0] != "Invoice"):
        result.differences.append(f"not in the simulation: {extra}")
    if (billed := in_force(real)) != (reference_billed := in_force(simulated_objects)):
        wrong = sorted(k for k in set(billed) | set(reference_billed) if billed.get(k) != reference_billed.get(k))
        result.differences.append(f"invoices in force differ for {wrong}: {billed} != {reference_billed}")
    for key in sorted(set(real) & set(simulated_objects)):
        body, reference = real[key], simulated_objects[key]
        expected_at = moments(reference)
        if history(body) != history(reference):
            joined = _first_seen_later(history(body), history(reference), expected_at, latest)
            if joined is None and key[0] == "Invoice":
                result.revisions_differing.append(key)  # another way to the same invoices in force
                continue
            if joined is None:
                result.differences.append(f"{key} history {history(body)} != {history(reference)}")
                continue
            result.first_seen_later.append(str(key))
            expected_at = expected_at[joined:]
        if state(body) != state(reference):
            result.differences.append(f"{key} state {state(body)} != {state(reference)}")
        for (_, to), at, expected in zip(history(body), moments(body), expected_at, strict=True):
            result.transitions += 1
            result.latest_ms = max(result.latest_ms, int((at - expected).total_seconds() * 1000))
            if (at - expected).total_seconds() < -allowed_early:
                result.early.append(f"{key} -> {to} at {at} (due {expected})")
            elif at > latest(expected):
                result.late.append((f"{key} -> {to}", (at - latest(expected)).total_seconds()))
    return result
