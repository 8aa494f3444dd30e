"""The pydantic models accept the examples, agree with the CRD schemas, and refuse bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import ValidationError

from seppmail_lifecycle.api import KINDS_BY_NAME
from seppmail_lifecycle.api.crdgen import crd_for
from seppmail_lifecycle.api.domain import DomainSpec
from tests.manifests import INVALID, VALID, InvalidCase

EXAMPLES = Path(__file__).resolve().parents[3] / "manifests" / "examples"


def _examples() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def _validate_with_crd_schema(manifest: dict[str, Any]) -> None:
    schema = crd_for(KINDS_BY_NAME[manifest["kind"]])["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    jsonschema.validate(
        manifest["spec"], schema["properties"]["spec"], format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def test_examples_cover_every_namespaced_kind_users_write() -> None:
    kinds = {d["kind"] for d in _examples()}
    assert {"Product", "Tenant", "Domain", "Service", "Contract", "License"} <= kinds


@pytest.mark.parametrize("manifest", _examples(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_examples_parse_and_match_the_crd_schema(manifest: dict[str, Any]) -> None:
    KINDS_BY_NAME[manifest["kind"]].spec.model_validate(manifest["spec"])
    _validate_with_crd_schema(manifest)


@pytest.mark.parametrize("manifest", list(VALID.values()), ids=list(VALID))
def test_valid_bases_parse(manifest: dict[str, Any]) -> None:
    KINDS_BY_NAME[manifest["kind"]].spec.model_validate(manifest["spec"])
    _validate_with_crd_schema(manifest)


@pytest.mark.parametrize("case", [c for c in INVALID if c.pydantic_sees_it], ids=lambda c: c.id)
def test_pydantic_refuses_what_the_api_server_refuses(case: InvalidCase) -> None:
    manifest = case.manifest()
    with pytest.raises(ValidationError) as error:
        KINDS_BY_NAME[case.kind].spec.model_validate(manifest["spec"])
    # pydantic's location of the error is the same field the API server names.
    field_path = case.field.removeprefix("spec.").split("[")[0]
    locations = {".".join(str(p) for p in e["loc"] if not isinstance(p, int)) for e in error.value.errors()}
    assert any(loc.startswith(field_path) or field_path.startswith(loc) for loc in locations), locations


def test_spec_round_trips_in_camel_case() -> None:
    spec = KINDS_BY_NAME["Service"].spec.model_validate(
        {"domainRef": {"name": "d"}, "product": "base", "discount": {"percent": 5, "reason": "nfr"}}
    )
    dumped = spec.model_dump(by_alias=True, exclude_none=True, mode="json")
    assert dumped["domainRef"] == {"name": "d"}
    assert dumped["autoRenew"] is True


def test_a_deep_copy_of_a_status_is_equal_and_shares_nothing_mutable() -> None:
    from datetime import UTC, datetime

    from seppmail_lifecycle.api.common import Condition, HistoryEntry
    from seppmail_lifecycle.api.service import BillingStatus, ServiceStatus, SubscriptionStatus
    from seppmail_lifecycle.api.states import SubscriptionState

    at = datetime(2026, 12, 3, tzinfo=UTC)
    original = ServiceStatus(
        phase="provisioned",
        conditions=[Condition(type="Ready", status="True", reason="Provisioned", last_transition_time=at)],
        history=[HistoryEntry(at=at, to="provisioned")],
        subscription=SubscriptionStatus(state="OK", expires_at=at),
        billing=BillingStatus(),
    )
    copied = original.model_copy(deep=True)
    assert copied == original
    assert copied.model_fields_set == original.model_fields_set
    copied.conditions[0].message = "changed"
    copied.history.append(HistoryEntry(at=at, to="cancelled"))
    assert copied.subscription is not None
    assert copied.billing is not None
    copied.subscription.state = SubscriptionState.EXPIRED
    copied.billing.start = at.date()
    assert original.conditions[0].message == ""
    assert len(original.history) == 1
    assert original.subscription is not None
    assert original.subscription.state == "OK"
    assert original.billing is not None
    assert original.billing.start is None
    assert copied.model_dump() != original.model_dump()


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("acme.ch", True),
        ("xn--80ak6aa92e.xn--p1ai", True),  # пример.рф: an internationalised top-level domain
        ("mail.xn--mnchen-3ya.de", True),  # münchen.de
        ("acme.xn--", False),
        ("acme.xn--p1ai-", False),
        ("acme.c0m", False),
        ("ACME.CH", False),
        ("localhost", False),
    ],
)
def test_domain_names_are_lowercase_ascii_fqdns_with_punycode_top_level_domains(name: str, valid: bool) -> None:
    spec = {"tenantRef": {"name": "t1"}, "domainName": name, "deploymentSettings": {"ginaHost": f"gina.{name}"}}
    if valid:
        assert DomainSpec.model_validate(spec).domain_name == name
    else:
        with pytest.raises(ValidationError):
            DomainSpec.model_validate(spec)
