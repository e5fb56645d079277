"""Concurrency (issue 7): two `ssm run` at once, an analyst's read-only connection, and the Dagster
UI open on the same instance. Each run completes, waits, or refuses with a clear message; none
corrupts the warehouse or fails with a raw lock error.

`ssm` runs as a subprocess, as analysts and cron run it; DuckDB's locks are per process, so the
analyst's connection is this test process and the pipeline another one.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from pipelines.lib.ingest.landing import sha256_of
from tests.conftest import BuiltPipeline, pipeline_env
from tests.reliability import copy_built, differences, marts, query, start_ssm, stop_group
from tests.test_cli import PROJECT_ROOT, ssm
from tests.test_webserver_lineage import _free_port

RAW_LOCK_ERROR = ("Could not set lock", "IO Error", "IOException", "Traceback")


def _finish(process: subprocess.Popen, timeout: float = 600) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def test_two_runs_started_at_once(built_pipeline: BuiltPipeline, tmp_path: Path) -> None:
    """Promise: two `ssm run` started at the same moment on one data folder do not race: one loads
    the new delivery while the other waits for the run lock (and says so), then finds nothing new;
    both exit 0, the delivery is loaded once, and the marts are those of a single load."""
    root = copy_built(built_pipeline, tmp_path)
    landing = root / "landing"
    # A corrected 2020 with the same rows (CRLF line endings): a new delivery, the same answers.
    corrected = landing / "ssm_survey_2020_corrected.csv"
    corrected.write_bytes((landing / "ssm_survey_2020.csv").read_bytes().replace(b"\n", b"\r\n"))
    before = marts(root / "warehouse.duckdb")

    first, second = start_ssm(root, "run"), start_ssm(root, "run")
    results = [_finish(first), _finish(second)]
    for code, out, err in results:
        assert code == 0, out + err
        assert not any(text in out + err for text in RAW_LOCK_ERROR), out + err
    outputs = [out + err for _, out, err in results]
    loaded = [o for o in outputs if "2020: new file ssm_survey_2020_corrected.csv" in o]
    waited = [o for o in outputs if "Another ssm command is working on" in o]
    assert len(loaded) == 1 and len(waited) == 1, outputs
    assert "Nothing new" in waited[0] and waited[0] is not loaded[0]

    assert query(
        root / "warehouse.duckdb",
        "select file_name, status from raw.deliveries where survey_year = 2020 order by received_at",
    ) == [("ssm_survey_2020.csv", "superseded"), ("ssm_survey_2020_corrected.csv", "loaded")]
    # The marts of one load of the corrected file: only its checksum and name differ.
    expected = dict(before)
    expected["response_funnel"] = [
        (*row[:-1], sha256_of(corrected)) if row[0] == 2020 else row for row in before["response_funnel"]
    ]
    expected["data_quality_issues"] = [
        (corrected.name, *row[1:]) if row[1] == 2020 else row for row in before["data_quality_issues"]
    ]
    assert differences(marts(root / "warehouse.duckdb"), expected) == []


ANALYST = (
    "import duckdb, sys, time\n"
    "con = duckdb.connect(sys.argv[1], read_only=True)\n"
    "con.execute('select count(*) from marts.response_funnel').fetchall()\n"
    "print('connected', flush=True)\n"
    "sys.stdin.readline()\n"  # holds the connection until told to close it
    "con.close()\n"
)


def _analyst(root: Path) -> subprocess.Popen:
    """An analyst's notebook: a read-only DuckDB connection to the warehouse, held until released."""
    process = subprocess.Popen(
        [sys.executable, "-c", ANALYST, str(root / "warehouse.duckdb")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "connected"
    return process


def _release(analyst: subprocess.Popen) -> None:
    analyst.stdin.write("\n")
    analyst.stdin.flush()
    analyst.wait(timeout=30)


def test_a_run_waits_for_an_analyst_who_then_closes(built_pipeline: BuiltPipeline, tmp_path: Path) -> None:
    """Promise: while an analyst holds a read-only connection to the warehouse, `ssm run --year Y`
    waits (and says who holds the file) instead of failing; when the analyst closes it a few seconds
    later, the run completes and the marts are as before (the year re-run on the same delivery)."""
    root = copy_built(built_pipeline, tmp_path)
    before = marts(root / "warehouse.duckdb")
    analyst = _analyst(root)
    try:
        run = start_ssm(root, "run", "--year", "2018")
        # The command gets as far as the warehouse and waits there; then the analyst closes.
        waiting = []
        line = run.stderr.readline()
        while line and "waiting" not in line:
            waiting.append(line)
            line = run.stderr.readline()
        waiting.append(line)
        time.sleep(3)
        assert run.poll() is None, "".join(waiting)
    finally:
        _release(analyst)
    code, out, err = _finish(run)
    err = "".join(waiting) + err
    assert code == 0, out + err
    assert f"python3.11 (process {analyst.pid}); waiting up to 120 s" in err, err
    assert "ok   2018" in out
    assert not any(text in out + err for text in RAW_LOCK_ERROR), out + err
    assert differences(marts(root / "warehouse.duckdb"), before) == []


def test_a_run_refuses_clearly_when_the_analyst_keeps_the_warehouse(
    built_pipeline: BuiltPipeline, tmp_path: Path
) -> None:
    """Promise: when the analyst keeps the read-only connection past the wait (SSM_LOCK_WAIT_SECONDS,
    here 3 s), `ssm run` stops with exit status 1 and a message that names the program and process
    holding the warehouse and says to close it; no traceback, no raw DuckDB lock error, and the
    warehouse is unchanged."""
    root = copy_built(built_pipeline, tmp_path)
    before = marts(root / "warehouse.duckdb")
    analyst = _analyst(root)
    try:
        result = ssm(root, "run", "--year", "2018", env_extra={"SSM_LOCK_WAIT_SECONDS": "3"})
    finally:
        _release(analyst)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert f"python3.11 (process {analyst.pid}) and stayed busy for 3 s" in result.stderr, output
    assert "Close that program's connection" in result.stderr, output
    assert not any(text in output for text in RAW_LOCK_ERROR), output
    assert differences(marts(root / "warehouse.duckdb"), before) == []
    assert [s for (s,) in query(root / "warehouse.duckdb", "select status from raw.deliveries")] == [
        "loaded"
    ] * len(before["response_funnel"])


@pytest.fixture
def dagster_dev(built_pipeline: BuiltPipeline, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """`dagster dev` (webserver and daemon, as `make dev` starts it) on 127.0.0.1, on the instance
    of a copy of the built data folder."""
    root = copy_built(built_pipeline, tmp_path)
    port = _free_port()
    log = (tmp_path / "dagster-dev.log").open("w")
    dagster = str(Path(sys.executable).parent / "dagster")
    process = subprocess.Popen(
        [dagster, "dev", "-h", "127.0.0.1", "-p", str(port), "-m", "pipelines.definitions"],
        cwd=PROJECT_ROOT,
        env=pipeline_env(root),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def answers() -> bool:
            if process.poll() is not None:
                pytest.fail(f"dagster dev exited: {(tmp_path / 'dagster-dev.log').read_text()[-2000:]}")
            try:
                return requests.get(f"{url}/server_info", timeout=2).ok
            except requests.ConnectionError:
                return False

        _wait_for(answers, 240, "dagster dev to answer")
        yield root, url
    finally:
        stop_group(process, grace_seconds=60)
        log.close()


RUNS = "query { runsOrError(limit: 5) { ... on Runs { results { runId jobName status } } } }"


def test_a_run_while_the_dagster_ui_is_open(dagster_dev: tuple[Path, str]) -> None:
    """Promise: with `dagster dev` (webserver and daemon) open on the same instance, `ssm run --year Y`
    completes, the marts are as before, the UI still answers and lists the run as a success."""
    root, url = dagster_dev
    before = marts(root / "warehouse.duckdb")
    result = ssm(root, "run", "--year", "2021")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "ok   2021" in result.stdout
    assert not any(text in output for text in RAW_LOCK_ERROR), output
    assert differences(marts(root / "warehouse.duckdb"), before) == []
    response = requests.post(f"{url}/graphql", json={"query": RUNS}, timeout=60)
    response.raise_for_status()
    runs = response.json()["data"]["runsOrError"]["results"]
    assert runs[0]["jobName"] == "survey_year_job" and runs[0]["status"] == "SUCCESS", runs
