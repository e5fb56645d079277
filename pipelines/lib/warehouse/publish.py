"""The marts published for readers: a copy of the warehouse's schema marts, swapped in whole.

DuckDB lets a process write a file only while no other process has it open, so an analyst's notebook
holding the warehouse made every run wait and then stop. Readers open the published copies instead
(spec §11 rev 2), in both forms the spec names:

- `marts.duckdb`, schema `marts`: every table in one file, one consistent snapshot;
- `<table>.parquet`, one file per table, for BI tools and for `select * from 'response_funnel.parquet'`
  (a DuckDB file named like its schema makes `marts.response_funnel` ambiguous to DuckDB, which asks
  for `marts.marts.response_funnel`).

Each publish writes new files beside the old ones and renames each over its old one: a reader that
holds an old file keeps reading it (on POSIX the old file lives on until it is closed), a new reader
gets the new one, and the pipeline never opens a published file itself.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipelines.lib.warehouse import database

SCHEMA = "marts"
# The name the new file has while it is written, in the statements below (not stored in the file).
_ALIAS = "published"


@dataclass(frozen=True)
class PublishedMarts:
    """What one publish put in place: the DuckDB file, the Parquet files and each table's row count."""

    path: Path
    rows: dict[str, int]
    parquet: tuple[Path, ...] = ()

    @property
    def tables(self) -> list[str]:
        return sorted(self.rows)


def unfinished_copies(snapshot: Path) -> list[Path]:
    """The files a killed publish left in the snapshot's folder (new copies and their WALs, hidden
    names ending in .tmp); never a published file."""
    return sorted(snapshot.parent.glob(".*.tmp*"))


def parquet_path(snapshot: Path, table: str) -> Path:
    """The Parquet file of one marts table, beside the snapshot."""
    return snapshot.with_name(f"{table}.parquet")


def publish_marts(warehouse: Path, snapshot: Path) -> PublishedMarts:
    """Copy every table of the warehouse's schema marts into a new file and put it in place of
    `snapshot`, and each table into a new `<table>.parquet` beside it.

    The copies are written as hidden files in the snapshot's folder (the same file system, so a rename
    is atomic), the DuckDB file checkpointed and closed (no WAL beside it), then each is renamed over
    its published file with os.replace: the DuckDB file first, then the Parquet files (each whole; a
    reader of several Parquet files during those renames may mix two builds, which the one DuckDB file
    never does). A failure before the renames leaves every published file as it was and removes the
    new ones.

    Args:
        warehouse: The DuckDB warehouse, opened read-only (database.connect waits out a writer).
        snapshot: The published file, e.g. DataFolder.published_marts.

    Returns:
        The published files and the row count of each table.
    """
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    for leftover in unfinished_copies(snapshot):
        leftover.unlink(missing_ok=True)
    token = secrets.token_hex(6)
    copy = snapshot.with_name(f".{snapshot.name}.{token}.tmp")

    def new_parquet(table: str) -> Path:
        return snapshot.with_name(f".{table}.parquet.{token}.tmp")

    try:
        rows = _copy_marts(warehouse, copy, new_parquet)
        if _wal(copy).exists():
            raise RuntimeError(f"{copy} kept a write-ahead log after its checkpoint; not published.")
        # A WAL beside the snapshot can only come from someone who opened it for writing; DuckDB would
        # replay it into the new file and refuse to open it ("WAL does not match database file").
        _wal(snapshot).unlink(missing_ok=True)
        os.replace(copy, snapshot)
        for table in rows:
            os.replace(new_parquet(table), parquet_path(snapshot, table))
    finally:
        for path in snapshot.parent.glob(f".*.{token}.tmp*"):
            path.unlink(missing_ok=True)
    parquet = tuple(parquet_path(snapshot, table) for table in sorted(rows))
    # A mart that is no longer built leaves no stale file behind.
    for old in snapshot.parent.glob("*.parquet"):
        if old not in parquet:
            old.unlink(missing_ok=True)
    return PublishedMarts(snapshot, rows, parquet)


def _copy_marts(warehouse: Path, copy: Path, parquet_file: Callable[[str], Path]) -> dict[str, int]:
    """Write the marts tables of `warehouse` into the new file `copy`, and each into the new Parquet
    file `parquet_file(table)`; their row counts by name."""
    with database.connect(warehouse, read_only=True) as con:
        (catalog,) = con.execute("select current_database()").fetchone()
        source = f"{_quoted(catalog)}.{SCHEMA}"
        tables = [
            name
            for (name,) in con.execute(
                "select table_name from duckdb_tables() where database_name = current_database() "
                "and schema_name = ? order by table_name",
                [SCHEMA],
            ).fetchall()
        ]
        con.execute(f"attach ? as {_ALIAS} (read_write)", [str(copy)])
        con.execute(f"create schema {_ALIAS}.{SCHEMA}")
        rows = {}
        for table in tables:
            name = _quoted(table)
            # CREATE TABLE AS keeps the column names, types and order (not the NOT NULL constraints).
            con.execute(f"create table {_ALIAS}.{SCHEMA}.{name} as select * from {source}.{name}")
            (rows[table],) = con.execute(f"select count(*) from {_ALIAS}.{SCHEMA}.{name}").fetchone()
            target = str(parquet_file(table)).replace("'", "''")
            con.execute(f"copy {_ALIAS}.{SCHEMA}.{name} to '{target}' (format parquet)")
        con.execute(f"checkpoint {_ALIAS}")
        con.execute(f"detach {_ALIAS}")
    return rows


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")
