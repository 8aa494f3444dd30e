"""DNS lookups against a real DNS server on loopback: normalisation, empty answers, failures."""

from __future__ import annotations

import socket
import time
import uuid

import pytest

from seppmail_lifecycle.backend.dns import DnsAnswer, DnsResolver, parse_nameserver
from tests.servers import DnsServer, dns_server

__all__ = ["dns_server"]  # the session fixture, until tests/conftest.py imports it


@pytest.fixture
def zone() -> str:
    """A domain of this test's own in the shared DNS server."""
    return f"t{uuid.uuid4().hex[:10]}.example"


@pytest.fixture
def resolver(dns_server: DnsServer) -> DnsResolver:
    return DnsResolver([dns_server.address], timeout=2.0)


def closed_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_txt_found_and_normalised(dns_server: DnsServer, resolver: DnsResolver, zone: str) -> None:
    long_value = "seppmail-verify=" + "a" * 300  # more than one 255-byte character-string
    dns_server.set_txt(f"_seppmail.{zone}", "seppmail-verify=0123abcd", long_value, "v=spf1 -all")

    answer = await resolver.lookup(f"_seppmail.{zone}", "TXT")

    assert answer == DnsAnswer(values=tuple(sorted(["seppmail-verify=0123abcd", long_value, "v=spf1 -all"])))


async def test_names_are_case_insensitive_and_absolute(dns_server: DnsServer, resolver: DnsResolver, zone: str) -> None:
    dns_server.set_txt(zone, "hello")
    assert (await resolver.lookup(zone.upper() + ".", "TXT")).values == ("hello",)
    assert (await resolver.lookup(zone, "TXT")).values == ("hello",)


async def test_mx_found_and_normalised(dns_server: DnsServer, resolver: DnsResolver, zone: str) -> None:
    dns_server.set_mx(zone, "20 MX2.SeppMail.Cloud.", "10 mx1.seppmail.cloud")

    answer = await resolver.lookup(zone, "MX")

    assert answer == DnsAnswer(values=("mx1.seppmail.cloud", "mx2.seppmail.cloud"))


async def test_nxdomain_is_empty_without_error(resolver: DnsResolver, zone: str) -> None:
    assert await resolver.lookup(f"missing.{zone}", "TXT") == DnsAnswer(values=())
    assert await resolver.lookup(f"missing.{zone}", "MX") == DnsAnswer(values=())


async def test_no_answer_is_empty_without_error(dns_server: DnsServer, resolver: DnsResolver, zone: str) -> None:
    dns_server.set_txt(zone, "only a txt record")
    assert await resolver.lookup(zone, "MX") == DnsAnswer(values=())


async def test_records_follow_the_zone(dns_server: DnsServer, resolver: DnsResolver, zone: str) -> None:
    dns_server.set_mx(zone, "mx.old.example")
    assert (await resolver.lookup(zone, "MX")).values == ("mx.old.example",)
    dns_server.set_mx(zone, "mx.new.example")
    assert (await resolver.lookup(zone, "MX")).values == ("mx.new.example",)
    dns_server.remove(zone, "MX")
    assert await resolver.lookup(zone, "MX") == DnsAnswer(values=())
    dns_server.remove(zone)
    assert await resolver.lookup(zone, "MX") == DnsAnswer(values=())


async def test_servfail_is_an_error(dns_server: DnsServer, resolver: DnsResolver, zone: str) -> None:
    dns_server.fail(zone)
    answer = await resolver.lookup(zone, "TXT")
    assert answer.values == ()
    assert answer.error is not None
    assert "SERVFAIL" in answer.error
    assert dns_server.address in answer.error


async def test_unreachable_nameserver_is_an_error() -> None:
    address = f"127.0.0.1:{closed_udp_port()}"
    resolver = DnsResolver([address], timeout=0.5)
    started = time.monotonic()
    answer = await resolver.lookup("example.com", "TXT")
    assert time.monotonic() - started < 2.0
    assert answer.values == ()
    assert answer.error is not None
    assert address in answer.error


async def test_a_second_nameserver_answers_when_the_first_is_down(dns_server: DnsServer, zone: str) -> None:
    dns_server.set_txt(zone, "fallback")
    resolver = DnsResolver([f"127.0.0.1:{closed_udp_port()}", dns_server.address], timeout=1.0)
    assert await resolver.lookup(zone, "TXT") == DnsAnswer(values=("fallback",))


async def test_invalid_name_is_an_error(resolver: DnsResolver) -> None:
    answer = await resolver.lookup("a" * 64 + ".example", "TXT")
    assert answer.values == ()
    assert answer.error is not None
    assert "invalid name" in answer.error


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("192.0.2.1", ("192.0.2.1", 53)),
        ("192.0.2.1:5353", ("192.0.2.1", 5353)),
        ("2001:db8::1", ("2001:db8::1", 53)),
        ("[2001:db8::1]:5353", ("2001:db8::1", 5353)),
        ("[::1]", ("::1", 53)),
    ],
)
def test_parse_nameserver(spec: str, expected: tuple[str, int]) -> None:
    assert parse_nameserver(spec) == expected


@pytest.mark.parametrize("spec", ["ns1.example.com", "192.0.2.1:0", "192.0.2.1:x", "192.0.2.1:70000", "[::1"])
def test_parse_nameserver_rejects(spec: str) -> None:
    with pytest.raises(ValueError, match="invalid nameserver"):
        parse_nameserver(spec)


def test_nameservers_are_reported_with_their_ports(dns_server: DnsServer) -> None:
    resolver = DnsResolver([dns_server.address, "192.0.2.1", "[2001:db8::1]:5353"], timeout=1.0)
    assert resolver.nameservers == (dns_server.address, "192.0.2.1:53", "[2001:db8::1]:5353")
