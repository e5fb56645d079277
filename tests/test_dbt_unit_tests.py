"""The dbt unit tests of the spec's rules (dbt_project/models/intermediate/_int__models.yml: the cohort
rule of §7, the agreement rule of §8). The pipeline's build leaves them out, as dbt advises for
production (their inputs are fixed rows; pipelines/defs/transform/assets.py), so they run here."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from pipelines.project import DBT_PROJECT_DIR
from tests.conftest import BuiltPipeline, pipeline_env


def _unit_tests_of_the_project() -> set[str]:
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text(encoding="utf-8"))
    return set(manifest["unit_tests"])


def test_every_dbt_unit_test_passes(built_pipeline: BuiltPipeline, tmp_path: Path) -> None:
    """Every unit test of the dbt project runs and passes, on a copy of a built warehouse (a unit test
    reads the column types of its model's inputs from the warehouse)."""
    shutil.copyfile(built_pipeline.root / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    command = [
        str(Path(sys.executable).with_name("dbt")), "test", "--select", "test_type:unit",
        "--profiles-dir", ".", "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"),
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=DBT_PROJECT_DIR, env=pipeline_env(tmp_path), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:]
    outcomes = json.loads((tmp_path / "target" / "run_results.json").read_text(encoding="utf-8"))["results"]
    unit_tests = _unit_tests_of_the_project()
    assert len(unit_tests) >= 2
    assert {r["unique_id"]: r["status"] for r in outcomes} == dict.fromkeys(unit_tests, "pass")


def test_the_pipeline_s_build_leaves_the_unit_tests_out(built_pipeline: BuiltPipeline) -> None:
    """The build of a run runs the models and their data tests, not the unit tests."""
    results = built_pipeline.root / "dbt" / "target" / "run_results.json"
    kinds = {r["unique_id"].split(".")[0] for r in json.loads(results.read_text(encoding="utf-8"))["results"]}
    assert {"model", "test", "seed"} <= kinds
    assert "unit_test" not in kinds
