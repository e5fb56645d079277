"""The landing sensor and the yearly schedule, evaluated against the built instance and data folder."""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

import dagster as dg

from pipelines.defs.ingest.sensors import landing_sensor
from pipelines.defs.report.schedules import yearly_report_schedule
from pipelines.defs.resources import SurveyConfig
from pipelines.generators.demo import write_demo_data
from tests.conftest import BUILT_YEARS, BuiltPipeline


def _evaluate_sensor(built: BuiltPipeline, root: Path):
    with dg.DagsterInstance.from_config(str(built.dagster_home)) as instance:
        context = dg.build_sensor_context(
            instance=instance, resources={"survey": SurveyConfig(data_dir=str(root))}
        )
        return landing_sensor(context)


def test_sensor_skips_when_everything_is_loaded(built_pipeline: BuiltPipeline) -> None:
    result = _evaluate_sensor(built_pipeline, built_pipeline.root)
    assert isinstance(result, dg.SkipReason)


def test_sensor_requests_a_new_year_once_the_file_has_settled(
    built_pipeline: BuiltPipeline, tmp_path: Path
) -> None:
    root = _copy_data_folder(built_pipeline, tmp_path)
    new_year = max(BUILT_YEARS) + 1  # a year the built pipeline has not loaded
    write_demo_data(tmp_path / "new", years=[new_year])
    new_file = root / "landing" / f"ssm_survey_{new_year}.csv"
    shutil.copy(tmp_path / "new" / "landing" / f"ssm_survey_{new_year}.csv", new_file)

    assert isinstance(
        _evaluate_sensor(built_pipeline, root), dg.SkipReason
    )  # still being copied (fresh mtime)
    settled = datetime.now().timestamp() - 120
    os.utime(new_file, (settled, settled))
    result = _evaluate_sensor(built_pipeline, root)
    assert [r.partition_key for r in result.run_requests] == [str(new_year)]
    assert result.run_requests[0].run_config == {"ops": {"ssm_dbt_models": {"config": {"years": [new_year]}}}}
    assert result.dynamic_partitions_requests[0].partition_keys == [str(new_year)]
    # The same file at the next tick is the same run key: Dagster does not request it twice.
    assert _evaluate_sensor(built_pipeline, root).run_requests[0].run_key == result.run_requests[0].run_key


def test_sensor_requests_what_ssm_run_would_run(built_pipeline: BuiltPipeline, tmp_path: Path) -> None:
    """Promise: the sensor and `ssm run` share one plan: two new years are one run over their range
    (not a run per year), with the dbt build told both years; a refused file is not requested."""
    from pipelines.defs.planning import plan_runs
    from pipelines.paths import DataFolder
    from pipelines.pending import pending_work

    root = _copy_data_folder(built_pipeline, tmp_path)
    first, second = max(BUILT_YEARS) + 1, max(BUILT_YEARS) + 2  # years the built pipeline has not loaded
    write_demo_data(tmp_path / "new", years=[first, second])
    settled = datetime.now().timestamp() - 120
    for year in (first, second):
        path = shutil.copy(tmp_path / "new" / "landing" / f"ssm_survey_{year}.csv", root / "landing")
        os.utime(path, (settled, settled))
    result = _evaluate_sensor(built_pipeline, root)
    (request,) = result.run_requests
    assert request.partition_key is None
    assert request.partition_key_range == dg.PartitionKeyRange(str(first), str(second))
    assert request.run_config["ops"]["ssm_dbt_models"]["config"]["years"] == [first, second]
    with dg.DagsterInstance.from_config(str(built_pipeline.dagster_home)) as instance:
        planned = plan_runs(pending_work(DataFolder.at(root)), instance.get_dynamic_partitions("survey_year"))
    assert [(r.run_key, r.tags, r.run_config) for r in planned.run_requests] == [
        (request.run_key, request.tags, request.run_config)
    ]


def _copy_data_folder(built: BuiltPipeline, tmp_path: Path) -> Path:
    """A data folder holding what the built one holds (without its Dagster instance)."""
    root = tmp_path / "data"
    for name in ("landing", "reports"):
        shutil.copytree(built.root / name, root / name)
    shutil.copy(built.root / "warehouse.duckdb", root / "warehouse.duckdb")
    return root


def test_yearly_schedule_requests_the_newest_year(built_pipeline: BuiltPipeline) -> None:
    with dg.DagsterInstance.from_config(str(built_pipeline.dagster_home)) as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2026, 7, 1, 8)
        )
        request = yearly_report_schedule(context)
    assert isinstance(request, dg.RunRequest)
    assert request.partition_key == str(max(BUILT_YEARS))
