"""Real servers for tests, on free loopback ports: a DNS server (dnslib) and an SMTP sink (aiosmtpd).

``DnsServer`` (the one ``make run``'s demo zone uses, from ``devcluster.demo``) answers from a
mutable, thread-safe zone (TXT, MX; unknown names: NXDOMAIN; names marked with ``fail``:
SERVFAIL). ``MailSink`` keeps every message it receives, parsed, with its envelope.
``self_signed_tls`` makes a server context and a client context that trusts it, for STARTTLS. The
``dns_server`` and ``mail_sink`` fixtures run one of each per test session.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from seppmail_lifecycle.devcluster.demo import LOOPBACK, DnsServer, PortController, name_key

KEY_HEADER = "X-Seppmail-Lifecycle-Key"


# -------------------------------------------------------------------------------------------- SMTP


@dataclass(frozen=True)
class ReceivedMail:
    """One delivered message with its envelope; ``mail["Subject"]`` reads the message's headers."""

    message: EmailMessage
    envelope_from: str
    envelope_to: tuple[str, ...]
    login: str | None = None

    def __getitem__(self, header: str) -> Any:
        return self.message[header]

    @property
    def key(self) -> str | None:
        value = self.message[KEY_HEADER]
        # A long header is folded on the wire; unfolding leaves the fold's whitespace.
        return None if value is None else str(value).strip()

    @property
    def text(self) -> str:
        """The text/plain part (line ends normalised to ``\\n``)."""
        return self._part("plain")

    @property
    def html(self) -> str:
        """The text/html part (line ends normalised to ``\\n``)."""
        return self._part("html")

    def _part(self, subtype: str) -> str:
        part = self.message.get_body(preferencelist=(subtype,))
        if part is None or part.get_content_subtype() != subtype:
            raise AssertionError(f"message {self.key!r} has no text/{subtype} part")
        return str(part.get_content()).replace("\r\n", "\n")


class _SinkHandler:
    def __init__(self, sink: MailSink) -> None:
        self._sink = sink

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if name_key(address.rpartition("@")[2]) in self._sink.refuse_domains:
            return "550 5.1.1 recipient refused by the test sink"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
        message = BytesParser(policy=policy.default).parsebytes(data)
        assert isinstance(message, EmailMessage)
        auth = session.auth_data
        login_name = auth.login.decode("utf-8") if isinstance(auth, LoginPassword) else None
        self._sink._received(
            ReceivedMail(
                message=message,
                envelope_from=str(envelope.mail_from),
                envelope_to=tuple(envelope.rcpt_tos),
                login=login_name,
            )
        )
        return "250 Message accepted for delivery"


class MailSink:
    """An SMTP server on 127.0.0.1 that accepts and keeps every message.

    ``tls_context`` enables STARTTLS (and requires it); ``credentials`` (user -> password) enables
    AUTH PLAIN/LOGIN and requires it. ``refuse_domains`` makes RCPT TO fail for those domains.
    """

    def __init__(
        self,
        tls_context: ssl.SSLContext | None = None,
        credentials: Mapping[str, str] | None = None,
    ) -> None:
        self._tls_context = tls_context
        self._credentials = dict(credentials or {})
        self._condition = threading.Condition()
        self._messages: list[ReceivedMail] = []
        self._controller: PortController | None = None
        self._port = 0  # once started, restarts bind the same port (the operator keeps its address)
        self.refuse_domains: set[str] = set()

    def start(self) -> MailSink:
        if self._controller is not None:
            return self
        kwargs: dict[str, Any] = {}
        if self._tls_context is not None:
            kwargs.update(tls_context=self._tls_context, require_starttls=True)
        if self._credentials:
            kwargs.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=self._tls_context is not None,
            )
        controller = PortController(
            _SinkHandler(self), hostname=LOOPBACK, port=self._port, server_hostname="mail-sink.test", **kwargs
        )
        controller.start()
        self._controller = controller
        self._port = int(controller.port)
        return self

    @contextlib.contextmanager
    def outage(self) -> Iterator[None]:
        """The server down (connections refused) for the ``with`` block, then up again on its port."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def stop(self) -> None:
        if self._controller is None:
            return
        self._controller.stop()
        self._controller = None

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def port(self) -> int:
        if self._controller is None:
            raise RuntimeError("MailSink is not running")
        return int(self._controller.port)

    @property
    def messages(self) -> list[ReceivedMail]:
        """Every message received so far, oldest first (a copy)."""
        with self._condition:
            return list(self._messages)

    def with_key(self, key: str) -> list[ReceivedMail]:
        """The messages whose ``X-Seppmail-Lifecycle-Key`` is ``key``."""
        return [mail for mail in self.messages if mail.key == key]

    def wait_for(
        self, count: int, timeout: float = 10.0, key: str | None = None, key_prefix: str | None = None
    ) -> list[ReceivedMail]:
        """Block until at least ``count`` messages (with ``key``, or a key starting with
        ``key_prefix``, if given) arrived; return them.

        Raises ``TimeoutError`` saying what did arrive. Blocks the calling thread only: the sink
        runs on its own thread, but do not call this from the event loop that has to send.
        """
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                found = self._select(key, key_prefix)
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(self._shortfall(count, key or key_prefix, found))
                self._condition.wait(remaining)

    async def wait_for_async(self, count: int, timeout: float = 10.0, key: str | None = None) -> list[ReceivedMail]:  # noqa: ASYNC109
        """``wait_for`` for async tests: polls without blocking the event loop."""
        deadline = time.monotonic() + timeout
        while True:
            with self._condition:
                found = self._select(key)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(self._shortfall(count, key, found))
            await asyncio.sleep(0.02)

    def clear(self) -> None:
        with self._condition:
            self._messages.clear()
        self.refuse_domains.clear()

    def _select(self, key: str | None, key_prefix: str | None = None) -> list[ReceivedMail]:
        return [
            mail
            for mail in self._messages
            if (key is None or mail.key == key) and (key_prefix is None or (mail.key or "").startswith(key_prefix))
        ]

    def _shortfall(self, count: int, key: str | None, found: list[ReceivedMail]) -> str:
        what = "messages" if key is None else f"messages with key {key!r}"
        keys = [mail.key for mail in self._messages]
        return f"expected {count} {what}, got {len(found)}; all received keys: {keys}"

    def _received(self, mail: ReceivedMail) -> None:
        with self._condition:
            self._messages.append(mail)
            self._condition.notify_all()

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user = auth_data.login.decode("utf-8")
            if self._credentials.get(user) == auth_data.password.decode("utf-8"):
                return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------- TLS


def self_signed_tls(hostname: str = "localhost") -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting it) for a fresh self-signed cert for ``hostname``
    and 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    public_key = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(hostname), x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as tmp:  # load_cert_chain reads files only
        cert_file, key_file = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(key_pem)
        server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=cert_pem.decode("ascii"))
    return server, client


# ---------------------------------------------------------------------------------------- fixtures


def _started(factory: Callable[[], Any]) -> Iterator[Any]:
    server = factory().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def dns_server() -> Iterator[DnsServer]:
    """One DNS server for the session; tests use names of their own (or ``clear()`` it)."""
    yield from _started(DnsServer)


@pytest.fixture(scope="session")
def mail_sink() -> Iterator[MailSink]:
    """One SMTP sink for the session; tests filter by key (``with_key``) or ``clear()`` it."""
    yield from _started(MailSink)
