"""Notification mail over SMTP: the message format and the one function that sends it.

Every mail carries its idempotency key twice: as ``X-Seppmail-Lifecycle-Key`` and hashed into a
stable ``Message-ID``, so receivers (and tests) can deduplicate. Deciding whether a key was already
sent is the caller's job; this module only builds and delivers. Sending uses the standard library's
smtplib in a worker thread (EHLO, optional STARTTLS, optional LOGIN); every failure is a
``MailError`` with a message that says what went wrong and where.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate

KEY_HEADER = "X-Seppmail-Lifecycle-Key"
MESSAGE_ID_DOMAIN = "seppmail-lifecycle"


@dataclass(frozen=True)
class Mail:
    """One notification: ``key`` identifies it for its whole life (one key, one mail)."""

    key: str
    to: tuple[str, ...]
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to deliver. ``ssl_context`` overrides the default context for STARTTLS."""

    host: str
    port: int = 25
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "seppmail.cloud <noreply@seppmail.cloud>"
    timeout: float = 10.0
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_env(
        cls,
        host: str,
        port: int = 25,
        starttls: bool = False,
        sender: str = "seppmail.cloud <noreply@seppmail.cloud>",
    ) -> SmtpSettings:
        """Settings with the credentials from ``SMTP_USERNAME`` / ``SMTP_PASSWORD`` (empty: none)."""
        return cls(
            host=host,
            port=port,
            starttls=starttls,
            username=os.environ.get("SMTP_USERNAME") or None,
            password=os.environ.get("SMTP_PASSWORD") or None,
            sender=sender,
        )


class MailError(Exception):
    """A mail could not be delivered (or, as PartialDelivery, not to every recipient)."""


class PartialDelivery(MailError):
    """Delivered to some recipients and refused for others: sent, and never to be sent again."""


def message_id(key: str) -> str:
    """The stable Message-ID of the mail with idempotency key ``key``."""
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}@{MESSAGE_ID_DOMAIN}>"


def build_message(settings: SmtpSettings, mail: Mail) -> EmailMessage:
    """The multipart/alternative (text, then HTML) message; ``ValueError`` on malformed headers."""
    if not mail.to:
        raise ValueError(f"mail {mail.key!r} has no recipients")
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(mail.to)
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id(mail.key)
    message[KEY_HEADER] = mail.key
    message.set_content(mail.text, subtype="plain", charset="utf-8")
    message.add_alternative(mail.html, subtype="html", charset="utf-8")
    return message


async def send(settings: SmtpSettings, mail: Mail) -> None:
    """Deliver ``mail``; raises ``MailError`` unless every recipient was accepted."""
    try:
        message = build_message(settings, mail)
    except (ValueError, TypeError) as exc:
        raise MailError(f"mail {mail.key!r} is malformed: {exc}") from exc
    await asyncio.to_thread(_send_blocking, settings, mail, message)


def _send_blocking(settings: SmtpSettings, mail: Mail, message: EmailMessage) -> None:
    where = f"{settings.host}:{settings.port}"
    step = "connect"
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            step = "EHLO"
            smtp.ehlo()
            if settings.starttls:
                step = "STARTTLS"
                smtp.starttls(context=settings.ssl_context or ssl.create_default_context())
                smtp.ehlo()
            if settings.username:
                step = "LOGIN"
                smtp.login(settings.username, settings.password or "")
            step = "send"
            refused = smtp.send_message(message, to_addrs=list(mail.to))
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailError(f"SMTP {where} refused every recipient of {mail.key!r}: {_refusals(exc.recipients)}") from exc
    except smtplib.SMTPResponseException as exc:
        reply = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        raise MailError(f"SMTP {where} failed at {step} for {mail.key!r}: {exc.smtp_code} {reply}") from exc
    except (smtplib.SMTPException, OSError) as exc:
        if _timed_out(exc):
            raise MailError(f"SMTP {where} timed out after {settings.timeout:g}s at {step} for {mail.key!r}") from exc
        detail = str(exc) or type(exc).__name__
        raise MailError(f"SMTP {where} failed at {step} for {mail.key!r}: {detail}") from exc
    if refused:
        raise PartialDelivery(
            f"SMTP {where} accepted {mail.key!r} for some recipients but refused {_refusals(refused)}; "
            "the accepted ones received it"
        )


def _timed_out(exc: BaseException) -> bool:
    """A socket timeout, or smtplib's SMTPServerDisconnected raised while handling one."""
    seen: BaseException | None = exc
    for _ in range(8):  # a short chain; never follow a cycle forever
        if seen is None:
            return False
        if isinstance(seen, TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _refusals(recipients: dict[str, tuple[int, bytes]]) -> str:
    return ", ".join(
        f"{address} ({code} {reply.decode('utf-8', 'replace')})"
        for address, (code, reply) in sorted(recipients.items())
    )
