"""Ingest assets: reference class sizes, the delivery on record for a year, and its validated responses."""

import shutil
from contextlib import closing
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import dagster as dg
import duckdb

from pipelines.defs.resources import SurveyConfig, Warehouse
from pipelines.defs.shared import WAREHOUSE_POOL, per_year_metadata, run_years, survey_years
from pipelines.lib.ingest.errors import DeliveryError
from pipelines.lib.ingest.landing import LandedFile, newest_per_year, sha256_of
from pipelines.lib.warehouse.deliveries import current_delivery, mark_loaded, mark_refused, record_arrival

if TYPE_CHECKING:
    from pipelines.lib.ingest.batch_harmonise import DeliveryJob, HarmonisedJob


CLASS_SIZE_ROWS_CHECK = "every_row_gives_a_class_size"


@dg.asset(
    key=["raw", "class_sizes"],
    group_name="ingest",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            CLASS_SIZE_ROWS_CHECK,
            asset=["raw", "class_sizes"],
            description=(
                "Every row of reference/class_sizes.csv gives a class size. A bad row (not a number, out of "
                "range, a year listed twice with different sizes, the wrong number of fields) is left out "
                "and named here; its year gets no response rate, the other years keep theirs."
            ),
        )
    ],
)
def class_sizes(
    context: dg.AssetExecutionContext, survey: SurveyConfig, warehouse: Warehouse
) -> dg.MaterializeResult:
    """raw.class_sizes: class size per survey year from reference/class_sizes.csv (one row per year).

    A bad row of the file costs only itself (spec §4: a year without a class size gets no response
    rate and a warning, not a failure): it is logged as a warning (what `ssm run` prints), listed in
    this asset's metadata and in the WARN check every_row_gives_a_class_size. Only a file that is not a
    class-size table at all fails the step.
    """
    from pipelines.lib.ingest.class_sizes import SHOWN_ISSUES, ClassSizeTable, read_class_sizes

    path = survey.class_sizes_path
    if path.exists():
        try:
            table = read_class_sizes(path)
        except DeliveryError as err:
            raise dg.Failure(description=str(err), allow_retries=False) from None
    else:
        context.log.warning(f"{path} does not exist: no year will have a response rate.")
        table = ClassSizeTable()
    for issue in table.issues[:SHOWN_ISSUES]:
        context.log.warning(issue.message(path))
    if len(table.issues) > SHOWN_ISSUES:
        context.log.warning(
            f"{path}: {len(table.issues) - SHOWN_ISSUES} more rows give no class size; every one is listed "
            f"in the check {CLASS_SIZE_ROWS_CHECK} of raw/class_sizes."
        )
    with warehouse.connect() as con:
        con.execute("begin")
        con.execute("delete from raw.class_sizes")
        if table.sizes:
            con.execute(
                "insert into raw.class_sizes (survey_year, class_size) "
                "select unnest(?::integer[]), unnest(?::integer[])",
                [list(table.sizes), list(table.sizes.values())],
            )
        con.execute("commit")
    issues = [issue.as_metadata() for issue in table.issues]
    check = dg.AssetCheckResult(
        check_name=CLASS_SIZE_ROWS_CHECK,
        passed=not table.issues,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"Every row of {path} gives a class size."
            if not table.issues
            else f"{len(table.issues)} row(s) of {path} to fix; the other rows are used. "
            + " ".join(issue.message(path) for issue in table.issues[:SHOWN_ISSUES])
            + " Then run `ssm run --year <year>` for each year already loaded."
        ),
        metadata={
            "path": str(path),
            "rows_to_fix": len(table.issues),
            "issues": dg.MetadataValue.json(issues),
        },
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(table.sizes),
            "path": str(path),
            "years": sorted(table.sizes),
            "rows_to_fix": len(table.issues),
            "issues": dg.MetadataValue.md(_issues_markdown(table.issues)),
        },
        check_results=[check],
    )


def _issues_markdown(issues: list) -> str:
    """The rows of the reference file that need fixing, as a table for the Dagster UI."""
    if not issues:
        return "Every row gives a class size."
    lines = ["| row | column | value | rule | what to do |", "|---:|---|---|---|---|"]
    for issue in issues:
        cells = [
            str(issue.row_number),
            issue.column or "(row)",
            issue.original_value,
            issue.rule,
            issue.action,
        ]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


@dg.asset(
    key=["raw", "deliveries"],
    group_name="ingest",
    kinds={"duckdb"},
    partitions_def=survey_years,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
)
def deliveries(
    context: dg.AssetExecutionContext, survey: SurveyConfig, warehouse: Warehouse
) -> dg.MaterializeResult:
    """raw.deliveries: every file received for a survey year, archived unchanged by SHA-256 (one row per file)."""
    recorded = {}
    landed_files = newest_per_year(survey.landing_dir)
    with warehouse.connect() as con:
        for year in run_years(context):
            recorded[year] = _record_delivery(con, survey, year, landed_files.get(year))
    return dg.MaterializeResult(metadata=per_year_metadata(recorded))


def _record_delivery(
    con: duckdb.DuckDBPyConnection, survey: SurveyConfig, year: int, landed: LandedFile | None
) -> dict:
    """Archive a year's newest landed file and record it as received; returns its metadata."""
    if landed is None:
        known = current_delivery(con, year)
        if known is None:
            raise dg.Failure(
                description=(
                    f"No delivery for survey year {year}: {survey.landing_dir} has no file named "
                    f"ssm_survey_{year}*.csv or .xlsx. Put the export there and run again."
                ),
                allow_retries=False,
            )
        return {"file": known.file_name, "sha256": known.delivery_sha256, "new": False}
    sha256 = sha256_of(landed.path)
    archive_path = survey.archive_dir / f"{sha256}{landed.path.suffix.lower()}"
    if not archive_path.exists():
        survey.archive_dir.mkdir(parents=True, exist_ok=True)
        partial = archive_path.with_suffix(archive_path.suffix + ".partial")
        shutil.copyfile(landed.path, partial)
        partial.replace(archive_path)  # atomic: the archive never holds half a file
    size_bytes = landed.path.stat().st_size
    received_at = datetime.now(UTC).replace(tzinfo=None)
    new = record_arrival(con, year, landed.path.name, sha256, archive_path, size_bytes, received_at)
    return {
        "file": landed.path.name,
        "sha256": sha256,
        "size_bytes": size_bytes,
        "archive": str(archive_path),
        "new": new,
    }


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["raw", "responses"],
            deps=[deliveries],
            description="raw.responses: every data row of the year's current delivery with its §5 bucket; "
            "answers harmonised and de-identified (one row per raw row).",
            kinds={"duckdb", "pandera"},
        ),
        dg.AssetSpec(
            ["raw", "data_quality_issues"],
            deps=[deliveries],
            description="raw.data_quality_issues: one row per bad cell of the year's current delivery.",
            kinds={"duckdb"},
        ),
    ],
    group_name="ingest",
    partitions_def=survey_years,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
    can_subset=False,
)
def responses(context: dg.AssetExecutionContext, survey: SurveyConfig, warehouse: Warehouse):
    """Read, bucket, validate and load the newest delivery of each of the run's years, each year
    replaced in one transaction.

    A refused delivery fails the run (after the years before it loaded) and is recorded as refused;
    planned again, the batch's other years run without it (pipelines/pending.py).
    """
    # Imported when a file is loaded, not when the definitions load (pandas, pandera: seconds).
    from pipelines.lib.ingest.batch_harmonise import harmonised_in_order

    salt = survey.require_salt()
    loaded, issues = {}, {}
    # One connection for the batch: closing a DuckDB connection checkpoints the file, which costs more
    # than writing a 50,000-row year (bench/PROFILE.md); every year is still its own transaction. Each
    # delivery is read and harmonised in temporary tables on this connection, and written from them.
    with warehouse.connect() as con:
        deliveries = [_current_delivery(con, year) for year in run_years(context)]
        try:
            with closing(harmonised_in_order(deliveries, salt, con)) as outcomes:
                for done in outcomes:
                    year = done.job.survey_year
                    try:
                        loaded[year], issues[year] = _write_year(context, con, done)
                    finally:
                        done.close()
        except DeliveryError as err:
            # Deliveries come back in order: the refused one is the first not loaded.
            refused = deliveries[len(loaded)]
            mark_refused(con, refused.delivery_sha256, str(err))
            raise dg.Failure(
                description=f"Delivery refused, warehouse unchanged. {err}", allow_retries=False
            ) from None
    yield dg.MaterializeResult(asset_key=["raw", "responses"], metadata=per_year_metadata(loaded))
    yield dg.MaterializeResult(asset_key=["raw", "data_quality_issues"], metadata=per_year_metadata(issues))


def _current_delivery(con: duckdb.DuckDBPyConnection, year: int) -> "DeliveryJob":
    """The year's current delivery (its newest arrival) as a job to read."""
    from pipelines.lib.ingest.batch_harmonise import DeliveryJob

    current = current_delivery(con, year)
    if current is None:
        raise dg.Failure(description=f"No delivery on record for survey year {year}.", allow_retries=False)
    return DeliveryJob(
        survey_year=year,
        delivery_sha256=current.delivery_sha256,
        path=current.archive_path,
        file_name=current.file_name,
    )


def _write_year(
    context: dg.AssetExecutionContext, con: duckdb.DuckDBPyConnection, done: "HarmonisedJob"
) -> tuple[dict, dict]:
    """Replace one year's rows with its harmonised delivery; returns the metadata of raw.responses and of the issues."""
    from pipelines.lib.ingest.harmonise import ISSUE_COLUMNS

    job, result = done.job, done.result
    year, file_name, sha256 = job.survey_year, job.file_name, job.delivery_sha256
    issues = result.issues.assign(delivery_sha256=sha256, survey_year=year)[
        ["delivery_sha256", "survey_year", *ISSUE_COLUMNS]
    ]
    counts = result.bucket_counts()
    con.execute("begin")
    con.execute("delete from raw.responses where survey_year = ?", [year])
    con.execute("delete from raw.data_quality_issues where survey_year = ?", [year])
    result.insert_responses(con, sha256)  # RESPONSE_COLUMNS, straight from DuckDB
    con.register("issues_frame", issues)
    con.execute("insert into raw.data_quality_issues by name select * from issues_frame")
    con.unregister("issues_frame")
    mark_loaded(
        con,
        year,
        sha256,
        result.instrument,
        result.coding,
        done.rows_received,
        datetime.now(UTC).replace(tzinfo=None),
    )
    con.execute("commit")

    rules = result.issues["rule"].value_counts().to_dict()
    rows = sum(counts.values())
    context.log.info(f"{file_name}: {rows} rows, buckets {counts}, {len(issues)} cell issues")
    first_issues = result.issues.head(5).rename(columns={"column_name": "column"})
    responses_metadata = {
        "dagster/row_count": rows,
        "file": file_name,
        "sha256": sha256,
        "instrument_version": result.instrument,
        "coding": result.coding,
        **{f"bucket_{name}": n for name, n in counts.items()},
    }
    issues_metadata = {
        "dagster/row_count": len(issues),
        **{f"rule_{r}": int(n) for r, n in rules.items()},
        "first_issues": dg.MetadataValue.md(
            first_issues.to_markdown(index=False) if len(first_issues) else "none"
        ),
    }
    return responses_metadata, issues_metadata
