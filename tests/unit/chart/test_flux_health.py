"""Flux's health check of every kind: the chart's ``healthCheckExprs`` evaluated by Flux's own code
(``fluxcd/pkg/runtime/cel``, built by the harness) on the Argo CD table's every kind in every state
give Argo CD's verdict in Flux's terms; and the chart's file is current."""

from __future__ import annotations

import yaml

from seppmail_lifecycle.api import ALL_KINDS
from seppmail_lifecycle.api.crdgen import flux_files
from tests.gitops import ARGO_TO_FLUX, FLUX_EXPRS, flux_health
from tests.unit.chart.test_argocd_health import CASES, obj


def test_flux_judges_every_kind_in_every_state_as_argo_cd_does() -> None:
    verdicts = flux_health([body for _, body, _, _ in CASES])
    found = [(kind, status) for (kind, _, _, _), (status, _) in zip(CASES, verdicts, strict=True)]
    expected = [(kind, "Unknown" if "status" not in body else ARGO_TO_FLUX[argo]) for kind, body, argo, _ in CASES]
    assert found == expected
    assert {status for _, status in found} >= {"InProgress", "Failed", "Current"}


def test_an_object_the_operator_has_not_decided_yet_is_asked_again() -> None:
    """No status at all (created a moment ago): Flux's evaluation finds no ``status`` variable and
    says so (Unknown, which ``wait`` asks again about); a status being written is InProgress."""
    (unknown, message), (in_progress, _) = flux_health(
        [obj("Domain", observed=None), obj("Domain", ("Ready", "False", "-"), observed=None) | {"status": {}}]
    )
    assert unknown == "Unknown"
    assert message.endswith("no such attribute(s): status.observedGeneration")
    assert in_progress == "InProgress"


def test_the_charts_flux_file_is_current_and_covers_every_kind() -> None:
    for name, text in flux_files().items():
        committed = FLUX_EXPRS.with_name(name)
        assert committed.read_text() == text, f"{committed} is stale: run `make crds`"
    entries = yaml.safe_load(FLUX_EXPRS.read_text())["healthCheckExprs"]
    assert [e["kind"] for e in entries] == [info.kind for info in ALL_KINDS]
    assert all({"apiVersion", "kind", "inProgress", "failed", "current"} == set(e) for e in entries)
