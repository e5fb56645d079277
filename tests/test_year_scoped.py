"""Promise (issue 4): loading a survey year recomputes that year's rows of the statistics of the
compared cohorts (cohort_comparisons, demographic_balance), not every year's; a plain `dbt build`
recomputes them all.

Proof by tampering: on a copy of a built warehouse, another year's rows are overwritten with values no
computation gives; a build for 2021 leaves them as they are and recomputes 2021, a full build restores
them. Real dbt, real DuckDB file.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines.paths import PROJECT_ROOT
from tests.conftest import BuiltPipeline, pipeline_env

TABLES = ("cohort_comparisons", "demographic_balance")


def rows(warehouse: Path, table: str, year: int) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            f"select * from marts.{table} where survey_year = ? order by all", [year]
        ).fetchall()


def dbt_build(root: Path, tmp_path: Path, variables: str | None) -> subprocess.CompletedProcess:
    command = [
        str(Path(sys.executable).with_name("dbt")), "build", "--select", *TABLES,
        "--profiles-dir", ".", "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"),
    ]  # fmt: skip
    if variables:
        command += ["--vars", variables]
    return subprocess.run(
        command, cwd=PROJECT_ROOT / "dbt_project", env=pipeline_env(root), capture_output=True, text=True
    )


@pytest.fixture
def warehouse_copy(built_pipeline: BuiltPipeline, tmp_path: Path) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    shutil.copy(built_pipeline.root / "warehouse.duckdb", root / "warehouse.duckdb")
    return root


def test_loading_a_year_recomputes_only_that_year(warehouse_copy: Path, tmp_path: Path) -> None:
    warehouse = warehouse_copy / "warehouse.duckdb"
    original = {(t, y): rows(warehouse, t, y) for t in TABLES for y in (2018, 2021)}
    assert all(original.values())
    with duckdb.connect(str(warehouse)) as con:
        # In range (the marts' dbt tests still pass), but not what any computation gives.
        con.execute(
            "update marts.cohort_comparisons set p_value = 0.123456 where survey_year in (2018, 2021)"
        )
        con.execute("update marts.demographic_balance set smd = 9.87654 where survey_year in (2018, 2021)")

    result = dbt_build(warehouse_copy, tmp_path, '{"survey_years": [2021]}')
    assert result.returncode == 0, result.stdout[-3000:]
    for table in TABLES:
        assert rows(warehouse, table, 2021) == original[(table, 2021)]  # recomputed
        assert rows(warehouse, table, 2018) != original[(table, 2018)]  # left as it was
    assert {r[12] for r in rows(warehouse, "cohort_comparisons", 2018)} == {0.123456}
    assert {r[5] for r in rows(warehouse, "demographic_balance", 2018)} == {9.87654}

    result = dbt_build(warehouse_copy, tmp_path, None)
    assert result.returncode == 0, result.stdout[-3000:]
    for (table, year), expected in original.items():
        assert rows(warehouse, table, year) == expected
