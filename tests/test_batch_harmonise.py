"""Reading a batch in worker processes (issue 6) gives what reading it in the run's process gives.

The ingest reads and harmonises a batch of large deliveries in a pool of processes and writes them in
year order (pipelines/lib/batch_harmonise.py). The promises: the same frames as the one-process path,
in the order asked for; a refusal reaches the caller as the same DeliveryError (file, row, column,
advice) after the years before it; and small batches do not start workers at all.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
import pytest

from pipelines.lib.batch_harmonise import (
    PARALLEL_MIN_BYTES,
    DeliveryJob,
    harmonised_in_order,
    read_and_harmonise,
    worker_count,
)
from pipelines.lib.demo import write_demo_data
from pipelines.lib.errors import DeliveryError
from pipelines.lib.landing import sha256_of

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


def test_workers_give_the_same_frames_in_the_same_order(jobs: list[DeliveryJob]) -> None:
    """Promise: two worker processes hand back every year, in the order asked, equal to the run's own
    reading, frame for frame."""
    one_process = list(harmonised_in_order(jobs, SALT, workers=0))
    in_workers = list(harmonised_in_order(jobs, SALT, workers=2))
    assert [h.job.survey_year for h in in_workers] == list(YEARS)
    for mine, theirs in zip(one_process, in_workers, strict=True):
        assert (theirs.rows_received, theirs.result.instrument, theirs.result.coding) == (
            mine.rows_received,
            mine.result.instrument,
            mine.result.coding,
        )
        pd.testing.assert_frame_equal(theirs.result.responses, mine.result.responses)
        pd.testing.assert_frame_equal(theirs.result.issues, mine.result.issues)


def test_a_refusal_comes_back_whole_after_the_years_before_it(
    jobs: list[DeliveryJob], tmp_path: Path
) -> None:
    """Promise: a file refused in a worker reaches the caller as the DeliveryError the run's own
    reading raises (same file, row, column and advice), after the years before it and before any after."""
    bad = tmp_path / "ssm_survey_2021.csv"
    bad.write_bytes(jobs[2].path.read_bytes().replace(b"2021-", b"2017-"))
    batch = [*jobs[:2], DeliveryJob(2021, sha256_of(bad), bad, bad.name), jobs[3]]
    with pytest.raises(DeliveryError) as expected:
        read_and_harmonise(batch[2], SALT)

    seen: list[int] = []
    with pytest.raises(DeliveryError) as raised:
        for done in harmonised_in_order(batch, SALT, workers=2):
            seen.append(done.job.survey_year)
    assert seen == [2019, 2020]
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
    """Promise: the error keeps every part on its way between processes, not only its message."""
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


def test_small_batches_stay_in_the_run_process(jobs: list[DeliveryJob]) -> None:
    """Promise: workers start only for a batch of two or more files of PARALLEL_MIN_BYTES in all."""
    assert sum(j.path.stat().st_size for j in jobs) < PARALLEL_MIN_BYTES
    assert worker_count(jobs) == 0
    assert worker_count(jobs[:1]) == 0
