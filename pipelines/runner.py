"""What `ssm run` does: find the years whose delivery is new or changed, and run the pipeline for each.

Runs go through the Dagster instance in the data folder, so the UI (`dagster dev` on the same
DAGSTER_HOME) shows every run the command made, with its lineage and metadata.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import dagster as dg

from pipelines.lib import warehouse
from pipelines.lib.alerts import BATCH_ATTEMPT_TAG
from pipelines.lib.landing import LandedFile, newest_per_year, sha256_of
from pipelines.project import dagster_home, data_dir

PARTITIONS_NAME = "survey_year"
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass(frozen=True)
class YearOutcome:
    """What happened to one survey year in one command."""

    survey_year: int
    file_name: str
    succeeded: bool
    message: str
    run_id: str | None = None
    # The warnings the year's runs logged (a missing class-size file, a year with no responses ...):
    # the terminal shows them; Dagster's own console log, with its stack traces, goes to the log file.
    notes: tuple[str, ...] = ()


def _has_table(con, schema: str, name: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchall()[0][0]
    )


def settled_deliveries(warehouse_path: Path) -> dict[str, str]:
    """SHA-256 -> status of every delivery on record (empty when there is no warehouse yet)."""
    if not warehouse_path.exists():
        return {}
    with warehouse.connect(warehouse_path, read_only=True) as con:
        if not _has_table(con, "raw", "deliveries"):
            return {}
        return dict(con.execute("select delivery_sha256, status from raw.deliveries").fetchall())


def pending_years(root: Path) -> dict[int, LandedFile]:
    """Years whose newest file in landing/ is not the year's loaded delivery: new, changed, refused
    before, or an older delivery put back in landing/ (the newest file to arrive counts, spec §4)."""
    settled = settled_deliveries(root / "warehouse.duckdb")
    pending = {}
    for year, landed in newest_per_year(root / "landing").items():
        if settled.get(sha256_of(landed.path)) != "loaded":
            pending[year] = landed
    return pending


def wait_for_warehouse(root: Path) -> None:
    """Wait until no other program holds the warehouse (up to SSM_LOCK_WAIT_SECONDS), or raise
    WarehouseBusy naming it: checked once before a command's runs, so a batch of years does not
    wait once per year and run."""
    path = root / "warehouse.duckdb"
    if path.exists():
        with warehouse.connect(path):
            pass


# The years an `ssm run` is working on, written before its first run and cleared when it ends: a
# killed command leaves them here, and the next `ssm run` does them again.
UNFINISHED_FILE = ".ssm-unfinished.json"


def unfinished_years(root: Path) -> dict[int, str]:
    """Years an earlier command left half done, with the reason: an `ssm run` that stopped before it
    finished them (killed, machine down), or a loaded delivery the marts were not built from (a
    killed or failed dbt build, also of a run started in the UI)."""
    unfinished = {year: "an earlier ssm run stopped before finishing it" for year in _journal(root)}
    path = root / "warehouse.duckdb"
    if path.exists():
        with warehouse.connect(path, read_only=True) as con:
            if _has_table(con, "raw", "deliveries"):
                built = (
                    "left join marts.response_funnel as funnel on funnel.survey_year = d.survey_year "
                    "and funnel.source_sha256 = d.delivery_sha256"
                    if _has_table(con, "marts", "response_funnel")
                    else "left join (select null::integer as survey_year) as funnel on false"
                )
                for (year,) in con.execute(
                    f"select d.survey_year from raw.deliveries as d {built} "
                    "where d.status = 'loaded' and funnel.survey_year is null"
                ).fetchall():
                    unfinished.setdefault(year, "its delivery is loaded but the marts were not built from it")
    return dict(sorted(unfinished.items()))


def _journal(root: Path) -> list[int]:
    path = root / UNFINISHED_FILE
    try:
        return sorted({int(year) for year in json.loads(path.read_text(encoding="utf-8"))})
    except FileNotFoundError:
        return []
    except (ValueError, TypeError):
        return []  # a damaged journal: the check of the marts against raw.deliveries still holds


def _write_journal(root: Path, years: list[int]) -> None:
    path = root / UNFINISHED_FILE
    if not years:
        path.unlink(missing_ok=True)
        return
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(sorted(years)), encoding="utf-8")
    partial.replace(path)  # atomic: the journal is whole or absent


def start_work(root: Path, years: list[int]) -> None:
    """Note the years this command is about to run (kept until finish_work)."""
    _write_journal(root, sorted(set(_journal(root)) | set(years)))


def finish_work(root: Path, years: list[int]) -> None:
    """Strike the years whose runs ended (loaded or failed with a message) from the journal."""
    _write_journal(root, sorted(set(_journal(root)) - set(years)))


# Every run `ssm` makes carries the data folder it works on, so that a later `ssm` command can tell
# the runs of a killed command (still "started" in Dagster, holding their pool slot) from others.
DATA_DIR_TAG = "ssm/data_dir"
_IN_PROGRESS = (
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
)


def take_over_abandoned_runs(root: Path, instance: dg.DagsterInstance) -> list[str]:
    """Close the Dagster runs of an `ssm` command on this data folder that died before they ended.

    Call it only while holding the data folder's run lock (exclusive_run): then no other `ssm`
    command runs on it, so a run of one that is still "started" belongs to a dead process. Left as it
    is, it holds the concurrency slot of the warehouse pool for ever, and every later run waits for
    that slot without end (and the UI's run queue counts it as running). Returns a line per run.
    """
    lines = []
    abandoned = instance.get_runs(
        filters=dg.RunsFilter(statuses=list(_IN_PROGRESS), tags={DATA_DIR_TAG: str(root)})
    )
    for run in abandoned:
        instance.report_run_failed(
            run,
            "The ssm command that ran this run stopped (killed or crashed) before the run ended; "
            "the next ssm command marked it failed and freed its place in the warehouse pool.",
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        lines.append(f"Closed run {run.run_id} ({run.job_name}) left unfinished by a stopped ssm command.")
    return lines


@contextmanager
def exclusive_run(root: Path) -> Iterator[None]:
    """Hold the data folder's run lock: a second `ssm run` waits here instead of racing the first."""
    lock_path = root / ".ssm-run.lock"
    with lock_path.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"Another ssm command is working on {root}; waiting for it to finish ...", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(str(os.getpid()))
        handle.flush()
        yield


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    from pipelines.lib.alerts import failure_reasons

    reasons = failure_reasons(result.all_events)
    return "; ".join(reasons) or "the run failed (see the Dagster UI for its log)"


def alert_failed_runs(outcomes: list[YearOutcome], instance: dg.DagsterInstance) -> list[str]:
    """E-mail the analysts about each failed run (the same alert the daemon's sensor sends, at most
    once per run, whoever is first); returns a line per alert for the console."""
    failed = [o for o in outcomes if not o.succeeded and o.run_id]
    if not failed:
        return []
    from pipelines.definitions import defs
    from pipelines.defs.alerts import alert_analysts

    lines = []
    with dg.build_resources({"mailer": defs.resources["mailer"], "survey": defs.resources["survey"]}) as res:
        if not res.mailer.analysts():
            return ["No alert e-mail: SSM_ALERT_RECIPIENTS is not set."]
        for outcome in failed:
            sent = alert_analysts(instance, instance.get_run_by_id(outcome.run_id), res.mailer, res.survey)
            if sent is not None:
                lines.append(
                    f"Alerted {', '.join(res.mailer.analysts())} about {outcome.survey_year}: {sent.outcome}"
                )
    return lines


def instance() -> dg.DagsterInstance:
    """The Dagster instance in the data folder (DAGSTER_HOME), shared with `dagster dev`."""
    os.environ["DAGSTER_HOME"] = str(dagster_home())
    return dg.DagsterInstance.get()


# Dagster's run tags for a run over a range of partitions (a single-run backfill).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def run_job(
    job_name: str, years: list[int], instance: dg.DagsterInstance, extra_config: dict | None = None
) -> list[YearOutcome]:
    """Run a job for each survey year, oldest first, and say what happened to each.

    Several years of survey_year_job are loaded as a batch (see load_in_batch): one dbt build for all.
    """
    # Dagster's notices that an API is in preview (partitioned asset checks) are for the developers,
    # who see them in the tests; the analyst running `ssm` cannot act on them.
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    # survey_year_job mixes the dbt asset (single-run backfills) with per-year assets on purpose: a
    # backfill of the whole job goes year by year, a batch goes through transform_job (load_in_batch).
    warnings.filterwarnings("ignore", message=".*varying BackfillPolicies.*", category=UserWarning)
    instance.add_dynamic_partitions(
        PARTITIONS_NAME,
        [str(y) for y in sorted(years) if not instance.has_dynamic_partition(PARTITIONS_NAME, str(y))],
    )
    if job_name == "survey_year_job" and len(years) > 1:
        return load_in_batch(sorted(years), instance)
    outcomes = []
    for year in sorted(years):
        result = _execute(job_name, instance, partition_key=str(year), extra_config=extra_config)
        message = "done" if result.success else _failure_message(result)
        outcomes.append(
            YearOutcome(year, "", result.success, message, result.run_id, _notes(result, instance))
        )
    return outcomes


def load_in_batch(years: list[int], instance: dg.DagsterInstance) -> list[YearOutcome]:
    """Load several survey years: their files in one ingest run, one dbt build over the range of years
    that loaded, then their reports in one run. The same assets and checks as survey_year_job, in three
    runs instead of 2n + 1: Dagster's bookkeeping per run and dbt's start-up cost more than a small year.

    When a batch run fails (a refused delivery), its years run again one run each, so that every year
    gets its own outcome and the others still load.
    """
    outcomes = _run_batch("ingest_job", years, instance)
    loaded = [year for year in years if outcomes[year].succeeded]
    if loaded:
        result = _execute("transform_job", instance, tags=_range_tags(loaded, instance))
        notes = _notes(result, instance)
        message = "done" if result.success else _failure_message(result)
        for year in loaded:
            earlier = outcomes[year].notes
            outcomes[year] = YearOutcome(year, "", result.success, message, result.run_id, earlier + notes)
        if not result.success:
            loaded = []
    if loaded:
        for year, outcome in _run_batch("report_job", loaded, instance).items():
            outcomes[year] = replace(outcome, notes=outcomes[year].notes + outcome.notes)
    return [outcomes[year] for year in years]


def _range_tags(years: list[int], instance: dg.DagsterInstance) -> dict[str, str]:
    """Run tags for one run over the partitions from the first to the last of `years`.

    Dynamic partitions keep the order they were added in; the range covers everything between the
    first and the last year in that order.
    """
    order = instance.get_dynamic_partitions(PARTITIONS_NAME)
    positions = sorted(order.index(str(year)) for year in years)
    return {RANGE_START_TAG: order[positions[0]], RANGE_END_TAG: order[positions[-1]]}


def _contiguous_runs(years: list[int], instance: dg.DagsterInstance) -> list[list[int]]:
    """`years` cut into runs of neighbouring partitions, so that a range run covers no other year."""
    order = instance.get_dynamic_partitions(PARTITIONS_NAME)
    chunks: list[list[int]] = []
    previous = None
    for position, year in sorted((order.index(str(year)), year) for year in years):
        if previous is not None and position == previous + 1:
            chunks[-1].append(year)
        else:
            chunks.append([year])
        previous = position
    return chunks


def _run_batch(job_name: str, years: list[int], instance: dg.DagsterInstance) -> dict[int, YearOutcome]:
    """Run a per-year job for `years`: one run per range of neighbouring years, and a run per year of
    any range whose run failed."""
    outcomes: dict[int, YearOutcome] = {}
    for chunk in _contiguous_runs(years, instance):
        if len(chunk) > 1:
            tags = {**_range_tags(chunk, instance), BATCH_ATTEMPT_TAG: "true"}
            result = _execute(job_name, instance, tags=tags)
            if result.success:
                notes = _notes(result, instance)
                outcomes.update(
                    {year: YearOutcome(year, "", True, "done", result.run_id, notes) for year in chunk}
                )
                continue
        for year in chunk:
            result = _execute(job_name, instance, partition_key=str(year))
            message = "done" if result.success else _failure_message(result)
            notes = _notes(result, instance)
            outcomes[year] = YearOutcome(year, "", result.success, message, result.run_id, notes)
    return outcomes


def _notes(result: dg.ExecuteInProcessResult, instance: dg.DagsterInstance) -> tuple[str, ...]:
    """The warnings the run's assets logged (context.log.warning), in order, each once; not Dagster's
    own errors (a step skipped after a failed one), which the outcome's message sums up."""
    entries = instance.all_logs(result.run_id)
    messages = (e.user_message for e in entries if e.dagster_event is None and e.level == logging.WARNING)
    return tuple(dict.fromkeys(messages))


def _execute(
    job_name: str,
    instance: dg.DagsterInstance,
    partition_key: str | None = None,
    tags: dict[str, str] | None = None,
    extra_config: dict | None = None,
) -> dg.ExecuteInProcessResult:
    from pipelines.definitions import defs  # imported here: loading the definitions takes seconds

    # dagster-dbt echoes every dbt log line to stdout, and Dagster's console log (stderr) gives a failed
    # step's stack trace: the analyst gets a summary and the warnings (YearOutcome), the file the rest
    # (the same lines are in the run's logs in the UI).
    with (
        run_log_path().open("a", encoding="utf-8") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        return defs.resolve_job_def(job_name).execute_in_process(
            instance=instance,
            partition_key=partition_key,
            tags={**(tags or {}), DATA_DIR_TAG: str(data_dir())},
            raise_on_error=False,
            run_config={**QUIET_LOGS, **(extra_config or {})},
        )


def run_log_path() -> Path:
    """The file that collects the detailed output (dbt's log lines) of today's runs."""
    from datetime import date

    logs = data_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return logs / f"ssm-{date.today():%Y-%m-%d}.log"


def root() -> Path:
    """The data folder (SSM_DATA_DIR) as an absolute path."""
    return data_dir()
