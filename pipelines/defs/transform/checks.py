"""Checks on the marts that dbt's own tests do not express: warnings an analyst should see in the UI."""

import dagster as dg

from pipelines.defs.ingest.assets import WAREHOUSE_POOL
from pipelines.defs.ingest.partitions import survey_years
from pipelines.defs.resources import SurveyConfig, Warehouse


@dg.asset_check(
    asset=dg.AssetKey(["marts", "response_funnel"]),
    name="class_size_on_record",
    partitions_def=survey_years,
    pool=WAREHOUSE_POOL,
    description="The survey year has a class size in reference/class_sizes.csv (else no response rate).",
)
def class_size_on_record(
    context: dg.AssetCheckExecutionContext, survey: SurveyConfig, warehouse: Warehouse
) -> dg.AssetCheckResult:
    """Warn (not fail) when a loaded year has no class size: its response rate is null until one is added."""
    year = int(context.partition_key)
    with warehouse.connect() as con:
        row = con.execute(
            "select class_size from marts.response_funnel where survey_year = ?", [year]
        ).fetchone()
    passed = row is not None and row[0] is not None
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"Class size for {year}: {row[0]}"
            if passed
            else f"No class size for {year} in {survey.class_sizes_path}: the response rate stays empty. "
            f"Add a line '{year},<class size>' and run `ssm run --year {year}`."
        ),
    )
