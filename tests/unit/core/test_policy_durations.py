"""Policy durations: ``30d``, ``6h``, ``1d12h``, ``90s``, ``500ms``, parsed and formatted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from seppmail_lifecycle.api.policy import AutoDeployPolicy, Policy, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", timedelta(days=30)),
        ("6h", timedelta(hours=6)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("90s", timedelta(seconds=90)),
        ("500ms", timedelta(milliseconds=500)),
        ("5m", timedelta(minutes=5)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1.5h", timedelta(hours=1, minutes=30)),
        ("2d3h4m5s6ms", timedelta(days=2, hours=3, minutes=4, seconds=5, milliseconds=6)),
        ("0s", timedelta(0)),
        (" 30d ", timedelta(days=30)),
        ("1d 12h", timedelta(days=1, hours=12)),
        (90, timedelta(seconds=90)),
        (1.5, timedelta(seconds=1.5)),
        (timedelta(hours=2), timedelta(hours=2)),
    ],
)
def test_parse_duration(text: object, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", " ", "30", "abc", "30x", "d", "-5s", "+5s", "1,5h", "1e3s", "30 days", "5s!"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration like 30d, 6h, 1d12h, 90s or 500ms"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(days=30), "30d"),
        (timedelta(hours=6), "6h"),
        (timedelta(days=1, hours=12), "1d12h"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(milliseconds=500), "500ms"),
        (timedelta(days=400, seconds=1, milliseconds=1), "400d1s1ms"),
    ],
)
def test_format_duration(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@pytest.mark.parametrize(
    "value",
    [
        timedelta(0),
        timedelta(milliseconds=1),
        timedelta(milliseconds=999),
        timedelta(seconds=1, milliseconds=1),
        timedelta(seconds=59),
        timedelta(minutes=61),
        timedelta(hours=23, minutes=59, seconds=59, milliseconds=999),
        timedelta(days=30),
        timedelta(days=90),
        timedelta(days=3650, hours=1),
    ],
)
def test_format_then_parse_round_trips(value: timedelta) -> None:
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize("text", ["30d", "6h", "1d12h", "1m30s", "500ms", "2h5m", "1d1h1m1s1ms"])
def test_parse_then_format_round_trips(text: str) -> None:
    assert format_duration(parse_duration(text)) == text


def test_the_default_policy_is_the_seeds() -> None:
    policy = Policy()
    assert policy.cancellation_delay == timedelta(days=30)
    assert policy.auto_deploy == AutoDeployPolicy(every=timedelta(hours=6), offset=timedelta(hours=2))
    assert policy.retention == timedelta(days=90)
    assert policy.base_product == "base"
    assert policy.billing.invoice_lead_time == timedelta(days=14)
    assert (policy.billing.expired_after, policy.billing.discontinued_after) == (timedelta(days=1), timedelta(days=30))


def test_the_policy_is_written_and_read_with_duration_strings() -> None:
    policy = Policy.model_validate(
        {"cancellationDelay": "2m", "autoDeploy": {"every": "10s", "offset": "3s"}, "retention": "90s"}
    )
    assert policy.cancellation_delay == timedelta(minutes=2)
    assert policy.auto_deploy.every == timedelta(seconds=10)
    dumped = policy.model_dump(by_alias=True)
    assert dumped == {
        "cancellationDelay": "2m",
        "autoDeploy": {"every": "10s", "offset": "3s"},
        "businessTimeZone": "UTC",
        "retention": "1m30s",
        "baseProduct": "base",
        "dns": {
            "verify": True,
            "nameservers": [],
            "timeout": "5s",
            "recheckInitial": "1m",
            "recheckMax": "1h",
            "verificationRecord": "_seppmail-verification",
            "mxGateways": ["mx1.seppmail.cloud", "mx2.seppmail.cloud"],
        },
        "mail": {
            "retryInitial": "1m",
            "retryMax": "1h",
            "partnerActionsTo": ["partner"],
            "customerNoticesTo": ["tenant"],
        },
        "license": {
            "minimumGrace": "30d",
            "graceBySource": {"clp": None, "lmp": "45d", "manual": None},
            "freeze": "30d",
            "remindersFull": ["30d", "14d", "7d", "1d"],
            "remindersTrial": ["7d", "3d", "1d"],
            "mxChangeNotice": "2d",
        },
        "deployRequests": {"waitForChecks": "2m", "ttlAfterCompleted": "1d"},
        "billing": {"invoiceLeadTime": "14d", "expiredAfter": "1d", "discontinuedAfter": "30d", "currency": "CHF"},
    }
    assert Policy.model_validate(dumped) == policy


def test_a_bad_policy_duration_is_refused() -> None:
    with pytest.raises(ValidationError, match="'soon' is not a duration"):
        Policy.model_validate({"cancellationDelay": "soon"})


def test_unknown_policy_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        Policy.model_validate({"cancelationDelay": "30d"})


@pytest.mark.parametrize(
    "policy",
    [
        {"autoDeploy": {"every": "0s"}},
        {"autoDeploy": {"every": -5}},
        {"cancellationDelay": -1},
        {"retention": -3600},
    ],
    ids=["zero-window-period", "negative-window-period", "negative-delay", "negative-retention"],
)
def test_zero_or_negative_policy_durations_are_refused(policy: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Policy.model_validate(policy)


def test_the_demo_policy_of_make_run_loads() -> None:
    from pathlib import Path

    demo = Policy.load(Path(__file__).resolve().parents[3] / "manifests" / "demo-policy.yaml")
    assert demo.auto_deploy.every == timedelta(minutes=1)
    assert demo.dns.verify
