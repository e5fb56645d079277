"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1) that can misbehave on purpose.

`faults` is a queue of what the next DATA commands meet:
- "refuse" answers 451 (try again later), "reject" answers 550 (permanent);
- "drop" closes the connection in the middle of the message (after its first line): nothing is kept;
- "hangup" reads the whole message, then closes the connection without answering: nothing is kept;
- "slow" keeps the message and answers 250 only after `delay_seconds`;
- "hang" keeps the message and never answers (the client has to give up, or be killed).
`rcpt_faults` is the same for RCPT commands ("slow": the answer comes after `delay_seconds`), and every
address in `refused_recipients` gets 550 at RCPT. When the queues are empty, messages are accepted
and kept in `received`. `data_times` holds when each DATA command arrived (time.monotonic()).
"""

from __future__ import annotations

import asyncio
import email
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


@dataclass
class Received:
    """One accepted message: envelope recipients and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class FaultySmtpHandler:
    """aiosmtpd handler: accepts, refuses, delays or drops according to the fault queues."""

    faults: list[str] = field(default_factory=list)
    rcpt_faults: list[str] = field(default_factory=list)
    refused_recipients: set[str] = field(default_factory=set)
    delay_seconds: float = 1.0
    received: list[Received] = field(default_factory=list)
    data_commands: int = 0
    data_times: list[float] = field(default_factory=list)

    def keep(self, envelope) -> None:
        message = email.message_from_bytes(envelope.original_content, policy=policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:  # aiosmtpd hook
        if address in self.refused_recipients:
            return "550 5.1.1 No such mailbox here"
        if self.rcpt_faults and self.rcpt_faults.pop(0) == "slow":
            await asyncio.sleep(self.delay_seconds)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd calls its hooks by these names
        fault = self.faults.pop(0) if self.faults else None
        if fault == "refuse":
            return "451 4.3.0 Try again later"
        if fault == "reject":
            return "550 5.7.1 Delivery not authorised"
        if fault == "hangup":
            server.transport.close()
            return "421 4.3.0 Closing"  # never reaches the client: the line is closed
        self.keep(envelope)
        if fault == "slow":
            await asyncio.sleep(self.delay_seconds)
        if fault == "hang":
            await asyncio.Event().wait()  # until the server stops
        return "250 2.0.0 OK"


class FaultySmtp(SMTP):
    """The aiosmtpd session, counting DATA commands and able to drop the line in mid-message."""

    async def smtp_DATA(self, arg: str) -> None:
        handler: FaultySmtpHandler = self.event_handler
        handler.data_commands += 1
        handler.data_times.append(time.monotonic())
        if handler.faults and handler.faults[0] == "drop" and self.envelope and self.envelope.rcpt_tos:
            handler.faults.pop(0)
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            await self._reader.readuntil(b"\r\n")  # the first line of the message, then the line dies
            self.transport.close()
            return
        await super().smtp_DATA(arg)


class FaultyController(Controller):
    def factory(self) -> SMTP:
        return FaultySmtp(self.handler, **self.SMTP_kwargs)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_server(
    faults: list[str] | None = None,
    *,
    rcpt_faults: list[str] | None = None,
    refused_recipients: set[str] | None = None,
    delay_seconds: float = 1.0,
) -> Iterator[tuple[FaultySmtpHandler, int]]:
    """Run the server on 127.0.0.1 for the duration of the block; yields (handler, port)."""
    handler = FaultySmtpHandler(
        faults=list(faults or []),
        rcpt_faults=list(rcpt_faults or []),
        refused_recipients=set(refused_recipients or ()),
        delay_seconds=delay_seconds,
    )
    port = free_port()
    controller = FaultyController(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def smtp_env(port: int) -> dict[str, str]:
    """The §11 variables that point the pipeline at the test server (no TLS on loopback)."""
    return {
        "SSM_SMTP_HOST": "127.0.0.1",
        "SSM_SMTP_PORT": str(port),
        "SSM_SMTP_SECURITY": "none",
        "SSM_MAIL_FROM": "ssm-reports@med.example.edu",
    }
