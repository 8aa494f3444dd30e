"""The named states of every state machine, as they appear in status.

Only the names live here; the transition tables that move between them are in ``core/``.
"""

from __future__ import annotations

from enum import StrEnum


class OrderPhase(StrEnum):
    """Service and Domain ``status.phase`` (seed 000)."""

    ORDERED = "ordered"
    CONFIRMED = "confirmed"
    PROVISIONING = "provisioning"
    PROVISIONED = "provisioned"
    CANCELLED = "cancelled"
    DEPROVISIONING = "deprovisioning"
    DEPROVISIONED = "deprovisioned"


class SubscriptionState(StrEnum):
    """Service ``status.subscription.state`` (seed 004)."""

    WAITING_ACTIVATION = "WAITING_ACTIVATION"
    PROCESSING = "PROCESSING"
    OK = "OK"
    DISPATCHED = "DISPATCHED"
    SUSPENDED = "SUSPENDED"
    ERRONEOUS = "ERRONEOUS"
    EXPIRED = "EXPIRED"
    DISCONTINUED = "DISCONTINUED"


class SuspensionReason(StrEnum):
    INSUFFICIENT_FUNDS = "insufficient-funds"
    MISUSE = "misuse"
    LICENSE_FROZEN = "license-frozen"


class LicensePeriod(StrEnum):
    """License ``status.period`` (seed 003)."""

    LICENSE = "License"
    GRACE = "Grace"
    FREEZE = "Freeze"
    PURGED = "Purged"


class ContractState(StrEnum):
    """Contract ``status.state`` (seed 004)."""

    TRIAL = "trial"
    ACTIVE = "active"
    EXPIRED = "expired"


class InvoiceState(StrEnum):
    """Invoice ``status.state``: open until paid; void when superseded or its period ended unpaid;
    reimbursed when paid for services that no longer renew before its period started."""

    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    REIMBURSED = "reimbursed"


class DeployRequestPhase(StrEnum):
    PENDING = "Pending"
    COMPLETED = "Completed"
