"""The policy: every duration and schedule the lifecycle uses, in one place.

Defaults are the seeds' values. A cluster overrides any of them with a YAML file (the Helm chart
mounts the ``seppmail-lifecycle-policy`` ConfigMap there and passes ``--policy``); tests use
seconds. Durations are written like ``30d``, ``6h``, ``1d12h``, ``90s``, ``500ms``.
"""

from __future__ import annotations

import re
from datetime import timedelta, tzinfo
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, StringConstraints, field_validator

from seppmail_lifecycle.api.common import LifecycleModel

_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|d|h|m|s)")


def parse_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    text = str(value).strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.replace(" ", ""):
        raise ValueError(f"{value!r} is not a duration like 30d, 6h, 1d12h, 90s or 500ms")
    return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))


def format_duration(value: timedelta) -> str:
    remaining = value.total_seconds()
    if remaining == 0:
        return "0s"
    out = ""
    for unit in ("d", "h", "m", "s"):
        count, remaining = divmod(remaining, _UNITS[unit])
        if count:
            out += f"{int(count)}{unit}"
    if remaining:
        out += f"{round(remaining * 1000)}ms"
    return out


def _not_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError(f"{format_duration(-value)} before zero: durations cannot be negative")
    return value


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than zero")
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    AfterValidator(_not_negative),
    PlainSerializer(format_duration, return_type=str),
]
PositiveDuration = Annotated[Duration, AfterValidator(_positive)]


class AutoDeployPolicy(LifecycleModel):
    """The automatic deployment, "several times a day": windows at offset + k * every (UTC)."""

    every: PositiveDuration = Field(default=timedelta(hours=6), description="Time between deployment windows.")
    offset: Duration = Field(default=timedelta(hours=2), description="First window after midnight UTC.")


class DnsPolicy(LifecycleModel):
    """How partners' DNS records are verified before a domain is provisioned."""

    verify: bool = Field(
        default=True,
        description="Wait for the partner's DNS records before provisioning; false skips the check "
        "(installations whose gateways do not depend on DNS, offline demos).",
    )
    nameservers: list[str] = Field(
        default_factory=list,
        description='Nameservers to ask, "ip" or "ip:port"; empty means the system resolver.',
    )
    timeout: PositiveDuration = Field(default=timedelta(seconds=5), description="Time limit of one lookup.")
    recheck_initial: PositiveDuration = Field(
        default=timedelta(minutes=1), description="First recheck after a record was found missing."
    )
    recheck_max: PositiveDuration = Field(
        default=timedelta(hours=1), description="Longest time between rechecks (the backoff doubles up to it)."
    )
    verification_record: str = Field(
        default="_seppmail-verification",
        description="The TXT ownership record is expected at <verificationRecord>.<domain>.",
    )
    mx_gateways: list[str] = Field(
        default_factory=lambda: ["mx1.seppmail.cloud", "mx2.seppmail.cloud"],
        description="Every one of these must be an MX exchange of a provisioned domain.",
    )


Audience = Literal["partner", "tenant"]
"""Who a mail goes to: the partner (its admins and Workflow_Mails addresses) or the tenant."""


class MailPolicy(LifecycleModel):
    """Retrying notification mails the SMTP server did not accept."""

    retry_initial: PositiveDuration = Field(default=timedelta(minutes=1), description="First retry after a failure.")
    retry_max: PositiveDuration = Field(default=timedelta(hours=1), description="Longest time between retries.")
    partner_actions_to: list[Audience] = Field(
        default_factory=lambda: list[Audience](["partner"]),
        min_length=1,
        description="Who gets the partner-action mails (DNS records to set, deployment done): partner (its admins "
        "and Workflow_Mails addresses; the tenant's if there is no Partner) and/or tenant.",
    )
    customer_notices_to: list[Audience] = Field(
        default_factory=lambda: list[Audience](["tenant"]),
        min_length=1,
        description="Who gets what concerns the customer (license reminders, grace, freeze): tenant and/or partner.",
    )


class GraceBySource(LifecycleModel):
    """The grace period each license source grants when a license names none (seed 003); unset:
    the minimum grace (CLP's 30 days are the minimum)."""

    clp: Duration | None = Field(default=None, description="Licenses synced from CLP (unset: the minimum).")
    lmp: Duration | None = Field(default=timedelta(days=45), description="Licenses synced from LMP: 45 days.")
    manual: Duration | None = Field(default=None, description="Licenses written by hand (unset: the minimum).")


class DeployRequestPolicy(LifecycleModel):
    """How long a DeployRequest waits for the domains it covers, and how long it is kept."""

    wait_for_checks: Duration = Field(
        default=timedelta(minutes=2),
        description="A request waits this long (from its creation) for covered domains still being checked "
        "(ordered, not checked yet, or failed within the last 10 s), so one committed together with its "
        "domains deploys them.",
    )
    ttl_after_completed: Duration | None = Field(
        default=timedelta(days=1),
        description="A completed request is deleted this long after it completed (unset: kept), unless Argo CD "
        "or Flux manages it: the next sync would re-create it and deploy again, so Git removes those.",
    )


class LicensePolicy(LifecycleModel):
    """The license periods after expiry and the reminders before it (seed 003)."""

    minimum_grace: Duration = Field(
        default=timedelta(days=30),
        description="Shortest grace period: a synced gracePeriodDays counts only if it is longer.",
    )
    grace_by_source: GraceBySource = Field(
        default_factory=GraceBySource,
        description="The grace period of a license without gracePeriodDays, by its source (CLP 30, LMP 45 days).",
    )
    freeze: Duration = Field(
        default=timedelta(days=30),
        description="Time between the end of the grace period and the purge; mail and consoles are blocked.",
    )
    reminders_full: list[PositiveDuration] = Field(
        default_factory=lambda: [timedelta(days=30), timedelta(days=14), timedelta(days=7), timedelta(days=1)],
        description="Reminders of a full license, each this long before its expiry.",
    )
    reminders_trial: list[PositiveDuration] = Field(
        default_factory=lambda: [timedelta(days=7), timedelta(days=3), timedelta(days=1)],
        description="Reminders of a trial license, each this long before its expiry.",
    )
    mx_change_notice: Duration = Field(
        default=timedelta(days=2),
        description="The mail asking to change the MX records goes out this long before the grace period ends.",
    )


class BillingPolicy(LifecycleModel):
    """Invoicing, expiry and discontinuation of subscriptions (seed 004: these vary by site)."""

    invoice_lead_time: Duration = Field(
        default=timedelta(days=14),
        description="An invoice for a contract's next period is created this long before the current period "
        "(or the trial) ends; at the latest on that day.",
    )
    expired_after: Duration = Field(
        default=timedelta(days=1),
        description="A service whose paid period ended unpaid becomes EXPIRED this long after (no longer "
        "accessible; paying its invoice still renews it).",
    )
    discontinued_after: Duration = Field(
        default=timedelta(days=30),
        description="An EXPIRED service becomes DISCONTINUED this long after it expired: it can no longer be "
        "renewed and is cancelled, with its end-billing date the last paid day.",
    )
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(
        default="CHF", description="The currency invoices are written in; products priced otherwise are reported."
    )


class Policy(LifecycleModel):
    """Every duration of the lifecycle, with the seeds' defaults."""

    cancellation_delay: Duration = Field(
        default=timedelta(days=30),
        description="A cancelled service is removed no earlier than this after its cancellation (a billed "
        "service also not before its end-billing date is over).",
    )
    auto_deploy: AutoDeployPolicy = Field(default_factory=AutoDeployPolicy, description="Deployment windows.")
    business_time_zone: str = Field(
        default="UTC",
        description="The IANA time zone the site's calendar days are reckoned in (billing start and end, the "
        "default end-billing date 'end of month', contract periods), e.g. Europe/Zurich.",
    )
    retention: Duration = Field(
        default=timedelta(days=90),
        description="A deleted object is kept this long after it is deprovisioned, for usage settlement.",
    )
    base_product: str = Field(default="base", description="The product every domain must have booked.")
    dns: DnsPolicy = Field(default_factory=DnsPolicy, description="DNS verification of partner actions.")
    mail: MailPolicy = Field(default_factory=MailPolicy, description="Retries of notification mails.")
    license: LicensePolicy = Field(
        default_factory=LicensePolicy, description="License grace, freeze, reminders and notices."
    )
    deploy_requests: DeployRequestPolicy = Field(
        default_factory=DeployRequestPolicy, description="Waiting for checks, and removal once completed."
    )
    billing: BillingPolicy = Field(
        default_factory=BillingPolicy, description="Invoice lead time, expiry and discontinuation."
    )

    @field_validator("business_time_zone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)  # loaded (and cached) here, so deciding never reads the tz database
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}: use an IANA name such as Europe/Zurich or UTC") from None
        return name

    @property
    def zone(self) -> tzinfo:
        """The business time zone."""
        return ZoneInfo(self.business_time_zone)

    @classmethod
    def load(cls, path: Path | None) -> Policy:
        if path is None:
            return cls()
        return cls.model_validate(yaml.safe_load(path.read_text()) or {})
