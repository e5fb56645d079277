"""Report assets: the yearly HTML report rendered from the marts, and its e-mail to leadership."""

import base64
import hashlib
import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.defs.resources import Mailer, SurveyConfig, Warehouse
from pipelines.defs.shared import WAREHOUSE_POOL, per_year_metadata, run_years, survey_years
from pipelines.lib.mail import ledger as email_ledger
from pipelines.lib.mail.messages import build_report_message, deliver
from pipelines.lib.report.pdf import PdfError, keep_pdf_of_unchanged_report, report_pdf
from pipelines.lib.report.versioning import code_version

MARTS_READ = (
    "response_funnel", "metric_summary", "cohort_comparisons", "demographic_balance",
    "demographics_by_cohort", "nonparticipation_reasons", "metric_trends", "metric_trend_tests",
    "item_distributions", "data_quality_issues",
)  # fmt: skip
REPORT_FILE = "report.html"
EMAIL_HTML_FILE = "email.html"
EMAIL_TEXT_FILE = "email.txt"
EMAIL_SUBJECT_FILE = "email_subject.txt"
# From this many years in a run, charts are drawn in worker processes: two workers cost about 1.3 s to
# start and warm up, which a few years' charts (about 0.55 s a year) do not repay. Measured on the demo's
# latest years, in-process against two workers: 4 years 2.31 against 2.61 s, 6 years 3.41 against
# 3.06 s, 8 years 4.40 against 3.72 s (bench/PROFILE.md).
PARALLEL_MIN_YEARS = 6


def attachment_name(year: int) -> str:
    """The file name of the report's PDF as the e-mail attaches it."""
    return f"ssm_report_{year}.pdf"


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


@dg.asset(
    key=["report", "yearly_report"],
    deps=[dg.AssetKey(["marts", name]) for name in MARTS_READ],
    group_name="report",
    kinds={"html", "jinja"},
    partitions_def=survey_years,
    # A batch of years is rendered in one run (defs/planning.py): a run per year costs more in
    # Dagster's bookkeeping than rendering the report does.
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
)
def yearly_report(
    context: dg.AssetExecutionContext, survey: SurveyConfig, warehouse: Warehouse
) -> dg.MaterializeResult:
    """reports/<year>/report.html: the yearly report for leadership, self-contained, from the marts only."""
    # Imported when a report is rendered, not when the definitions load (matplotlib, pandas: seconds).
    from pipelines.lib.report.charts import render_charts
    from pipelines.lib.worker_pool import available_cores, starmap_in_order

    years = run_years(context)
    with warehouse.connect() as con:
        report_contexts = _report_contexts(con, survey, years)
    # Drawing a year's four charts is most of a report's cost; a long batch draws them in worker
    # processes, and each year's report is finished and swapped in, in year order, here.
    workers = available_cores(len(years)) if len(years) >= PARALLEL_MIN_YEARS else 0
    if workers:
        context.log.info(f"Drawing the charts of {len(years)} years in {workers} worker processes.")
    drawn = starmap_in_order(
        render_charts, ((report_contexts[year], _staging_dir(survey, year)) for year in years), workers
    )
    rendered = {}
    for year, charts in zip(years, drawn, strict=True):
        rendered[year] = _finish_report(context, survey, year, report_contexts[year], charts)
    return dg.MaterializeResult(metadata=per_year_metadata(rendered))


def _report_contexts(
    con: duckdb.DuckDBPyConnection, survey: SurveyConfig, years: list[int]
) -> dict[int, dict]:
    """What each year's report shows, read from the marts (each year's figures protected once)."""
    from pipelines.lib.report.context import load_report_contexts

    deliveries = dict(
        con.execute(
            "select survey_year, source_sha256 from marts.response_funnel where survey_year in "
            f"({', '.join('?' * len(years))})",
            years,
        ).fetchall()
    )
    metas = {
        year: {"code_version": code_version(), "source_sha256": deliveries.get(year) or ""} for year in years
    }
    return load_report_contexts(con, years, survey.small_cell_min, metas, cache_dir=survey.report_cache_dir)


def _staging_path(survey: SurveyConfig, year: int) -> Path:
    """The folder in which a year's report is made before it is swapped in."""
    return survey.reports_dir / f".{year}.partial"


def _staging_dir(survey: SurveyConfig, year: int) -> Path:
    """The year's staging folder, emptied."""
    staging_dir = _staging_path(survey, year)
    shutil.rmtree(staging_dir, ignore_errors=True)
    staging_dir.mkdir(parents=True)
    return staging_dir


def _finish_report(
    context: dg.AssetExecutionContext, survey: SurveyConfig, year: int, report_context: dict, charts: dict
) -> dict:
    """Write one year's HTML beside its charts and swap the folder into reports/<year>/; returns its metadata."""
    from pipelines.lib.report.rendering import (
        EMAIL_CHARTS,
        email_subject,
        render_email_html,
        render_report_html,
        render_text_summary,
    )

    final_dir = survey.reports_dir / str(year)
    staging_dir = _staging_path(survey, year)
    # On disk the report carries its images inside (it travels as an e-mail attachment, too); the
    # e-mail body refers to the same images by Content-ID.
    report_html = render_report_html(report_context, {name: _data_uri(c.path) for name, c in charts.items()})
    (staging_dir / REPORT_FILE).write_text(report_html, encoding="utf-8")
    # The e-mail carries a digest and the full report as a PDF; its images are inline parts.
    attachment = attachment_name(year)
    (staging_dir / EMAIL_HTML_FILE).write_text(
        render_email_html(report_context, {name: f"cid:{name}" for name in EMAIL_CHARTS}, attachment),
        encoding="utf-8",
    )
    summary = render_text_summary(report_context, attachment_name=attachment)
    (staging_dir / EMAIL_TEXT_FILE).write_text(summary, encoding="utf-8")
    (staging_dir / EMAIL_SUBJECT_FILE).write_text(email_subject(report_context) + "\n", encoding="utf-8")
    digest = hashlib.sha256(report_html.encode("utf-8")).hexdigest()
    # The PDF of an unchanged report (made when it was e-mailed) stays: it is not printed again.
    keep_pdf_of_unchanged_report(final_dir, staging_dir, digest)
    # What the report was made from: the planner (pipelines/pending.py) renders a year again whose
    # report is missing or was made from another delivery (a run stopped before the swap below).
    provenance = {**report_context["meta"], "survey_year": year, "report_sha256": digest}
    provenance_path = survey.folder.report_provenance(year)
    (staging_dir / provenance_path.name).write_text(json.dumps(provenance, indent=2), encoding="utf-8")
    # Swap the finished folder in whole: readers never see half a report.
    old_dir = survey.reports_dir / f".{year}.old"
    shutil.rmtree(old_dir, ignore_errors=True)
    if final_dir.exists():
        final_dir.rename(old_dir)
    staging_dir.rename(final_dir)
    shutil.rmtree(old_dir, ignore_errors=True)
    context.log.info(f"Report for {year}: {final_dir / REPORT_FILE}")
    return {
        "path": dg.MetadataValue.path(str(final_dir / REPORT_FILE)),
        "report_sha256": digest,
        "charts": sorted(charts),
        "size_bytes": len(report_html.encode("utf-8")),
    }


class ReportEmailConfig(dg.Config):
    """Send again even if this exact report already went to a recipient."""

    force: bool = False


@dg.asset(
    key=["report", "report_email"],
    deps=[yearly_report],
    group_name="report",
    kinds={"email"},
    partitions_def=survey_years,
    pool=WAREHOUSE_POOL,
)
def report_email(
    context: dg.AssetExecutionContext,
    config: ReportEmailConfig,
    survey: SurveyConfig,
    warehouse: Warehouse,
    mailer: Mailer,
) -> dg.MaterializeResult:
    """The yearly report e-mailed to the leadership list once per content (ledger: ops.report_emails)."""
    from pipelines.lib.report.rendering import email_subject

    year = int(context.partition_key)
    report_dir = survey.reports_dir / str(year)
    report_path = report_dir / REPORT_FILE
    if not report_path.exists():
        raise dg.Failure(f"No report for {year} at {report_path}: run `ssm report --year {year}` first.")
    recipients = mailer.leadership()
    if not recipients:
        raise dg.Failure(
            description="SSM_REPORT_RECIPIENTS is not set: give the leadership addresses, comma-separated.",
            allow_retries=False,
        )
    report_html = report_path.read_text(encoding="utf-8")
    digest = hashlib.sha256(report_html.encode("utf-8")).hexdigest()
    with warehouse.connect() as con:
        email_ledger.settle_abandoned_sends(con, year)
        latest = email_ledger.latest_outcomes(con, year, digest)
    already = {r for r, (outcome, _) in latest.items() if outcome in email_ledger.DELIVERED}
    # Sent perhaps (an unanswered end of message, a killed send): never again on our own (decisions.md).
    unknown = {
        r: message_id for r, (outcome, message_id) in latest.items() if outcome in email_ledger.UNKNOWN
    }
    due = recipients if config.force else [r for r in recipients if r not in already | set(unknown)]
    held = [r for r in recipients if r in unknown and r not in due]
    if not due and not held:
        context.log.info(
            f"The {year} report (sha {digest[:12]}) already went to every recipient; not sending."
        )
        return dg.MaterializeResult(metadata={"sent_to": 0, "report_sha256": digest, "skipped": "unchanged"})
    if not due:
        raise dg.Failure(description=_held_message(year, held, unknown), allow_retries=False)

    domain = mailer.mail_from.rpartition("@")[2] or "localhost"
    attempt_tag = f"-{datetime.now(UTC):%Y%m%d%H%M%S}" if config.force else ""
    # The same report gets the same Message-ID, so a retried delivery is recognisably one message.
    message_id = f"<ssm-report-{year}-{digest[:16]}{attempt_tag}@{domain}>"
    body_html = (report_dir / EMAIL_HTML_FILE).read_text(encoding="utf-8")
    # The charts the body shows (by Content-ID), each an inline part; no other image travels.
    shown = sorted(set(re.findall(r"""src\s*=\s*["']cid:([\w.-]+)["']""", body_html)))
    images = {name: report_dir / f"{name}.png" for name in shown}
    if missing := [str(path) for path in images.values() if not path.is_file()]:
        raise dg.Failure(
            description=f"The {year} e-mail shows charts that are not there ({', '.join(missing)}): "
            f"run `ssm report --year {year}` again.",
            allow_retries=False,
        )
    # Printed here, not with the report: only the year being sent needs one (1-2 s each), and only
    # once per content (reports/<year>/report.pdf, kept for the analyst, keyed to report.html's SHA-256).
    try:
        pdf_path, pdf_made = report_pdf(report_dir, report_html, digest)
    except PdfError as exc:
        raise dg.Failure(description=f"The {year} report was not sent: {exc}", allow_retries=False) from exc
    context.log.info(
        f"PDF of the {year} report: {pdf_path} ({'printed' if pdf_made else 'unchanged, kept'})."
    )
    subject_path = report_dir / EMAIL_SUBJECT_FILE
    subject = (
        subject_path.read_text(encoding="utf-8").strip()
        if subject_path.is_file()  # a report folder rendered before the subject was written beside it
        else email_subject({"survey_year": year})
    )
    message = build_report_message(
        subject=subject,
        sender=mailer.mail_from,
        recipients=due,
        html=body_html,
        text=(report_dir / EMAIL_TEXT_FILE).read_text(encoding="utf-8"),
        images=images,
        attachment_name=attachment_name(year),
        attachment_pdf=pdf_path.read_bytes(),
        message_id=message_id,
    )
    # On the ledger before the send, so that a process killed in mid-send leaves a trace that the
    # next run reads as "outcome unknown", rather than nothing (a resend) or a claim of success.
    started = datetime.now(UTC).replace(tzinfo=None)
    with warehouse.connect() as con:
        email_ledger.record_sending(con, year, digest, due, started, message_id)
    outcome = deliver(
        message, mailer.smtp(), survey.outbox_dir, f"ssm_report_{year}_{digest[:12]}{attempt_tag}"
    )
    results = {r: outcome.for_recipient(r) for r in due}
    with warehouse.connect() as con:
        email_ledger.record_outcomes(con, year, results, started, message_id)
    problems = _delivery_problems(year, results, message_id)
    if held:
        problems.append(_held_message(year, held, unknown))
    if problems:
        raise dg.Failure(description=" ".join(problems), allow_retries=False)
    context.log.info(f"The {year} report: {outcome.outcome} ({outcome.detail}) for {len(due)} recipient(s).")
    return dg.MaterializeResult(
        metadata={
            "sent_to": len(due),
            "outcome": outcome.outcome,
            "detail": outcome.detail,
            "attempts": outcome.attempts,
            "message_id": message_id,
            "report_sha256": digest,
            "pdf": dg.MetadataValue.path(str(pdf_path)),
            "pdf_made": pdf_made,
        }
    )


def _delivery_problems(year: int, results: dict[str, tuple[str, str]], message_id: str) -> list[str]:
    """Sentences for the analyst about every recipient this send did not certainly reach."""
    sent = [r for r, (o, _) in results.items() if o in email_ledger.DELIVERED]
    refused = {r: d for r, (o, d) in results.items() if o == "refused"}
    failed = {r: d for r, (o, d) in results.items() if o == "failed"}
    uncertain = {r: d for r, (o, d) in results.items() if o == "uncertain"}
    if not (refused or failed or uncertain):
        return []
    problems = [f"The {year} report was sent to {', '.join(sent)}."] if sent else []
    for address, detail in refused.items():
        problems.append(
            f"The mail server refused {address} ({detail}): check the address in SSM_REPORT_RECIPIENTS;"
            " the next send goes only to the recipients not reached yet."
        )
    for address, detail in failed.items():
        problems.append(f"The {year} report was not sent to {address}: {detail}.")
    if uncertain:
        problems.append(
            f"The {year} report may or may not have reached {', '.join(uncertain)} ({next(iter(uncertain.values()))};"
            f" Message-ID {message_id}). " + _ASK_FIRST.format(year=year)
        )
    return problems


_ASK_FIRST = (
    "It is not sent again automatically, so that nobody gets it twice: ask whether it arrived, and if "
    "it did not, send it with `ssm report --year {year} --send --force`."
)


def _held_message(year: int, held: list[str], unknown: dict[str, str]) -> str:
    return (
        f"An earlier send of this {year} report may or may not have reached {', '.join(held)} "
        f"(Message-ID {unknown[held[0]]}; `ssm status` shows the ledger). " + _ASK_FIRST.format(year=year)
    )
