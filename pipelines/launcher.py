"""How the `ssm` command runs the jobs: in this process on the data folder's Dagster instance, or
through the daemon's run queue on a team deployment whose daemon is running (pipelines/run_queue.py).

The command is a thin client of Dagster. What to run comes from the same plan as the landing
sensor's (pipelines/pending.py, then defs/planning.py); the runs are Dagster runs of the code
location's jobs, so the UI (`make dev` on the same DAGSTER_HOME) shows each with its lineage and logs;
and what the command prints about a year (done, or why it failed, and the warnings) is read back from
Dagster's record of the run.

Importing this module loads the code location (pipelines.definitions), whose resources read the
environment (SSM_*) as it is then: import it when the run's environment is set.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg

from pipelines.definitions import defs
from pipelines.defs.alerts import alert_analysts
from pipelines.defs.dagster_internals import free_pool_slots, partition_tags
from pipelines.defs.planning import plan_runs, years_of
from pipelines.defs.shared import survey_years
from pipelines.lib.mail.alerts import failure_reasons
from pipelines.lib.warehouse import database as warehouse
from pipelines.paths import DataFolder
from pipelines.pending import PendingWork, pending_work
from pipelines.project import TEAM_INSTANCE_CONFIG, instance_config, prepare_dagster_home
from pipelines.run_queue import (
    DEFAULT_WEBSERVER_URL,
    WEBSERVER_URL_ENV,
    FinishedRun,
    RunQueue,
    queue_daemon_is_running,
)

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
# Every run `ssm` makes carries the data folder it works on, so that a later `ssm` command can tell
# the runs of a killed command (still "started" in Dagster, holding their pool slot) from others.
DATA_DIR_TAG = "ssm/data_dir"
_IN_PROGRESS = (
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
)


@dataclass(frozen=True)
class YearOutcome:
    """What happened to one survey year in one command."""

    survey_year: int
    succeeded: bool
    message: str
    run_id: str | None = None
    # The warnings the year's runs logged (a missing class-size file, a year with no responses ...):
    # the terminal shows them; Dagster's own console log, with its stack traces, goes to the log file.
    notes: tuple[str, ...] = ()


def instance(folder: DataFolder) -> dg.DagsterInstance:
    """The Dagster instance of the data folder (DAGSTER_HOME when set), shared with `dagster dev`."""
    return dg.DagsterInstance.from_config(str(prepare_dagster_home(folder)))


def deployment_queue(instance: dg.DagsterInstance, say: Callable[[str], None] = print) -> RunQueue | None:
    """The daemon's run queue when the instance is a team deployment's (SSM_DAGSTER_POSTGRES_URL)
    and its daemon is running, else None: the command's runs then execute in its own process.

    `make dev` on one analyst's instance also runs a daemon, but on a port `ssm` cannot know; there
    the runs stay in the command's process, and the warehouse pool keeps them apart from the UI's.
    `say` prints a notice while a run waits for a daemon that has stopped.
    """
    if instance_config() != TEAM_INSTANCE_CONFIG or not queue_daemon_is_running(instance):
        return None
    return RunQueue(instance, os.environ.get(WEBSERVER_URL_ENV) or DEFAULT_WEBSERVER_URL, say)


def take_over_abandoned_runs(folder: DataFolder, instance: dg.DagsterInstance) -> list[str]:
    """Close the Dagster runs of an `ssm` command on this data folder that died before they ended.

    Call it only while holding the data folder's run lock (exclusive_run): then no other `ssm`
    command runs on it, so a run of one that is still "started" belongs to a dead process. Left as it
    is, it holds the concurrency slot of the warehouse pool for ever, and every later run waits for
    that slot without end (and the UI's run queue counts it as running). Returns a line per run.
    """
    lines = []
    abandoned = instance.get_runs(
        filters=dg.RunsFilter(statuses=list(_IN_PROGRESS), tags={DATA_DIR_TAG: str(folder.root)})
    )
    for run in abandoned:
        instance.report_run_failed(
            run,
            "The ssm command that ran this run stopped (killed or crashed) before the run ended; "
            "the next ssm command marked it failed and freed its place in the warehouse pool.",
        )
        free_pool_slots(instance, run.run_id)
        lines.append(f"Closed run {run.run_id} ({run.job_name}) left unfinished by a stopped ssm command.")
    return lines


def wait_for_warehouse(folder: DataFolder) -> None:
    """Wait until no other program holds the warehouse (up to SSM_LOCK_WAIT_SECONDS), or raise
    WarehouseBusy naming it: checked once before a command's runs, so that a batch of years does
    not wait once per step."""
    if folder.warehouse.exists():
        with warehouse.connect(folder.warehouse):
            pass


def run_log_path(folder: DataFolder) -> Path:
    """The file that collects the detailed output (dbt's log lines) of today's runs."""
    folder.logs.mkdir(parents=True, exist_ok=True)
    return folder.logs / f"ssm-{date.today():%Y-%m-%d}.log"


def execute(
    folder: DataFolder,
    instance: dg.DagsterInstance,
    job_name: str,
    partition_key: str | None = None,
    tags: dict[str, str] | None = None,
    run_config: dict | None = None,
) -> dg.ExecuteInProcessResult:
    """Run one job of the code location in this process, as the daemon would launch it."""
    # dagster-dbt echoes every dbt log line to stdout, and Dagster's console log (stderr) gives a failed
    # step's stack trace: the analyst gets a summary and the warnings (YearOutcome), the file the rest
    # (the same lines are in the run's logs in the UI).
    with (
        run_log_path(folder).open("a", encoding="utf-8") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        return defs.resolve_job_def(job_name).execute_in_process(
            instance=instance,
            partition_key=partition_key,
            tags={**(tags or {}), DATA_DIR_TAG: str(folder.root)},
            raise_on_error=False,
            run_config={**QUIET_LOGS, **(run_config or {})},
        )


def launch(
    folder: DataFolder,
    instance: dg.DagsterInstance,
    queue: RunQueue | None,
    job_name: str,
    partition_key: str | None = None,
    tags: dict[str, str] | None = None,
    run_config: dict | None = None,
) -> FinishedRun | dg.ExecuteInProcessResult:
    """Run one job and wait for it: through the daemon's queue when there is one, else in this process.
    Either way the result says `run_id` and `success`, and the run's record is in the instance."""
    if queue is None:
        return execute(folder, instance, job_name, partition_key, tags, run_config)
    run_tags = {**(tags or {}), **(partition_tags(partition_key) if partition_key else {})}
    return queue.run(job_name, run_tags, run_config)


def failure_message(instance: dg.DagsterInstance, run_id: str) -> str:
    """Why a run failed, from its events in Dagster (a step's failure, a blocking check)."""
    reasons = failure_reasons(entry.dagster_event for entry in instance.all_logs(run_id))
    return "; ".join(reasons) or "the run failed (see the Dagster UI for its log)"


def warnings_logged(instance: dg.DagsterInstance, run_id: str) -> tuple[str, ...]:
    """The warnings the run's assets logged (context.log.warning), in order, each once; not Dagster's
    own errors (a step skipped after a failed one), which the outcome's message sums up."""
    entries = instance.all_logs(run_id)
    messages = (e.user_message for e in entries if e.dagster_event is None and e.level == logging.WARNING)
    return tuple(dict.fromkeys(messages))


def _outcomes(
    years: list[int], result: FinishedRun | dg.ExecuteInProcessResult, instance: dg.DagsterInstance
) -> dict[int, YearOutcome]:
    """The outcome of a run for each of its years, read from Dagster's record of the run."""
    message = "done" if result.success else failure_message(instance, result.run_id)
    notes = warnings_logged(instance, result.run_id)
    return {year: YearOutcome(year, result.success, message, result.run_id, notes) for year in years}


def run_pending(
    folder: DataFolder,
    work: PendingWork,
    instance: dg.DagsterInstance,
    requested: Iterable[int] = (),
    queue: RunQueue | None = None,
) -> list[YearOutcome]:
    """Make the runs `work` needs, then ask again, until nothing of it is left that a run could change.

    The planner cuts the years into as few runs as it can (usually one). When a run fails, the work is
    planned again: a refused file drops out (the next plan no longer lists its year) and the run's
    other years run again without it; a run whose years would all run again unchanged (a failed dbt
    test, say) is not repeated. A year that succeeded is never run twice in one command, and only the
    years of `work` run (a file that lands meanwhile waits for the next command or sensor tick).
    """
    requested = set(requested)
    scope = set(work.years)
    outcomes: dict[int, YearOutcome] = {}
    failed_runs: list[set[int]] = []
    while work:
        planned = plan_runs(work, instance.get_dynamic_partitions(survey_years.name))
        instance.add_dynamic_partitions(survey_years.name, planned.new_partitions)
        for request in planned.run_requests:
            result = launch(
                folder,
                instance,
                queue,
                request.job_name,
                request.partition_key,
                dict(request.tags),
                request.run_config,
            )
            years = years_of(request)
            outcomes.update(_outcomes(years, result, instance))
            if not result.success:
                failed_runs.append(set(years))
        if not failed_runs:
            break
        done = {year for year, outcome in outcomes.items() if outcome.succeeded}
        again = pending_work(folder, requested & scope - done)
        still_pending = set(again.years) & scope
        retry = {
            year: item
            for year, item in again.years.items()
            if year in scope and year not in done and _worth_retrying(year, still_pending, failed_runs)
        }
        work = PendingWork(retry, again.refused)
    return [outcomes[year] for year in sorted(outcomes)]


def _worth_retrying(year: int, still_pending: set[int], failed_runs: list[set[int]]) -> bool:
    """A year of a failed run runs again only if fewer of that run's years are pending now (one of
    them was refused and dropped out); a year no failed run had is new work."""
    failed = [years for years in failed_runs if year in years]
    return not failed or len(failed[-1] & still_pending) < len(failed[-1])


def run_report(
    folder: DataFolder,
    instance: dg.DagsterInstance,
    year: int,
    send: bool,
    force: bool,
    queue: RunQueue | None = None,
) -> YearOutcome:
    """Render one year's report from the warehouse as it is (and e-mail it with `send`)."""
    job = "report_delivery_job" if send else "report_job"
    config = {"ops": {"report__report_email": {"config": {"force": force}}}} if send else None
    if not instance.has_dynamic_partition(survey_years.name, str(year)):
        instance.add_dynamic_partitions(survey_years.name, [str(year)])
    result = launch(folder, instance, queue, job, partition_key=str(year), run_config=config)
    return _outcomes([year], result, instance)[year]


def alert_failed_runs(outcomes: list[YearOutcome], instance: dg.DagsterInstance) -> list[str]:
    """E-mail the analysts about each failed run (the same alert the daemon's sensor sends, at most
    once per run, whoever is first); returns a line per alert for the console."""
    failed_runs = dict.fromkeys(o.run_id for o in outcomes if not o.succeeded and o.run_id)
    if not failed_runs:
        return []
    lines = []
    with dg.build_resources({"mailer": defs.resources["mailer"], "survey": defs.resources["survey"]}) as res:
        if not res.mailer.analysts():
            return ["No alert e-mail: SSM_ALERT_RECIPIENTS is not set."]
        for run_id in failed_runs:
            run = instance.get_run_by_id(run_id)
            sent = alert_analysts(instance, run, res.mailer, res.survey)
            if sent is not None:
                years = ", ".join(str(y) for y in years_of(run)) or run.tags.get("dagster/partition", "")
                lines.append(f"Alerted {', '.join(res.mailer.analysts())} about {years}: {sent.outcome}")
    return lines
