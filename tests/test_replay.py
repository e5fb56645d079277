"""Re-delivery and replay (issue 7, spec §4): the same file twice loads once, a corrected file
supersedes, an older delivery put back in landing/ counts again, re-running a year changes nothing,
and a backfill of every year gives the marts of year-by-year loads.

`ssm` runs in this test process (tests/reliability.py): the command's own code, without the start-up
of a new interpreter; tests/test_cli.py and the concurrency tests run it as a subprocess.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import dagster as dg

from pipelines.lib.ingest.landing import sha256_of
from tests.conftest import BuiltPipeline, pipeline_environment, run_pending
from tests.reliability import copy_built, differences, marts, query, ssm_in_process


def _deliveries(root: Path, year: int) -> list[tuple]:
    return query(
        root / "warehouse.duckdb",
        "select file_name, status, left(delivery_sha256, 12) from raw.deliveries where survey_year = ? "
        "order by received_at",
        [year],
    )


def _land(path: Path, content: bytes) -> Path:
    """Put a file in landing/ as the newest arrival (a modification time after every other file)."""
    path.write_bytes(content)
    return _make_newest(path)


def _make_newest(path: Path) -> Path:
    newest = max(p.stat().st_mtime for p in path.parent.iterdir())
    stamp = max(time.time(), newest + 1)
    os.utime(path, (stamp, stamp))
    return path


def test_the_same_file_twice_loads_once(built_pipeline: BuiltPipeline, tmp_path: Path) -> None:
    """Promise: a delivery that arrives a second time (the same bytes, under another name, as the
    newest file of its year) is not loaded again: `ssm run` says nothing is new, starts no run, and
    raw.deliveries keeps one row for it."""
    root = copy_built(built_pipeline, tmp_path)
    original = root / "landing" / "ssm_survey_2020.csv"
    _land(root / "landing" / "ssm_survey_2020_again.csv", original.read_bytes())
    before = marts(root / "warehouse.duckdb")
    with pipeline_environment(root):
        runs_before = len(dg.DagsterInstance.get().get_runs())
    result = ssm_in_process(root, "run")
    assert result.exit_code == 0, result.output
    assert "Nothing new" in result.output
    assert _deliveries(root, 2020) == [("ssm_survey_2020.csv", "loaded", sha256_of(original)[:12])]
    with pipeline_environment(root):
        assert len(dg.DagsterInstance.get().get_runs()) == runs_before
    assert marts(root / "warehouse.duckdb") == before


def test_a_corrected_file_supersedes_and_an_older_one_put_back_counts_again(
    built_pipeline: BuiltPipeline, tmp_path: Path
) -> None:
    """Promise: a corrected file supersedes the year's delivery (both on record, the old one
    'superseded', the marts built from the new one); and when the analyst puts the older file back in
    landing/ as the newest, `ssm run` loads it again (the newest file to arrive counts, spec §4): it
    is 'loaded', the correction 'superseded', and every mart equals the first load, table for table."""
    root = copy_built(built_pipeline, tmp_path)
    warehouse = root / "warehouse.duckdb"
    original = root / "landing" / "ssm_survey_2019.csv"
    first = marts(warehouse)
    # The correction drops the file's last response (a v1 file: CRLF line endings).
    lines = original.read_bytes().rstrip(b"\r\n").split(b"\r\n")
    corrected = _land(root / "landing" / "ssm_survey_2019_corrected.csv", b"\r\n".join(lines[:-1]) + b"\r\n")

    result = ssm_in_process(root, "run")
    assert result.exit_code == 0, result.output
    assert "2019: new file ssm_survey_2019_corrected.csv" in result.output
    assert _deliveries(root, 2019) == [
        ("ssm_survey_2019.csv", "superseded", sha256_of(original)[:12]),
        ("ssm_survey_2019_corrected.csv", "loaded", sha256_of(corrected)[:12]),
    ]
    (funnel,) = query(
        warehouse, "select received, source_sha256 from marts.response_funnel where survey_year = 2019"
    )
    (first_funnel,) = [row for row in first["response_funnel"] if row[0] == 2019]
    assert funnel == (first_funnel[2] - 1, sha256_of(corrected))

    # Last month's file back in landing/, now the newest: it counts again.
    _make_newest(original)
    result = ssm_in_process(root, "run")
    assert result.exit_code == 0, result.output
    assert "2019: new file ssm_survey_2019.csv" in result.output
    assert _deliveries(root, 2019) == [
        ("ssm_survey_2019_corrected.csv", "superseded", sha256_of(corrected)[:12]),
        ("ssm_survey_2019.csv", "loaded", sha256_of(original)[:12]),
    ]
    assert differences(marts(warehouse), first) == []
    # And it is settled: the next run finds nothing new.
    result = ssm_in_process(root, "run")
    assert result.exit_code == 0 and "Nothing new" in result.output, result.output


def test_rerunning_a_year_changes_no_mart(built_pipeline: BuiltPipeline, tmp_path: Path) -> None:
    """Promise: `ssm run --year Y` on a loaded year (the same delivery again) is idempotent: every
    mart equals the first load, table for table, after the re-run."""
    root = copy_built(built_pipeline, tmp_path)
    first = marts(root / "warehouse.duckdb")
    result = ssm_in_process(root, "run", "--year", "2018")
    assert result.exit_code == 0, result.output
    assert "2018: rebuild requested" in result.output and "ok   2018" in result.output
    assert differences(marts(root / "warehouse.duckdb"), first) == []
    assert [status for _, status, _ in _deliveries(root, 2018)] == ["loaded"]


BACKFILL_YEARS = [2019, 2020]  # a v1 and a v2 year


def test_a_backfill_of_every_year_equals_year_by_year_loads(tmp_path: Path) -> None:
    """Promise: a backfill of survey_year_job over every partition (what the UI's "materialize all
    partitions" launches for this job: one run over the range of years, its single-run backfill
    policy) gives the same marts, table for table, as loading the years one run each, oldest first."""
    from pipelines import launcher
    from pipelines.defs.dagster_internals import partition_range_tags
    from pipelines.defs.shared import survey_years
    from pipelines.generators.demo import write_demo_data
    from pipelines.paths import DataFolder

    root = tmp_path / "data"
    folder = DataFolder.at(root)
    write_demo_data(root, years=BACKFILL_YEARS)
    with pipeline_environment(root):
        for year in BACKFILL_YEARS:
            (outcome,) = run_pending(root, only=[year])
            assert outcome.survey_year == year and outcome.succeeded, outcome.message
    year_by_year = marts(root / "warehouse.duckdb")
    assert year_by_year and all(year_by_year.values())

    # The same deliveries in a new warehouse and instance at the same path (dbt's parse of the
    # project, kept in dbt/target, stays valid), loaded by one backfill run over every year, with the
    # job's default configuration (the dbt build then rebuilds every year).
    for name in ("warehouse.duckdb", "dagster_home", "archive", "reports", "logs"):
        path = root / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    with pipeline_environment(root):
        instance = launcher.instance(folder)
        instance.add_dynamic_partitions(survey_years.name, [str(y) for y in BACKFILL_YEARS])
        tags = partition_range_tags("2019", "2020")
        result = launcher.execute(folder, instance, "survey_year_job", tags=tags)
        assert result.success, launcher.failure_message(instance, result.run_id)
        assert [run.job_name for run in instance.get_runs()] == ["survey_year_job"]
    assert differences(marts(root / "warehouse.duckdb"), year_by_year) == []
