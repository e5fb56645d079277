"""Dagster's SQLite event log, made cheap enough for the thousand events of a batch run (issue 6).

Dagster stores every event of a run (a dbt build over 20 years records about 1,000: each model's
materialisation, planned and done, for each year) through a new SQLAlchemy engine per event, and
SQLite syncs each commit to disk: 20-40 ms per event on this machine, half a minute per batch.
This storage keeps one engine per database file (so SQLAlchemy's compiled statements are reused) and
sets `synchronous = OFF` on its connections. That is safe when a process is killed (the operating
system still writes what SQLite handed it); a power cut or an operating-system crash could lose or
damage the last moments of the *run history*, never the warehouse, whose DuckDB file keeps its own
durability. docs/decisions.md records the trade-off.

dagster.yaml selects it (`event_log_storage`); `dagster dev` loads the same class from this module.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import dagster._check as check
from dagster import DagsterInstance, Field, StringSource
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.sql import create_engine
from dagster._serdes import ConfigurableClassData
from sqlalchemy import Connection, Engine, event
from sqlalchemy.pool import NullPool

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
