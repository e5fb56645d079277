"""Failure alerts for the analysts (SSM_ALERT_RECIPIENTS, never leadership): one short plain-text
e-mail per failed run, saying what failed, why, and where to look.

Two senders may notice the same failed run: the `analyst_alert_sensor` of the Dagster daemon and the
`ssm run` command that ran it. A claim file per run (alerts/<run id>.json, created exclusively) lets
exactly one of them send.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from pipelines.lib.mail.messages import SendOutcome, SmtpSettings, deliver
from pipelines.paths import DataFolder


@dataclass(frozen=True)
class FailedRun:
    """What the analysts need to know about a failed run."""

    run_id: str
    job_name: str
    # The run's survey year, or years ("2019, 2020"); None for a run of no particular year.
    survey_year: str | None
    reasons: list[str]


def failure_reasons(events: Iterable) -> list[str]:
    """The reasons a run failed, from its Dagster events: step failures (a dg.Failure's description or
    the error), and asset checks that did not pass with ERROR severity (the blocking ones)."""
    reasons = []
    for event in events:
        if event is None:
            continue
        if event.event_type_value == "STEP_FAILURE":
            data = event.step_failure_data
            if data.user_failure_data and data.user_failure_data.description:
                reasons.append(data.user_failure_data.description)
            elif data.error:
                error = data.error.cause or data.error
                reasons.append(f"{event.step_key}: {error.message.strip()}")
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed and evaluation.severity.value == "ERROR":
                reasons.append(f"check {evaluation.check_name} failed: {evaluation.description}")
    return list(dict.fromkeys(reasons))


def alert_text(run: FailedRun, data_dir: Path) -> str:
    """The body of the alert: the failure first, then where to look and what to do."""
    plural = "s" if run.survey_year and "," in run.survey_year else ""
    year = f" for survey year{plural} {run.survey_year}" if run.survey_year else ""
    reasons = (
        "\n".join(f"- {reason}" for reason in run.reasons) or "- (no reason recorded; see the run's log)"
    )
    return (
        f"The SSM pipeline run {run.run_id} ({run.job_name}{year}) failed.\n\n"
        f"Why:\n{reasons}\n\n"
        "Nothing of a failed year is loaded: the warehouse and the reports keep their previous state.\n\n"
        "Where to look:\n"
        f"- the Dagster UI (make dev, then http://127.0.0.1:3000/runs/{run.run_id})\n"
        f"- the detailed log of the day in {DataFolder.at(data_dir).logs}\n"
        "- `ssm status` for what is loaded and what waits in landing/\n\n"
        "What to do: fix the delivery (or the setting) the reason names, put the corrected file in "
        "landing/, and run `ssm run` again.\n"
    )


def build_alert(run: FailedRun, sender: str, recipients: list[str], data_dir: Path) -> EmailMessage:
    """A plain-text alert e-mail for the analysts."""
    message = EmailMessage()
    year = f" {run.survey_year}" if run.survey_year else ""
    message["Subject"] = f"SSM pipeline failed: {run.job_name}{year}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(
        idstring=f"ssm-alert-{run.run_id}", domain=sender.rpartition("@")[2] or None
    )
    message.set_content(alert_text(run, data_dir))
    return message


def send_alert(
    run: FailedRun,
    *,
    smtp: SmtpSettings,
    sender: str,
    recipients: list[str],
    data_dir: Path,
    backoff_seconds: float | None = None,
) -> SendOutcome | None:
    """Alert the analysts about a failed run once; None when there is nobody to tell or it was done.

    The claim file is written before sending and rewritten with the outcome, so a second caller (the
    sensor after `ssm run`, or the other way round) never sends the same alert again.
    """
    if not recipients:
        return None
    alerts_dir = DataFolder.at(data_dir).alerts
    alerts_dir.mkdir(parents=True, exist_ok=True)
    claim = alerts_dir / f"{run.run_id}.json"
    try:
        descriptor = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return None
    with os.fdopen(descriptor, "w") as handle:
        json.dump(
            {"run_id": run.run_id, "claimed_at": datetime.now(UTC).isoformat(), "outcome": "sending"}, handle
        )
    message = build_alert(run, sender, recipients, data_dir)
    outbox = DataFolder.at(data_dir).outbox
    outcome = deliver(message, smtp, outbox, f"alert_{run.run_id}", backoff_seconds=backoff_seconds)
    record = {
        "run_id": run.run_id,
        "job": run.job_name,
        "survey_year": run.survey_year,
        "recipients": recipients,
        "outcome": outcome.outcome,
        "detail": outcome.detail,
        "attempts": outcome.attempts,
        "finished_at": datetime.now(UTC).isoformat(),
    }
    partial = claim.with_suffix(".json.partial")
    partial.write_text(json.dumps(record, indent=2), encoding="utf-8")
    partial.replace(claim)
    return outcome
