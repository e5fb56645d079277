"""raw.deliveries, the record of every file received: the one module that reads and writes it.

A delivery is one file (by SHA-256) for one survey year. Its status moves received -> loaded (or
refused), and a loaded delivery becomes superseded when a newer file of its year loads in its place.
The year's current delivery is its newest arrival (spec §4: the newest file to arrive counts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

RECEIVED, LOADED, SUPERSEDED, REFUSED = "received", "loaded", "superseded", "refused"

DDL = """create table if not exists raw.deliveries (
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
"""


@dataclass(frozen=True)
class Delivery:
    """One row of raw.deliveries."""

    delivery_sha256: str
    survey_year: int
    file_name: str
    archive_path: Path
    status: str
    status_message: str | None
    received_at: datetime
    rows_received: int | None


_COLUMNS = "delivery_sha256, survey_year, file_name, archive_path, status, status_message, received_at, rows_received"


def has_table(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    """Whether the warehouse has the table (a new warehouse has none of the marts yet)."""
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchall()[0][0]
    )


def _deliveries(rows: list[tuple]) -> list[Delivery]:
    return [
        Delivery(sha, year, name, Path(archive), status, message, received, rows_received)
        for sha, year, name, archive, status, message, received, rows_received in rows
    ]


def all_deliveries(con: duckdb.DuckDBPyConnection) -> list[Delivery]:
    """Every delivery on record, by survey year and arrival (none in a warehouse without raw tables)."""
    if not has_table(con, "raw", "deliveries"):
        return []
    return _deliveries(
        con.execute(f"select {_COLUMNS} from raw.deliveries order by survey_year, received_at").fetchall()
    )


def current_delivery(con: duckdb.DuckDBPyConnection, year: int) -> Delivery | None:
    """The year's current delivery: its newest arrival, loaded or not."""
    rows = con.execute(
        f"select {_COLUMNS} from raw.deliveries where survey_year = ? order by received_at desc limit 1",
        [year],
    ).fetchall()
    return _deliveries(rows)[0] if rows else None


def loaded_deliveries(con: duckdb.DuckDBPyConnection) -> dict[int, str]:
    """Survey year -> SHA-256 of its loaded delivery."""
    if not has_table(con, "raw", "deliveries"):
        return {}
    return dict(
        con.execute(
            f"select survey_year, delivery_sha256 from raw.deliveries where status = '{LOADED}'"
        ).fetchall()
    )


def marts_sources(con: duckdb.DuckDBPyConnection) -> dict[int, str]:
    """Survey year -> SHA-256 of the delivery the marts were last built from (marts.response_funnel)."""
    if not has_table(con, "marts", "response_funnel"):
        return {}
    return {
        year: sha or ""
        for year, sha in con.execute(
            "select survey_year, source_sha256 from marts.response_funnel"
        ).fetchall()
    }


def loaded_delivery(con: duckdb.DuckDBPyConnection, year: int) -> Delivery | None:
    """The year's loaded delivery, the one raw.responses holds (None before the first load)."""
    rows = con.execute(
        f"select {_COLUMNS} from raw.deliveries where survey_year = ? and status = '{LOADED}'", [year]
    ).fetchall()
    return _deliveries(rows)[0] if rows else None


def record_arrival(
    con: duckdb.DuckDBPyConnection,
    year: int,
    file_name: str,
    sha256: str,
    archive_path: Path,
    size_bytes: int,
    received_at: datetime,
) -> bool:
    """Record a landed file as the year's newest arrival; returns whether it is new to the year.

    A file already on record that is not the year's newest (an older delivery put back in landing/,
    or a refused one tried again) is received again now: the newest file to arrive counts (spec §4).
    The year's loaded delivery stays loaded until the new current one loads in its place.
    """
    existing = con.execute("select 1 from raw.deliveries where delivery_sha256 = ?", [sha256]).fetchall()
    current = current_delivery(con, year)
    if not existing:
        con.execute(
            "insert into raw.deliveries (delivery_sha256, survey_year, file_name, archive_path, size_bytes,"
            f" received_at, status) values (?, ?, ?, ?, ?, ?, '{RECEIVED}')",
            [sha256, year, file_name, str(archive_path), size_bytes, received_at],
        )
        return True
    if current is not None and current.delivery_sha256 != sha256:
        con.execute(
            "update raw.deliveries set received_at = ?, file_name = ?, archive_path = ?, size_bytes = ?, "
            f"status = case when status = '{LOADED}' then status else '{RECEIVED}' end, status_message = null "
            "where delivery_sha256 = ?",
            [received_at, file_name, str(archive_path), size_bytes, sha256],
        )
        return True
    return False


def mark_refused(con: duckdb.DuckDBPyConnection, sha256: str, message: str) -> None:
    """Record that the delivery was refused, with the message that says why and what to do."""
    con.execute(
        f"update raw.deliveries set status = '{REFUSED}', status_message = ? where delivery_sha256 = ?",
        [message, sha256],
    )


def mark_loaded(
    con: duckdb.DuckDBPyConnection,
    year: int,
    sha256: str,
    instrument_version: str,
    coding: str,
    rows_received: int,
    loaded_at: datetime,
) -> None:
    """Record the delivery as the year's loaded one and the year's previously loaded one as superseded.
    Called inside the transaction that replaces the year's rows."""
    con.execute(
        f"update raw.deliveries set status = '{SUPERSEDED}' "
        f"where survey_year = ? and status = '{LOADED}' and delivery_sha256 <> ?",
        [year, sha256],
    )
    con.execute(
        f"update raw.deliveries set status = '{LOADED}', status_message = null, instrument_version = ?, "
        "coding = ?, rows_received = ?, loaded_at = ? where delivery_sha256 = ?",
        [instrument_version, coding, rows_received, loaded_at, sha256],
    )
