"""The core's view of an object: its metadata, parsed spec and current status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel

from seppmail_lifecycle.api.contract import ContractSpec, ContractStatus
from seppmail_lifecycle.api.deployrequest import DeployRequestSpec, DeployRequestStatus
from seppmail_lifecycle.api.domain import DomainSpec, DomainStatus
from seppmail_lifecycle.api.invoice import InvoiceSpec, InvoiceStatus
from seppmail_lifecycle.api.license import LicenseSpec, LicenseStatus
from seppmail_lifecycle.api.partner import PartnerSpec, PartnerStatus
from seppmail_lifecycle.api.payment import PaymentSpec, PaymentStatus
from seppmail_lifecycle.api.product import ProductSpec, ProductStatus
from seppmail_lifecycle.api.service import ServiceSpec, ServiceStatus
from seppmail_lifecycle.api.tenant import TenantSpec, TenantStatus

SpecT = TypeVar("SpecT", bound=BaseModel)
StatusT = TypeVar("StatusT", bound=BaseModel)


@dataclass(frozen=True)
class Meta:
    """The metadata the core decides on."""

    name: str
    namespace: str | None
    uid: str
    generation: int
    created: datetime
    deleted: datetime | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    owner_uids: tuple[str, ...] = ()


# How Argo CD (label tracking, the default before 3.0; annotation tracking since) and Flux mark
# the objects they sync from Git.
GITOPS_ANNOTATIONS = ("argocd.argoproj.io/tracking-id",)
GITOPS_LABELS = ("app.kubernetes.io/instance", "kustomize.toolkit.fluxcd.io/name", "helm.toolkit.fluxcd.io/name")


def synced_from_git(meta: Meta) -> bool:
    """Whether Argo CD or Flux manages the object: changing or deleting it here would be undone
    (or re-created) by the next sync, so such changes belong in Git."""
    return any(a in meta.annotations for a in GITOPS_ANNOTATIONS) or any(k in meta.labels for k in GITOPS_LABELS)


@dataclass(frozen=True)
class Obj(Generic[SpecT, StatusT]):
    meta: Meta
    spec: SpecT
    status: StatusT

    @property
    def name(self) -> str:
        return self.meta.name


Product = Obj[ProductSpec, ProductStatus]
Partner = Obj[PartnerSpec, PartnerStatus]
Tenant = Obj[TenantSpec, TenantStatus]
Domain = Obj[DomainSpec, DomainStatus]
Service = Obj[ServiceSpec, ServiceStatus]
Contract = Obj[ContractSpec, ContractStatus]
Invoice = Obj[InvoiceSpec, InvoiceStatus]
Payment = Obj[PaymentSpec, PaymentStatus]
License = Obj[LicenseSpec, LicenseStatus]
DeployRequest = Obj[DeployRequestSpec, DeployRequestStatus]
