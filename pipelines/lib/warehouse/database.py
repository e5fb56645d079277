"""The DuckDB warehouse: connections that always close, and the tables the ingest assets own.

dbt owns the staging, intermediate and marts schemas; Python owns `raw` (what was delivered, already
de-identified) and `ops` (ledgers). Nothing else writes the file.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipelines.lib.warehouse import deliveries

# raw.deliveries is declared by its owner, pipelines/lib/warehouse/deliveries.py.
RAW_DDL = (
    "create schema if not exists raw;\ncreate schema if not exists ops;\n"
    + deliveries.DDL
    + """
create table if not exists raw.responses (
    delivery_sha256 varchar not null,
    survey_year integer not null,
    row_number integer not null,
    bucket varchar not null,
    respondent_key varchar,
    recorded_at timestamp,
    -- one column per answer column of the codebook (schemas/codebook.yaml): ensure_raw_tables
    {answers}
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
)

LOCK_WAIT_SECONDS = 120.0
# How long to wait for another program's lock on the warehouse before giving up (seconds).
LOCK_WAIT_ENV = "SSM_LOCK_WAIT_SECONDS"
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse file for longer than we are prepared to wait."""


def lock_wait_seconds() -> float:
    """The wait for a lock held by another program: SSM_LOCK_WAIT_SECONDS, else 120 s."""
    value = os.environ.get(LOCK_WAIT_ENV, "").strip()
    if not value:
        return LOCK_WAIT_SECONDS
    try:
        return max(float(value), 0.0)
    except ValueError:
        raise WarehouseBusy(
            f"{LOCK_WAIT_ENV}={value!r} is not a number of seconds; set it to, say, 120, or unset it."
        ) from None


def _busy_message(path: Path, error: str, waited: float) -> str:
    """Who holds the warehouse and what to do, from DuckDB's lock error."""
    holder = _LOCK_HOLDER.search(error)
    who = (
        f"{holder['program']} (process {holder['pid']})"
        if holder
        else "another program (for example a notebook, DBeaver or another `ssm run`)"
    )
    return (
        f"The warehouse {path} is in use by {who} and stayed busy for {waited:.0f} s. "
        "Close that program's connection to the warehouse (in a notebook or Python session: "
        "con.close() or restart the kernel; in DBeaver: disconnect), then run the command again. "
        "A read-only connection keeps the pipeline out too: open the warehouse only between runs."
    )


@contextmanager
def connect(
    path: Path, read_only: bool = False, wait_seconds: float | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse, waiting while another process writes it, and always close it.

    DuckDB lets one process at a time open a file for writing; a second one gets an IO error at once.
    Waiting with back-off (up to `wait_seconds`, by default SSM_LOCK_WAIT_SECONDS or 120 s) turns
    "Could not set lock" into a queue, and then into a message naming the program that holds the
    file; the try/finally makes sure this process never keeps the file locked after a failed step
    (dagster-duckdb's resource does not).
    """
    if wait_seconds is None:
        wait_seconds = lock_wait_seconds()
    deadline = time.monotonic() + wait_seconds
    delay = 0.1
    while True:
        try:
            connection = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() > deadline:
                raise WarehouseBusy(_busy_message(path, str(exc), wait_seconds)) from None
            if delay == 0.1:  # the first wait: say why the command pauses
                holder = _LOCK_HOLDER.search(str(exc))
                who = f" by {holder['program']} (process {holder['pid']})" if holder else ""
                # To the terminal itself: `ssm` sends a run's stderr (Dagster's log) to its log file,
                # and the person waiting needs to see why the command pauses.
                print(
                    f"ssm: the warehouse {path} is in use{who}; waiting up to {wait_seconds:.0f} s ...",
                    file=sys.__stderr__ or sys.stderr,
                    flush=True,
                )
            time.sleep(min(delay, max(deadline - time.monotonic(), 0.0) + 0.01))
            delay = min(delay * 2, 5.0)
    try:
        yield connection
    finally:
        connection.close()


def ensure_raw_tables(connection: duckdb.DuckDBPyConnection) -> None:
    """Create the raw and ops tables when missing, and add the codebook's new answer columns (idempotent).

    The answer columns of raw.responses come from the codebook. A warehouse made before a variable was
    added gains its column (empty for the years before) the next time it is opened for writing. The
    codebook is read here, not at import: deciding that nothing is new (pipelines/pending.py) never
    needs it.
    """
    from schemas.codebook import codebook

    answer_columns = codebook().answer_columns()
    connection.execute(
        RAW_DDL.replace(
            "{answers}", ",\n    ".join(f"{name} {sql_type}" for name, sql_type in answer_columns)
        )
    )
    present = {
        name
        for (name,) in connection.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'raw' and table_name = 'responses' and table_catalog = current_database()"
        ).fetchall()
    }
    for name, sql_type in answer_columns:
        if name not in present:
            connection.execute(f"alter table raw.responses add column {name} {sql_type}")


# dbt builds into a copy of the warehouse in this folder of the data folder (same file name, so the
# same DuckDB catalog name), and the copy replaces the warehouse when the build succeeded.
BUILD_DIR = ".building"


class WarehouseChanged(RuntimeError):
    """Another program wrote to the warehouse while the models were built in a copy of it."""


def _stamp(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


@contextmanager
def build_in_copy(path: Path) -> Iterator[Path]:
    """A copy of the warehouse to build the models in, put in place of the warehouse in one step
    when the block finishes, and thrown away when it fails or the process dies.

    dbt commits model by model: built in place, a killed or failed build would leave some marts with
    a year's new rows and others without. Renaming the finished copy over the warehouse is atomic
    (one file system), so a reader sees the marts as they were before the build or after it, never
    in between, and a reader that is open during the build keeps reading the old file undisturbed.
    The copy costs a file copy (about a second per 250 MB).
    """
    build_dir = path.parent / BUILD_DIR
    shutil.rmtree(build_dir, ignore_errors=True)  # what a killed build left behind
    build_dir.mkdir(parents=True)
    copy = build_dir / path.name
    try:
        with connect(path) as con:  # the write lock: nobody writes while the file is copied
            ensure_raw_tables(con)
            con.execute("checkpoint")  # everything in the file itself, nothing left in a WAL
            shutil.copyfile(path, copy)
            stamp = _stamp(path)
        yield copy
        if _wal(copy).exists():  # dbt closes its connection cleanly; in case it did not
            with connect(copy) as con:
                con.execute("checkpoint")
        # A read-only connection while swapping: writers wait, readers may stay (they keep the old file).
        with connect(path, read_only=True):
            if _stamp(path) != stamp or _wal(path).exists():
                raise WarehouseChanged(
                    f"Another program wrote to the warehouse {path} while the models were being built "
                    "(every step of the pipeline waits for the one before, so something outside it "
                    "did). The build was not put in place, so nothing it wrote was lost: run the "
                    "command again."
                )
            os.replace(copy, path)
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)
