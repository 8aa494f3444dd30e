"""The demo's own servers for ``make run``, on loopback: a DNS zone the partner's records are set
in (``kubectl lifecycle demo dns``), and a mail drop whose mails a person can read.

``DnsServer`` answers from a thread-safe zone (TXT, MX; unknown names NXDOMAIN; names marked with
``fail`` SERVFAIL) that code changes at will or that ``follow`` keeps equal to a JSON file
(``{"name": {"TXT": [...], "MX": ["10 mx.example"]}}``, the file the demo command writes).
``MailDrop`` accepts every mail and writes it to a directory as an ``.eml`` file, with a line on
stderr. The tests' servers are these too (``tests/servers.py``).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from dnslib import MX, QTYPE, RCODE, RR, TXT, DNSError, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer

LOOPBACK = "127.0.0.1"


def name_key(name: str) -> str:
    """A DNS (or mail) domain name as compared: lowercase, no trailing dot."""
    return name.strip().rstrip(".").lower()


# --------------------------------------------------------------------------------------------- DNS


class _ZoneResolver(BaseResolver):  # type: ignore[misc]
    """Answers from a zone of name -> {"TXT": [...], "MX": [...]}; unknown names: NXDOMAIN."""

    def __init__(self, ttl: int = 1) -> None:
        self.ttl = ttl
        self.lock = threading.Lock()
        self.records: dict[str, dict[str, tuple[str, ...]]] = {}
        self.failing: set[str] = set()
        self.silent = False
        self.queries: list[tuple[str, str]] = []
        self.followed: Path | None = None
        self._seen: float | None = None

    def reload(self) -> None:
        """The followed zone file's records, when it changed (called with the lock held)."""
        if self.followed is None:
            return
        try:
            changed = self.followed.stat().st_mtime_ns
        except FileNotFoundError:
            return
        if changed == self._seen:
            return
        zone = json.loads(self.followed.read_text() or "{}")
        self.records = {name_key(name): {t: tuple(v) for t, v in types.items()} for name, types in zone.items()}
        self._seen = changed

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        reply = request.reply()
        qname = request.q.qname
        name = name_key(str(qname))
        qtype = QTYPE[request.q.qtype]
        with self.lock:
            self.reload()
            self.queries.append((name, qtype))
            if self.silent:  # dnslib sends no reply: the client times out
                raise DNSError(f"not answering {name} {qtype} (silenced)")
            if name in self.failing:
                reply.header.rcode = RCODE.SERVFAIL
                return reply
            records = self.records.get(name)
            if records is None:
                reply.header.rcode = RCODE.NXDOMAIN
                return reply
            values = records.get(qtype, ())
        for value in values:
            if qtype == "TXT":
                data = value.encode("utf-8")
                chunks = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
                reply.add_answer(RR(qname, QTYPE.TXT, ttl=self.ttl, rdata=TXT(chunks)))
            else:
                preference, _, exchange = value.partition(" ")
                reply.add_answer(RR(qname, QTYPE.MX, ttl=self.ttl, rdata=MX(exchange, int(preference))))
        return reply


class DnsServer:
    """An authoritative-looking UDP DNS server on 127.0.0.1 with a zone tests change at will."""

    def __init__(self, port: int = 0) -> None:
        self._resolver = _ZoneResolver()
        self._requested_port = port
        self._server: DNSServer | None = None

    # zone ------------------------------------------------------------------------------------

    def set_txt(self, name: str, *values: str) -> None:
        """Replace the TXT records of ``name`` (each value one record; long values are split)."""
        self._set(name, "TXT", values)

    def set_mx(self, name: str, *exchanges: str) -> None:
        """Replace the MX records of ``name``: ``"mx.example.com"`` or ``"10 mx.example.com"``."""
        normalised = []
        for index, exchange in enumerate(exchanges):
            parts = exchange.split()
            if len(parts) == 2 and parts[0].isdigit():
                normalised.append(f"{parts[0]} {parts[1]}")
            else:
                normalised.append(f"{10 * (index + 1)} {exchange.strip()}")
        self._set(name, "MX", tuple(normalised))

    def remove(self, name: str, rdtype: str | None = None) -> None:
        """Forget one type of ``name`` (it then answers NOERROR, no data), or the whole name (NXDOMAIN)."""
        key = name_key(name)
        with self._resolver.lock:
            self._resolver.failing.discard(key)
            if rdtype is None:
                self._resolver.records.pop(key, None)
            elif key in self._resolver.records:
                self._resolver.records[key].pop(rdtype.upper(), None)

    def fail(self, name: str) -> None:
        """Answer SERVFAIL for ``name`` until ``remove(name)`` or ``clear()``."""
        with self._resolver.lock:
            self._resolver.failing.add(name_key(name))

    def silence(self, silent: bool = True) -> None:
        """Answer nothing at all (every query times out) until ``silence(False)``: an outage."""
        with self._resolver.lock:
            self._resolver.silent = silent

    def clear(self) -> None:
        """Empty the zone and the query log."""
        with self._resolver.lock:
            self._resolver.records.clear()
            self._resolver.failing.clear()
            self._resolver.queries.clear()

    @property
    def queries(self) -> list[tuple[str, str]]:
        """Every (name, type) asked so far, oldest first (a copy)."""
        with self._resolver.lock:
            return list(self._resolver.queries)

    def follow(self, path: Path) -> DnsServer:
        """Answer from the JSON zone file ``path`` from now on, re-read whenever it changes."""
        with self._resolver.lock:
            self._resolver.followed = path
            self._resolver.reload()
        return self

    def _set(self, name: str, rdtype: str, values: tuple[str, ...]) -> None:
        key = name_key(name)
        with self._resolver.lock:
            self._resolver.failing.discard(key)
            self._resolver.records.setdefault(key, {})[rdtype] = tuple(values)

    # lifecycle -------------------------------------------------------------------------------

    def start(self) -> DnsServer:
        if self._server is not None:
            return self
        quiet = DNSLogger(logf=lambda *_: None)
        self._server = DNSServer(self._resolver, address=LOOPBACK, port=self._requested_port, logger=quiet)
        self._server.start_thread()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.stop()
        self._server.server.server_close()
        self._server.thread.join(timeout=5)
        self._server = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("DnsServer is not running")
        return int(self._server.server.server_address[1])

    @property
    def address(self) -> str:
        """``"127.0.0.1:<port>"``, the form the operator's nameserver setting takes."""
        return f"{LOOPBACK}:{self.port}"

    def __enter__(self) -> DnsServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


class PortController(Controller):
    """aiosmtpd's Controller bound to port 0: learns the real port before its self-test connection."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        sockets: Any = getattr(self.server, "sockets")  # noqa: B009  (an asyncio.Server; typed as AbstractServer)
        self.port = sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class _DropHandler:
    def __init__(self, drop: MailDrop) -> None:
        self._drop = drop

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
        self._drop.received(data, tuple(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class MailDrop:
    """An SMTP server on 127.0.0.1 that writes every mail to ``directory`` (``0001-<subject>.eml``,
    readable with any mail program or a text editor) and says so in a line on ``log``."""

    def __init__(self, directory: Path, log: Callable[[str], None] | None = None) -> None:
        self.directory = directory
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self._controller: PortController | None = None
        self._lock = threading.Lock()
        self._count = len(list(directory.glob("*.eml"))) if directory.exists() else 0

    def received(self, data: bytes, recipients: tuple[str, ...]) -> Path:
        message = BytesParser(policy=policy.default).parsebytes(data)
        subject = " ".join(str(message["Subject"] or "").split())  # unfolded
        slug = "".join(c if c.isalnum() else "-" for c in subject.lower())[:60].strip("-")
        with self._lock:
            self._count += 1
            path = self.directory / f"{self._count:04d}-{slug or 'mail'}.eml"
        self.directory.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.log(f"[mail] to {', '.join(recipients)}: {subject} ({path})")
        return path

    def start(self) -> MailDrop:
        if self._controller is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            controller = PortController(_DropHandler(self), hostname=LOOPBACK, port=0)
            controller.start()
            self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def port(self) -> int:
        if self._controller is None:
            raise RuntimeError("MailDrop is not running")
        return int(self._controller.port)


def zone_path(state_dir: Path) -> Path:
    """Where ``make run``'s demo zone lives (``kubectl lifecycle demo dns`` writes it)."""
    return state_dir / "dns" / "zone.json"
