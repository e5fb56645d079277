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
