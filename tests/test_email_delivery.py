"""The report e-mail through a real SMTP server (aiosmtpd on 127.0.0.1), and the analysts' alert.

Promises (issue 5): the report reaches leadership as one multipart message whose images resolve by
Content-ID, with a plain-text part and the full report attached, no free text and small cells masked;
(issue 14) the images are inline parts, the report is attached as a PDF with the report's figures as
text, made once per report content, and the subject is the one written beside the report;
an unchanged report is not sent again, --force sends it again; a refused or dropped connection is
retried and the message arrives exactly once; a permanent refusal is not retried and the ledger says
so; a failed run e-mails the analysts, once, and never leadership.

Issue 7 (delivery faults): a slow server delivers once; a server that stays silent after taking the
whole message, or a send killed half-way, is never repeated on our own (the ledger says 'uncertain'
and the analysts are told); one refused recipient does not stop the others and is the only one tried
again; a connection dropped in mid-message is retried with growing waits and one whole message
arrives; an unchanged report sends nothing and adds no ledger row, a changed one is sent.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from email.message import EmailMessage
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.lib.mail.messages import SmtpSettings, build_report_message, send_smtp
from pipelines.lib.report.rendering import SUBJECT_MAX
from tests.conftest import BuiltPipeline, pipeline_env, pipeline_environment
from tests.report_email_parts import attached_pdf, figure_differences, pdf_text, report_message_problems
from tests.smtp_server import smtp_env, smtp_server
from tests.test_cli import PROJECT_ROOT, SSM, ssm

LEADERSHIP = "dean@med.example.edu, associate.dean@med.example.edu"
ANALYSTS = "ir-analyst@med.example.edu"
YEAR = "2021"
DEAN, ASSOCIATE = (address.strip() for address in LEADERSHIP.split(","))
FAST_RETRIES = {"SSM_SMTP_BACKOFF_SECONDS": "0.05"}  # retries in tests need not wait 2 s, then 4 s
TINY_PDF = b"%PDF-1.4\n%%EOF\n"  # the mechanics of sending do not look inside the attachment


@pytest.fixture
def data_copy(built_pipeline: BuiltPipeline, tmp_path: Path) -> Path:
    """A private copy of the built data folder, so that ledgers written here touch no other test."""
    root = tmp_path / "data"
    shutil.copytree(built_pipeline.root, root, ignore=shutil.ignore_patterns("*.lock"))
    return root


def ledger(root: Path) -> list[tuple]:
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(
            "select recipient, outcome, message_id from ops.report_emails where survey_year = ? "
            "order by attempted_at, recipient",
            [int(YEAR)],
        ).fetchall()


def free_texts(root: Path) -> set[str]:
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select specialty_other_text, nonpart_other_text, comments from raw.responses where survey_year = ?",
            [int(YEAR)],
        ).fetchall()
    return {value for row in rows for value in row if value and len(value.strip()) >= 6}


def decoded_parts(message: EmailMessage) -> str:
    return "\n".join(part.get_content() for part in message.walk() if part.get_content_maintype() == "text")


def test_report_reaches_leadership_once_through_smtp(data_copy: Path) -> None:
    with smtp_server() as (server, port):
        env = {**smtp_env(port), "SSM_REPORT_RECIPIENTS": LEADERSHIP, "SSM_ALERT_RECIPIENTS": ANALYSTS}
        first = ssm(data_copy, "report", "--year", YEAR, "--send", env_extra=env)
        assert first.returncode == 0, first.stdout + first.stderr
        assert len(server.received) == 1
        received = server.received[0]
        assert sorted(received.rcpt_tos) == sorted(a.strip() for a in LEADERSHIP.split(","))
        assert ANALYSTS not in received.rcpt_tos
        message = received.message

        # Structure: mixed [alternative [text, related [HTML, inline images]], PDF attachment].
        assert report_message_problems(message, YEAR) == []
        plain = message.get_body(preferencelist=("plain",)).get_content()
        html = message.get_body(preferencelist=("html",)).get_content()
        assert YEAR in plain and "<style" not in html  # CSS inlined, not in a style block
        assert 'style="' in html
        assert f"attached as a PDF (ssm_report_{YEAR}.pdf)" in " ".join(plain.split())
        report_dir = data_copy / "reports" / YEAR
        subject = (report_dir / "email_subject.txt").read_text(encoding="utf-8").strip()
        assert message["Subject"] == subject and YEAR in subject and len(subject) <= SUBJECT_MAX
        # The attachment is the PDF kept beside the report, printed from it: every figure of the
        # report is in its text, and none that the report does not show.
        pdf = attached_pdf(message)
        assert pdf == (report_dir / "report.pdf").read_bytes()
        report_html = (report_dir / "report.html").read_text(encoding="utf-8")
        assert figure_differences(report_html, pdf) == (Counter(), Counter())
        pdf_key = (report_dir / "report.pdf.sha256").read_text()
        assert pdf_key.strip() == hashlib.sha256(report_html.encode()).hexdigest()

        # No free text anywhere in the message, the PDF's text included; small cells masked.
        texts = free_texts(data_copy)
        assert texts, "the demo year should carry free text for this test to mean something"
        everything = decoded_parts(message) + pdf_text(pdf)
        assert not [t for t in texts if t in everything]
        assert 'href="#note-small-groups"' in html and 'id="note-small-groups"' in html

        expected = sorted((address.strip(), "sent") for address in LEADERSHIP.split(","))
        assert sorted((r, o) for r, o, _ in ledger(data_copy)) == expected

        # The same report again, or `ssm run` with nothing new: nothing sent, no ledger row added.
        again = ssm(data_copy, "report", "--year", YEAR, "--send", env_extra=env)
        assert again.returncode == 0, again.stdout + again.stderr
        nothing_new = ssm(data_copy, "run", env_extra=env)
        assert nothing_new.returncode == 0 and "Nothing new" in nothing_new.stdout, nothing_new.stderr
        assert len(server.received) == 1 and len(ledger(data_copy)) == 2
        # The report was rendered again, unchanged: its PDF was kept, not printed again.
        assert (report_dir / "report.pdf").read_bytes() == pdf
        assert (report_dir / "report.pdf.sha256").read_text() == pdf_key

        # A changed report (here a larger small-cell threshold k changes what is masked) is sent.
        changed = ssm(
            data_copy, "report", "--year", YEAR, "--send", env_extra={**env, "SSM_SMALL_CELL_MIN": "6"}
        )
        assert changed.returncode == 0, changed.stdout + changed.stderr
        assert len(server.received) == 2
        assert len(ledger(data_copy)) == 4
        # ... with a PDF printed from the changed report.
        assert "<6" in pdf_text(attached_pdf(server.received[1].message))
        assert (report_dir / "report.pdf.sha256").read_text() != pdf_key

        # Forced: the first report (k = 5 again, already sent) once more, with its own Message-ID.
        forced = ssm(data_copy, "report", "--year", YEAR, "--send", "--force", env_extra=env)
        assert forced.returncode == 0, forced.stdout + forced.stderr
        assert len(server.received) == 3
        assert server.received[2].message["Message-ID"] != message["Message-ID"]
        assert len(ledger(data_copy)) == 6


def test_dropped_connection_is_retried_and_delivered_once(data_copy: Path) -> None:
    """A connection dropped in mid-message: `ssm report --send` retries, one message arrives, and the
    ledger says sent."""
    with smtp_server(faults=["drop"]) as (server, port):
        env = {**smtp_env(port), "SSM_REPORT_RECIPIENTS": LEADERSHIP, **FAST_RETRIES}
        result = ssm(data_copy, "report", "--year", YEAR, "--send", env_extra=env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert server.data_commands == 2 and len(server.received) == 1
    assert {o for _, o, _ in ledger(data_copy)} == {"sent"}


def sample_message() -> EmailMessage:
    return build_report_message(
        subject="test",
        sender="ssm@med.example.edu",
        recipients=["dean@med.example.edu"],
        html="<p>report</p>",
        text="report",
        images={},
        attachment_name="report.pdf",
        attachment_pdf=TINY_PDF,
        message_id="<fixed@med.example.edu>",
    )


@pytest.mark.parametrize(
    ("faults", "data_commands"),
    [(["refuse"], 2), (["refuse", "refuse"], 3), (["drop"], 2), (["drop", "refuse"], 3), (["hangup"], 2)],
)
def test_transient_failures_are_retried_and_delivered_once(faults: list[str], data_commands: int) -> None:
    """A 451, a line dropped in mid-message, or closed by the server before it answered the end of the
    message (a server that took a message says so before hanging up): retried, delivered once, with
    the same Message-ID."""
    with smtp_server(faults=faults) as (server, port):
        outcome = send_smtp(
            sample_message(), SmtpSettings(host="127.0.0.1", port=port, security="none"), backoff_seconds=0.01
        )
        assert outcome.outcome == "sent" and outcome.attempts == data_commands
        assert server.data_commands == data_commands and len(server.received) == 1
        assert server.received[0].message["Message-ID"] == "<fixed@med.example.edu>"


def test_permanent_refusal_is_not_retried() -> None:
    with smtp_server(faults=["reject"]) as (server, port):
        outcome = send_smtp(
            sample_message(), SmtpSettings(host="127.0.0.1", port=port, security="none"), backoff_seconds=0.01
        )
    assert outcome.outcome == "failed" and "550" in outcome.detail and outcome.attempts == 1
    assert server.data_commands == 1 and server.received == []


def test_server_down_is_retried_then_reported() -> None:
    with smtp_server() as (_, port):
        pass  # the port is free again: nothing listens
    outcome = send_smtp(
        sample_message(), SmtpSettings(host="127.0.0.1", port=port, security="none", timeout_seconds=2),
        attempts=3, backoff_seconds=0.01,
    )  # fmt: skip
    assert (
        outcome.outcome == "failed" and outcome.attempts == 3 and "gave up after 3 attempts" in outcome.detail
    )


def test_failed_send_is_on_the_ledger_and_fails_the_command(data_copy: Path) -> None:
    with smtp_server(faults=["reject"]) as (server, port):
        env = {**smtp_env(port), "SSM_REPORT_RECIPIENTS": LEADERSHIP}
        result = ssm(data_copy, "report", "--year", YEAR, "--send", env_extra=env)
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    assert "not sent" in result.stdout and "550" in result.stdout
    assert server.received == []
    assert {o for _, o, _ in ledger(data_copy)} == {"failed"}


def test_failed_run_alerts_the_analysts_once(tmp_path: Path) -> None:
    from pipelines.defs.alerts import analyst_alert_sensor
    from pipelines.defs.resources import Mailer, SurveyConfig

    root = tmp_path / "data"
    (root / "landing").mkdir(parents=True)
    (root / "landing" / "ssm_survey_2023.csv").write_text("this,is,not\na,survey,export\n", encoding="utf-8")
    with smtp_server() as (server, port):
        env = {**smtp_env(port), "SSM_REPORT_RECIPIENTS": LEADERSHIP, "SSM_ALERT_RECIPIENTS": ANALYSTS}
        result = ssm(root, "run", env_extra=env)
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"Alerted {ANALYSTS}" in result.stdout
        (alert,) = server.received
        assert alert.rcpt_tos == [ANALYSTS]
        body = alert.message.get_content()
        assert alert.message["Subject"] == "SSM pipeline failed: survey_year_job 2023"
        assert "ssm_survey_2023.csv" in body and "What to do" in body

        # The daemon's sensor sees the same failed run: the claim file keeps it from a second e-mail.
        with pipeline_environment(root):
            instance = dg.DagsterInstance.get()
        (run,) = instance.get_runs()
        (failure,) = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        resources = {
            "mailer": Mailer(smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
                             mail_from="ssm@med.example.edu", alert_recipients=ANALYSTS),
            "survey": SurveyConfig(data_dir=str(root)),
        }  # fmt: skip

        def evaluate() -> None:
            context = dg.build_run_status_sensor_context(
                sensor_name="analyst_alert_sensor",
                dagster_event=failure.dagster_event,
                dagster_instance=instance,
                dagster_run=run,
                resources=resources,
            ).for_run_failure()
            analyst_alert_sensor(context)

        evaluate()
        assert len(server.received) == 1
        # Without the claim (say the daemon saw it first), the sensor itself sends the alert.
        (root / "alerts" / f"{run.run_id}.json").unlink()
        evaluate()
        assert len(server.received) == 2 and server.received[1].rcpt_tos == [ANALYSTS]
        assert "ssm_survey_2023.csv" in server.received[1].message.get_content()


def local_smtp(port: int, **settings: float) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=port, security="none", **settings)


def test_slow_server_within_the_wait_delivers_once() -> None:
    """A server that takes its time to answer the end of the message, but answers within the wait,
    gets the message once, at the first attempt."""
    with smtp_server(faults=["slow"], delay_seconds=0.5) as (server, port):
        outcome = send_smtp(sample_message(), local_smtp(port, data_timeout_seconds=10), backoff_seconds=0.01)
    assert outcome.outcome == "sent" and outcome.attempts == 1
    assert server.data_commands == 1 and len(server.received) == 1


def test_server_slower_than_the_wait_before_the_message_is_retried() -> None:
    """A server slower than SSM_SMTP_TIMEOUT_SECONDS before the message was sent (here at RCPT) is a
    transient failure: retried with back-off, delivered once."""
    with smtp_server(rcpt_faults=["slow"], delay_seconds=1.5) as (server, port):
        outcome = send_smtp(sample_message(), local_smtp(port, timeout_seconds=0.3), backoff_seconds=0.01)
    assert outcome.outcome == "sent" and outcome.attempts == 2
    assert server.data_commands == 1 and len(server.received) == 1


def test_server_silent_after_the_whole_message_is_not_sent_twice() -> None:
    """A server that took the whole message and then stays silent beyond the wait for its answer
    (SSM_SMTP_DATA_TIMEOUT_SECONDS) may have the message: it is not sent again (no duplicate), and the
    outcome says 'uncertain', never 'sent' or 'failed'."""
    with smtp_server(faults=["slow"], delay_seconds=3) as (server, port):
        outcome = send_smtp(
            sample_message(), local_smtp(port, data_timeout_seconds=0.3), backoff_seconds=0.01
        )
        assert outcome.outcome == "uncertain" and outcome.attempts == 1
        assert outcome.for_recipient("dean@med.example.edu")[0] == "uncertain"
        assert "may or may not" in outcome.detail
        assert server.data_commands == 1 and len(server.received) == 1


def test_dropped_mid_message_is_retried_and_one_whole_message_arrives() -> None:
    """The connection dropped while a large message (1 MB attachment) is on its way: retried, and the
    server keeps exactly one message, complete (the attachment byte for byte)."""
    big = TINY_PDF + bytes(range(256)) * 4_000
    message = sample_message()
    message.get_payload()[1].set_content(big, "application", "pdf", disposition="attachment",
                                         filename="report.pdf")  # fmt: skip
    with smtp_server(faults=["drop"]) as (server, port):
        outcome = send_smtp(message, local_smtp(port), backoff_seconds=0.01)
    assert outcome.outcome == "sent" and outcome.attempts == 2
    assert server.data_commands == 2
    (received,) = server.received
    (attachment,) = received.message.iter_attachments()
    assert attachment.get_content() == big
    assert received.message["Message-ID"] == message["Message-ID"]


def test_retries_back_off_with_growing_waits() -> None:
    """Retries wait longer each time: with a back-off of b, the server sees the 2nd, 3rd and 4th
    attempts at least b, 2b and 4b after the one before (lower bounds only: the machine may be slow)."""
    backoff = 0.2
    with smtp_server(faults=["refuse", "refuse", "refuse"]) as (server, port):
        outcome = send_smtp(sample_message(), local_smtp(port, attempts=4, backoff_seconds=backoff))
    assert outcome.outcome == "sent" and outcome.attempts == 4 and len(server.received) == 1
    gaps = [later - earlier for earlier, later in zip(server.data_times, server.data_times[1:], strict=False)]
    assert len(gaps) == 3
    assert all(gap >= backoff * 2**i for i, gap in enumerate(gaps)), gaps


def test_one_refused_recipient_does_not_stop_the_others() -> None:
    """One recipient refused at RCPT (550), the others accepted: the message goes to the accepted
    ones once, and each address has its own outcome."""
    message = sample_message()
    message.replace_header("To", LEADERSHIP)
    with smtp_server(refused_recipients={ASSOCIATE}) as (server, port):
        outcome = send_smtp(message, local_smtp(port), backoff_seconds=0.01)
    assert outcome.outcome == "failed" and outcome.attempts == 1
    assert outcome.for_recipient(DEAN)[0] == "sent"
    refused, detail = outcome.for_recipient(ASSOCIATE)
    assert refused == "refused" and "550" in detail
    (received,) = server.received
    assert received.rcpt_tos == [DEAN]


def test_refused_recipient_is_on_the_ledger_and_alone_is_tried_again(data_copy: Path) -> None:
    """`ssm report --send` with one leadership address refused at RCPT: the others get the report,
    the ledger says sent for them and refused for it, the command fails naming the address and the
    reason; the next send goes to the refused address only, with the PDF made for the first."""
    with smtp_server(refused_recipients={ASSOCIATE}) as (server, port):
        env = {**smtp_env(port), "SSM_REPORT_RECIPIENTS": LEADERSHIP}
        first = ssm(data_copy, "report", "--year", YEAR, "--send", env_extra=env)
        assert first.returncode == 1 and "Traceback" not in first.stdout + first.stderr
        assert f"refused {ASSOCIATE}" in first.stdout and "550" in first.stdout, first.stdout
        assert f"sent to {DEAN}" in first.stdout
        assert [r.rcpt_tos for r in server.received] == [[DEAN]]
        assert sorted((r, o) for r, o, _ in ledger(data_copy)) == [(ASSOCIATE, "refused"), (DEAN, "sent")]

        server.refused_recipients.clear()  # the mailbox exists now
        second = ssm(data_copy, "report", "--year", YEAR, "--send", env_extra=env)
        assert second.returncode == 0, second.stdout + second.stderr
        assert [r.rcpt_tos for r in server.received] == [[DEAN], [ASSOCIATE]]
        assert [(r, o) for r, o, _ in ledger(data_copy)][2:] == [(ASSOCIATE, "sent")]
        # The same report: the same PDF, not printed again (a new print has another creation date).
        first_pdf, second_pdf = (attached_pdf(r.message) for r in server.received)
        assert first_pdf == second_pdf


def test_send_killed_midway_is_not_repeated_and_the_ledger_says_so(data_copy: Path) -> None:
    """`ssm report --send` killed (SIGKILL) while the server holds the whole message unanswered: the
    ledger never claims a send it did not see end ('sending', then 'uncertain'); the next run does not
    send it again (no duplicate), fails naming the recipients and what to do, and alerts the analysts."""
    with smtp_server(faults=["hang"]) as (server, port):
        env = pipeline_env(data_copy)
        env.update(smtp_env(port), SSM_REPORT_RECIPIENTS=LEADERSHIP, SSM_ALERT_RECIPIENTS=ANALYSTS)
        sender = subprocess.Popen(
            [SSM, "report", "--year", YEAR, "--send"], env=env, cwd=PROJECT_ROOT, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 300
            while not server.received and sender.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            assert server.received, "the send never reached the server"
        finally:
            os.killpg(sender.pid, signal.SIGKILL)
            sender.wait()
        (taken,) = server.received
        message_id = taken.message["Message-ID"]
        assert ledger(data_copy) == [(ASSOCIATE, "sending", message_id), (DEAN, "sending", message_id)]

        after = ssm(data_copy, "report", "--year", YEAR, "--send", env_extra={k: env[k] for k in smtp_env(port)}
                    | {"SSM_REPORT_RECIPIENTS": LEADERSHIP, "SSM_ALERT_RECIPIENTS": ANALYSTS})  # fmt: skip
        assert after.returncode == 1 and "Traceback" not in after.stdout + after.stderr
        assert "may or may not have reached" in after.stdout and "--force" in after.stdout, after.stdout
        leadership_copies = [r for r in server.received if ANALYSTS not in r.rcpt_tos]
        assert len(leadership_copies) == 1  # no duplicate
        (alert,) = [r for r in server.received if r.rcpt_tos == [ANALYSTS]]
        assert "may or may not have reached" in alert.message.get_content()
        assert ledger(data_copy) == [(ASSOCIATE, "uncertain", message_id), (DEAN, "uncertain", message_id)]


def test_a_warehouse_without_the_ledger_has_no_sends_on_record(tmp_path: Path) -> None:
    """`ssm status` reads the ledger read-only: a warehouse that no run has opened for writing since
    the ledger was added has no ops.report_emails, which means no report was sent, not an error."""
    from pipelines.lib.mail import ledger as email_ledger

    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw; create table raw.deliveries (survey_year integer)")
    with duckdb.connect(str(path), read_only=True) as con:
        assert email_ledger.all_sends(con) == []
