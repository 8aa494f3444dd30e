"""DNS lookups of partners' records (the TXT ownership record and the MX records).

This module owns the one place the operator asks DNS: a real resolver (dnspython) against the
configured nameservers, or the system resolver when none are configured. It normalises answers
(TXT: the decoded, concatenated character-strings; MX: the exchange host, lowercase, without the
trailing dot, or "." for a null MX), sorted and without duplicates so that answers compare equal
whatever order the server sent, and turns resolver failures into data: a name that does not exist
or has no record of the type is an empty answer, not an error; timeouts, SERVFAIL and unreachable
nameservers are an empty answer with ``error`` set. No search domains: every name is absolute.

``DnsAnswer`` is the pure core's type (``core.verification``), re-exported here: the core decides
on answers, this module produces them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdtypes.ANY.MX
import dns.rdtypes.ANY.TXT
import dns.resolver

from seppmail_lifecycle.core.verification import DnsAnswer, RecordType

__all__ = ["DEFAULT_PORT", "DnsAnswer", "DnsResolver", "RecordType", "parse_nameserver"]

DEFAULT_PORT = 53


def parse_nameserver(spec: str) -> tuple[str, int]:
    """``"ip"``, ``"ip:port"``, ``"[ipv6]:port"`` or a bare IPv6 address -> (address, port).

    Raises ``ValueError`` naming the spec when the address is not an IP address or the port is bad.
    """
    text = spec.strip()
    port_text: str | None = None
    if text.startswith("["):
        address, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"invalid nameserver {spec!r}: expected [ipv6]:port")
        port_text = rest[1:] if rest else None
    elif text.count(":") == 1:
        address, _, port_text = text.partition(":")
    else:
        address = text
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise ValueError(f"invalid nameserver {spec!r}: {address!r} is not an IP address") from None
    port = DEFAULT_PORT
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"invalid nameserver {spec!r}: bad port {port_text!r}")
        port = int(port_text)
    return address, port


class DnsResolver:
    """Looks up TXT and MX records against ``nameservers`` (empty: /etc/resolv.conf).

    Each lookup takes at most ``timeout`` seconds in total. Invalid nameserver specs raise
    ``ValueError`` at construction; a missing system resolver configuration is reported as the
    ``error`` of every lookup.
    """

    def __init__(self, nameservers: Sequence[str], timeout: float) -> None:
        if timeout <= 0:
            raise ValueError(f"DNS timeout must be positive, got {timeout}")
        self.timeout = timeout
        self._config_error: str | None = None
        parsed = [parse_nameserver(spec) for spec in nameservers]
        if parsed:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [dns.nameserver.Do53Nameserver(address, port) for address, port in parsed]
        else:
            try:
                resolver = dns.asyncresolver.Resolver(configure=True)
            except dns.exception.DNSException as exc:
                resolver = dns.asyncresolver.Resolver(configure=False)
                self._config_error = f"no system resolver configuration: {exc}"
        resolver.search = []
        resolver.domain = dns.name.root
        resolver.use_search_by_default = False
        resolver.ndots = 1
        # Each nameserver gets its share of the lifetime, so a dead first one (UDP to a closed port
        # is silence, not an error) leaves time to ask the next.
        resolver.timeout = timeout / max(1, len(resolver.nameservers))
        resolver.lifetime = timeout
        resolver.cache = None
        self._resolver = resolver

    @property
    def nameservers(self) -> tuple[str, ...]:
        """The nameservers in use, as ``address:port`` (for logs and status messages)."""
        return tuple(_nameserver_text(ns) for ns in self._resolver.nameservers)

    async def lookup(self, name: str, rdtype: RecordType) -> DnsAnswer:
        if self._config_error is not None:
            return DnsAnswer(values=(), error=self._config_error)
        try:
            qname = dns.name.from_text(name.strip().rstrip(".") + ".")
        except dns.exception.DNSException as exc:
            return DnsAnswer(values=(), error=f"invalid name {name!r}: {exc}")
        try:
            answer = await self._resolver.resolve(qname, rdtype, search=False, lifetime=self.timeout)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return DnsAnswer(values=())
        except dns.resolver.LifetimeTimeout:
            return DnsAnswer(values=(), error=f"timed out after {self.timeout:g}s asking {self._servers_text()}")
        except dns.resolver.NoNameservers as exc:
            return DnsAnswer(values=(), error=_no_nameservers_text(exc, self._servers_text()))
        except dns.exception.DNSException as exc:
            return DnsAnswer(values=(), error=f"{type(exc).__name__}: {exc}")
        values: set[str] = set()
        for rdata in answer:
            if isinstance(rdata, dns.rdtypes.ANY.TXT.TXT):
                values.add(b"".join(rdata.strings).decode("utf-8", errors="replace"))
            elif isinstance(rdata, dns.rdtypes.ANY.MX.MX):
                # A null MX (RFC 7505, "0 .": the domain accepts no mail) reads as ".".
                exchange = rdata.exchange
                values.add("." if exchange == dns.name.root else exchange.to_text(omit_final_dot=True).lower())
        return DnsAnswer(values=tuple(sorted(values)))

    def _servers_text(self) -> str:
        return ", ".join(self.nameservers) or "no nameserver"


def _nameserver_text(nameserver: object) -> str:
    address = getattr(nameserver, "address", None)
    port = getattr(nameserver, "port", None)
    if isinstance(address, str) and isinstance(port, int):
        return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    return str(nameserver)


def _no_nameservers_text(exc: dns.resolver.NoNameservers, servers: str) -> str:
    """A short reason from dnspython's per-server errors (SERVFAIL, REFUSED, connection refused)."""
    # Each error is (server, tcp, port, exception or rcode text, response) in dnspython 2.x.
    reasons: list[str] = []
    for entry in exc.kwargs.get("errors") or []:
        detail = entry[3] if isinstance(entry, tuple) and len(entry) > 3 else entry
        text = detail if isinstance(detail, str) else (str(detail) or type(detail).__name__)
        if text not in reasons:
            reasons.append(text)
    return f"no nameserver answered ({servers}): {'; '.join(reasons) or 'all failed'}"
