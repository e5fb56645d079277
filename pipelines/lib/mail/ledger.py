"""The ledger of report e-mails, `ops.report_emails`: one row per recipient and attempt.

A row is written as 'sending' before the message goes out and updated with the outcome after, so
that a process killed in mid-send leaves a trace the next run reads as "outcome unknown", rather than
nothing (a resend) or a claim of success (docs/decisions.md, "Reports and e-mail").
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping, Sequence
from datetime import datetime

import duckdb

# The ledger's outcomes (ops.report_emails.outcome), one row per recipient and attempt.
DELIVERED = ("sent", "written_to_outbox")
UNKNOWN = ("sending", "uncertain")  # the message may have reached the recipient, or not
SENDER_TAG = "being sent by pid"


def settle_abandoned_sends(con: duckdb.DuckDBPyConnection, year: int) -> None:
    """Mark 'sending' rows whose process is gone (killed in mid-send) as 'uncertain'."""
    rows = con.execute(
        "select recipient, message_id, attempted_at, detail from ops.report_emails "
        "where survey_year = ? and outcome = 'sending'",
        [year],
    ).fetchall()
    for recipient, message_id, attempted_at, detail in rows:
        if _sender_alive(detail):
            continue
        con.execute(
            "update ops.report_emails set outcome = 'uncertain', detail = ? where survey_year = ? "
            "and recipient = ? and message_id = ? and attempted_at = ? and outcome = 'sending'",
            [
                f"the process sending it ({detail.removeprefix('being sent by ')}) stopped before it "
                "learnt whether the mail server took the message",
                year, recipient, message_id, attempted_at,
            ],
        )  # fmt: skip


def _sender_alive(detail: str | None) -> bool:
    """Whether the process named in a 'sending' row is still running on this machine.

    A process id in use again by another program reads as alive: the row stays 'sending' and the
    recipient is held, the safe side (nothing is sent twice).
    """
    match = re.fullmatch(rf"{SENDER_TAG} (\d+) on (\S+)", detail or "")
    if not match or match[2] != socket.gethostname():
        return False
    try:
        os.kill(int(match[1]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def latest_outcomes(con: duckdb.DuckDBPyConnection, year: int, digest: str) -> dict[str, tuple[str, str]]:
    """recipient -> (outcome, message_id) of the latest attempt to send this exact report."""
    rows = con.execute(
        "select recipient, outcome, message_id from ops.report_emails "
        "where survey_year = ? and report_sha256 = ? "
        "qualify row_number() over (partition by recipient order by attempted_at desc) = 1",
        [year, digest],
    ).fetchall()
    return {recipient: (outcome, message_id) for recipient, outcome, message_id in rows}


def record_sending(
    con: duckdb.DuckDBPyConnection,
    year: int,
    digest: str,
    recipients: Sequence[str],
    started: datetime,
    message_id: str,
) -> None:
    """A 'sending' row per recipient, naming this process, written before the message goes out."""
    owner = f"{SENDER_TAG} {os.getpid()} on {socket.gethostname()}"
    con.executemany(
        "insert into ops.report_emails values (?, ?, ?, ?, ?, 'sending', ?)",
        [[year, digest, r, started, message_id, owner] for r in recipients],
    )


def record_outcomes(
    con: duckdb.DuckDBPyConnection,
    year: int,
    results: Mapping[str, tuple[str, str]],
    started: datetime,
    message_id: str,
) -> None:
    """Replace this attempt's 'sending' rows with each recipient's (outcome, detail)."""
    con.executemany(
        "update ops.report_emails set outcome = ?, detail = ? where survey_year = ? and recipient = ? "
        "and message_id = ? and attempted_at = ? and outcome = 'sending'",
        [[o, d, year, r, message_id, started] for r, (o, d) in results.items()],
    )


def last_send(con: duckdb.DuckDBPyConnection, year: int) -> list[tuple[str, str, str | None]]:
    """(recipient, outcome, detail) of the year's latest sending of its report."""
    return con.execute(
        "select recipient, outcome, detail from ops.report_emails where survey_year = ? "
        "and attempted_at = (select max(attempted_at) from ops.report_emails where survey_year = ?)",
        [year, year],
    ).fetchall()


def all_sends(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """(survey_year, recipient, outcome, attempted_at, report_sha256) of every send, oldest first;
    none when the warehouse has no ledger yet (a read-only connection to a warehouse that no run
    has opened for writing since the ledger was added)."""
    try:
        return con.execute(
            "select survey_year, recipient, outcome, attempted_at, report_sha256 "
            "from ops.report_emails order by attempted_at"
        ).fetchall()
    except duckdb.CatalogException:
        return []
