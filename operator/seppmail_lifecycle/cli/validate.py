"""``kubectl lifecycle validate PATH...``: partner YAML checked before it is committed.

Each manifest is checked as the API server would at apply time (``api.offline``: the CRD schema
and its CEL rules), then the manifests are checked together by the operator's own consistency
check (``core.consistency``), as if applied at once: an unknown tenant, domain or product, a
missing dependency or GINA host, a domain name claimed twice. Products are those in the paths
(a partner repository usually carries the catalogue it orders from); without any, products are
not checked. What the operator does itself (booking a missing base service) is not a problem.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from seppmail_lifecycle.api import KINDS_BY_NAME
from seppmail_lifecycle.api.offline import check
from seppmail_lifecycle.cli.files import load, manifest_files
from seppmail_lifecycle.core.consistency import DomainClaim, check_domain, check_service, claim_of
from seppmail_lifecycle.core.model import Domain, Product, Service, Tenant
from seppmail_lifecycle.kube.convert import parse

Body = dict[str, Any]
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
BOOKED_BY_THE_OPERATOR = {"BaseServiceMissing"}


@dataclass(frozen=True)
class Finding:
    file: str
    kind: str
    name: str
    field: str
    message: str

    def line(self) -> str:
        return f"{self.file}: {self.kind}/{self.name}: {self.field}: {self.message}"


def validate(paths: Sequence[Path], progress: Callable[[float], None] | None = None) -> tuple[list[Finding], int]:
    """Every problem in the manifests under ``paths``, and how many manifests were read;
    ``progress`` is told how many files are done."""
    findings: list[Finding] = []
    parsed: list[tuple[str, str, Any]] = []  # (file, kind, object) of the ones that check out
    count = 0
    for done, file in enumerate(manifest_files(paths), start=1):
        if progress is not None:
            progress(done)
        try:
            docs = load(file)
        except (OSError, yaml.YAMLError) as error:
            findings.append(Finding(str(file), "-", "-", "<file>", str(error).replace("\n", " ")))
            continue
        for doc in docs:
            count += 1
            if not isinstance(doc, dict):
                findings.append(Finding(str(file), "-", "-", "<document>", "not a mapping (an object)"))
                continue
            kind = str(doc.get("kind", "-"))
            name = str((doc.get("metadata") or {}).get("name", "-"))
            problems = check(doc)
            findings += [Finding(str(file), kind, name, p.field, p.message) for p in problems]
            if not problems:
                parsed.append((str(file), kind, _obj(kind, doc, len(parsed))))
    findings += _consistency(parsed)
    return findings, count


def _obj(kind: str, doc: Body, index: int) -> Any:
    """The manifest as the operator sees it once applied: created in file order."""
    metadata = {
        "namespace": "default",
        **(doc.get("metadata") or {}),
        "uid": f"validate-{index}",
        "creationTimestamp": (EPOCH + timedelta(seconds=index)).isoformat(),
    }
    info = KINDS_BY_NAME[kind]
    if not info.namespaced:
        metadata.pop("namespace", None)
    obj, _ = parse(info, {**doc, "metadata": metadata})
    return obj


def _consistency(parsed: list[tuple[str, str, Any]]) -> list[Finding]:
    files = {(kind, obj.meta.namespace, obj.name): file for file, kind, obj in parsed}
    of_kind: dict[str, list[Any]] = {}
    for _, kind, obj in parsed:
        of_kind.setdefault(kind, []).append(obj)
    products: dict[str, Product] = {p.name: p for p in of_kind.get("Product", [])}
    tenants: dict[tuple[str | None, str], Tenant] = {(t.meta.namespace, t.name): t for t in of_kind.get("Tenant", [])}
    domains: list[Domain] = of_kind.get("Domain", [])
    services: list[Service] = of_kind.get("Service", [])
    claims: dict[str, list[DomainClaim]] = {}  # by domain name, as the operator looks them up
    for d in domains:
        claims.setdefault(d.spec.domain_name, []).append(claim_of(d))
    findings: list[Finding] = []
    # Without a catalogue in the paths every product counts as known (the cluster has them).
    known = products or {s.spec.product: _placeholder(s.spec.product) for s in services}
    failures: dict[tuple[str | None, str], Any] = {}
    for domain in domains:
        booked = [
            s for s in services if s.meta.namespace == domain.meta.namespace and s.spec.domain_ref.name == domain.name
        ]
        tenant = tenants.get((domain.meta.namespace, domain.spec.tenant_ref.name))
        # Offline nothing is proven yet: every second order of one name in the files is reported.
        failure = check_domain(
            domain, tenant, booked, known, claims[domain.spec.domain_name], "base", proof_required=False
        )
        failures[(domain.meta.namespace, domain.name)] = failure
        if failure is not None and failure.reason not in BOOKED_BY_THE_OPERATOR:
            file = files[("Domain", domain.meta.namespace, domain.name)]
            findings.append(Finding(file, "Domain", domain.name, failure.reason, failure.message))
    by_name = {(d.meta.namespace, d.name): d for d in domains}
    for service in services:
        key = (service.meta.namespace, service.spec.domain_ref.name)
        its_domain = by_name.get(key)
        siblings = [s for s in services if (s.meta.namespace, s.spec.domain_ref.name) == key]
        domain_failure = failures.get(key)
        if domain_failure is not None and domain_failure.reason in BOOKED_BY_THE_OPERATOR:
            domain_failure = None
            # The operator books the base service: what requires it has it.
            booked_base = service.spec.model_copy(update={"product": "base", "cancellation": None})
            siblings.append(replace(service, meta=replace(service.meta, name="<base booked by the operator>"),
                                    spec=booked_base))  # fmt: skip
        failure = check_service(service, its_domain, domain_failure, siblings, known)
        if failure is not None and failure.reason not in ("DomainNotConfirmed",) and domain_failure is None:
            file = files[("Service", service.meta.namespace, service.name)]
            findings.append(Finding(file, "Service", service.name, failure.reason, failure.message))
    return findings


def _placeholder(name: str) -> Product:
    from seppmail_lifecycle.api.product import ProductBilling, ProductSpec, ProductStatus
    from seppmail_lifecycle.core.model import Meta, Obj

    spec = ProductSpec(display_name=name, billing=ProductBilling(type="recurring"))
    return Obj(
        Meta(name=name, namespace=None, uid=f"placeholder-{name}", generation=1, created=EPOCH), spec, ProductStatus()
    )
