"""The routing config as the ConfigMap the mail gateways read: written and read back unchanged."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from seppmail_lifecycle.backend.routing_configmap import from_configmap, to_configmap
from seppmail_lifecycle.core.routing import RoutedService, RoutingConfig


@dataclass(frozen=True)
class Owner:
    namespace: str = "partner-a"
    name: str = "acme-com"
    uid: str = "uid-1"


CONFIGS = [
    RoutingConfig("acme", "acme-com", "acme.com", True, None, (RoutedService("acme-base", "base"),)),
    RoutingConfig(
        "acme",
        "acme-com",
        "acme.com",
        False,
        "gina.acme.com",
        (
            RoutedService("acme-base", "base", "license-frozen"),
            RoutedService("acme-sig", "sig-only", "misuse"),
            RoutedService("acme-enc", "sig-enc"),
        ),
        confidential=True,
    ),
]


@pytest.mark.parametrize("config", CONFIGS, ids=["plain", "limited"])
def test_a_routing_config_reads_back_as_written(config: RoutingConfig) -> None:
    assert from_configmap(to_configmap(Owner(), config)) == config


def test_suspended_services_are_listed_as_limited_with_their_reason() -> None:
    data = to_configmap(Owner(), CONFIGS[1])["data"]
    assert data["services"] == "acme-base=base\nacme-sig=sig-only\nacme-enc=sig-enc\n"
    assert data["limited"] == "acme-base=license-frozen\nacme-sig=misuse\n"
    assert to_configmap(Owner(), CONFIGS[0])["data"]["limited"] == ""


def test_a_confidential_domain_says_so_to_the_gateways() -> None:
    assert to_configmap(Owner(), CONFIGS[1])["data"]["confidential"] == "true"
    assert to_configmap(Owner(), CONFIGS[0])["data"]["confidential"] == "false"
