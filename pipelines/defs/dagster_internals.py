"""Every use of a Dagster or dagster-dbt name that is not public API, in one place.

Each stays because a measured cost or a missing public way leaves no other choice, and each has a
guard in tests/test_dagster_internals.py that fails on an upgrade that changes it, instead of the
pipeline silently doing something else.

- The run tags of a run over a range of partitions. Dagster documents the pattern (a run for a range
  of partitions, as single-run backfills make them) but exports the tag names only from a private
  module; RunRequest.partition_key_range reads the same two tags.
- Freeing the warehouse pool's slot of a run whose process died (`ssm` killed mid-run): Dagster frees
  slots when a step ends, and its run monitoring (a daemon the `ssm` command does not have) frees
  those of dead runs; the storage method the monitor calls is the only way to do it in-process.
- Two hooks of dagster-dbt's DbtCliResource that cost 13 s per build (bench/PROFILE.md): a `dbt
  --version` subprocess and an in-process dbt adapter that these assets never use.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
from dagster_dbt import DbtCliResource
from dagster_dbt.compat import DBT_PYTHON_VERSION
from packaging.version import Version

PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"


def partition_range_tags(first: str, last: str) -> dict[str, str]:
    """Run tags for one run over the partitions from `first` to `last` (in the partitions' order)."""
    return {PARTITION_RANGE_START_TAG: first, PARTITION_RANGE_END_TAG: last}


def free_pool_slots(instance: dg.DagsterInstance, run_id: str) -> None:
    """Release the concurrency-pool slots a dead run still holds."""
    instance.event_log_storage.free_concurrency_slots_for_run(run_id)


class SurveyDbt(DbtCliResource):
    """dagster-dbt's dbt resource without two fixed costs that this project does not need.

    Before each `dbt build`, DbtCliResource runs `dbt --version` in a subprocess (which imports all of
    dbt-core to print a version) and sets up a dbt adapter in this process (dbt's imports, macros); the
    adapter serves only row counts and column metadata, which these assets do not fetch. Together about
    13 s per build (bench/PROFILE.md). The dbt that runs is the dbt-core installed beside dagster-dbt,
    so its version is known without asking.
    """

    @property
    def _cli_version(self) -> Version:
        return DBT_PYTHON_VERSION

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None
