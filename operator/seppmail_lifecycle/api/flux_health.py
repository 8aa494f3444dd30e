"""Flux's health check of every kind: CEL expressions for a Kustomization's ``healthCheckExprs``
(Flux 2.5+), the counterpart of the chart's Argo CD ``health.lua``.

Flux (``fluxcd/pkg/runtime/cel``) first takes an object whose ``status.observedGeneration``
differs from ``metadata.generation`` as InProgress, then evaluates ``inProgress``, ``failed`` and
``current`` in this order, the first one true deciding; none true is InProgress. The variables
are the object's top-level fields (``kind``, ``metadata``, ``status``).

The expressions say what ``health.lua`` says, mapped to Flux's three verdicts: Argo CD's
Progressing is InProgress, Degraded is Failed, and Healthy *and Suspended* are Current. Suspended
objects wait for someone else (the partner's DNS records, a payment, a frozen license, a
scheduled removal): for days, which no Kustomization's ``timeout`` should wait out, and nothing a
sync can change. So ``wait: true`` settles on what the operator decided, and the conditions say
what waits. An object with no status at all (created a moment ago) has no ``status`` variable;
Flux reports that as an evaluation error (Unknown) and asks again until the operator writes it.
"""

from __future__ import annotations

from seppmail_lifecycle import API_VERSION
from seppmail_lifecycle.api import ALL_KINDS


def _condition(type_: str, status: str = "True") -> str:
    return f"status.conditions.exists(c, c.type == '{type_}' && c.status == '{status}')"


def _field(path: str, *values: str) -> str:
    """``status.<path>`` is one of ``values`` (false when it or a parent is absent)."""
    parts = path.split(".")
    present = [f"has(status.{'.'.join(parts[: i + 1])})" for i in range(len(parts))]
    choice = f"status.{path} == '{values[0]}'" if len(values) == 1 else f"status.{path} in {list(values)!r}"
    return "(" + " && ".join([*present, choice]) + ")"


def _any(*terms: str) -> str:
    return "(" + " || ".join(terms) + ")"


# The terms of health.lua, each false when its field is absent.
_CONDITIONS = "has(status.conditions)"
STALLED = f"({_CONDITIONS} && {_condition('Stalled')})"
READY = f"({_CONDITIONS} && {_condition('Ready')})"
RECONCILING = f"({_CONDITIONS} && {_condition('Reconciling')})"
NOT_BILLABLE = f"({_CONDITIONS} && {_condition('Billable', 'False')})"
SETTLED = _any(
    # removed or purged for good
    _field("phase", "deprovisioned"),
    _field("period", "Purged"),
    # waiting for someone: a scheduled removal, the partner, a frozen license, a suspension, a payment
    _field("phase", "cancelled"),
    f"({_CONDITIONS} && ({_condition('AwaitingPartner')} || {_condition('Blocked')} || {_condition('Suspended')}))",
    _field("period", "Freeze"),
    _field("subscription.state", "EXPIRED", "SUSPENDED"),
    f"(kind == 'Contract' && {_field('state', 'expired')})",
    f"(kind == 'Invoice' && {_field('state', 'open')})",
)
UNDECIDED = (
    "(!has(status.observedGeneration) || (has(metadata.generation) && status.observedGeneration < metadata.generation))"
)

HEALTH_CHECK_EXPRS = {
    "inProgress": f"{UNDECIDED} || (!{STALLED} && !{SETTLED} && !{READY} && {RECONCILING})",
    "failed": f"{STALLED} || (!{SETTLED} && ({READY} ? {NOT_BILLABLE} : !{RECONCILING}))",
    "current": f"!{STALLED} && ({SETTLED} || ({READY} && !{NOT_BILLABLE}))",
}
"""Evaluated in Flux's order (inProgress, failed, current) they give health.lua's verdict."""


def health_check_exprs() -> list[dict[str, str]]:
    """The ``spec.healthCheckExprs`` entries of a Kustomization: one per kind of ours."""
    return [{"apiVersion": API_VERSION, "kind": info.kind, **HEALTH_CHECK_EXPRS} for info in ALL_KINDS]
