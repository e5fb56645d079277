"""Privacy (issue 7, spec §6): no identifier of a delivery, and no secret, leaves it.

The deliveries of tests/seeded_deliveries.py carry known names, e-mail addresses, IPv4 and IPv6
addresses, phone numbers, locations, ExternalReferences and ResponseIds in the Qualtrics metadata
columns, e-mail addresses and phone numbers in every free-text answer, and a name in the
self-description that is never kept. After `ssm run` and `ssm report --send` (to a loopback SMTP server
that requires a login), the scans read every table and column of warehouse.duckdb (all schemas, every
value as text), every file of the data folder except the deliveries themselves (landing/, archive/):
reports, outbox, logs, alerts, dbt's target folder and Dagster's storage (dagster_home: run and event
log SQLite files, compute logs), every e-mail the server received (raw bytes and decoded parts), and
what the commands printed. A PDF (the report's, attached to the e-mail and kept beside the report) is
read as its text too: its streams are compressed, so its bytes alone would hide a name. Each scan has a
positive control, so that "not found" means something.
"""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import duckdb
import pytest

from pipelines.lib.ingest.privacy import hash_response_id
from tests.report_email_parts import attached_pdf, pdf_text
from tests.seeded_deliveries import (
    ANALYSTS,
    FREE_TEXT_NAME,
    IDENTIFIERS,
    LEADERSHIP,
    REFUSED_IDENTIFIERS,
    REPORT_YEAR,
    RESPONSE_ID_PREFIX,
    SALT,
    SMTP_PASSWORD,
    SMTP_USER,
    SeededRun,
    seeded_run,
)

DELIVERY_FOLDERS = ("landing", "archive")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> SeededRun:
    return seeded_run(tmp_path_factory)


def warehouse_texts(root: Path) -> dict[str, str]:
    """Every table and view of every schema, each value as text, lower-cased: "schema.table" -> text."""
    texts = {}
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema not in ('information_schema', 'pg_catalog') order by all"
        ).fetchall()
        for schema, table in tables:
            cursor = con.execute(f'select * from "{schema}"."{table}"')
            header = " ".join(d[0] for d in cursor.description)
            rows = ["\x1f".join("" if v is None else str(v) for v in row) for row in cursor.fetchall()]
            texts[f"{schema}.{table}"] = "\n".join([header, *rows]).lower()
    assert {"raw.responses", "raw.deliveries", "marts.data_quality_issues", "ops.report_emails"} <= set(texts)
    return texts


def data_files(root: Path, *, deliveries: bool = False) -> dict[str, bytes]:
    """Every file of the data folder (without landing/ and archive/ unless asked), lower-cased bytes;
    a PDF's bytes followed by its text."""
    files = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or (not deliveries and relative.parts[0] in DELIVERY_FOLDERS):
            continue
        data = path.read_bytes()
        if data.startswith(b"%PDF-"):
            data += b"\n" + readable(data).encode()
        files[str(relative)] = data.lower()
    return files


def readable(pdf: bytes) -> str:
    """A PDF's text, and the same without whitespace (a line may break inside an address or a name)."""
    text = pdf_text(pdf)
    return text + "\n" + "".join(text.split())


def email_texts(run: SeededRun) -> list[str]:
    """Each received message: its raw bytes and every decoded part (a PDF as its text), lower-cased."""
    texts = []
    for raw in run.messages:
        message = email.message_from_bytes(raw.data, policy=policy.default)
        parts = [raw.data.decode("utf-8", "replace")]
        for part in message.walk():
            if part.is_multipart():
                continue
            payload = part.get_payload(decode=True) or b""
            parts.append(
                readable(payload) if payload.startswith(b"%PDF-") else payload.decode("utf-8", "replace")
            )
        texts.append("\n".join(parts).lower())
    return texts


def found_in(needles: tuple[str, ...], run: SeededRun, *, warehouse: bool = True) -> list[tuple[str, str]]:
    """(needle, where) for every needle found in the warehouse, data files, e-mails or console.

    With warehouse=False the warehouse is left out: its tables, and its database file.
    """
    places: dict[str, str | bytes] = {}
    if warehouse:
        places |= {f"warehouse {name}": text for name, text in warehouse_texts(run.root).items()}
    places |= {
        f"file {name}": data
        for name, data in data_files(run.root).items()
        if warehouse or not name.startswith("warehouse.duckdb")
    }
    places |= {f"e-mail {i}": text for i, text in enumerate(email_texts(run))}
    places["console"] = run.console().lower()
    hits = []
    for needle in needles:
        low = needle.lower()
        for where, haystack in places.items():
            if (low.encode() if isinstance(haystack, bytes) else low) in haystack:
                hits.append((needle, where))
    return hits


def test_the_run_did_what_the_scans_assume(run: SeededRun) -> None:
    """Positive controls: three years loaded, one refused, the report and the alert went out by SMTP
    with the login from the environment, and the scans can see rows, SQLite event logs and e-mails."""
    assert run.commands["run"].returncode == 1, run.commands["run"].stdout  # the refused 2017 delivery
    for year in ("2019", "2022", "2023"):
        assert f"ok   {year}" in run.commands["run"].stdout
    assert "FAIL 2017" in run.commands["run"].stdout
    assert run.commands["report"].returncode == 0, (
        run.commands["report"].stdout + run.commands["report"].stderr
    )
    recipients = sorted(tuple(m.rcpt_tos) for m in run.messages)
    assert recipients == sorted([(ANALYSTS,), (LEADERSHIP,)])
    assert (SMTP_USER.encode(), True) in run.logins and all(ok for _, ok in run.logins)

    texts = warehouse_texts(run.root)
    # Free text is kept with contacts masked (§6): the name in a comment is there, the contacts are not.
    assert FREE_TEXT_NAME.lower() in texts["raw.responses"]
    assert "[email removed]" in texts["raw.responses"] and "[phone removed]" in texts["raw.responses"]
    files = data_files(run.root)
    event_logs = [name for name in files if name.startswith("dagster_home/") and name.endswith(".db")]
    assert any(b"ssm_survey_2019.csv" in files[name] for name in event_logs)  # metadata of the ingest run
    assert any(name.startswith("dagster_home/storage/") for name in files)  # compute logs
    assert any(name.startswith("logs/") for name in files)
    # The scans read the report's PDF as text, in the data folder and in the e-mail.
    title = f"student/student mentoring survey {REPORT_YEAR}"
    assert title.encode() in files[f"reports/{REPORT_YEAR}/report.pdf"]
    (report,) = [m for m in run.messages if m.rcpt_tos == [LEADERSHIP]]
    printed = pdf_text(attached_pdf(email.message_from_bytes(report.data, policy=policy.default))).lower()
    assert title in printed and any(printed in text for text in email_texts(run))
    # The byte scan finds what is there: every identifier is in the deliveries it skips.
    deliveries = b"\n".join(
        data for name, data in data_files(run.root, deliveries=True).items() if name not in files
    )
    assert [i for i in IDENTIFIERS if i.lower().encode() not in deliveries] == []


def test_no_identifier_leaves_a_loaded_delivery(run: SeededRun) -> None:
    """No name, e-mail address, IP address, phone number, location, ExternalReference or ResponseId of
    the deliveries is in any warehouse table, report, log, Dagster storage file, e-mail or console line."""
    assert found_in(IDENTIFIERS, run) == []


def test_free_text_stays_in_the_warehouse(run: SeededRun) -> None:
    """A name written in a comment (kept by §6) appears in no report, e-mail, log, Dagster file or
    console line: free text never leaves the warehouse."""
    assert found_in((FREE_TEXT_NAME,), run, warehouse=False) == []


def test_salt_and_smtp_password_are_never_written(run: SeededRun) -> None:
    """SSM_RESPONSE_SALT and SSM_SMTP_PASSWORD appear in no file of the data folder (deliveries, warehouse,
    logs, Dagster storage included), no e-mail and no console output, although the run used both."""
    # They were used: the keys are the salted hashes, and the server accepted the login.
    assert hash_response_id(f"{RESPONSE_ID_PREFIX}V2P", SALT) in warehouse_texts(run.root)["raw.responses"]
    assert (SMTP_USER.encode(), True) in run.logins
    places = {f"file {n}": d for n, d in data_files(run.root, deliveries=True).items()}
    places["warehouse"] = "\n".join(warehouse_texts(run.root).values()).encode()
    places |= {f"e-mail {i}": t.encode() for i, t in enumerate(email_texts(run))}
    places["console"] = run.console().lower().encode()
    for secret in (SALT, SMTP_PASSWORD):
        assert [where for where, data in places.items() if secret.lower().encode() in data] == []


def test_no_identifier_leaves_a_refused_delivery(run: SeededRun) -> None:
    """A delivery refused as a whole (rows shifted by an unquoted "Last, First" name) leaves none of its
    identifiers in the warehouse, the logs, Dagster's storage, the analysts' alert or the console."""
    assert found_in(REFUSED_IDENTIFIERS, run) == []
