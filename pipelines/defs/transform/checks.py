"""Checks on the marts that dbt's own tests do not express: warnings an analyst should see in the UI."""

from pathlib import Path

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
    """Warn (not fail) when a loaded year has no class size: its response rate is null until one is added.
    Says why for each year: no row in reference/class_sizes.csv, a row that gave no class size (the
    issue raw/class_sizes recorded), or a class size below the year's respondents, which cannot be true."""
    with warehouse.connect() as con:
        missing = con.execute(
            "select f.survey_year, f.respondents, c.class_size from marts.response_funnel as f "
            "left join raw.class_sizes as c using (survey_year) where f.class_size is null order by 1"
        ).fetchall()
    if not missing:
        return dg.AssetCheckResult(passed=True, severity=dg.AssetCheckSeverity.WARN,
                                   description="Every loaded year has a class size.")  # fmt: skip
    years = [year for year, _, _ in missing]
    listed = ", ".join(str(y) for y in years)
    path = survey.class_sizes_path
    reasons = [_why_no_class_size(path, year, respondents, size) for year, respondents, size in missing]
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"No class size for {listed} in {path}: the response rate stays empty. "
            + " ".join(reasons)
            + " Add or correct a line '<year>,<class size>' for each and run `ssm run --year <year>`."
        ),
        metadata={"years_without_class_size": years},
    )


def _why_no_class_size(path: Path, year: int, respondents: int, size: int | None) -> str:
    from pipelines.lib.ingest.class_sizes import ClassSizeTable, read_class_sizes
    from pipelines.lib.ingest.errors import DeliveryError

    if size is not None and size < respondents:
        return (
            f"{year}: the class size {size} is below the year's {respondents} respondents, so it cannot be "
            "right (a response rate over 100%)."
        )
    if size is not None:
        return f"{year}: the file now gives {size}; `ssm run --year {year}` uses it."
    try:
        table = read_class_sizes(path) if path.exists() else ClassSizeTable()
    except DeliveryError:
        table = ClassSizeTable()
    issue = table.issue_for(year)
    return f"{year}: {issue.message(path)}" if issue else f"{year}: the file has no row for it."
