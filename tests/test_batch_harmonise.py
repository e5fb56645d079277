"""Reading a batch on the warehouse's connection (issue 15) gives what reading each delivery alone gives.

The ingest reads and harmonises each delivery of a batch into temporary DuckDB tables on the connection
that writes it, and writes the rows from there (pipelines/lib/ingest/batch_harmonise.py). The promises: the same
frames as reading each file on its own connection, in the order asked for; a refusal reaches the caller
as the same DeliveryError (file, row, column, advice) after the years before it; and nothing of a
delivery stays on the connection once it is written or refused.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipelines.generators.demo import write_demo_data
from pipelines.lib.ingest.batch_harmonise import DeliveryJob, harmonised_in_order, read_and_harmonise
from pipelines.lib.ingest.errors import DeliveryError
from pipelines.lib.ingest.landing import sha256_of
from pipelines.lib.warehouse import database as warehouse

SALT = "batch-salt"
YEARS = (2019, 2020, 2021, 2022)  # a v1 year and three v2 years


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> list[DeliveryJob]:
    root = tmp_path_factory.mktemp("batch")
    paths = write_demo_data(root, years=YEARS)
    return [
        DeliveryJob(survey_year=int(p.name[11:15]), delivery_sha256=sha256_of(p), path=p, file_name=p.name)
        for p in sorted(paths)
    ]


def temporary_objects(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_catalog = 'temp'"
        ).fetchall()
    ]


def test_one_connection_gives_the_frames_of_each_file_read_alone(jobs: list[DeliveryJob]) -> None:
    """Promise: a batch read on one connection (the warehouse's) hands back every year, in the order
    asked, equal frame for frame to each file read on its own private connection; each year's rows go
    into raw.responses straight from DuckDB as they are."""
    alone = [read_and_harmonise(job, SALT) for job in jobs]
    with duckdb.connect() as con:
        warehouse.ensure_raw_tables(con)
        seen = []
        for done, mine in zip(harmonised_in_order(jobs, SALT, con), alone, strict=True):
            seen.append(done.job.survey_year)
            assert (done.rows_received, done.result.instrument, done.result.coding) == (
                mine.rows_received,
                mine.result.instrument,
                mine.result.coding,
            )
            pd.testing.assert_frame_equal(done.result.responses, mine.result.responses)
            pd.testing.assert_frame_equal(done.result.issues, mine.result.issues)
            done.result.insert_responses(con, done.job.delivery_sha256)
            written = con.execute(
                "select * exclude (delivery_sha256) from raw.responses where delivery_sha256 = ? "
                "order by row_number",
                [done.job.delivery_sha256],
            ).df()
            expected = mine.result.responses
            assert len(written) == len(expected)
            for column in expected.columns:
                same = written[column].astype(object).where(written[column].notna(), None)
                assert (
                    same.tolist()
                    == expected[column].astype(object).where(expected[column].notna(), None).tolist()
                )
            done.close()
        assert seen == list(YEARS)
        assert temporary_objects(con) == []


def test_a_refusal_comes_back_whole_after_the_years_before_it(
    jobs: list[DeliveryJob], tmp_path: Path
) -> None:
    """Promise: a refused file reaches the caller as the DeliveryError reading it alone raises (same
    file, row, column and advice), after the years before it and before any after; it leaves nothing
    on the connection."""
    bad = tmp_path / "ssm_survey_2021.csv"
    bad.write_bytes(jobs[2].path.read_bytes().replace(b"2021-", b"2017-"))
    batch = [*jobs[:2], DeliveryJob(2021, sha256_of(bad), bad, bad.name), jobs[3]]
    with pytest.raises(DeliveryError) as expected:
        read_and_harmonise(batch[2], SALT)

    seen: list[int] = []
    with duckdb.connect() as con, pytest.raises(DeliveryError) as raised:
        try:
            for done in harmonised_in_order(batch, SALT, con):
                seen.append(done.job.survey_year)
                done.close()
        finally:
            left = temporary_objects(con)
    assert seen == [2019, 2020]
    assert left == []
    mine, theirs = expected.value, raised.value
    assert (theirs.file, theirs.problem, theirs.action, theirs.row, theirs.column) == (
        mine.file,
        mine.problem,
        mine.action,
        mine.row,
        mine.column,
    )
    assert str(theirs) == str(mine)


def test_a_delivery_error_survives_pickling() -> None:
    """Promise: the error keeps every part on its way between processes (Dagster's), not only its message."""
    error = DeliveryError("ssm_survey_2022.csv", "has a bad cell", "Fix it.", row=7, column="Q1")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.file, copy.problem, copy.action, copy.row, copy.column, str(copy)) == (
        "ssm_survey_2022.csv",
        "has a bad cell",
        "Fix it.",
        7,
        "Q1",
        str(error),
    )
