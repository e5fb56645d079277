"""How `ssm run` loads a batch of years cheaply (issue 6), and that the shortcuts change no result.

- A batch is three runs: one ingest run over the range of years, one dbt build, one report run.
- A refused delivery in a batch: the batch run fails, every year runs again on its own, the good
  years load and the refused one fails with its own message (and only that run is alerted about).
- The dbt build skips dagster-dbt's `dbt --version` subprocess and keeps dbt's partial parsing
  valid from one build to the next (the years are not passed as --vars).
"""

from __future__ import annotations

import inspect
import json
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_dbt import DbtCliResource

from tests.conftest import BUILT_YEARS, BuiltPipeline, pipeline_environment

RANGE_START = "dagster/asset_partition_range_start"


def _copy(built: BuiltPipeline, tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(built.root, root)
    return root


def _runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return list(reversed(instance.get_runs()))


def test_a_batch_is_one_run_per_stage(built_pipeline: BuiltPipeline) -> None:
    """Promise: loading the ten demo years took three runs, each over the whole range of years, and
    Dagster records every asset of every year as materialised by them."""
    instance = dg.DagsterInstance.from_config(str(built_pipeline.dagster_home))
    runs = [r for r in _runs(instance) if r.job_name in ("ingest_job", "transform_job", "report_job")]
    first_runs = runs[:3]
    assert [r.job_name for r in first_runs] == ["ingest_job", "transform_job", "report_job"]
    years = [str(y) for y in BUILT_YEARS]
    for run in first_runs:
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert (run.tags[RANGE_START], run.tags["dagster/asset_partition_range_end"]) == (years[0], years[-1])
    for key in (
        ["raw", "deliveries"],
        ["raw", "responses"],
        ["marts", "metric_summary"],
        ["report", "yearly_report"],
    ):
        assert instance.get_materialized_partitions(dg.AssetKey(key)) >= set(years), key
    assert all(o.succeeded for o in built_pipeline.outcomes)


def test_a_refused_file_in_a_batch_fails_alone(built_pipeline: BuiltPipeline, tmp_path: Path) -> None:
    """Promise: one bad delivery among several new ones does not stop the others; it fails with its
    own message, and the warehouse keeps that year's previous state."""
    from pipelines import runner

    root = _copy(built_pipeline, tmp_path)
    landing = root / "landing"
    good = sorted(landing.glob("ssm_survey_2020*"))[0]
    corrected = landing / good.name.replace("2020", "2020_corrected", 1)
    # A corrected 2020 (same rows, a changed line ending) and a junk 2021: both are new deliveries.
    corrected.write_bytes(good.read_bytes().replace(b"\n", b"\r\n"))
    (landing / "ssm_survey_2021_corrected.csv").write_text("this is not a survey export\n", encoding="utf-8")
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        before_2021 = con.execute("select count(*) from raw.responses where survey_year = 2021").fetchall()
    with pipeline_environment(root):
        instance = runner.instance()
        pending = runner.pending_years(root)
        assert sorted(pending) == [2020, 2021]
        outcomes = {o.survey_year: o for o in runner.run_job("survey_year_job", sorted(pending), instance)}
        runs = _runs(instance)
    assert outcomes[2020].succeeded, outcomes[2020].message
    assert not outcomes[2021].succeeded
    assert "ssm_survey_2021_corrected.csv" in outcomes[2021].message
    attempt = [r for r in runs if r.tags.get("ssm/batch_attempt") and r.tags.get(RANGE_START) == "2020"]
    assert len(attempt) == 1 and attempt[0].status == dg.DagsterRunStatus.FAILURE
    # The years ran again one run each; the failed one is the run the outcome (and the alert) names.
    per_year = {
        r.tags.get("dagster/partition"): r for r in runs if r.job_name == "ingest_job" and r not in attempt
    }
    assert per_year["2021"].run_id == outcomes[2021].run_id
    assert per_year["2020"].status == dg.DagsterRunStatus.SUCCESS
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        statuses = dict(
            con.execute(
                "select file_name, status from raw.deliveries where survey_year in (2020, 2021)"
            ).fetchall()
        )
        after_2021 = con.execute("select count(*) from raw.responses where survey_year = 2021").fetchall()
    assert statuses[corrected.name] == "loaded"
    assert statuses["ssm_survey_2021_corrected.csv"] == "refused"
    assert after_2021 == before_2021


def test_survey_dbt_overrides_hooks_dagster_dbt_still_calls() -> None:
    """Promise: the two private dagster-dbt hooks SurveyDbt overrides are still what DbtCliResource.cli
    calls (a dagster-dbt upgrade that renames them fails here, not silently in production)."""
    source = inspect.getsource(DbtCliResource.cli)
    assert "self._cli_version" in source
    assert "self._initialize_dbt_core_adapter(" in source


def _parsing_messages(log: Path) -> list[str]:
    """dbt's messages about parsing in its JSON log."""
    messages = [
        json.loads(line)["info"]["msg"]
        for line in log.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return [m for m in messages if "partial pars" in m.lower()]


def test_a_build_keeps_partial_parsing_and_asks_no_version(
    built_pipeline: BuiltPipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Promise: a build runs dbt without a `dbt --version` subprocess, and dbt re-uses a parse of the
    project instead of parsing it again: in a new data folder's first build (the parse made when the
    code location loaded), and in a moved data folder (the profile names the warehouse relative to
    the data folder; the years are not passed as --vars)."""
    import dagster_dbt.core.resource as dbt_resource

    from pipelines import runner

    def no_version_subprocess(*args: object, **kwargs: object) -> bytes:
        raise AssertionError(f"dagster-dbt ran a subprocess: {args}")

    # The shared pipeline was built in a new data folder, by one build.
    first_build = _parsing_messages(built_pipeline.root / "dbt" / "target" / "dbt.log")
    assert first_build and all("Unable to do partial parsing" not in m for m in first_build), first_build
    assert any(m.startswith("Partial parsing enabled") for m in first_build), first_build

    monkeypatch.setattr(dbt_resource, "check_output", no_version_subprocess)
    root = _copy(built_pipeline, tmp_path)
    log = root / "dbt" / "target" / "dbt.log"
    log.unlink()
    with pipeline_environment(root):
        outcomes = runner.run_job("survey_year_job", [2021], runner.instance())
    assert outcomes[0].succeeded, outcomes
    parsing = _parsing_messages(log)
    assert parsing and all("Unable to do partial parsing" not in m for m in parsing), parsing
    assert any(m.startswith("Partial parsing enabled") for m in parsing), parsing


def test_charts_drawn_in_workers_are_the_charts_drawn_in_the_run(
    built_pipeline: BuiltPipeline, tmp_path: Path
) -> None:
    """Promise: a long batch draws its charts in worker processes (the shared build rendered ten
    years), and its reports are byte for byte the reports that a one-year run draws in its own process."""
    from pipelines import runner
    from pipelines.defs.report.assets import PARALLEL_MIN_YEARS

    assert len(BUILT_YEARS) >= PARALLEL_MIN_YEARS
    instance = dg.DagsterInstance.from_config(str(built_pipeline.dagster_home))
    report_run = next(r for r in _runs(instance) if r.job_name == "report_job")
    messages = [event.user_message for event in instance.all_logs(report_run.run_id)]
    assert any(f"charts of {len(BUILT_YEARS)} years in 2 worker processes" in m for m in messages), messages

    root = _copy(built_pipeline, tmp_path)
    shutil.rmtree(root / "reports" / "2020")
    with pipeline_environment(root):
        outcomes = runner.run_job("report_job", [2020], runner.instance())
    assert outcomes[0].succeeded, outcomes
    for name in ("report.html", "email.html", "email.txt", "value_items.png", "trends.png"):
        mine = (root / "reports" / "2020" / name).read_bytes()
        assert mine == (built_pipeline.root / "reports" / "2020" / name).read_bytes(), name
