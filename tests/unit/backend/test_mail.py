"""Notification mail: the message format, and delivery to a real SMTP server on loopback."""

from __future__ import annotations

import socket
import ssl
import time
import uuid
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from seppmail_lifecycle.backend.mail import KEY_HEADER, Mail, MailError, SmtpSettings, build_message, send
from tests.servers import MailSink, mail_sink, self_signed_tls

__all__ = ["mail_sink"]  # the session fixture, until tests/conftest.py imports it


def a_mail(key: str | None = None, to: tuple[str, ...] = ("ops@acme.example", "it@acme.example")) -> Mail:
    return Mail(
        key=key or f"test/{uuid.uuid4().hex}",
        to=to,
        subject="acme.example is live on seppmail.cloud",
        text="Hello,\n\nacme.example is live.\n",
        html="<p>Hello,</p><p><strong>acme.example</strong> is live.</p>",
    )


def settings_for(sink: MailSink, **overrides: Any) -> SmtpSettings:
    return SmtpSettings(host=sink.host, port=sink.port, timeout=5.0, **overrides)


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ------------------------------------------------------------------------------------ build_message


def test_build_message_headers_and_parts() -> None:
    settings = SmtpSettings(host="smtp.example")
    mail = a_mail(key="dns-action/acme/acme-ch/TXT/1")
    message = build_message(settings, mail)

    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("seppmail.cloud", "noreply@seppmail.cloud")
    assert message["To"] == "ops@acme.example, it@acme.example"
    assert message["Subject"] == mail.subject
    assert parsedate_to_datetime(str(message["Date"])).tzinfo is not None
    assert message[KEY_HEADER] == "dns-action/acme/acme-ch/TXT/1"
    assert KEY_HEADER == "X-Seppmail-Lifecycle-Key"
    message_id = str(message["Message-ID"])
    assert message_id.startswith("<")
    assert message_id.endswith("@seppmail-lifecycle>")
    assert len(message_id) == len("<@seppmail-lifecycle>") + 32

    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert parts[0].get_content() == mail.text
    assert parts[1].get_content().rstrip("\n") == mail.html


def test_message_id_is_stable_per_key_and_distinct_across_keys() -> None:
    settings = SmtpSettings(host="smtp.example")
    first = build_message(settings, a_mail(key="k-1"))["Message-ID"]
    again = build_message(SmtpSettings(host="other.example", sender="x <x@y.example>"), a_mail(key="k-1"))
    other = build_message(settings, a_mail(key="k-2"))["Message-ID"]
    assert first == again["Message-ID"]
    assert first != other


def test_from_env_reads_the_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_USERNAME", "relay-user")
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret")
    settings = SmtpSettings.from_env("smtp.example", 587, True, "Ops <ops@seppmail.cloud>")
    assert settings == SmtpSettings(
        host="smtp.example",
        port=587,
        starttls=True,
        username="relay-user",
        password="s3cret",
        sender="Ops <ops@seppmail.cloud>",
    )
    assert "s3cret" not in repr(settings)

    monkeypatch.delenv("SMTP_USERNAME")
    monkeypatch.setenv("SMTP_PASSWORD", "")
    anonymous = SmtpSettings.from_env("smtp.example", 25, False, "Ops <ops@seppmail.cloud>")
    assert anonymous.username is None
    assert anonymous.password is None


# ------------------------------------------------------------------------------------------- send


async def test_send_delivers_exactly_one_message_with_both_parts(mail_sink: MailSink) -> None:
    mail = a_mail()
    await send(settings_for(mail_sink), mail)

    [received] = await mail_sink.wait_for_async(1, key=mail.key)
    assert received.envelope_from == "noreply@seppmail.cloud"
    assert received.envelope_to == mail.to
    assert received["Subject"] == mail.subject
    assert received["Message-ID"] == build_message(settings_for(mail_sink), mail)["Message-ID"]
    assert received.message.get_content_type() == "multipart/alternative"
    assert received.text == mail.text
    assert received.html.rstrip("\n") == mail.html
    assert len(mail_sink.with_key(mail.key)) == 1


async def test_send_to_a_closed_port_fails_quickly() -> None:
    port = closed_port()
    started = time.monotonic()
    with pytest.raises(MailError, match=rf"127\.0\.0\.1:{port}.*refused"):
        await send(SmtpSettings(host="127.0.0.1", port=port, timeout=5.0), a_mail())
    assert time.monotonic() - started < 2.0


async def test_send_raises_when_every_recipient_is_refused(mail_sink: MailSink) -> None:
    mail = a_mail(to=("someone@refused.example",))
    mail_sink.refuse_domains.add("refused.example")
    try:
        with pytest.raises(MailError, match=r"refused every recipient.*someone@refused\.example.*550"):
            await send(settings_for(mail_sink), mail)
    finally:
        mail_sink.refuse_domains.discard("refused.example")
    assert mail_sink.with_key(mail.key) == []


async def test_send_raises_when_some_recipients_are_refused(mail_sink: MailSink) -> None:
    mail = a_mail(to=("ok@accepted.example", "no@partly-refused.example"))
    mail_sink.refuse_domains.add("partly-refused.example")
    try:
        with pytest.raises(MailError, match=r"refused no@partly-refused\.example"):
            await send(settings_for(mail_sink), mail)
    finally:
        mail_sink.refuse_domains.discard("partly-refused.example")
    [received] = mail_sink.with_key(mail.key)
    assert received.envelope_to == ("ok@accepted.example",)


async def test_send_times_out_against_a_silent_server() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:  # accepts, never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(MailError, match=r"timed out after 0\.5s"):
            await send(SmtpSettings(host="127.0.0.1", port=port, timeout=0.5), a_mail())
        assert time.monotonic() - started < 3.0


async def test_malformed_mail_is_a_mail_error(mail_sink: MailSink) -> None:
    with pytest.raises(MailError, match="no recipients"):
        await send(settings_for(mail_sink), a_mail(to=()))


# --------------------------------------------------------------------------------- STARTTLS, LOGIN


@pytest.fixture(scope="module")
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    return self_signed_tls()


@pytest.fixture(scope="module")
def tls_sink(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> Iterator[MailSink]:
    server_context, _ = tls
    with MailSink(tls_context=server_context, credentials={"relay-user": "s3cret"}) as sink:
        yield sink


async def test_starttls_and_login(tls_sink: MailSink, tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    _, client_context = tls
    mail = a_mail()
    settings = settings_for(
        tls_sink, starttls=True, ssl_context=client_context, username="relay-user", password="s3cret"
    )
    await send(settings, mail)
    [received] = await tls_sink.wait_for_async(1, key=mail.key)
    assert received.login == "relay-user"
    assert received.text == mail.text


async def test_starttls_with_an_untrusted_certificate_fails(tls_sink: MailSink) -> None:
    settings = settings_for(tls_sink, starttls=True, username="relay-user", password="s3cret")
    with pytest.raises(MailError, match=r"STARTTLS.*CERTIFICATE_VERIFY_FAILED"):
        await send(settings, a_mail())


async def test_wrong_password_fails(tls_sink: MailSink, tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    settings = settings_for(tls_sink, starttls=True, ssl_context=tls[1], username="relay-user", password="wrong")
    with pytest.raises(MailError, match=r"LOGIN.*535"):
        await send(settings, a_mail())


async def test_server_requiring_starttls_refuses_plain_delivery(tls_sink: MailSink) -> None:
    with pytest.raises(MailError, match="STARTTLS"):
        await send(settings_for(tls_sink), a_mail())
