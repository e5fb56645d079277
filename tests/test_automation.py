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
from pipelines.lib.demo import write_demo_data
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
    root = tmp_path / "data"
    shutil.copytree(built_pipeline.root / "landing", root / "landing")
    shutil.copy(built_pipeline.root / "warehouse.duckdb", root / "warehouse.duckdb")
    write_demo_data(tmp_path / "new", years=[2026])
    new_file = root / "landing" / "ssm_survey_2026.csv"
    shutil.copy(tmp_path / "new" / "landing" / "ssm_survey_2026.csv", new_file)

    assert isinstance(
        _evaluate_sensor(built_pipeline, root), dg.SkipReason
    )  # still being copied (fresh mtime)
    settled = datetime.now().timestamp() - 120
    os.utime(new_file, (settled, settled))
    result = _evaluate_sensor(built_pipeline, root)
    assert [r.partition_key for r in result.run_requests] == ["2026"]
    assert result.run_requests[0].run_key.startswith("2026-")
    assert result.dynamic_partitions_requests[0].partition_keys == ["2026"]


def test_yearly_schedule_requests_the_newest_year(built_pipeline: BuiltPipeline) -> None:
    with dg.DagsterInstance.from_config(str(built_pipeline.dagster_home)) as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2026, 7, 1, 8)
        )
        request = yearly_report_schedule(context)
    assert isinstance(request, dg.RunRequest)
    assert request.partition_key == str(max(BUILT_YEARS))
