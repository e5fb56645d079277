"""Arrival rules of spec §4 through the real pipeline: a corrected file supersedes the year with both
deliveries on record, the same file twice loads once, and a refused file leaves the warehouse as it was."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.lib.ingest.landing import sha256_of
from pipelines.paths import DataFolder
from pipelines.pending import pending_work
from tests.conftest import run_pending, set_pipeline_env
from tests.deliveries import v1_row, write_v1

MARTS = ("response_funnel", "metric_summary", "cohort_comparisons", "nonparticipation_reasons")


def snapshot(root: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        tables = {
            f"marts.{t}": con.execute(f"select * from marts.{t} order by all").fetchall() for t in MARTS
        }
        tables["raw.responses"] = con.execute("select * from raw.responses order by all").fetchall()
        return tables


def deliveries(root: Path) -> list[tuple]:
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(
            "select file_name, status, left(delivery_sha256, 12) from raw.deliveries order by received_at"
        ).fetchall()


def land(path: Path, rows: list[list[str]], age_seconds: float) -> Path:
    write_v1(path, rows)
    stamp = time.time() - age_seconds
    os.utime(path, (stamp, stamp))
    return path


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "data"
    set_pipeline_env(monkeypatch, root)
    (root / "landing").mkdir(parents=True)
    (root / "reference").mkdir()
    # 2019 is missing on purpose: the year loads with no response rate and a warning, not a failure.
    (root / "reference" / "class_sizes.csv").write_text("survey_year,class_size\n2018,178\n")
    return root


def test_supersede_refuse_and_reload(data_root: Path) -> None:
    mentors = [v1_row(f"R_{i}", end="2019-04-02 09:00:00", Q5="1", Q12_1="", Q9="1") for i in range(12)]
    others = [v1_row(f"R_{i}", end="2019-04-02 09:00:00") for i in range(12, 30)]
    first = land(data_root / "landing" / "ssm_survey_2019.csv", mentors + others, age_seconds=300)
    assert [o.succeeded for o in run_pending(data_root)] == [True]
    funnel = snapshot(data_root)["marts.response_funnel"][0]
    assert funnel[:9] == (2019, None, 30, 0, 0, 0, 0, 0, 30) and funnel[9] is None  # no class size, no rate
    (warning,) = dg.DagsterInstance.get().event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey(["marts", "response_funnel"]), "class_size_on_record"), limit=1
    )
    assert not warning.evaluation.passed and warning.evaluation.severity == dg.AssetCheckSeverity.WARN
    assert "No class size for 2019" in warning.evaluation.description

    # The same file again: nothing is pending, nothing runs.
    assert not pending_work(DataFolder.at(data_root))

    # A corrected file (two more respondents) supersedes the first; both stay on record.
    extra = [v1_row(f"R_{i}", end="2019-04-03 09:00:00") for i in range(30, 32)]
    corrected = land(data_root / "landing" / "ssm_survey_2019_corrected.csv", mentors + others + extra, 200)
    assert [o.succeeded for o in run_pending(data_root)] == [True]
    assert deliveries(data_root) == [
        ("ssm_survey_2019.csv", "superseded", sha256_of(first)[:12]),
        ("ssm_survey_2019_corrected.csv", "loaded", sha256_of(corrected)[:12]),
    ]
    before = snapshot(data_root)
    assert before["marts.response_funnel"][0][2] == 32
    assert (data_root / "archive" / f"{sha256_of(first)}.csv").read_bytes() == first.read_bytes()

    # A mislabelled file (recorded in 2018) is refused: the run fails and the warehouse is unchanged.
    wrong = [v1_row(f"R_{i}", end="2018-04-02 09:00:00") for i in range(40)]
    land(data_root / "landing" / "ssm_survey_2019_v3.csv", wrong, 100)
    (outcome,) = run_pending(data_root)
    assert not outcome.succeeded
    assert "named for survey year 2019, but 40 of 40 responses were recorded in 2018" in outcome.message
    assert snapshot(data_root) == before
    assert deliveries(data_root)[-1][:2] == ("ssm_survey_2019_v3.csv", "refused")
