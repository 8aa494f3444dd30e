"""The generated CRDs: in sync with the models, structural, bounded and described everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from seppmail_lifecycle.api import ALL_KINDS
from seppmail_lifecycle.api.crdgen import all_crds, crd_filename, render

CRD_DIR = Path(__file__).resolve().parents[3] / "crds"
BUILTIN_SHORT_NAMES = {
    "cm",
    "cs",
    "csr",
    "crd",
    "crds",
    "deploy",
    "ds",
    "ep",
    "ev",
    "hpa",
    "ing",
    "limits",
    "netpol",
    "no",
    "ns",
    "pc",
    "pdb",
    "po",
    "psp",
    "pv",
    "pvc",
    "quota",
    "rc",
    "rs",
    "sa",
    "sc",
    "sts",
    "svc",
    "ingclass",
    "cj",
    "csidrivers",
    "csinodes",
    "ipaddr",
    "vap",
    "vapb",
}


def _walk(schema: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    found = [(path, schema)]
    for name, sub in schema.get("properties", {}).items():
        found += _walk(sub, f"{path}.{name}")
    if "items" in schema:
        found += _walk(schema["items"], f"{path}[]")
    return found


def _fields() -> list[tuple[str, dict[str, Any]]]:
    fields = []
    for crd in all_crds():
        root = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        for part in ("spec", "status"):
            fields += _walk(root["properties"][part], f"{crd['spec']['names']['kind']}.{part}")
    return fields


@pytest.mark.parametrize("crd", all_crds(), ids=lambda c: c["metadata"]["name"])
def test_committed_crd_is_up_to_date(crd: dict[str, Any]) -> None:
    committed = CRD_DIR / crd_filename(crd)
    assert committed.exists(), f"{committed} missing: run `make crds`"
    assert committed.read_text() == render(crd), f"{committed} is stale: run `make crds`"


def test_no_stray_crd_files() -> None:
    expected = {crd_filename(crd) for crd in all_crds()}
    assert {p.name for p in CRD_DIR.glob("*.yaml")} == expected


def test_every_field_has_a_description() -> None:
    missing = [path for path, schema in _fields() if not schema.get("description")]
    assert missing == []


def test_every_string_and_list_is_bounded() -> None:
    unbounded = []
    for path, schema in _fields():
        if schema.get("type") == "string" and not (
            "maxLength" in schema or "enum" in schema or schema.get("format") in ("date", "date-time")
        ):
            unbounded.append(path)
        if schema.get("type") == "array" and "maxItems" not in schema:
            unbounded.append(path)
    assert unbounded == []


def test_schemas_are_structural() -> None:
    for path, schema in _fields():
        assert "type" in schema, path
        assert not schema.get("x-kubernetes-preserve-unknown-fields"), path
        assert not {"$ref", "anyOf", "allOf", "oneOf", "additionalProperties"} & schema.keys(), path


def test_names_category_and_short_names() -> None:
    short_names = [name for info in ALL_KINDS for name in info.short_names]
    assert len(short_names) == len(set(short_names))
    assert not set(short_names) & BUILTIN_SHORT_NAMES
    for crd in all_crds():
        names = crd["spec"]["names"]
        assert "lifecycle" in names["categories"]
        assert crd["spec"]["versions"][0]["subresources"] == {"status": {}}
        columns = [c["name"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]]
        assert "Ready" in columns
        assert "Age" in columns


def test_service_columns_show_what_support_reads() -> None:
    service = next(c for c in all_crds() if c["spec"]["names"]["kind"] == "Service")
    columns = {c["name"]: c["jsonPath"] for c in service["spec"]["versions"][0]["additionalPrinterColumns"]}
    assert columns["Number"] == ".status.number"
    assert columns["Product"] == ".spec.product"
    assert columns["Phase"] == ".status.phase"
    assert columns["Billing Start"] == ".status.billing.start"
    assert columns["Next"] == ".status.next.action"


def test_only_past_times_are_date_columns() -> None:
    # kubectl renders a `date` column as an age; a future time (next action, expiry) would
    # print as "<invalid>", so those must be string columns.
    for crd in all_crds():
        for column in crd["spec"]["versions"][0]["additionalPrinterColumns"]:
            if column["type"] == "date":
                assert column["jsonPath"] == ".metadata.creationTimestamp", column
