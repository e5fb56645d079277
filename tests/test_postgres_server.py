"""The test PostgreSQL server works, and a Dagster instance keeps its runs there through the spec's
`postgresql://` URL (psycopg2 as its driver: the SQLAlchemy-below-2.1 pin, ../shared/notes/stack.md §7)."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import dagster as dg
import psycopg2
import pytest

from tests.postgres_server import PostgresServer, postgres_bin_dir

INSTANCE_YAML = """\
storage:
  postgres:
    postgres_url: {env: SSM_DAGSTER_POSTGRES_URL}
"""


@dg.asset
def answer() -> int:
    """A one-value asset, enough to write a run and its events."""
    return 42


def test_server_accepts_the_url(postgres_server: PostgresServer) -> None:
    assert postgres_server.url.startswith(f"postgresql://ssm:{postgres_server.password}@127.0.0.1:")
    assert postgres_server.url.endswith(f":{postgres_server.port}/dagster")
    with closing(psycopg2.connect(postgres_server.url)) as connection, connection.cursor() as cursor:
        cursor.execute("select current_user, current_database(), inet_server_addr()::text")
        assert cursor.fetchone() == ("ssm", "dagster", "127.0.0.1/32")


def test_wrong_password_is_refused(postgres_server: PostgresServer) -> None:
    wrong = postgres_server.url.replace(postgres_server.password, "not-the-password")
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(wrong)


def test_newest_server_is_found(tmp_path: Path) -> None:
    for major in ("9.6", "15", "17"):  # 9.6 is not a Debian major folder name any more; ignored
        (tmp_path / major / "bin").mkdir(parents=True)
        for tool in ("initdb", "pg_ctl"):
            (tmp_path / major / "bin" / tool).touch()
    (tmp_path / "18" / "bin").mkdir(parents=True)  # a client-only package: no initdb
    assert postgres_bin_dir(tmp_path) == tmp_path / "17" / "bin"
    with pytest.raises(RuntimeError, match="make install"):
        postgres_bin_dir(tmp_path / "missing")


def test_dagster_runs_are_stored_in_postgres(
    postgres_server: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("SSM_DAGSTER_POSTGRES_URL", postgres_server.url)

    with dg.DagsterInstance.from_config(str(home)) as instance:
        result = dg.materialize([answer], instance=instance)
        assert result.success
        run_id = result.run_id

    with dg.DagsterInstance.from_config(str(home)) as again:
        assert type(again.run_storage).__name__ == "PostgresRunStorage"
        run = again.get_run_by_id(run_id)
        assert run is not None and run.is_success
        assert again.get_latest_materialization_event(dg.AssetKey("answer")) is not None

    with closing(psycopg2.connect(postgres_server.url)) as connection, connection.cursor() as cursor:
        cursor.execute("select status from runs where run_id = %s", (run_id,))
        assert cursor.fetchone() == ("SUCCESS",)
    # Nothing went to the default sqlite files (history/runs.db, history/runs/<run>.db, schedules/).
    assert not list(home.rglob("*.db"))
    assert not (home / "history").exists()
