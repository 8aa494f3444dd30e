"""``kubectl lifecycle validate``: a corpus of broken partner files, each caught with the field the
API server would name (schemas and CEL rules offline) or the operator's consistency reason; the
examples pass."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from seppmail_lifecycle.cli.plugin import main
from seppmail_lifecycle.cli.validate import validate
from tests import manifests

EXAMPLES = Path(__file__).parents[3] / "manifests" / "examples"
CATALOGUE = EXAMPLES / "00-products.yaml"


def write(tmp_path: Path, name: str, *docs: dict[str, Any]) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return path


def test_the_examples_pass() -> None:
    findings, count = validate([EXAMPLES])
    assert findings == []
    assert count > 10


@pytest.mark.parametrize("case", manifests.INVALID, ids=[c.id for c in manifests.INVALID])
def test_every_broken_file_of_the_corpus_is_caught_with_its_field(case: manifests.InvalidCase, tmp_path: Path) -> None:
    findings, _ = validate([write(tmp_path, case.id, case.manifest())])
    assert [f for f in findings if f.field.startswith(case.field)], findings


def _world(**overrides: Any) -> list[dict[str, Any]]:
    docs = {
        "tenant": manifests.tenant("acme"),
        "domain": manifests.domain("acme", domain_name="acme.example"),
        "base": manifests.service("acme-main", "acme", "base", users=5),
        "sign": manifests.service("acme-sign", "acme", "sign-only", users=5),
    }
    docs.update(overrides)
    return [d for d in docs.values() if d is not None]


CONSISTENCY = [
    pytest.param({"tenant": None}, "Domain", "acme", "TenantNotFound", id="unknown-tenant"),
    pytest.param(
        {"twin": manifests.domain("acme-twin", "acme", "acme.example")},
        "Domain",
        "acme-twin",
        "DomainConflict",
        id="domain-claimed-twice",
    ),
    pytest.param(
        {"sign": manifests.service("acme-sign", "acme", "no-such-product")},
        "Service",
        "acme-sign",
        "ProductNotFound",
        id="unknown-product",
    ),
    pytest.param(
        {"sign": manifests.service("acme-enc", "acme", "sign-encrypt", users=1)},
        "Domain",
        "acme",
        "MissingGinaHost",
        id="missing-gina-host",
    ),
    pytest.param(
        {"sign": manifests.service("acme-sign", "nowhere", "sign-only")},
        "Service",
        "acme-sign",
        "DomainNotFound",
        id="unknown-domain",
    ),
]


@pytest.mark.parametrize(("overrides", "kind", "name", "reason"), CONSISTENCY)
def test_the_files_are_checked_together_as_the_operator_would(
    overrides: dict[str, Any], kind: str, name: str, reason: str, tmp_path: Path
) -> None:
    findings, _ = validate([CATALOGUE, write(tmp_path, "partner", *_world(**overrides))])
    assert [(f.kind, f.name, f.field) for f in findings] == [(kind, name, reason)]


def test_a_missing_dependency_needs_the_catalogue_and_a_missing_base_service_is_booked_anyway(tmp_path: Path) -> None:
    spec = {"displayName": "Archiving", "requires": ["base", "sign-only"], "billing": {"type": "recurring"}}
    archive = manifests.obj("Product", "archiving", spec)
    partner = write(tmp_path, "partner", *_world(base=None, sign=manifests.service("acme-arch", "acme", "archiving")))
    findings, _ = validate([CATALOGUE, write(tmp_path, "archive", archive), partner])
    assert [(f.name, f.field) for f in findings] == [("acme-arch", "MissingDependency")]
    assert "'sign-only'" in findings[0].message
    assert "'base'" not in findings[0].message


def test_the_command_prints_one_line_per_problem_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(EXAMPLES)]) == 0
    assert capsys.readouterr().err.endswith("no problems\n")
    broken = write(tmp_path, "broken", manifests.INVALID[0].manifest(), {"kind": "Pod", "metadata": {"name": "p"}})
    assert main(["validate", str(broken)]) == 1
    out = capsys.readouterr()
    assert out.out.splitlines() == [
        f"{broken}: Tenant/t1: spec.displayName: Required value",
        f"{broken}: Pod/p: kind: 'Pod' is not a kind of this API (one of Contract, DeployRequest, Domain, Invoice, "
        "License, Partner, Payment, Product, Service, Tenant)",
    ]
    assert out.err == "2 manifests, 2 problem(s)\n"
    assert main(["validate", str(broken), "-o", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["problems"][0]["field"] == "spec.displayName"
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 1
    assert capsys.readouterr().err == f"error: no such file or directory: {tmp_path / 'nope.yaml'}\n"
