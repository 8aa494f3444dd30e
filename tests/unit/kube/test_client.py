"""The client's choices that need no server: which environments keep aiohttp's per-request proxy
and .netrc lookups, and how long a 429 waits."""

from __future__ import annotations

import pytest
from kubernetes_asyncio.client.exceptions import ApiException

from seppmail_lifecycle.kube.client import MAX_RETRY_AFTER, proxy_configured, retry_after


@pytest.mark.parametrize(
    ("environ", "configured"),
    [
        ({}, False),
        ({"PATH": "/usr/bin", "HOME": "/root"}, False),
        ({"HTTPS_PROXY": "http://proxy:3128"}, True),
        ({"https_proxy": "http://proxy:3128"}, True),
        ({"HTTP_PROXY": "http://proxy:3128"}, True),
        ({"ALL_PROXY": "socks5://proxy:1080"}, True),
        ({"NETRC": "/etc/netrc"}, True),
        ({"HTTPS_PROXY": ""}, False),
        ({"NO_PROXY": "10.0.0.0/8"}, False),
    ],
)
def test_proxy_configured(environ: dict[str, str], configured: bool) -> None:
    assert proxy_configured(environ) is configured


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"Retry-After": "0.5"}, 0.5),
        ({}, 1.0),
        (None, 1.0),
        ({"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}, 1.0),
        ({"Retry-After": "600"}, MAX_RETRY_AFTER),
        ({"Retry-After": "-4"}, 0.0),
    ],
)
def test_a_429_waits_what_its_retry_after_says_within_bounds(headers: dict[str, str] | None, seconds: float) -> None:
    error = ApiException(status=429, reason="Too Many Requests")
    error.headers = headers
    assert retry_after(error) == seconds
