"""A team deployment, for real (issue 17): Dagster's storage in a real PostgreSQL, the code server, the
daemon and the webserver started by deploy/ssm-service (the script the systemd units run), and `ssm`
going through the daemon's run queue.

Covered here: the landing sensor's tick launches the year's run through the daemon; two `ssm run`
and a run launched through the webserver (as the UI launches it) at the same time, while a notebook
holds the published marts open, all succeed with no lock error and give the marts of one run;
restarting the daemon and the webserver keeps the run history; killing the daemon mid-run and
starting it again lets the run and a run queued meanwhile finish. systemd itself and the TLS part of
the proxy are not run here (tests/test_deploy_proxy.py tests the login).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pytest
import requests

from pipelines.defs.planning import DBT_STEP
from pipelines.paths import POSTGRES_URL_ENV
from pipelines.run_queue import SUBMITTED_BY_TAG
from tests.conftest import pipeline_env, pipeline_environment, run_pending
from tests.postgres_server import PostgresServer, running_postgres
from tests.reliability import differences, marts
from tests.test_cli import PROJECT_ROOT, SSM

SERVICE = PROJECT_ROOT / "deploy" / "ssm-service"
YEARS = (2024, 2025)  # loaded by the sensor
LATE_YEAR = 2026  # lands later, for the concurrent runs
START_TIMEOUT = 180  # seconds for a service to answer (each imports the code location)
RUN_TIMEOUT = 600  # seconds for the runs of a step of these tests to end

pytestmark = pytest.mark.timeout(1500)

# The mutation the UI's launchpad sends (its answer: the run, or why not).
LAUNCH = """mutation($params: ExecutionParams!) { launchPipelineExecution(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } } } }"""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Deployment:
    """The services of one deployment on a temporary data folder, and how to reach them."""

    root: Path
    env: dict[str, str]
    logs: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def webserver_url(self) -> str:
        return self.env["SSM_DAGSTER_WEBSERVER_URL"]

    def start(self, role: str) -> None:
        log = (self.logs / f"{role}.log").open("a")
        self.processes[role] = subprocess.Popen(
            [str(SERVICE), role], env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def stop(self, role: str, sig: signal.Signals = signal.SIGTERM) -> None:
        process = self.processes.pop(role, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)

    def log(self, role: str) -> str:
        path = self.logs / f"{role}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    @contextmanager
    def instance(self) -> Iterator[dg.DagsterInstance]:
        """A new instance object on the deployment's storage (what a fresh `ssm` would open): the
        instance settings that deploy/ssm-service put in DAGSTER_HOME, which read the URL from the
        environment."""
        saved = os.environ.get(POSTGRES_URL_ENV)
        os.environ[POSTGRES_URL_ENV] = self.env[POSTGRES_URL_ENV]
        try:
            with dg.DagsterInstance.from_config(str(self.root / "dagster_home")) as instance:
                yield instance
        finally:
            if saved is None:
                os.environ.pop(POSTGRES_URL_ENV, None)
            else:
                os.environ[POSTGRES_URL_ENV] = saved

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        response = requests.post(
            f"{self.webserver_url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60
        )
        response.raise_for_status()
        return response.json()["data"]

    def wait_for_webserver(self) -> None:
        _wait(lambda: _answers(f"{self.webserver_url}/server_info"), START_TIMEOUT, "the webserver", self)

    def wait_for_daemon(self) -> None:
        from pipelines.run_queue import queue_daemon_is_running

        with self.instance() as instance:
            _wait(lambda: queue_daemon_is_running(instance), START_TIMEOUT, "the daemon's heartbeat", self)

    def ssm(self, *args: str) -> subprocess.Popen:
        """`ssm` as the README has people run it against a deployment (deploy/ssm-service ssm ...)."""
        return subprocess.Popen(
            [str(SERVICE), "ssm", *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _wait(condition, timeout: float, what: str, deployment: Deployment | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            logs = ""
            if deployment is not None:
                logs = "\n".join(
                    f"--- {r}\n{deployment.log(r)}" for r in ("code-server", "daemon", "webserver")
                )
            pytest.fail(f"{what}: not within {timeout} s\n{logs}")
        time.sleep(1)


def _settled(path: Path) -> None:
    """Make a delivery look fully copied (the sensor waits until a file has been still for a while)."""
    old = time.time() - 600
    os.utime(path, (old, old))


def _runs(instance: dg.DagsterInstance, job_name: str = "survey_year_job") -> list[dg.DagsterRun]:
    return [r for r in instance.get_runs() if r.job_name == job_name]


def _all_ended(instance: dg.DagsterInstance) -> bool:
    return all(run.is_finished for run in instance.get_runs())


def _lock_errors(instance: dg.DagsterInstance) -> list[str]:
    """Every event of every run that speaks of a lock conflict (DuckDB's "Could not set lock")."""
    found = []
    for run in instance.get_runs():
        for entry in instance.all_logs(run.run_id):
            text = entry.user_message or ""
            if entry.dagster_event is not None and entry.dagster_event.event_specific_data is not None:
                text += repr(entry.dagster_event.event_specific_data)
            if "Could not set lock" in text or "Conflicting lock" in text:
                found.append(f"{run.run_id}: {text[:300]}")
    return found


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with running_postgres(database="ssm_deployment") as server:
        yield server


@pytest.fixture(scope="module")
def deployment(postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The code server, the daemon and the webserver of a deployment on a fresh data folder."""
    from pipelines.generators.demo import write_demo_data

    base = tmp_path_factory.mktemp("deployment")
    root = base / "data"
    staging = base / "staging"  # the delivery that lands later (its class size is on file already)
    staging.mkdir()
    for path in write_demo_data(root, years=(*YEARS, LATE_YEAR)):
        if f"_{LATE_YEAR}" in path.name:
            path.rename(staging / path.name)
    env = pipeline_env(root)
    env.update(
        {POSTGRES_URL_ENV: postgres.url},
        SSM_CODE_SERVER_PORT=str(_free_port()),
        SSM_WEBSERVER_PORT=str(port := _free_port()),
        SSM_DAGSTER_WEBSERVER_URL=f"http://127.0.0.1:{port}",
        # A reader that held anything the runs write would fail them at once instead of after a wait.
        SSM_LOCK_WAIT_SECONDS="0",
        # Only these settings, whatever this machine's /etc/ssm/ssm.env says.
        SSM_ENV_FILE=str(base / "no-settings-file"),
    )
    logs = base / "logs"
    logs.mkdir()
    deploy = Deployment(root=root, env=env, logs=logs)
    deploy.staging = staging  # type: ignore[attr-defined]
    try:
        deploy.start("code-server")
        # As systemd orders them: the daemon and the webserver once the code server answers.
        ready = subprocess.run(
            [str(SERVICE), "code-server-ready"], env=env, capture_output=True, text=True, timeout=180
        )
        assert ready.returncode == 0, ready.stderr + deploy.log("code-server")
        deploy.start("daemon")
        deploy.start("webserver")
        deploy.wait_for_webserver()
        deploy.wait_for_daemon()
        yield deploy
    finally:
        for role in ("daemon", "webserver", "code-server"):
            deploy.stop(role)


def _sensor(deployment: Deployment, action: str) -> None:
    """Start or stop the landing sensor as the README says (deploy/ssm-service sensor ...)."""
    result = subprocess.run(
        [str(SERVICE), "sensor", action, "landing_sensor"],
        env=deployment.env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_instance_keeps_its_runs_in_postgres(deployment: Deployment) -> None:
    """Promise: with SSM_DAGSTER_POSTGRES_URL set, the instance is the team's: PostgreSQL storage, the
    queue and the pool; nothing of Dagster's history is written under the data folder."""
    with deployment.instance() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    assert not list((deployment.root / "dagster_home").glob("history/**/*.db"))


def test_the_landing_sensor_launches_the_years_run_through_the_daemon(deployment: Deployment) -> None:
    """Promise: with the landing sensor on, the daemon's tick requests the run that the landing folder
    needs and the daemon launches it: the years in landing/ are loaded without any `ssm` command."""
    for path in (deployment.root / "landing").iterdir():
        _settled(path)
    _sensor(deployment, "start")
    try:
        with deployment.instance() as instance:
            _wait(
                lambda: any(r.status is dg.DagsterRunStatus.SUCCESS for r in _runs(instance)),
                RUN_TIMEOUT,
                "a successful run requested by the sensor",
                deployment,
            )
            runs = _runs(instance)
    finally:
        _sensor(deployment, "stop")
    assert all(r.tags.get("dagster/sensor_name") == "landing_sensor" for r in runs), [r.tags for r in runs]
    assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS]
    loaded = {y for (y,) in _query(deployment.root, "select survey_year from marts.response_funnel")}
    assert loaded == set(YEARS)


def _query(root: Path, sql: str) -> list[tuple]:
    import duckdb

    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def _reader_holding(path: Path) -> subprocess.Popen:
    """A notebook: another process holding the published marts open (read-only) until told to stop."""
    script = (
        "import duckdb, sys\n"
        f"con = duckdb.connect({str(path)!r}, read_only=True)\n"
        "print(con.execute('select count(*) from marts.marts.response_funnel').fetchone()[0], flush=True)\n"
        "sys.stdin.readline()\n"
        "print(con.execute('select count(*) from marts.marts.response_funnel').fetchone()[0], flush=True)\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def test_ssm_runs_and_a_ui_run_at_once_give_the_marts_of_one_run(
    deployment: Deployment, tmp_path: Path
) -> None:
    """Promise: two `ssm run` and a run launched through the webserver at the same time, while a
    notebook holds the published marts open, all end well, one after the other through the queue,
    with no DuckDB lock error; the marts equal those of one in-process run over the same deliveries."""
    published = deployment.root / "published" / "marts.duckdb"
    assert published.exists(), "the sensor's run published no marts"
    notebook = _reader_holding(published)
    assert notebook.stdout.readline().strip() == str(len(YEARS))
    late = next(deployment.staging.iterdir())  # type: ignore[attr-defined]
    target = deployment.root / "landing" / late.name
    target.write_bytes(late.read_bytes())

    first, second = deployment.ssm("run"), deployment.ssm("run")
    ui_run = deployment.graphql(
        LAUNCH,
        {
            "params": {
                "selector": _job_selector(deployment, "survey_year_job"),
                "runConfigData": {"ops": {DBT_STEP: {"config": {"years": [YEARS[0]]}}}},
                "executionMetadata": {"tags": [{"key": "dagster/partition", "value": str(YEARS[0])}]},
            }
        },
    )["launchPipelineExecution"]
    assert ui_run["__typename"] == "LaunchRunSuccess", ui_run
    outputs = [process.communicate(timeout=RUN_TIMEOUT)[0] for process in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    loaded = [out for out in outputs if f"ok   {LATE_YEAR}" in out]
    assert len(loaded) == 1, outputs  # loaded once, not twice: the other found nothing new
    assert "A Dagster daemon is running: the runs go through its queue" in loaded[0], loaded[0]

    with deployment.instance() as instance:
        _wait(lambda: _all_ended(instance), RUN_TIMEOUT, "every run to end", deployment)
        runs = _runs(instance)
        assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}, [(r.run_id, r.status) for r in runs]
        assert any(SUBMITTED_BY_TAG in r.tags for r in runs)
        assert _lock_errors(instance) == []

    # The notebook still reads its snapshot; a new reader sees the new one.
    notebook.stdin.write("\n")
    notebook.stdin.flush()
    assert notebook.stdout.readline().strip() == str(len(YEARS))
    notebook.wait(timeout=30)
    with __import__("duckdb").connect(str(published), read_only=True) as con:
        assert con.execute("select count(*) from marts.marts.response_funnel").fetchone()[0] == len(YEARS) + 1

    reference = tmp_path / "reference"
    from pipelines.generators.demo import write_demo_data

    write_demo_data(reference, years=(*YEARS, LATE_YEAR))
    with pipeline_environment(reference):
        assert all(o.succeeded for o in run_pending(reference))
    assert (
        differences(marts(deployment.root / "warehouse.duckdb"), marts(reference / "warehouse.duckdb")) == []
    )


def test_restarting_the_daemon_and_the_webserver_keeps_the_history(deployment: Deployment) -> None:
    """Promise: the run history lives in PostgreSQL: after the daemon and the webserver restart, the
    webserver lists the same runs, and a new instance object reads the same records."""
    query = "{ runsOrError { ... on Runs { results { runId status } } } }"
    before = deployment.graphql(query)["runsOrError"]["results"]
    assert before
    deployment.stop("daemon")
    deployment.stop("webserver")
    deployment.start("webserver")
    deployment.start("daemon")
    deployment.wait_for_webserver()
    deployment.wait_for_daemon()
    after = deployment.graphql(query)["runsOrError"]["results"]
    assert sorted(map(str, after)) == sorted(map(str, before))
    with deployment.instance() as instance:
        assert {r.run_id for r in instance.get_runs()} == {r["runId"] for r in before}


def test_killing_the_daemon_mid_run_recovers(deployment: Deployment) -> None:
    """Promise: the daemon killed (SIGKILL) while a run of `ssm run` is under way, and a run launched
    in the UI while it is down, leave nothing stuck: the run under way (a subprocess of the code
    server) ends and `ssm` exits 0; once the daemon is back, it starts the queued run, which succeeds."""
    load = deployment.ssm("run", "--year", str(YEARS[1]))
    with deployment.instance() as instance:
        _wait(
            lambda: any(r.status is dg.DagsterRunStatus.STARTED for r in _runs(instance)),
            RUN_TIMEOUT,
            "the run to start",
            deployment,
        )
        deployment.stop("daemon", signal.SIGKILL)
        queued = _launch_report(deployment, YEARS[0])
        output = load.communicate(timeout=RUN_TIMEOUT)[0]
        assert load.returncode == 0 and f"ok   {YEARS[1]}" in output, output
        assert instance.get_run_by_id(queued).status is dg.DagsterRunStatus.QUEUED
        deployment.start("daemon")
        _wait(lambda: _all_ended(instance), RUN_TIMEOUT, "every run to end", deployment)
        assert instance.get_run_by_id(queued).status is dg.DagsterRunStatus.SUCCESS
        assert {r.status for r in instance.get_runs()} == {dg.DagsterRunStatus.SUCCESS}
        assert _lock_errors(instance) == []
    deployment.wait_for_daemon()


def _job_selector(deployment: Deployment, job_name: str) -> dict[str, str]:
    """What the UI's launchpad names a job by: its code location, repository and name."""
    nodes = deployment.graphql(
        "{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } } } }"
    )["repositoriesOrError"]["nodes"]
    assert len(nodes) == 1, nodes
    return {
        "repositoryLocationName": nodes[0]["location"]["name"],
        "repositoryName": nodes[0]["name"],
        "pipelineName": job_name,
    }


def _launch_report(deployment: Deployment, year: int) -> str:
    """Launch report_job for one year through the webserver, as the UI's launchpad does."""
    launched = deployment.graphql(
        LAUNCH,
        {
            "params": {
                "selector": _job_selector(deployment, "report_job"),
                "executionMetadata": {"tags": [{"key": "dagster/partition", "value": str(year)}]},
            }
        },
    )["launchPipelineExecution"]  # fmt: skip
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def test_ssm_through_the_queue_answers_as_it_does_in_process(deployment: Deployment, tmp_path: Path) -> None:
    """Promise: through the queue, `ssm` says and returns what it says and returns when it runs the
    job itself: a refused delivery gives the same FAIL line and exit status 1 as an in-process
    `ssm run` on a copy of the data folder; `ssm report --year Y` exits 0 and names the report."""
    bad = deployment.root / "landing" / f"ssm_survey_{YEARS[0]}_corrected.csv"
    bad.write_text("this is not a survey export\n", encoding="utf-8")
    local = tmp_path / "data"
    shutil.copytree(deployment.root, local, ignore=shutil.ignore_patterns("dagster_home", "*.lock"))
    try:
        queued = deployment.ssm("run")
        queued_output = queued.communicate(timeout=RUN_TIMEOUT)[0]
        in_process = subprocess.run(
            [SSM, "run"], env=pipeline_env(local), capture_output=True, text=True, timeout=RUN_TIMEOUT
        )
    finally:
        bad.unlink()
    assert "A Dagster daemon is running: the runs go through its queue" in queued_output
    assert "A Dagster daemon is running" not in in_process.stdout
    assert (queued.returncode, in_process.returncode) == (1, 1), (queued_output, in_process.stdout)
    fail_lines = [line for line in queued_output.splitlines() if line.startswith("  FAIL")]
    assert fail_lines and fail_lines == [
        line for line in in_process.stdout.splitlines() if line.startswith("  FAIL")
    ]

    report = deployment.ssm("report", "--year", str(YEARS[1]))
    output = report.communicate(timeout=RUN_TIMEOUT)[0]
    assert report.returncode == 0, output
    assert "the run goes through its queue" in output and f"ok   {YEARS[1]}" in output
    assert f"Report: {deployment.root / 'reports' / str(YEARS[1]) / 'report.html'}" in output
