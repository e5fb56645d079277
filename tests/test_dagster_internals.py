"""Guards on the Dagster and dagster-dbt internals the project uses (pipelines/defs/dagster_internals.py):
each fails on an upgrade that changes what the project relies on, instead of the pipeline silently
doing something else."""

from __future__ import annotations

import inspect
import shutil
import time
from pathlib import Path

import dagster as dg
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.events.log import EventLogEntry
from dagster._core.storage import tags as dagster_tags
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.utils import make_new_run_id
from dagster_dbt import DbtCliResource

from pipelines.defs.dagster_internals import (
    MAX_CACHED_ENGINES,
    SCHEDULE_TAG,
    SENSOR_TAG,
    FastSqliteEventLogStorage,
    free_pool_slots,
    partition_range_tags,
    partition_tags,
)
from pipelines.project import INSTANCE_CONFIG


def _materialisation(run_id: str, year: int) -> EventLogEntry:
    event = DagsterEvent(
        event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
        job_name="survey_year_job",
        event_specific_data=StepMaterializationData(
            dg.AssetMaterialization(
                asset_key=["marts", "metric_summary"], partition=str(year), metadata={"y": year}
            )
        ),
    )
    return EventLogEntry(
        error_info=None, level=20, user_message="", run_id=run_id, timestamp=time.time(), dagster_event=event
    )


def test_the_instance_uses_it_where_dagster_keeps_its_history(tmp_path: Path) -> None:
    """Promise: the project's dagster.yaml selects the fast storage, in Dagster's default folder."""
    shutil.copyfile(INSTANCE_CONFIG, tmp_path / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    storage = instance.event_log_storage
    assert isinstance(storage, FastSqliteEventLogStorage)
    assert Path(storage._base_dir) == tmp_path / "history" / "runs"


def test_dagster_s_own_storage_reads_what_it_wrote(tmp_path: Path) -> None:
    """Promise: switching the storage loses nothing: Dagster's default SQLite storage reads the same
    events and asset partitions from the same files (and the other way round)."""
    fast = FastSqliteEventLogStorage(str(tmp_path))
    run_id = make_new_run_id()
    for year in range(2000, 2040):  # more run/asset writes than engines kept
        fast.store_event(_materialisation(run_id, year))
    for i in range(MAX_CACHED_ENGINES + 5):
        fast.store_event(_materialisation(make_new_run_id(), 1990 + i % 5))
    assert len(fast._engines) <= MAX_CACHED_ENGINES
    default = SqliteEventLogStorage(str(tmp_path))
    logged = default.get_logs_for_run(run_id)
    assert [e.dagster_event.event_specific_data.materialization.partition for e in logged] == [
        str(y) for y in range(2000, 2040)
    ]
    key = dg.AssetKey(["marts", "metric_summary"])
    expected = {str(y) for y in range(2000, 2040)} | {str(y) for y in range(1990, 1995)}
    assert set(default.get_materialized_partitions(key)) == expected
    other_run = make_new_run_id()
    default.store_event(_materialisation(other_run, 2050))
    assert len(fast.get_logs_for_run(other_run)) == 1
    assert "2050" in fast.get_materialized_partitions(key)


def test_range_tags_are_dagster_s() -> None:
    """Promise: the run tags of a run over a range of partitions are the ones Dagster reads."""
    tags = partition_range_tags("2019", "2020")
    assert set(tags) == {
        dagster_tags.ASSET_PARTITION_RANGE_START_TAG,
        dagster_tags.ASSET_PARTITION_RANGE_END_TAG,
    }
    assert dg.RunRequest(tags=tags).partition_key_range == dg.PartitionKeyRange("2019", "2020")


def test_the_partition_tag_is_dagster_s() -> None:
    """Promise: the tag that names a run's partition (on runs `ssm` submits to a queue) is Dagster's."""
    assert partition_tags("2019") == {dagster_tags.PARTITION_NAME_TAG: "2019"}
    assert (SENSOR_TAG, SCHEDULE_TAG) == (dagster_tags.SENSOR_NAME_TAG, dagster_tags.SCHEDULE_NAME_TAG)


def test_freeing_a_dead_run_s_slot(tmp_path: Path) -> None:
    """Promise: the storage method that frees a run's pool slots still does."""
    shutil.copyfile(INSTANCE_CONFIG, tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        run_id = make_new_run_id()
        instance.event_log_storage.set_concurrency_slots("warehouse", 1)  # as a first run's pool sets it
        claim = instance.event_log_storage.claim_concurrency_slot("warehouse", run_id, "step")
        assert claim.slot_status.value == "CLAIMED"
        free_pool_slots(instance, run_id)
        assert instance.event_log_storage.get_concurrency_info("warehouse").claimed_slots == []


def test_survey_dbt_overrides_hooks_dagster_dbt_still_calls() -> None:
    """Promise: the two private dagster-dbt hooks SurveyDbt overrides are still what DbtCliResource.cli
    calls (a dagster-dbt upgrade that renames them fails here, not silently in production)."""
    source = inspect.getsource(DbtCliResource.cli)
    assert "self._cli_version" in source
    assert "self._initialize_dbt_core_adapter(" in source
