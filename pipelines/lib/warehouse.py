"""The DuckDB warehouse: connections that always close, and the tables the ingest assets own.

dbt owns the staging, intermediate and marts schemas; Python owns `raw` (what was delivered, already
de-identified) and `ops` (ledgers). Nothing else writes the file.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

RAW_DDL = """
create schema if not exists raw;
create schema if not exists ops;
create table if not exists raw.deliveries (
    delivery_sha256 varchar primary key,
    survey_year integer not null,
    file_name varchar not null,
    archive_path varchar not null,
    size_bytes bigint not null,
    received_at timestamp not null,
    status varchar not null,          -- received | loaded | superseded | refused
    status_message varchar,
    instrument_version varchar,
    coding varchar,
    rows_received integer,
    loaded_at timestamp
);
create table if not exists raw.responses (
    delivery_sha256 varchar not null,
    survey_year integer not null,
    row_number integer not null,
    bucket varchar not null,
    respondent_key varchar,
    recorded_at timestamp,
    consent varchar,
    gender varchar,
    age integer,
    specialty integer,
    specialty_other_text varchar,
    mentor_formal varchar,
    mentor_informal varchar,
    had_student_mentor varchar,
    value_distinct integer,
    value_mentee integer,
    value_mentor integer,
    mentor_again varchar,
    mentor_worthwhile integer,
    mentees_count integer,
    nonpart_reason_1 boolean,
    nonpart_reason_2 boolean,
    nonpart_reason_3 boolean,
    nonpart_reason_4 boolean,
    nonpart_reason_5 boolean,
    nonpart_reason_6 boolean,
    nonpart_other_text varchar,
    comments varchar
);
create table if not exists raw.data_quality_issues (
    delivery_sha256 varchar not null,
    survey_year integer not null,
    row_number integer not null,
    column_name varchar not null,
    original_value varchar,
    rule varchar not null
);
create table if not exists raw.class_sizes (
    survey_year integer primary key,
    class_size integer not null
);
create table if not exists ops.report_emails (
    survey_year integer not null,
    report_sha256 varchar not null,
    recipient varchar not null,
    attempted_at timestamp not null,
    message_id varchar not null,
    outcome varchar not null,          -- sending | sent | written_to_outbox | refused | failed | uncertain
    detail varchar
);
"""

LOCK_WAIT_SECONDS = 120.0


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse file for longer than we are prepared to wait."""


@contextmanager
def connect(
    path: Path, read_only: bool = False, wait_seconds: float = LOCK_WAIT_SECONDS
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse, waiting while another process writes it, and always close it.

    DuckDB lets one process at a time open a file for writing; a second one gets an IO error at once.
    Waiting with back-off turns "Could not set lock" into a queue, and the try/finally makes sure this
    process never keeps the file locked after a failed step (dagster-duckdb's resource does not).
    """
    deadline = time.monotonic() + wait_seconds
    delay = 0.1
    while True:
        try:
            connection = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                if "lock" in str(exc).lower():
                    raise WarehouseBusy(
                        f"The warehouse {path} is in use by another program (for example a notebook, "
                        f"DBeaver or another `ssm run`) and stayed busy for {wait_seconds:.0f} s. "
                        "Close that connection, then run the command again."
                    ) from exc
                raise
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
    try:
        yield connection
    finally:
        connection.close()


def ensure_raw_tables(connection: duckdb.DuckDBPyConnection) -> None:
    """Create the raw and ops tables when missing (idempotent)."""
    connection.execute(RAW_DDL)
