"""E-mail of the yearly report: a multipart message, sent by SMTP or written to outbox/ as .eml.

The message carries the report readable in the body (CSS inlined, charts as inline parts referenced
by Content-ID so they show without loading remote images), a plain-text part, and the full report as
an attached PDF: mail gateways often hold back .html attachments (spec §9 rev 2, notes/domain.md §5).
"""

from __future__ import annotations

import copy
import io
import re
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from pathlib import Path

import css_inline


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send (spec §11: SSM_SMTP_*); no host means write to the outbox instead."""

    host: str = ""
    port: int = 587
    security: str = "starttls"  # starttls | ssl | none
    user: str = ""
    password: str = ""
    # The wait for each reply of the server (greeting, EHLO, MAIL, RCPT, the DATA go-ahead).
    timeout_seconds: float = 30.0
    # The wait for the reply to the end of the message: the server may scan it first. RFC 5321
    # §4.5.3.2.6 asks clients for 10 minutes, because giving up here is what causes duplicates.
    data_timeout_seconds: float = 600.0
    attempts: int = 3
    backoff_seconds: float = 2.0  # before the 2nd attempt; doubled before each later one


@dataclass(frozen=True)
class SendOutcome:
    """How one message left: sent by SMTP, written to the outbox, failed, or uncertain (with why).

    `recipients` gives each address its own outcome when they differ: sent, refused (a 5xx to RCPT),
    failed, or uncertain (the whole message went out and no answer came back).
    """

    outcome: str  # sent | written_to_outbox | failed | uncertain
    detail: str
    attempts: int
    recipients: dict[str, tuple[str, str]] = field(default_factory=dict)

    def for_recipient(self, address: str) -> tuple[str, str]:
        """(outcome, detail) for one address of the message."""
        return self.recipients.get(address, (self.outcome, self.detail))


class OutcomeUnknown(Exception):
    """The whole message was sent and the server did not answer in time: it may have taken it."""


def build_report_message(
    *,
    subject: str,
    sender: str,
    recipients: list[str],
    html: str,
    text: str,
    images: dict[str, Path],
    attachment_name: str,
    attachment_pdf: bytes,
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
        attachment_name: file name of the attached full report (ssm_report_<year>.pdf).
        attachment_pdf: the full report as a PDF.
        message_id: a fixed Message-ID (so a retried send is recognisably the same message).

    Returns:
        The message: multipart/mixed [multipart/alternative [text/plain, multipart/related [text/html,
        image/png inline, ...]], application/pdf attachment].

    Raises:
        ValueError: attachment_pdf is not a PDF.
    """
    if not attachment_pdf.startswith(b"%PDF-"):
        raise ValueError(f"attachment_pdf for {attachment_name} is not a PDF (it must start with %PDF-)")
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id or make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(text)
    inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False)
    message.add_alternative(inliner.inline(_without_figure_tags(html)), subtype="html")
    html_part = message.get_payload()[1]
    for name, path in images.items():
        # Inline, said explicitly: given a file name alone, the email package marks the part as an
        # attachment, and some clients then list each chart as one besides showing it.
        html_part.add_related(
            path.read_bytes(), "image", "png", cid=f"<{name}>", disposition="inline", filename=path.name
        )
    if images:
        html_part.set_param("type", "text/html")  # RFC 2387: multipart/related names its root's type
    message.add_attachment(attachment_pdf, "application", "pdf", filename=attachment_name)
    return message


def _without_figure_tags(html: str) -> str:
    """The body without the report's data-fig attributes (which the tests read on disk, not mail).

    They add bytes to a message that Gmail clips above about 102 KB, and the inliner writes an
    attribute's value back with "<" and ">" unescaped (inert inside the quotes, but noise to every
    filter that scans a message for markup). Jinja escapes the quotes inside values, so the pattern
    cannot end early.
    """
    return re.sub(r'\sdata-fig="[^"]*"', "", html)


def write_to_outbox(message: EmailMessage, outbox_dir: Path, stem: str) -> Path:
    """Write the message as an .eml file (atomically) and return its path."""
    outbox_dir.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)
    path = outbox_dir / f"{safe}.eml"
    partial = path.with_suffix(".eml.partial")
    partial.write_bytes(bytes(message))
    partial.replace(path)
    return path


class _Session:
    """SMTP client behaviour shared by plain and SSL sessions: the reply to the end of the message
    gets its own (long) wait, and a silence there is told apart from a failure before it."""

    data_timeout_seconds: float = 600.0

    def data(self, msg: bytes) -> tuple[int, bytes]:  # smtplib.SMTP.data, with the end-of-data wait
        self.putcmd("data")
        code, reply = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        payload = re.sub(rb"(?m)^\.", b"..", msg)  # dot-stuffing (RFC 5321 §4.5.2)
        if not payload.endswith(b"\r\n"):
            payload += b"\r\n"
        # If this raises, the final "." has not left: the server cannot have taken the message.
        self.send(payload + b".\r\n")
        self.sock.settimeout(self.data_timeout_seconds)
        try:
            return self.getreply()
        except smtplib.SMTPServerDisconnected as exc:
            if isinstance(exc.__context__, TimeoutError):
                raise OutcomeUnknown(
                    f"no answer to the end of the message within {self.data_timeout_seconds:g} s"
                ) from exc
            raise


class _Smtp(_Session, smtplib.SMTP):
    pass


class _SmtpSsl(_Session, smtplib.SMTP_SSL):
    pass


def _open_smtp(settings: SmtpSettings) -> smtplib.SMTP:
    if settings.security == "ssl":
        client: smtplib.SMTP = _SmtpSsl(
            settings.host,
            settings.port,
            timeout=settings.timeout_seconds,
            context=ssl.create_default_context(),
        )
    else:
        client = _Smtp(settings.host, settings.port, timeout=settings.timeout_seconds)
        if settings.security == "starttls":
            client.starttls(context=ssl.create_default_context())
    client.data_timeout_seconds = settings.data_timeout_seconds
    return client


def _envelope(message: EmailMessage) -> tuple[str, list[str], bytes]:
    """Sender, recipients (To, Cc, Bcc) and the bytes to send (without Bcc), as smtplib.send_message."""
    sender = getaddresses([message["Sender"] or message["From"]])[0][1]
    fields = [message[name] for name in ("To", "Cc", "Bcc") if message[name] is not None]
    recipients = list(dict.fromkeys(address for _, address in getaddresses(fields) if address))
    visible = copy.copy(message)
    del visible["Bcc"]
    buffer = io.BytesIO()
    BytesGenerator(buffer).flatten(visible, linesep="\r\n")
    return sender, recipients, buffer.getvalue()


def _reply(code: int, text: bytes | str) -> str:
    return f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}".strip()


def send_smtp(
    message: EmailMessage,
    settings: SmtpSettings,
    attempts: int | None = None,
    backoff_seconds: float | None = None,
) -> SendOutcome:
    """Send by SMTP, each recipient at most once, retrying what the server surely did not take.

    Retried, with exponential back-off and the same Message-ID: a refused, dropped or silent
    connection before the end of the message, a 4xx reply (to MAIL, RCPT or the message), and the
    line closed by the server before it answered the end of the message (a server that has taken a
    message says so before hanging up). Not retried: a 5xx (bad recipient, policy, authentication),
    and no answer at all to the end of the message within settings.data_timeout_seconds: the server
    may have the message, so those recipients are "uncertain" (docs/decisions.md, "Reports and
    e-mail"). A recipient refused at RCPT does not stop the others.

    Args:
        message: the message; its To, Cc and Bcc headers give the recipients.
        settings: the server, the waits and (unless given here) the attempts and back-off.
        attempts: how many times to try in all (default settings.attempts).
        backoff_seconds: the wait before the second attempt, doubled before each later one.

    Returns:
        The outcome: sent (every recipient), uncertain (some unknown, none failed) or failed, with
        one (outcome, detail) per recipient.
    """
    attempts = attempts or settings.attempts
    backoff = settings.backoff_seconds if backoff_seconds is None else backoff_seconds
    sender, recipients, payload = _envelope(message)
    where = f"{settings.host}:{settings.port}"
    results: dict[str, tuple[str, str]] = {}
    last_error = ""
    attempt = 0
    for attempt in range(1, attempts + 1):
        pending = [r for r in recipients if r not in results]
        accepted: list[str] = []
        try:
            client = _open_smtp(settings)
            try:
                if settings.user:
                    client.login(settings.user, settings.password)
                client.ehlo_or_helo_if_needed()
                code, text = client.mail(sender)
                if code != 250:
                    raise smtplib.SMTPSenderRefused(code, text, sender)
                for address in pending:
                    code, text = client.rcpt(address)
                    if code in (250, 251):
                        accepted.append(address)
                    elif 500 <= code < 600:
                        results[address] = ("refused", f"refused by {where}: {_reply(code, text)}")
                    else:
                        last_error = f"{address}: {_reply(code, text)}"  # 4xx: try again later
                if accepted:
                    code, text = client.data(payload)
                    if code == 250:
                        results.update((a, ("sent", f"accepted by {where}")) for a in accepted)
                    elif 500 <= code < 600:
                        results.update(
                            (a, ("failed", f"rejected by {where}: {_reply(code, text)}")) for a in accepted
                        )
                    else:
                        last_error = _reply(code, text)
                else:
                    client.rset()
            finally:
                _quit_quietly(client)
        except OutcomeUnknown as exc:
            detail = f"{exc} from {where}: it may or may not have been delivered"
            results.update((a, ("uncertain", detail)) for a in accepted)
        except smtplib.SMTPResponseException as exc:
            last_error = f"{type(exc).__name__}: {_reply(exc.smtp_code, exc.smtp_error)}"
            if 500 <= exc.smtp_code < 600:
                results.update((r, ("failed", last_error)) for r in recipients if r not in results)
        except (smtplib.SMTPException, OSError) as exc:  # refused, dropped, timed out: retry
            last_error = f"{type(exc).__name__}: {exc}"
        if all(r in results for r in recipients):
            break
        if attempt < attempts:
            time.sleep(backoff * 2 ** (attempt - 1))
    for address in recipients:
        results.setdefault(address, ("failed", f"gave up after {attempts} attempts: {last_error}"))
    return _summary(results, attempt)


def _summary(results: dict[str, tuple[str, str]], attempts: int) -> SendOutcome:
    """One outcome for the message: sent only if every recipient got it; a failure outranks doubt."""
    if not results:
        return SendOutcome("failed", "the message has no recipients", attempts)
    outcomes = {outcome for outcome, _ in results.values()}
    if outcomes == {"sent"}:
        return SendOutcome("sent", next(iter(results.values()))[1], attempts, results)
    overall = "uncertain" if outcomes <= {"sent", "uncertain"} else "failed"
    if len({detail for _, detail in results.values()}) == 1:
        detail = next(iter(results.values()))[1]
    else:
        detail = "; ".join(f"{address}: {outcome} ({why})" for address, (outcome, why) in results.items())
    return SendOutcome(overall, detail, attempts, results)


def _quit_quietly(client: smtplib.SMTP) -> None:
    """Close the session; a server that drops the line after accepting the message has still got it."""
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def deliver(
    message: EmailMessage,
    settings: SmtpSettings,
    outbox_dir: Path,
    stem: str,
    backoff_seconds: float | None = None,
) -> SendOutcome:
    """Send by SMTP when a server is configured, else write the message to the outbox (spec §11)."""
    if settings.host:
        return send_smtp(message, settings, backoff_seconds=backoff_seconds)
    path = write_to_outbox(message, outbox_dir, stem)
    return SendOutcome("written_to_outbox", str(path), 1)
