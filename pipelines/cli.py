"""The `ssm` command of spec §11: run, validate, report, status and demo, for analysts and scripts."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import click

from pipelines.lib.errors import DeliveryError
from pipelines.lib.warehouse import WarehouseBusy

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


@main.command()
@click.option(
    "--year", "years", type=int, multiple=True, help="Rebuild this survey year even if nothing changed."
)
def run(years: tuple[int, ...]) -> None:
    """Load every new or changed delivery in landing/, rebuild what depends on it, render the reports."""
    from pipelines import runner

    root = runner.root()
    try:
        with runner.exclusive_run(root):
            pending = runner.pending_years(root)
            unfinished = runner.unfinished_years(root)
            selected = sorted(set(years) | set(pending) | set(unfinished))
            if not selected:
                click.echo(f"Nothing new in {root / 'landing'}: every delivery there is already loaded.")
                return
            # Only when there is work: opening the Dagster instance costs seconds (issue 6, E), and a
            # run left "started" by a killed command matters only to the runs about to start.
            instance = runner.instance()
            for line in runner.take_over_abandoned_runs(root, instance):
                click.echo(line)
            for year in selected:
                if year in pending:
                    reason = f"new file {pending[year].path.name}"
                elif year in unfinished:
                    reason = f"building again: {unfinished[year]}"
                else:
                    reason = "rebuild requested"
                click.echo(f"{year}: {reason}")
            runner.wait_for_warehouse(root)
            runner.start_work(root, selected)
            outcomes = runner.run_job("survey_year_job", selected, instance)
            runner.finish_work(root, [outcome.survey_year for outcome in outcomes])
    except WarehouseBusy as exc:
        _fail(str(exc), 1)
    failed = _print_outcomes(outcomes)
    for line in runner.alert_failed_runs(outcomes, runner.instance()):
        click.echo(line)
    reports = root / "reports"
    click.echo(f"Reports: {reports}/<year>/report.html")
    click.echo(f"Detailed log: {runner.run_log_path()}")
    if failed:
        _fail(
            f"{failed} of {len(outcomes)} survey year(s) failed; the warehouse keeps their previous state.", 1
        )


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--year", type=int, help="Survey year (default: the year in the file name).")
@click.option("--show", default=10, show_default=True, help="How many issues to print in full.")
def validate(file: Path, year: int | None, show: int) -> None:
    """Check one delivery without loading it: what would happen to every row and cell."""
    from pipelines.lib.harmonise import harmonise
    from pipelines.lib.landing import DELIVERY_NAME
    from pipelines.lib.readers import read_delivery

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
    click.echo(
        f"{file.name}: survey year {survey_year}, instrument {result.instrument} ({result.coding} coding)"
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
    from pipelines import runner

    root = runner.root()
    try:
        with runner.exclusive_run(root):
            instance = runner.instance()
            for line in runner.take_over_abandoned_runs(root, instance):
                click.echo(line)
            job = "report_delivery_job" if send else "report_job"
            config = {"ops": {"report__report_email": {"config": {"force": force}}}} if send else None
            outcomes = runner.run_job(job, [year], instance, extra_config=config)
    except WarehouseBusy as exc:
        _fail(str(exc))
    failed = _print_outcomes(outcomes)
    for line in runner.alert_failed_runs(outcomes, runner.instance()):
        click.echo(line)
    click.echo(f"Report: {root / 'reports' / str(year) / 'report.html'}")
    if send and not failed:
        _print_deliveries(root, year)
    if failed:
        _fail("the report could not be made or sent; see above.", 1)


def _print_deliveries(root: Path, year: int) -> None:
    """Say where the year's report went on the latest send (or that it was already sent)."""
    from pipelines.lib import warehouse

    with warehouse.connect(root / "warehouse.duckdb", read_only=True, wait_seconds=10) as con:
        rows = con.execute(
            "select recipient, outcome, detail from ops.report_emails where survey_year = ? "
            "and attempted_at = (select max(attempted_at) from ops.report_emails where survey_year = ?)",
            [year, year],
        ).fetchall()
    for recipient, outcome, detail in rows:
        click.echo(f"  {outcome}: {recipient} ({detail})")
    click.echo("  (a report that already went to a recipient is not sent again; --force sends it anyway)")


@main.command()
def status() -> None:
    """What has been loaded, when, from which file, and which reports were sent to whom."""
    from pipelines import runner
    from pipelines.lib import warehouse

    root = runner.root()
    path = root / "warehouse.duckdb"
    click.echo(f"Data folder: {root}")
    pending = runner.pending_years(root)
    if not path.exists():
        click.echo("No warehouse yet: run `ssm run` after putting deliveries in landing/.")
    else:
        try:
            with warehouse.connect(path, read_only=True, wait_seconds=10) as con:
                deliveries = con.execute(
                    "select survey_year, file_name, status, received_at, rows_received, left(delivery_sha256, 12),"
                    " coalesce(status_message, '') from raw.deliveries order by survey_year, received_at"
                ).fetchall()
                emails = con.execute(
                    "select survey_year, recipient, outcome, attempted_at, left(report_sha256, 12) "
                    "from ops.report_emails order by attempted_at"
                ).fetchall()
        except WarehouseBusy as exc:
            _fail(str(exc))
        click.echo("Deliveries:")
        for year, name, state, received, rows, sha, message in deliveries:
            click.echo(
                f"  {year}  {state:<10} {name}  received {received:%Y-%m-%d %H:%M}  rows {rows}  sha {sha}"
            )
            if message:
                click.echo(f"        {message}")
        click.echo("Report e-mails:" if emails else "Report e-mails: none yet.")
        for year, recipient, outcome, at, sha in emails:
            click.echo(f"  {year}  {outcome:<18} {recipient}  {at:%Y-%m-%d %H:%M}  report {sha}")
    _print_class_sizes(root / "reference" / "class_sizes.csv")
    for year, landed in pending.items():
        click.echo(f"Waiting in landing/: {landed.path.name} (survey year {year}); run `ssm run` to load it.")
    if path.exists():
        try:
            unfinished = runner.unfinished_years(root)
        except WarehouseBusy as exc:
            _fail(str(exc))
        for year, reason in unfinished.items():
            if year not in pending:
                click.echo(f"Unfinished: survey year {year} ({reason}); `ssm run` builds it again.")


def _print_class_sizes(path: Path) -> None:
    """The reference file as the next run will read it: its years, and every row that needs fixing."""
    from pipelines.lib.class_sizes import read_class_sizes

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
    from pipelines import runner
    from pipelines.lib.demo import write_demo_data

    root = runner.root()
    marker = root / ".demo-data"
    if any((root / "landing").glob("*")) and not marker.exists():
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
        f"Wrote {len(paths)} demo deliveries to {root / 'landing'} and class sizes to {root / 'reference'}."
    )
    if not os.environ.get("SSM_REPORT_RECIPIENTS"):
        os.environ["SSM_REPORT_RECIPIENTS"] = DEMO_RECIPIENTS
    run.main(args=[], standalone_mode=False)
    reports = sorted((root / "reports").glob("*/report.html"))
    click.echo(f"{len(reports)} reports:")
    for path in reports:
        click.echo(f"  {path}")
    latest = max(int(p.parent.name) for p in reports)
    click.echo(f"E-mailing the {latest} report to {os.environ['SSM_REPORT_RECIPIENTS']} ...")
    report.main(args=["--year", str(latest), "--send"], standalone_mode=False)
    click.echo("Open the Dagster UI on this data with: make dev   (then http://127.0.0.1:3000)")


if __name__ == "__main__":
    main()
