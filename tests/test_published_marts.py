"""The marts published for readers (issue 17, spec §11 rev 2): after each successful build
published/marts.duckdb and published/<table>.parquet hold the warehouse's marts, put in place as new
files, so that a reader
holding the previous one keeps reading it and never delays or fails a run; a failed build publishes
nothing.

The reader is another process (a notebook, DBeaver): DuckDB's locks are per process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.lib.warehouse.publish import publish_marts, unfinished_copies
from tests.conftest import BuiltPipeline
from tests.reliability import copy_built, ssm_in_process

SNAPSHOT = Path("published") / "marts.duckdb"
# The file is named marts, like its schema: `marts.response_funnel` is ambiguous in a connection to
# it, so readers name the catalog too (or attach the file under another name).
FUNNEL = "select survey_year, received from marts.marts.response_funnel order by survey_year"

# A notebook: a read-only connection, held open; it answers each query it is sent, until an empty line.
READER = (
    "import duckdb, json, sys\n"
    "con = duckdb.connect(sys.argv[1], read_only=True)\n"
    "while (sql := sys.stdin.readline()).strip():\n"
    "    print(json.dumps(con.execute(sql).fetchall()), flush=True)\n"
    "con.close()\n"
)


def _columns(path: Path) -> list[tuple]:
    """Every column of schema marts: table, position, name and type."""
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "select table_name, ordinal_position, column_name, data_type from information_schema.columns "
            "where table_catalog = current_database() and table_schema = 'marts' order by all"
        ).fetchall()


def _tables(path: Path) -> list[tuple[str, str]]:
    """Every table and view of the file, by schema."""
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = current_database() order by all"
        ).fetchall()


def _row_differences(warehouse: Path, snapshot: Path) -> dict[str, tuple[int, int, int, int]]:
    """Per marts table of the warehouse: rows in each file, and rows of each not in the other (EXCEPT
    ALL both ways); the two files read independently, each attached read-only."""
    with duckdb.connect() as con:
        con.execute("attach ? as w (read_only)", [str(warehouse)])
        con.execute("attach ? as p (read_only)", [str(snapshot)])
        tables = [
            name
            for (name,) in con.execute(
                "select table_name from duckdb_tables() where database_name = 'w' and schema_name = 'marts'"
            ).fetchall()
        ]
        return {
            t: con.execute(
                f"select (select count(*) from w.marts.{t}), (select count(*) from p.marts.{t}), "
                f"(select count(*) from (from w.marts.{t} except all from p.marts.{t})), "
                f"(select count(*) from (from p.marts.{t} except all from w.marts.{t}))"
            ).fetchone()
            for t in tables
        }


def _published_files(snapshot: Path) -> dict[str, bytes]:
    """Every file in the published folder, by name, with its bytes."""
    return {path.name: path.read_bytes() for path in sorted(snapshot.parent.iterdir())}


def _assert_same_marts(root: Path) -> None:
    warehouse, snapshot = root / "warehouse.duckdb", root / SNAPSHOT
    assert _columns(snapshot) == _columns(warehouse)
    assert _tables(snapshot) == [t for t in _tables(warehouse) if t[0] == "marts"]
    differences = _row_differences(warehouse, snapshot)
    assert differences and sorted(differences) == [name for _, name in _tables(snapshot)]
    for table, (rows, published, missing, extra) in differences.items():
        assert rows > 0 and (rows, missing, extra) == (published, 0, 0), (table, differences[table])
    # Beside it one Parquet file per table with the same columns, types and rows, and nothing else:
    # no WAL (it was checkpointed and closed), no unfinished copy.
    tables = sorted(differences)
    assert sorted(p.name for p in snapshot.parent.iterdir()) == sorted(
        ["marts.duckdb", *(f"{t}.parquet" for t in tables)]
    )
    with duckdb.connect() as con:
        con.execute("attach ? as w (read_only)", [str(warehouse)])
        for table in tables:
            parquet = str(snapshot.parent / f"{table}.parquet")
            assert con.execute(f"describe select * from read_parquet('{parquet}')").fetchall() == (
                con.execute(f"describe select * from w.marts.{table}").fetchall()
            ), table
            assert con.execute(
                f"select (select count(*) from (from w.marts.{table} except all from read_parquet('{parquet}'))),"
                f" (select count(*) from (from read_parquet('{parquet}') except all from w.marts.{table}))"
            ).fetchone() == (0, 0), table


def test_the_snapshot_holds_the_warehouse_marts(built_pipeline: BuiltPipeline) -> None:
    """Promise: after `ssm run`, published/marts.duckdb holds exactly the warehouse's marts tables in
    schema marts (nothing of raw, ops or the other schemas), each with the same columns and types in
    the same order and the same rows; Dagster records what was published."""
    _assert_same_marts(built_pipeline.root)
    instance = dg.DagsterInstance.from_config(str(built_pipeline.dagster_home))
    event = instance.get_latest_materialization_event(dg.AssetKey("published_marts"))
    metadata = event.asset_materialization.metadata
    differences = _row_differences(built_pipeline.root / "warehouse.duckdb", built_pipeline.root / SNAPSHOT)
    counts = {table: rows for table, (rows, *_) in differences.items()}
    assert metadata["rows"].value == counts
    assert metadata["tables"].value == sorted(counts)
    assert metadata["path"].value == str(built_pipeline.root / SNAPSHOT)


def test_a_reader_holding_the_snapshot_never_delays_a_build(
    built_pipeline: BuiltPipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Promise: while another process holds the published file open (read-only, as a notebook does),
    `ssm run --year Y` on a corrected delivery, told not to wait for any lock (SSM_LOCK_WAIT_SECONDS=0),
    succeeds; the published path is then a new file with the new marts, the reader still reads its
    old snapshot without error, and the copies a killed publish left behind are gone."""
    root = copy_built(built_pipeline, tmp_path)
    snapshot = root / SNAPSHOT
    # What a publish killed half-way leaves: a hidden copy and its WAL.
    left = snapshot.with_name(".marts.duckdb.0badc0ffee00.tmp")
    left.write_bytes(b"unfinished")
    left.with_name(left.name + ".wal").write_bytes(b"unfinished")
    assert len(unfinished_copies(snapshot)) == 2
    first_inode = snapshot.stat().st_ino
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(snapshot)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        reader.stdin.write(FUNNEL + "\n")
        reader.stdin.flush()
        before = json.loads(reader.stdout.readline())
        assert [year for year, _ in before] == list(range(2016, 2027))

        # A corrected 2019 without its last response (a v1 file: CRLF line endings).
        landing = root / "landing"
        lines = (landing / "ssm_survey_2019.csv").read_bytes().rstrip(b"\r\n").split(b"\r\n")
        (landing / "ssm_survey_2019_corrected.csv").write_bytes(b"\r\n".join(lines[:-1]) + b"\r\n")
        monkeypatch.setenv("SSM_LOCK_WAIT_SECONDS", "0")
        result = ssm_in_process(root, "run", "--year", "2019")
        assert result.exit_code == 0, result.output
        assert "ok   2019" in result.output

        assert snapshot.stat().st_ino != first_inode
        # The reader, still open, reads the snapshot it opened.
        reader.stdin.write(FUNNEL + "\n")
        reader.stdin.flush()
        assert json.loads(reader.stdout.readline()) == before
    finally:
        reader.stdin.write("\n")
        reader.stdin.close()
        reader.wait(timeout=60)
    assert reader.returncode == 0
    # A new reader sees the new marts: 2019 has one response fewer, and every mart is the warehouse's.
    with duckdb.connect(str(snapshot), read_only=True) as con:
        after = [list(row) for row in con.execute(FUNNEL).fetchall()]
    expected = [[year, received - 1 if year == 2019 else received] for year, received in before]
    assert after == expected
    _assert_same_marts(root)


def test_a_failed_build_leaves_the_snapshot_as_it_was(built_pipeline: BuiltPipeline, tmp_path: Path) -> None:
    """Promise: a run that fails (a refused delivery) publishes nothing: the published file is the
    same file, byte for byte, and nothing is left beside it."""
    root = copy_built(built_pipeline, tmp_path)
    snapshot = root / SNAPSHOT
    before, inode = _published_files(snapshot), snapshot.stat().st_ino
    (root / "landing" / "ssm_survey_2021_corrected.csv").write_text(
        "this is not a survey export\n", encoding="utf-8"
    )
    result = ssm_in_process(root, "run")
    assert result.exit_code == 1, result.output
    assert "FAIL 2021" in result.output
    assert _published_files(snapshot) == before and snapshot.stat().st_ino == inode


def test_a_failed_publish_leaves_the_snapshot_as_it_was(
    built_pipeline: BuiltPipeline, tmp_path: Path
) -> None:
    """Promise: a publish that fails part-way (here: a warehouse that cannot be read) keeps the
    previous snapshot byte for byte and removes its own unfinished copy; a WAL beside the snapshot
    (left by someone who opened it for writing) does not spoil the next snapshot."""
    snapshot = tmp_path / SNAPSHOT
    warehouse = built_pipeline.root / "warehouse.duckdb"
    published = publish_marts(warehouse, snapshot)
    assert published.tables == [name for schema, name in _tables(warehouse) if schema == "marts"]
    assert all(published.rows.values())
    assert [p.name for p in published.parquet] == [f"{t}.parquet" for t in published.tables]
    before = _published_files(snapshot)
    with pytest.raises(duckdb.Error):
        publish_marts(tmp_path / "no-such-warehouse.duckdb", snapshot)
    assert _published_files(snapshot) == before

    snapshot.with_name("marts.duckdb.wal").write_bytes(b"a write-ahead log of the old snapshot")
    publish_marts(warehouse, snapshot)
    with duckdb.connect(str(snapshot), read_only=True) as con:
        assert con.execute("select count(*) from marts.marts.response_funnel").fetchone() == (11,)
    assert sorted(_published_files(snapshot)) == sorted(before)


def test_published_marts_runs_after_the_marts_in_the_yearly_job_only() -> None:
    """Promise: the asset is one unpartitioned step downstream of every dbt mart, in the warehouse
    pool, in survey_year_job and not in the report jobs."""
    from pipelines.definitions import defs

    key = dg.AssetKey("published_marts")
    graph = defs.resolve_asset_graph()
    node = graph.get(key)
    assert node.parent_keys == {k for k in graph.get_all_asset_keys() if k.path[0] == "marts"}
    assert node.parent_keys and node.partitions_def is None
    assert defs.resolve_assets_def(key).op.pool == "warehouse"
    jobs = ("survey_year_job", "report_job", "report_delivery_job")
    selected = {name: key in defs.resolve_job_def(name).asset_layer.selected_asset_keys for name in jobs}
    assert selected == {"survey_year_job": True, "report_job": False, "report_delivery_job": False}
