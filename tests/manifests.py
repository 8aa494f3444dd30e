"""Valid base manifests and the table of invalid ones, shared by the unit tests (pydantic) and
the e2e tests (the real API server): both layers must refuse the same bad input."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

API_VERSION = "lifecycle.seppmail.cloud/v1alpha1"

Manifest = dict[str, Any]


def obj(kind: str, name: str, spec: dict[str, Any]) -> Manifest:
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}, "spec": spec}


def tenant(name: str, **spec: Any) -> Manifest:
    return obj("Tenant", name, {"displayName": f"{name} AG", "contact": {"email": f"it@{name}.test"}, **spec})


def domain(name: str, tenant: str | None = None, domain_name: str | None = None, **spec: Any) -> Manifest:
    """A Domain of ``tenant`` (default: the tenant of the same name) for ``<name>.test``."""
    return obj(
        "Domain", name, {"tenantRef": {"name": tenant or name}, "domainName": domain_name or f"{name}.test", **spec}
    )


def service(name: str, domain: str, product: str, **spec: Any) -> Manifest:
    return obj("Service", name, {"domainRef": {"name": domain}, "product": product, **spec})


def license(name: str, tenant: str, expires_at: str, **spec: Any) -> Manifest:
    return obj("License", name, {"tenantRef": {"name": tenant}, "type": "full", "expiresAt": expires_at, **spec})


def invoice(name: str, contract: str, tenant: str, start: str, end: str, total: str, **spec: Any) -> Manifest:
    """An invoice as the operator writes one (for tests of what reads invoices)."""
    return obj(
        "Invoice",
        name,
        {
            "contractRef": {"name": contract},
            "tenantRef": {"name": tenant},
            "period": {"start": start, "end": end},
            "dueDate": start,
            "total": {"amount": total, "currency": "CHF"},
            **spec,
        },
    )


def payment(name: str, invoice: str, amount: str, paid_at: str = "2026-12-20T10:00:00Z", **spec: Any) -> Manifest:
    return obj(
        "Payment",
        name,
        {"invoiceRef": {"name": invoice}, "amount": {"amount": amount, "currency": "CHF"}, "paidAt": paid_at, **spec},
    )


VALID: dict[str, Manifest] = {
    "Product": obj(
        "Product",
        "test-product",
        {"displayName": "Test", "requires": ["base"], "billing": {"type": "recurring", "price": {"amount": "1.00"}}},
    ),
    "Tenant": obj(
        "Tenant",
        "t1",
        {"displayName": "T1", "contact": {"email": "a@t1.example", "country": "CH", "phone": "+41 1"}},
    ),
    "Domain": obj("Domain", "d1", {"tenantRef": {"name": "t1"}, "domainName": "t1.example"}),
    "Service": obj("Service", "s1", {"domainRef": {"name": "d1"}, "product": "base", "users": 5}),
    "Contract": obj("Contract", "c1", {"tenantRef": {"name": "t1"}, "billingInterval": "monthly"}),
    "License": obj("License", "l1", {"tenantRef": {"name": "t1"}, "type": "full", "expiresAt": "2027-01-01T00:00:00Z"}),
    "DeployRequest": obj("DeployRequest", "dr1", {"domains": ["d1"]}),
    "Invoice": invoice("c1-20270101-r1", "c1", "t1", "2027-01-01", "2027-01-31", "10.00"),
    "Payment": payment("pay1", "c1-20270101-r1", "10.00", reference="tx-1"),
    "Partner": obj(
        "Partner",
        "p1",
        {"displayName": "P1 Reseller", "admins": [{"name": "Pat", "email": "pat@p1.example"}]},
    ),
}


def _set(target: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted path in a manifest; the value ``DELETE`` removes the key."""
    *parents, leaf = path.split(".")
    for key in parents:
        target = target.setdefault(key, {})
    if value is DELETE:
        target.pop(leaf, None)
    else:
        target[leaf] = value


DELETE = object()


@dataclass(frozen=True)
class InvalidCase:
    id: str
    kind: str
    changes: dict[str, Any]
    field: str
    """The bad field as the API server names it in its error message."""
    pydantic_sees_it: bool = True
    """False for rules only the API server can check (metadata.name)."""

    def manifest(self) -> Manifest:
        manifest = copy.deepcopy(VALID[self.kind])
        for path, value in self.changes.items():
            _set(manifest, path, value)
        return manifest


INVALID: list[InvalidCase] = [
    InvalidCase("tenant-no-display-name", "Tenant", {"spec.displayName": DELETE}, "spec.displayName"),
    InvalidCase("tenant-long-display-name", "Tenant", {"spec.displayName": "x" * 300}, "spec.displayName"),
    # Blank but present: refused, not shown as an empty name or reason.
    InvalidCase("tenant-blank-display-name", "Tenant", {"spec.displayName": " \t "}, "spec.displayName"),
    InvalidCase(
        "service-blank-discount-reason",
        "Service",
        {"spec.discount": {"percent": 10, "reason": "  "}},
        "spec.discount.reason",
    ),
    InvalidCase(
        "service-blank-cancellation-reason",
        "Service",
        {"spec.cancellation": {"reason": "\n"}},
        "spec.cancellation.reason",
    ),
    InvalidCase("license-blank-hold-reason", "License", {"spec.purgeHold": {"reason": " "}}, "spec.purgeHold.reason"),
    # Control and bidi characters would reach mail subjects and terminals; a final line break is
    # where Python's `$` and the API server's RE2 disagree.
    InvalidCase("tenant-display-name-escape", "Tenant", {"spec.displayName": "\x1b[31mAcme"}, "spec.displayName"),
    InvalidCase("tenant-display-name-bidi", "Tenant", {"spec.displayName": "Acme\u202eGA"}, "spec.displayName"),
    InvalidCase("tenant-display-name-final-newline", "Tenant", {"spec.displayName": "Acme\n"}, "spec.displayName"),
    InvalidCase(
        "service-discount-reason-header",
        "Service",
        {"spec.discount": {"percent": 5, "reason": "nfr\r\nBcc: x"}},
        "spec.discount.reason",
    ),
    InvalidCase("tenant-bad-email", "Tenant", {"spec.contact.email": "not-an-email"}, "spec.contact.email"),
    InvalidCase("tenant-no-email", "Tenant", {"spec.contact.email": DELETE}, "spec.contact.email"),
    InvalidCase("tenant-bad-country", "Tenant", {"spec.contact.country": "Switzerland"}, "spec.contact.country"),
    InvalidCase("tenant-bad-phone", "Tenant", {"spec.contact.phone": "call me"}, "spec.contact.phone"),
    InvalidCase(
        "tenant-bad-recipient",
        "Tenant",
        {"spec.notifications": {"recipients": ["ops"]}},
        "spec.notifications.recipients[0]",
    ),
    InvalidCase(
        "tenant-too-many-recipients",
        "Tenant",
        {"spec.notifications": {"recipients": [f"r{i}@t1.example" for i in range(21)]}},
        "spec.notifications.recipients",
    ),
    InvalidCase("domain-uppercase-name", "Domain", {"spec.domainName": "T1.Example"}, "spec.domainName"),
    InvalidCase("domain-single-label", "Domain", {"spec.domainName": "localhost"}, "spec.domainName"),
    InvalidCase("domain-bad-punycode-tld", "Domain", {"spec.domainName": "acme.xn--p1ai-"}, "spec.domainName"),
    InvalidCase("domain-no-tenant", "Domain", {"spec.tenantRef": DELETE}, "spec.tenantRef"),
    InvalidCase(
        "domain-bad-gina-host",
        "Domain",
        {"spec.deploymentSettings": {"ginaHost": "not a host"}},
        "spec.deploymentSettings.ginaHost",
    ),
    InvalidCase("service-negative-users", "Service", {"spec.users": -1}, "spec.users"),
    InvalidCase("service-users-not-integer", "Service", {"spec.users": "many"}, "spec.users"),
    InvalidCase(
        "service-discount-over-100",
        "Service",
        {"spec.discount": {"percent": 150, "reason": "x"}},
        "spec.discount.percent",
    ),
    InvalidCase("service-discount-no-reason", "Service", {"spec.discount": {"percent": 10}}, "spec.discount.reason"),
    InvalidCase(
        "service-bad-suspension", "Service", {"spec.suspension": {"reason": "bored"}}, "spec.suspension.reason"
    ),
    InvalidCase(
        "service-bad-end-billing-date",
        "Service",
        {"spec.cancellation": {"endBillingDate": "next friday"}},
        "spec.cancellation.endBillingDate",
    ),
    InvalidCase("service-bad-product-name", "Service", {"spec.product": "Sign Encrypt"}, "spec.product"),
    InvalidCase("service-no-domain", "Service", {"spec.domainRef": DELETE}, "spec.domainRef"),
    InvalidCase("service-unknown-field", "Service", {"spec.colour": "blue"}, "spec.colour"),
    InvalidCase("contract-weekly", "Contract", {"spec.billingInterval": "weekly"}, "spec.billingInterval"),
    InvalidCase("contract-negative-trial", "Contract", {"spec.trialDays": -5}, "spec.trialDays"),
    InvalidCase("license-bad-type", "License", {"spec.type": "forever"}, "spec.type"),
    InvalidCase("license-bad-expiry", "License", {"spec.expiresAt": "tomorrow"}, "spec.expiresAt"),
    # Sentinel dates: a zero time or the epoch must never reach the purge.
    InvalidCase("license-go-zero-time", "License", {"spec.expiresAt": "0001-01-01T00:00:00Z"}, "spec.expiresAt"),
    InvalidCase("license-epoch", "License", {"spec.expiresAt": "1970-01-01T00:00:00Z"}, "spec.expiresAt"),
    InvalidCase("license-year-2200", "License", {"spec.expiresAt": "2200-01-01T00:00:00Z"}, "spec.expiresAt"),
    InvalidCase("license-offset-15h", "License", {"spec.expiresAt": "2027-01-01T00:00:00+15:00"}, "spec.expiresAt"),
    InvalidCase("license-arabic-digits", "License", {"spec.expiresAt": "٢٠٢٧-01-01T00:00:00Z"}, "spec.expiresAt"),
    InvalidCase("payment-zero-time", "Payment", {"spec.paidAt": "0001-01-01T00:00:00Z"}, "spec.paidAt"),
    # The platform's own domain, and GINA hosts only the cluster can resolve.
    InvalidCase("domain-platform", "Domain", {"spec.domainName": "seppmail.cloud"}, "spec.domainName"),
    InvalidCase("domain-platform-sub", "Domain", {"spec.domainName": "acme.seppmail.cloud"}, "spec.domainName"),
    InvalidCase(
        "domain-gina-svc",
        "Domain",
        {"spec.deploymentSettings": {"ginaHost": "gina.default.svc"}},
        "spec.deploymentSettings.ginaHost",
    ),
    InvalidCase(
        "domain-gina-cluster-local",
        "Domain",
        {"spec.deploymentSettings": {"ginaHost": "gina.acme.svc.cluster.local"}},
        "spec.deploymentSettings.ginaHost",
    ),
    InvalidCase("payment-offset-23h", "Payment", {"spec.paidAt": "2027-01-01T00:00:00-23:00"}, "spec.paidAt"),
    InvalidCase("license-bad-source", "License", {"spec.source": "crm"}, "spec.source"),
    InvalidCase("license-grace-too-long", "License", {"spec.gracePeriodDays": 1000}, "spec.gracePeriodDays"),
    InvalidCase("license-hold-no-reason", "License", {"spec.purgeHold": {}}, "spec.purgeHold.reason"),
    InvalidCase("product-bad-billing-type", "Product", {"spec.billing.type": "monthly"}, "spec.billing.type"),
    InvalidCase("product-comma-price", "Product", {"spec.billing.price.amount": "12,50"}, "spec.billing.price.amount"),
    InvalidCase(
        "product-lowercase-currency", "Product", {"spec.billing.price.currency": "chf"}, "spec.billing.price.currency"
    ),
    InvalidCase(
        "product-requires-itself",
        "Product",
        {"spec.requires": ["test-product"]},
        "spec.requires",
        pydantic_sees_it=False,
    ),
    InvalidCase("deployrequest-bad-domain-name", "DeployRequest", {"spec.domains": ["Acme_CH"]}, "spec.domains[0]"),
    # Look-alikes and spellings of a domain name that are not the name: a Cyrillic a (U+0430), a full-width
    # dot, a trailing dot (the root), a label over 63 characters; IDNs are taken in punycode only.
    InvalidCase("domain-cyrillic-homoglyph", "Domain", {"spec.domainName": "\u0430cme.ch"}, "spec.domainName"),
    InvalidCase("domain-fullwidth-dot", "Domain", {"spec.domainName": "acme\u3002ch"}, "spec.domainName"),
    InvalidCase("domain-trailing-dot", "Domain", {"spec.domainName": "acme.ch."}, "spec.domainName"),
    InvalidCase("domain-label-too-long", "Domain", {"spec.domainName": "a" * 64 + ".ch"}, "spec.domainName"),
    InvalidCase("domain-unicode-not-punycode", "Domain", {"spec.domainName": "b\u00fccher.ch"}, "spec.domainName"),
    # A reference cannot reach into another namespace (there is no such field to set).
    InvalidCase(
        "domain-tenant-in-other-namespace",
        "Domain",
        {"spec.tenantRef": {"name": "t1", "namespace": "other-partner"}},
        "spec.tenantRef.namespace",
    ),
    InvalidCase(
        "service-domain-in-other-namespace",
        "Service",
        {"spec.domainRef": {"name": "d1", "namespace": "other-partner"}},
        "spec.domainRef.namespace",
    ),
    InvalidCase(
        "service-contract-in-other-namespace",
        "Service",
        {"spec.contractRef": {"name": "c1", "namespace": "other-partner"}},
        "spec.contractRef.namespace",
    ),
    InvalidCase(
        "contract-tenant-in-other-namespace",
        "Contract",
        {"spec.tenantRef": {"name": "t1", "namespace": "other-partner"}},
        "spec.tenantRef.namespace",
    ),
    InvalidCase(
        "payment-invoice-in-other-namespace",
        "Payment",
        {"spec.invoiceRef": {"name": "c1-20270101-r1", "namespace": "other-partner"}},
        "spec.invoiceRef.namespace",
    ),
    InvalidCase("service-users-over-limit", "Service", {"spec.users": 10_000_001}, "spec.users"),
    InvalidCase("service-users-float", "Service", {"spec.users": 2.5}, "spec.users"),
    InvalidCase("tenant-huge-display-name", "Tenant", {"spec.displayName": "x" * 100_000}, "spec.displayName"),
    # Invoices are the operator's; even so the API server refuses a period that ends before it starts.
    InvalidCase("invoice-reversed-period", "Invoice", {"spec.period.end": "2026-12-01"}, "spec.period"),
    InvalidCase(
        "invoice-line-reversed-days",
        "Invoice",
        {
            "spec.lines": [
                {
                    "service": "s1",
                    "product": "base",
                    "firstDay": "2027-01-31",
                    "lastDay": "2027-01-01",
                    "quantity": 1,
                    "unitPrice": "10.00",
                    "amount": "10.00",
                }
            ]
        },
        "spec.lines[0]",
    ),
]


@dataclass(frozen=True)
class ForbiddenUpdate:
    """A change to an existing object that the API server must refuse (CEL transition rules)."""

    id: str
    kind: str
    changes: dict[str, Any]
    message: str
    before: dict[str, Any] = dataclasses.field(default_factory=dict)

    def manifests(self) -> tuple[Manifest, Manifest]:
        first = copy.deepcopy(VALID[self.kind])
        for path, value in self.before.items():
            _set(first, path, value)
        second = copy.deepcopy(first)
        for path, value in self.changes.items():
            _set(second, path, value)
        return first, second


FORBIDDEN_UPDATES: list[ForbiddenUpdate] = [
    ForbiddenUpdate("domain-rename", "Domain", {"spec.domainName": "other.example"}, "spec.domainName is immutable"),
    ForbiddenUpdate("domain-move-tenant", "Domain", {"spec.tenantRef.name": "t2"}, "spec.tenantRef is immutable"),
    ForbiddenUpdate("service-change-product", "Service", {"spec.product": "sign-only"}, "spec.product is immutable"),
    ForbiddenUpdate("service-move-domain", "Service", {"spec.domainRef.name": "d2"}, "spec.domainRef is immutable"),
    ForbiddenUpdate(
        "service-withdraw-cancellation",
        "Service",
        {"spec.cancellation": DELETE},
        "spec.cancellation cannot be removed",
        before={"spec.cancellation": {"endBillingDate": "2030-01-31"}},
    ),
    ForbiddenUpdate("license-move-tenant", "License", {"spec.tenantRef.name": "t2"}, "spec.tenantRef is immutable"),
    ForbiddenUpdate("deployrequest-change", "DeployRequest", {"spec.domains": ["d2"]}, "cannot be changed"),
    # An issued invoice is a record: a changed one is a new revision (the operator voids the old).
    ForbiddenUpdate(
        "invoice-rewrite-total", "Invoice", {"spec.total.amount": "1.00"}, "an issued Invoice cannot be changed"
    ),
    ForbiddenUpdate(
        "invoice-rewrite-period", "Invoice", {"spec.period.end": "2027-02-28"}, "an issued Invoice cannot be changed"
    ),
    ForbiddenUpdate(
        "payment-rewrite-amount", "Payment", {"spec.amount.amount": "99.00"}, "a Payment cannot be changed"
    ),
]
