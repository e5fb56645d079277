"""Every use of a Dagster or dagster-dbt name that is not public API, in one place.

Each stays because a measured cost or a missing public way leaves no other choice, and each has a
guard in tests/test_dagster_internals.py that fails on an upgrade that changes it, instead of the
pipeline silently doing something else.

- The run tags of a run over a range of partitions, and of a run of one partition. Dagster documents
  the pattern (a run for a range of partitions, as single-run backfills make them; the partition tag
  the UI's launchpad sets) but exports the tag names only from a private module;
  RunRequest.partition_key_range reads the same two range tags. `ssm` submits its runs to a team
  deployment's queue with them (pipelines/run_queue.py), as the UI does.
- Freeing the warehouse pool's slot of a run whose process died (`ssm` killed mid-run): Dagster frees
  slots when a step ends, and its run monitoring (a daemon the `ssm` command does not have) frees
  those of dead runs; the storage method the monitor calls is the only way to do it in-process.
- Two hooks of dagster-dbt's DbtCliResource that cost 13 s per build (bench/PROFILE.md): a `dbt
  --version` subprocess and an in-process dbt adapter that these assets never use.
- Dagster's SQLite event log with its engines kept and commits not synced (FastSqliteEventLogStorage,
  selected in dagster.yaml): Dagster's default storage opens an engine per event and syncs every
  commit, 52-57 ms an event against 7-8 ms (a run's 359 events replayed into each, issue 15), and a
  one-year load still stores a few hundred events (docs/decisions.md).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import dagster as dg
import dagster._check as check
from dagster import DagsterInstance, Field, StringSource
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.sql import create_engine
from dagster._serdes import ConfigurableClassData
from dagster_dbt import DbtCliResource
from dagster_dbt.compat import DBT_PYTHON_VERSION
from packaging.version import Version
from sqlalchemy import Connection, Engine, event
from sqlalchemy.pool import NullPool

PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"


def partition_range_tags(first: str, last: str) -> dict[str, str]:
    """Run tags for one run over the partitions from `first` to `last` (in the partitions' order)."""
    return {PARTITION_RANGE_START_TAG: first, PARTITION_RANGE_END_TAG: last}


PARTITION_TAG = "dagster/partition"
# The tags Dagster puts on the runs a sensor or a schedule requests (`ssm` names who started a run
# that it waits for).
SENSOR_TAG = "dagster/sensor_name"
SCHEDULE_TAG = "dagster/schedule_name"


def partition_tags(key: str) -> dict[str, str]:
    """Run tags for a run of the one partition `key` (what RunRequest(partition_key=key) sets)."""
    return {PARTITION_TAG: key}


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


# Dagster's SQLite event log, made cheap enough for the hundreds of events of a run (issues 6 and 15).
# Dagster stores every event of a run (a three-year load: 359, most of them the dbt models' and
# checks' planned and done events) through a new SQLAlchemy engine per event, and SQLite syncs each
# commit to disk. This storage keeps one engine per database file (so SQLAlchemy's compiled statements are reused) and
# sets `synchronous = OFF` on its connections. That is safe when a process is killed (the operating
# system still writes what SQLite handed it); a power cut or an operating-system crash could lose or
# damage the last moments of the *run history*, never the warehouse, whose DuckDB file keeps its own
# durability. docs/decisions.md records the trade-off.
#
# dagster.yaml selects it (`event_log_storage`); `dagster dev` loads the same class from this module.

# Run shards are opened again only while a run is watched or read; a few dozen engines are plenty.
MAX_CACHED_ENGINES = 32


class FastSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage with an engine per database file kept, and commits not synced to disk.

    Without `base_dir` it uses the instance's own folder, history/runs, where Dagster's default
    storage keeps the event logs: an instance keeps its history when it switches to this class (and
    back). That folder is known only when the instance registers itself, right after construction.
    """

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._inst_data = inst_data
        self._opened = False
        if base_dir is not None:
            self._open(base_dir)

    def _open(self, base_dir: str) -> None:
        super().__init__(base_dir, inst_data=self._inst_data)
        self._opened = True

    def register_instance(self, instance: DagsterInstance) -> None:
        if not self._opened:
            self._open(os.path.join(instance.root_directory, "history", "runs"))
        super().register_instance(instance)

    @classmethod
    def config_type(cls) -> dict:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: dict
    ) -> FastSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        engine = create_engine(
            self.conn_string_for_shard(shard),
            poolclass=NullPool,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
        )
        event.listen(engine, "connect", _unsynced)
        self._engines[shard] = engine
        while len(self._engines) > MAX_CACHED_ENGINES:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # As SqliteEventLogStorage._connect, with the engine kept instead of created and disposed.
        with self._db_lock:
            check.str_param(shard, "shard")
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn


def _unsynced(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("pragma synchronous = off")
    cursor.close()
