"""Checks on the marts that dbt's own tests do not express: warnings an analyst should see in the UI."""

import dagster as dg

from pipelines.defs.resources import SurveyConfig, Warehouse
from pipelines.defs.shared import WAREHOUSE_POOL


# Not partitioned: it looks at every loaded year, so it runs the same after one year's load and
# after a batch of years (one dbt build over a range of partitions).
@dg.asset_check(
    asset=dg.AssetKey(["marts", "response_funnel"]),
    name="class_size_on_record",
    pool=WAREHOUSE_POOL,
    description="Every loaded survey year has a class size in reference/class_sizes.csv (else no response rate).",
)
def class_size_on_record(survey: SurveyConfig, warehouse: Warehouse) -> dg.AssetCheckResult:
    """Warn (not fail) when a loaded year has no class size: its response rate is null until one is added."""
    with warehouse.connect() as con:
        missing = [
            year
            for (year,) in con.execute(
                "select survey_year from marts.response_funnel where class_size is null order by survey_year"
            ).fetchall()
        ]
    if not missing:
        return dg.AssetCheckResult(passed=True, severity=dg.AssetCheckSeverity.WARN,
                                   description="Every loaded year has a class size.")  # fmt: skip
    listed = ", ".join(str(y) for y in missing)
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"No class size for {listed} in {survey.class_sizes_path}: the response rate stays empty. "
            f"Add a line '<year>,<class size>' for each and run `ssm run --year <year>`."
        ),
        metadata={"years_without_class_size": missing},
    )
