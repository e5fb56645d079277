"""Shared fixtures: a temporary data folder, and one real pipeline build that several tests read.

The build runs the real thing: Dagster in-process, dbt against a DuckDB file, pandera validation,
report rendering. It loads every demonstration year (2016-2019 in v1, 2020-2025 in v2, 2026 in v3,
2018 the reference year of spec §10) the way `ssm run` loads several new deliveries: one run over the range of
years, with one dbt build.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pytest

if TYPE_CHECKING:
    from tests.postgres_server import PostgresServer

TEST_SALT = "test-salt-0123456789"
BUILT_YEARS = tuple(range(2016, 2027))  # every demonstration year


@dataclass(frozen=True)
class BuiltPipeline:
    """A data folder on which the whole pipeline ran, with what the runs reported."""

    root: Path
    dagster_home: Path
    outcomes: list

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.root / "warehouse.duckdb"), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def frame(self, sql: str):
        with duckdb.connect(str(self.root / "warehouse.duckdb"), read_only=True) as con:
            return con.execute(sql).df()


def pipeline_env(root: Path) -> dict[str, str]:
    """Environment for a subprocess `ssm` or `dagster` command on the data folder root."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSM_", "DAGSTER_"))}
    env.update(SSM_DATA_DIR=str(root), SSM_RESPONSE_SALT=TEST_SALT, DAGSTER_HOME=str(root / "dagster_home"))
    return env


@contextmanager
def pipeline_environment(root: Path) -> Iterator[None]:
    """Point the pipeline's variables at root for in-process runs, and restore them afterwards."""
    names = ("SSM_DATA_DIR", "SSM_RESPONSE_SALT", "DAGSTER_HOME")
    saved = {name: os.environ.get(name) for name in names}
    target = pipeline_env(root)
    os.environ.update({name: target[name] for name in names})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def set_pipeline_env(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """Point every pipeline variable (SSM_*, DAGSTER_*) at root for the rest of the test."""
    for key, value in pipeline_env(root).items():
        if key.startswith(("SSM_", "DAGSTER_")):
            monkeypatch.setenv(key, value)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Parse the dbt project once if it changed, before any test loads the definitions (`ssm` does
    the same before its runs; pipelines/project.py)."""
    from pipelines.project import prepare_dbt_project

    prepare_dbt_project()


def run_pending(root: Path, years: Iterable[int] = (), only: Iterable[int] | None = None) -> list:
    """What `ssm run [--year Y ...]` does, in this process, on the data folder root (whose variables
    pipeline_environment set): plan the pending work and make its runs. With `only`, just those years
    of the pending work run (to load years one run each)."""
    from pipelines import launcher
    from pipelines.paths import DataFolder
    from pipelines.pending import PendingWork, pending_work

    folder = DataFolder.at(root)
    work = pending_work(folder, requested=years)
    if only is not None:
        work = PendingWork({y: item for y, item in work.years.items() if y in set(only)}, work.refused)
    return launcher.run_pending(folder, work, launcher.instance(folder), requested=years)


@pytest.fixture(scope="session")
def built_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltPipeline]:
    """Run the survey-year job in-process for BUILT_YEARS on a fresh data folder."""
    from pipelines.generators.demo import write_demo_data

    root = tmp_path_factory.mktemp("built") / "data"
    with pipeline_environment(root):
        write_demo_data(root, years=BUILT_YEARS)
        outcomes = run_pending(root)
        yield BuiltPipeline(root=root, dagster_home=root / "dagster_home", outcomes=outcomes)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for this session (one per xdist worker, each on its own port),
    stopped and removed at the end: a `tests.postgres_server.PostgresServer` (`.url`, `.port`)."""
    from tests.postgres_server import running_postgres

    with running_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """The session server's `postgresql://USER:PASSWORD@127.0.0.1:PORT/dagster`, the form of
    SSM_DAGSTER_POSTGRES_URL."""
    return postgres_server.url
