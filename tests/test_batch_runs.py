"""How `ssm run` loads a batch of years cheaply (issues 6 and 15), and that the shortcuts change no result.

- A batch is one run of survey_year_job over the range of years, with one unpartitioned dbt build
  told the years through its run configuration.
- A refused delivery in a batch: the batch run fails, the plan is made again without the refused
  year, the good years load in a second run and the refused one fails with its own message.
- The dbt build skips dagster-dbt's `dbt --version` subprocess and keeps dbt's partial parsing
  valid from one build to the next (the years are not passed as --vars).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from tests.conftest import BUILT_YEARS, BuiltPipeline, pipeline_environment, run_pending

RANGE_START = "dagster/asset_partition_range_start"


def _copy(built: BuiltPipeline, tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(built.root, root)
    return root


def _runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """The runs that loaded years, oldest first (other tests may make report runs in the shared build)."""
    return list(reversed(instance.get_runs(dg.RunsFilter(job_name="survey_year_job"))))


def test_a_batch_is_one_run(built_pipeline: BuiltPipeline) -> None:
    """Promise: loading the ten demo years took one run over the whole range of years, with one dbt
    build told those years; Dagster records every per-year asset of every year, and each dbt model
    once, as materialised by it."""
    from pipelines.defs.planning import DBT_STEP

    instance = dg.DagsterInstance.from_config(str(built_pipeline.dagster_home))
    (run,) = _runs(instance)
    years = [str(y) for y in BUILT_YEARS]
    assert run.job_name == "survey_year_job" and run.status == dg.DagsterRunStatus.SUCCESS
    assert (run.tags[RANGE_START], run.tags["dagster/asset_partition_range_end"]) == (years[0], years[-1])
    assert run.tags["ssm/survey_years"] == ",".join(years)
    assert run.run_config["ops"][DBT_STEP]["config"]["years"] == list(BUILT_YEARS)
    for key in (["raw", "deliveries"], ["raw", "responses"], ["report", "yearly_report"]):
        assert instance.get_materialized_partitions(dg.AssetKey(key)) >= set(years), key
    materialised = [
        entry.dagster_event.event_specific_data.materialization
        for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    ]
    dbt_models = [m for m in materialised if m.asset_key == dg.AssetKey(["marts", "metric_summary"])]
    assert len(dbt_models) == 1 and dbt_models[0].partition is None
    assert all(o.succeeded for o in built_pipeline.outcomes)


def test_a_refused_file_in_a_batch_fails_alone(built_pipeline: BuiltPipeline, tmp_path: Path) -> None:
    """Promise: one bad delivery among several new ones does not stop the others; it fails with its
    own message, and the warehouse keeps that year's previous state."""
    from pipelines.paths import DataFolder
    from pipelines.pending import pending_work

    root = _copy(built_pipeline, tmp_path)
    built_runs = {r.run_id for r in _runs(dg.DagsterInstance.from_config(str(built_pipeline.dagster_home)))}
    landing = root / "landing"
    good = sorted(landing.glob("ssm_survey_2020*"))[0]
    corrected = landing / good.name.replace("2020", "2020_corrected", 1)
    # A corrected 2020 (same rows, a changed line ending) and a junk 2021: both are new deliveries.
    corrected.write_bytes(good.read_bytes().replace(b"\n", b"\r\n"))
    (landing / "ssm_survey_2021_corrected.csv").write_text("this is not a survey export\n", encoding="utf-8")
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        before_2021 = con.execute("select count(*) from raw.responses where survey_year = 2021").fetchall()
    with pipeline_environment(root):
        assert sorted(pending_work(DataFolder.at(root)).years) == [2020, 2021]
        outcomes = {o.survey_year: o for o in run_pending(root)}
        instance = dg.DagsterInstance.get()
        runs = [r for r in _runs(instance) if r.run_id not in built_runs]
        # Asked again, the plan lists nothing: the refused file is not read again for the same bytes.
        again = pending_work(DataFolder.at(root))
    assert outcomes[2020].succeeded, outcomes[2020].message
    assert not outcomes[2021].succeeded
    assert "ssm_survey_2021_corrected.csv" in outcomes[2021].message
    assert not again and list(again.refused) == [2021]
    # The batch run failed; the plan made again ran 2020 alone. The failed run is the one the
    # outcome (and the alert) names.
    assert [(r.tags["ssm/survey_years"], r.status) for r in runs] == [
        ("2020,2021", dg.DagsterRunStatus.FAILURE),
        ("2020", dg.DagsterRunStatus.SUCCESS),
    ]
    assert outcomes[2021].run_id == runs[0].run_id and outcomes[2020].run_id == runs[1].run_id
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
        outcomes = run_pending(root, years=[2021])
    assert [o.survey_year for o in outcomes] == [2021] and outcomes[0].succeeded, outcomes
    parsing = _parsing_messages(log)
    assert parsing and all("Unable to do partial parsing" not in m for m in parsing), parsing
    assert any(m.startswith("Partial parsing enabled") for m in parsing), parsing


def test_charts_drawn_in_workers_are_the_charts_drawn_in_the_run(
    built_pipeline: BuiltPipeline, tmp_path: Path
) -> None:
    """Promise: a long batch draws its charts in worker processes (the shared build rendered ten
    years), and its reports are byte for byte the reports that a one-year run draws in its own process."""
    from pipelines import launcher
    from pipelines.defs.report.assets import PARALLEL_MIN_YEARS
    from pipelines.paths import DataFolder

    assert len(BUILT_YEARS) >= PARALLEL_MIN_YEARS
    instance = dg.DagsterInstance.from_config(str(built_pipeline.dagster_home))
    (build_run,) = _runs(instance)
    messages = [event.user_message for event in instance.all_logs(build_run.run_id)]
    assert any(f"charts of {len(BUILT_YEARS)} years in 2 worker processes" in m for m in messages), messages

    root = _copy(built_pipeline, tmp_path)
    shutil.rmtree(root / "reports" / "2020")
    with pipeline_environment(root):
        folder = DataFolder.at(root)
        outcome = launcher.run_report(folder, launcher.instance(folder), 2020, send=False, force=False)
    assert outcome.succeeded, outcome
    for name in ("report.html", "email.html", "email.txt", "value_items.png", "trends.png"):
        mine = (root / "reports" / "2020" / name).read_bytes()
        assert mine == (built_pipeline.root / "reports" / "2020" / name).read_bytes(), name
