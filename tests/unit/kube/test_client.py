"""Which environments keep aiohttp's per-request proxy and .netrc lookups."""

from __future__ import annotations

import pytest

from seppmail_lifecycle.kube.client import proxy_configured


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
