"""The `ssm` command of spec §11: run, validate, report, status and demo, for analysts and scripts."""

from __future__ import annotations

import logging
import os
import secrets
import sys
from pathlib import Path

import click

from pipelines.lib.ingest.errors import DeliveryError
from pipelines.lib.warehouse.database import WarehouseBusy
from pipelines.paths import POSTGRES_URL_ENV, DataFolder
from pipelines.run_queue import QueueUnavailable

DEMO_SALT = "ssm-demonstration-salt-not-for-real-data"
DEMO_RECIPIENTS = "dean@example.edu,associate.dean@example.edu"


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"ssm: {message}", err=True)
    sys.exit(code)


def _print_outcomes(outcomes) -> int:
    """One line per year, then the runs' warnings (each once); returns how many years failed."""
    failed = 0
    for outcome in outcomes:
        mark = "ok  " if outcome.succeeded else "FAIL"
        click.echo(f"  {mark} {outcome.survey_year}  {outcome.message}")
        failed += not outcome.succeeded
    for note in dict.fromkeys(note for outcome in outcomes for note in outcome.notes):
        click.echo(f"  note: {note}")
    return failed


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Yearly student/student mentoring survey: load deliveries, build the warehouse, render reports.

    Everything lives in the data folder SSM_DATA_DIR (default: data/ in the project).
    """


def console_main() -> None:
    """The `ssm` console script: the command, then an exit without tearing the interpreter down.

    After a run the process holds Dagster, dbt's adapter, pandas, matplotlib and DuckDB; freeing all
    of it at exit took 1.4-1.6 s after the last line was printed (a one-year load is about 15 s).
    Everything that must reach disk is closed by then (DuckDB connections and Dagster's storage by
    their context managers, the log file by logging.shutdown), so the process leaves with os._exit.
    """
    try:
        main()
        code = 0
    except SystemExit as stop:
        if stop.code is None or isinstance(stop.code, int):
            code = stop.code or 0
        else:
            click.echo(stop.code, err=True)
            code = 1
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@main.command()
@click.option(
    "--year", "years", type=int, multiple=True, help="Rebuild this survey year even if nothing changed."
)
def run(years: tuple[int, ...]) -> None:
    """Load every new or changed delivery in landing/, rebuild what depends on it, render the reports."""
    from pipelines.pending import pending_work
    from pipelines.run_lock import exclusive_run

    folder = DataFolder.from_environment()
    outcomes, alerts, queued = [], [], False
    try:
        with exclusive_run(folder):
            work = pending_work(folder, requested=years)
            if work:
                outcomes, alerts, work, queued = _run_pending(folder, work, years)
    except WarehouseBusy as exc:
        _fail(str(exc), 1)
    except QueueUnavailable as exc:
        _fail(str(exc), 1)
    if not work and not work.refused:
        click.echo(f"Nothing new in {folder.landing}: every delivery there is already loaded.")
        return
    failed = _print_outcomes(outcomes)
    for line in alerts:
        click.echo(line)
    # A file refused by an earlier run stays refused until a corrected file arrives: said again, not
    # read again (pipelines/pending.py).
    standing = [r for year, r in work.refused.items() if year not in {o.survey_year for o in outcomes}]
    for refusal in standing:
        click.echo(f"  FAIL {refusal.survey_year}  Delivery refused, warehouse unchanged. {refusal.message}")
        click.echo(
            f"       ({refusal.file_name} was refused when it arrived: put a corrected file in landing/, "
            f"or run `ssm run --year {refusal.survey_year}` to read this one again.)"
        )
    failed += len(standing)
    if outcomes:
        click.echo(f"Reports: {folder.reports}/<year>/report.html")
        if queued:
            click.echo("Detailed log: each run's page in the Dagster UI.")
        else:
            click.echo(f"Detailed log: {_launcher().run_log_path(folder)}")
    if failed:
        total = len(outcomes) + len(standing)
        _fail(f"{failed} of {total} survey year(s) failed; the warehouse keeps their previous state.", 1)


def _launcher():
    """The Dagster side of the command, imported only when there is something to run (seconds)."""
    import warnings

    import dagster as dg

    from pipelines.project import prepare_dbt_project

    # Dagster's notices that an API is in beta or preview (backfill policies, partitioned asset
    # checks) are for the developers, who see them in the tests; the analyst cannot act on them.
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    prepare_dbt_project()  # before the definitions load: dagster-dbt reads the manifest then
    from pipelines import launcher

    return launcher


def _run_pending(folder: DataFolder, work, years: tuple[int, ...]) -> tuple[list, list[str], object, bool]:
    """Run what `work` needs through Dagster, saying why each year runs; returns the years' outcomes,
    a line per alert sent about a failed run, the work as it was run, and whether it went through a
    daemon's run queue.

    With a daemon, the runs already queued or under way (the sensor's, the UI's, another `ssm`'s) end
    first and the work is asked for again: they may have done it, and a year is never planned twice.
    """
    from pipelines.pending import pending_work
    from pipelines.run_queue import started_by

    launcher = _launcher()
    from pipelines.defs.jobs import survey_year_job

    instance = launcher.instance(folder)
    for line in launcher.take_over_abandoned_runs(folder, instance):
        click.echo(line)
    queue = launcher.deployment_queue(instance, click.echo)
    if queue is not None:
        click.echo(f"A Dagster daemon is running: the runs go through its queue ({queue.url}).")
        queue.wait_until_idle(
            [survey_year_job.name],
            announce=lambda r: click.echo(f"Waiting for run {r.run_id[:8]} ({started_by(r)}) to end ..."),
        )
        work = pending_work(folder, requested=years)
    for year, item in work.years.items():
        click.echo(f"{year}: {item.reason}")
    if not work:
        return [], [], work, queue is not None
    launcher.wait_for_warehouse(folder)
    outcomes = launcher.run_pending(folder, work, instance, requested=years, queue=queue)
    return outcomes, launcher.alert_failed_runs(outcomes, instance), work, queue is not None


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--year", type=int, help="Survey year (default: the year in the file name).")
@click.option("--show", default=10, show_default=True, help="How many issues to print in full.")
def validate(file: Path, year: int | None, show: int) -> None:
    """Check one delivery without loading it: what would happen to every row and cell."""
    from pipelines.lib.ingest.harmonise import harmonise
    from pipelines.lib.ingest.landing import DELIVERY_NAME
    from pipelines.lib.ingest.readers import read_delivery

    if not file.is_file():
        _fail(f"{file}: no such file. Give the path of a delivery (ssm_survey_<YYYY>....csv or .xlsx).")
    match = DELIVERY_NAME.match(file.name)
    if year is None and not match:
        _fail(
            f"{file.name}: the name does not follow ssm_survey_<YYYY>...csv/.xlsx; rename it or pass --year."
        )
    survey_year = year or int(match["year"])
    try:
        table = read_delivery(file)
        # A throwaway salt: a dry run stores nothing, so the keys it would make do not matter.
        result = harmonise(table, survey_year, secrets.token_hex(16))
    except DeliveryError as exc:
        _fail(f"REFUSED: {exc}")
    counts = result.bucket_counts()
    instrument = table.instrument
    click.echo(
        f"{file.name}: survey year {survey_year}, instrument {result.instrument} ({result.coding} coding; "
        f"the codebook has {instrument.name} for survey years {instrument.entry.years_text()})"
    )
    # Columns the mapping does not know are read past (Qualtrics adds embedded-data fields): named here,
    # since a new question in the survey would look the same.
    unknown = [c for c in table.columns if c and c not in instrument.known_columns()]
    if unknown:
        click.echo(
            f"  columns not in the {instrument.name} mapping (not loaded): {', '.join(unknown[:20])}"
            + (f" and {len(unknown) - 20} more" if len(unknown) > 20 else "")
        )
    click.echo(f"  rows received: {sum(counts.values())}")
    for bucket, n in counts.items():
        click.echo(f"  {bucket:<12} {n}")
    issues = result.issues
    click.echo(f"  cell issues: {len(issues)}")
    for rule, n in issues["rule"].value_counts().items():
        click.echo(f"    {rule:<18} {n}")
    for issue in issues.head(show).itertuples():
        click.echo(
            f"  row {issue.row_number}, column {issue.column_name}: {issue.original_value!r} ({issue.rule})"
        )
    click.echo("Nothing was loaded (dry run).")


@main.command()
@click.option("--year", type=int, required=True, help="Survey year of the report.")
@click.option(
    "--send", is_flag=True, help="E-mail it to SSM_REPORT_RECIPIENTS (outbox/ without SSM_SMTP_HOST)."
)
@click.option("--force", is_flag=True, help="Send even if this exact report was already sent.")
def report(year: int, send: bool, force: bool) -> None:
    """Render one year's report from the warehouse, and optionally e-mail it."""
    from pipelines.run_lock import exclusive_run

    folder = DataFolder.from_environment()
    try:
        with exclusive_run(folder):
            launcher = _launcher()
            instance = launcher.instance(folder)
            for line in launcher.take_over_abandoned_runs(folder, instance):
                click.echo(line)
            queue = launcher.deployment_queue(instance, click.echo)
            if queue is not None:
                click.echo(f"A Dagster daemon is running: the run goes through its queue ({queue.url}).")
            outcome = launcher.run_report(folder, instance, year, send=send, force=force, queue=queue)
            alerts = launcher.alert_failed_runs([outcome], instance)
    except (WarehouseBusy, QueueUnavailable) as exc:
        _fail(str(exc))
    failed = _print_outcomes([outcome])
    for line in alerts:
        click.echo(line)
    click.echo(f"Report: {folder.report_dir(year) / 'report.html'}")
    if send and not failed:
        _print_deliveries(folder, year)
    if failed:
        _fail("the report could not be made or sent; see above.", 1)


def _print_deliveries(folder: DataFolder, year: int) -> None:
    """Say where the year's report went on the latest send (or that it was already sent)."""
    from pipelines.lib.mail import ledger as email_ledger
    from pipelines.lib.warehouse import database as warehouse

    with warehouse.connect(folder.warehouse, read_only=True, wait_seconds=10) as con:
        rows = email_ledger.last_send(con, year)
    for recipient, outcome, detail in rows:
        click.echo(f"  {outcome}: {recipient} ({detail})")
    click.echo("  (a report that already went to a recipient is not sent again; --force sends it anyway)")


@main.command()
def status() -> None:
    """What has been loaded, when, from which file, and which reports were sent to whom."""
    from pipelines.lib.mail import ledger as email_ledger
    from pipelines.lib.warehouse import database as warehouse
    from pipelines.lib.warehouse import deliveries
    from pipelines.pending import NEW_FILE, pending_work

    folder = DataFolder.from_environment()
    click.echo(f"Data folder: {folder.root}")
    try:
        work = pending_work(folder, wait_seconds=10)
        if not folder.warehouse.exists():
            click.echo("No warehouse yet: run `ssm run` after putting deliveries in landing/.")
        else:
            with warehouse.connect(folder.warehouse, read_only=True, wait_seconds=10) as con:
                on_record = deliveries.all_deliveries(con)
                sends = email_ledger.all_sends(con)
            click.echo("Deliveries:")
            for d in on_record:
                click.echo(
                    f"  {d.survey_year}  {d.status:<10} {d.file_name}  received {d.received_at:%Y-%m-%d %H:%M}"
                    f"  rows {d.rows_received}  sha {d.delivery_sha256[:12]}"
                )
                if d.status_message:
                    click.echo(f"        {d.status_message}")
            click.echo("Report e-mails:" if sends else "Report e-mails: none yet.")
            for year, recipient, outcome, at, sha in sends:
                click.echo(f"  {year}  {outcome:<18} {recipient}  {at:%Y-%m-%d %H:%M}  report {sha[:12]}")
    except WarehouseBusy as exc:
        _fail(str(exc))
    _print_class_sizes(folder.class_sizes)
    for year, item in work.years.items():
        if item.landed is not None and item.reason == NEW_FILE.format(name=item.landed.path.name):
            click.echo(
                f"Waiting in landing/: {item.landed.path.name} (survey year {year}); run `ssm run` to load it."
            )
        else:
            reason = item.reason.removeprefix("building again: ")
            click.echo(f"Unfinished: survey year {year} ({reason}); `ssm run` builds it again.")
    for year, refusal in work.refused.items():
        click.echo(
            f"Refused: {refusal.file_name} (survey year {year}); put a corrected file in landing/ and run `ssm run`."
        )


def _print_class_sizes(path: Path) -> None:
    """The reference file as the next run will read it: its years, and every row that needs fixing."""
    from pipelines.lib.ingest.class_sizes import read_class_sizes

    if not path.exists():
        click.echo(f"Class sizes: {path} does not exist, so no year has a response rate.")
        return
    try:
        table = read_class_sizes(path)
    except DeliveryError as exc:
        click.echo(f"Class sizes: {exc}")
        return
    years = sorted(table.sizes)
    span = f" ({years[0]}-{years[-1]})" if years else ""
    click.echo(f"Class sizes: {len(years)} survey years{span} in {path}.")
    if table.issues:
        click.echo(f"  {len(table.issues)} row(s) to fix (the other rows are used):")
    for issue in table.issues:
        click.echo(f"  {issue.message(path)}")


@main.command()
def demo() -> None:
    """Write the demonstration deliveries into the data folder and run the whole pipeline on them."""
    from pipelines.generators.demo import write_demo_data

    folder = DataFolder.from_environment().ensure()
    root = folder.root
    marker = root / ".demo-data"
    if any(folder.landing.glob("*")) and not marker.exists():
        _fail(
            f"{root} already holds deliveries that the demo did not write. Run the demo in its own folder: "
            "SSM_DATA_DIR=/tmp/ssm-demo ssm demo"
        )
    if not os.environ.get("SSM_RESPONSE_SALT"):
        os.environ["SSM_RESPONSE_SALT"] = DEMO_SALT
        click.echo(f"Using the fixed demonstration salt {DEMO_SALT!r} (never use it for real survey data).")
    paths = write_demo_data(root)
    marker.touch()
    click.echo(
        f"Wrote {len(paths)} demo deliveries to {folder.landing} and class sizes to {folder.class_sizes}."
    )
    if not os.environ.get("SSM_REPORT_RECIPIENTS"):
        os.environ["SSM_REPORT_RECIPIENTS"] = DEMO_RECIPIENTS
    run.main(args=[], standalone_mode=False)
    reports = sorted(folder.reports.glob("*/report.html"))
    click.echo(f"{len(reports)} reports:")
    for path in reports:
        click.echo(f"  {path}")
    latest = max(int(p.parent.name) for p in reports)
    click.echo(f"E-mailing the {latest} report to {os.environ['SSM_REPORT_RECIPIENTS']} ...")
    report.main(args=["--year", str(latest), "--send"], standalone_mode=False)
    if os.environ.get(POSTGRES_URL_ENV):
        click.echo("See the runs in the deployment's Dagster UI (README, 'Deploy for a team').")
    else:
        click.echo("Open the Dagster UI on this data with: make dev   (then http://127.0.0.1:3000)")


if __name__ == "__main__":
    main()
