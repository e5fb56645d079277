"""Helpers of the reliability tests (issue 7): the marts as data, copies of a built data folder, and
`ssm` in-process (the command's own code, without a new interpreter's start-up) or as a subprocess.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections import Counter
from pathlib import Path

import duckdb
from click.testing import CliRunner, Result

from tests.conftest import BuiltPipeline, pipeline_env, pipeline_environment
from tests.test_cli import PROJECT_ROOT, SSM

Snapshot = dict[str, list[tuple]]


def marts(path: Path) -> Snapshot:
    """Every table of schema marts, its rows sorted; {} when the warehouse has no marts yet.

    The marts hold no load timestamps (spec §8), so nothing is left out.
    """
    if not path.exists():
        return {}
    with duckdb.connect(str(path), read_only=True) as con:
        tables = [
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' "
                "order by table_name"
            ).fetchall()
        ]
        return {name: con.execute(f"select * from marts.{name} order by all").fetchall() for name in tables}


def mart_columns(path: Path) -> dict[str, list[str]]:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "select table_name, column_name from information_schema.columns where table_schema = 'marts' "
            "order by table_name, ordinal_position"
        ).fetchall()
    columns: dict[str, list[str]] = {}
    for table, column in rows:
        columns.setdefault(table, []).append(column)
    return columns


def differences(actual: Snapshot, expected: Snapshot) -> list[str]:
    """What differs, table by table, rows compared as multisets (empty when the marts are equal)."""
    problems = []
    for table in sorted(set(actual) | set(expected)):
        if table not in actual:
            problems.append(f"marts.{table} is missing")
        elif table not in expected:
            problems.append(f"marts.{table} should not exist")
        elif Counter(actual[table]) != Counter(expected[table]):
            extra = list((Counter(actual[table]) - Counter(expected[table])).elements())[:2]
            lacking = list((Counter(expected[table]) - Counter(actual[table])).elements())[:2]
            problems.append(
                f"marts.{table}: {len(actual[table])} rows, expected {len(expected[table])}; "
                f"unexpected {extra}, missing {lacking}"
            )
    return problems


def query(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def copy_built(built: BuiltPipeline, tmp_path: Path) -> Path:
    """A copy of the built data folder (its first dbt build re-parses the project: another path)."""
    root = tmp_path / "data"
    shutil.copytree(built.root, root)
    return root


def ssm_in_process(root: Path, *args: str) -> Result:
    """`ssm ARGS` run by this test process on root: the command's code, without a start-up of its own."""
    from pipelines.cli import main

    with pipeline_environment(root):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)


def start_ssm(root: Path, *args: str, env_extra: dict[str, str] | None = None) -> subprocess.Popen:
    """`ssm ARGS` as a subprocess in a process group of its own (dbt, its child, is in it too)."""
    env = pipeline_env(root)
    env.update(env_extra or {})
    return subprocess.Popen(
        [SSM, *args],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def stop_group(process: subprocess.Popen, grace_seconds: float) -> None:
    """SIGTERM the process's group (a server and its children), SIGKILL it after the grace period."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the process and everything in its group (the dbt subprocess included)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()
