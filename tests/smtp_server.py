"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1) that can misbehave on purpose.

`faults` is a queue of what the next DATA commands meet: "refuse" answers 451 (try again later),
"reject" answers 550 (permanent), "drop" closes the connection in the middle of the message. When the
queue is empty, messages are accepted and kept in `received`.
"""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


@dataclass
class Received:
    """One accepted message: envelope recipients and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class FaultySmtpHandler:
    """aiosmtpd handler: accepts, refuses or drops DATA according to the fault queue."""

    faults: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    data_commands: int = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd calls its hooks by these names
        self.data_commands += 1
        fault = self.faults.pop(0) if self.faults else None
        if fault == "refuse":
            return "451 4.3.0 Try again later"
        if fault == "reject":
            return "550 5.7.1 Delivery not authorised"
        if fault == "drop":
            server.transport.close()
            return "421 4.3.0 Closing"
        message = email.message_from_bytes(envelope.original_content, policy=policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 2.0.0 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_server(faults: list[str] | None = None) -> Iterator[tuple[FaultySmtpHandler, int]]:
    """Run the server on 127.0.0.1 for the duration of the block; yields (handler, port)."""
    handler = FaultySmtpHandler(faults=list(faults or []))
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
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
