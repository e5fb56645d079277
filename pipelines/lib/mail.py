"""E-mail of the yearly report: a multipart message, sent by SMTP or written to outbox/ as .eml.

The message carries the report readable in the body (CSS inlined, charts as attachments referenced by
Content-ID so they show without loading remote images), a plain-text part, and the full report as an
attached HTML file (notes/domain.md §5).
"""

from __future__ import annotations

import re
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import css_inline

TRANSIENT_SMTP_ERRORS = (
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
    ConnectionError,
    TimeoutError,
)


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send (spec §11: SSM_SMTP_*); no host means write to the outbox instead."""

    host: str = ""
    port: int = 587
    security: str = "starttls"  # starttls | ssl | none
    user: str = ""
    password: str = ""
    timeout_seconds: float = 30.0


@dataclass(frozen=True)
class SendOutcome:
    """How one message left: sent by SMTP, written to the outbox, or failed (with why)."""

    outcome: str  # sent | written_to_outbox | failed
    detail: str
    attempts: int


def build_report_message(
    *,
    subject: str,
    sender: str,
    recipients: list[str],
    html: str,
    text: str,
    images: dict[str, Path],
    attachment_name: str,
    attachment_html: str,
    message_id: str | None = None,
) -> EmailMessage:
    """Assemble the report e-mail.

    Args:
        subject: the subject line.
        sender: the From address (SSM_MAIL_FROM).
        recipients: the To addresses (SSM_REPORT_RECIPIENTS).
        html: the report HTML whose <img> tags use src="cid:<name>" for each key of images.
        text: the plain-text part.
        images: Content-ID name -> PNG file.
        attachment_name: file name of the attached full report.
        attachment_html: the full report as saved on disk.
        message_id: a fixed Message-ID (so a retried send is recognisably the same message).

    Returns:
        The message: multipart/mixed [multipart/alternative [text, multipart/related [html, images]], report].
    """
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id or make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(text)
    inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False)
    message.add_alternative(inliner.inline(html), subtype="html")
    html_part = message.get_payload()[1]
    for name, path in images.items():
        html_part.add_related(path.read_bytes(), "image", "png", cid=f"<{name}>", filename=path.name)
    # As text with its charset: attached as bare bytes, mail readers guess the encoding and garble
    # every en dash and non-ASCII letter of the report.
    message.add_attachment(attachment_html, subtype="html", charset="utf-8", filename=attachment_name)
    return message


def write_to_outbox(message: EmailMessage, outbox_dir: Path, stem: str) -> Path:
    """Write the message as an .eml file (atomically) and return its path."""
    outbox_dir.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)
    path = outbox_dir / f"{safe}.eml"
    partial = path.with_suffix(".eml.partial")
    partial.write_bytes(bytes(message))
    partial.replace(path)
    return path


def _open_smtp(settings: SmtpSettings) -> smtplib.SMTP:
    if settings.security == "ssl":
        return smtplib.SMTP_SSL(
            settings.host,
            settings.port,
            timeout=settings.timeout_seconds,
            context=ssl.create_default_context(),
        )
    client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
    if settings.security == "starttls":
        client.starttls(context=ssl.create_default_context())
    return client


def send_smtp(
    message: EmailMessage,
    settings: SmtpSettings,
    attempts: int = 3,
    backoff_seconds: float = 2.0,
) -> SendOutcome:
    """Send by SMTP, retrying a dropped or refused connection with exponential back-off.

    A retry happens only when the server did not accept the message (connection refused or dropped
    before the end of DATA); once the server has accepted it, we stop, so nobody gets it twice.
    A permanent refusal (bad recipient, authentication) is not retried.
    """
    last_error = ""
    for attempt in range(1, attempts + 1):
        try:
            client = _open_smtp(settings)
            try:
                if settings.user:
                    client.login(settings.user, settings.password)
                refused = client.send_message(message)
            finally:
                _quit_quietly(client)
            if refused:
                return SendOutcome("failed", f"refused recipients: {sorted(refused)}", attempt)
            return SendOutcome("sent", f"accepted by {settings.host}:{settings.port}", attempt)
        except (
            smtplib.SMTPRecipientsRefused,
            smtplib.SMTPSenderRefused,
            smtplib.SMTPAuthenticationError,
        ) as exc:
            return SendOutcome("failed", f"{type(exc).__name__}: {exc}", attempt)
        except (smtplib.SMTPResponseException, *TRANSIENT_SMTP_ERRORS, OSError) as exc:
            last_error = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, smtplib.SMTPResponseException) and 500 <= exc.smtp_code < 600:
                return SendOutcome("failed", last_error, attempt)
            if attempt < attempts:
                time.sleep(backoff_seconds * 2 ** (attempt - 1))
    return SendOutcome("failed", f"gave up after {attempts} attempts: {last_error}", attempts)


def _quit_quietly(client: smtplib.SMTP) -> None:
    """Close the session; a server that drops the line after accepting the message has still got it."""
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()
