"""Jobs: the yearly load (file to report) and the report delivery (report to leadership's inbox)."""

import dagster as dg

EMAIL_KEY = dg.AssetKey(["report", "report_email"])
REPORT_KEY = dg.AssetKey(["report", "yearly_report"])

# `ssm run` and the landing sensor: everything from the file to the rendered report, for one year.
survey_year_job = dg.define_asset_job(
    "survey_year_job",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(EMAIL_KEY),
    description="Load one survey year's delivery, rebuild the warehouse models and render the report.",
)

# A batch of years (`ssm run` with several new deliveries) runs in three steps: each year's file is
# loaded in its own run (ingest_job), the warehouse models are built once for all of them
# (transform_job, one run over the range of years), and each year's report is rendered (report_job).
ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.groups("ingest"),
    description="Load one survey year's delivery into raw (validated, bucketed, de-identified).",
)

transform_job = dg.define_asset_job(
    "transform_job",
    selection=dg.AssetSelection.groups("transform"),
    description="Rebuild the warehouse models for a range of survey years in one dbt build.",
)

# `ssm report --year Y`: render one year's report from the warehouse as it is.
report_job = dg.define_asset_job(
    "report_job",
    selection=dg.AssetSelection.assets(REPORT_KEY),
    description="Render one year's report from the marts.",
)

# The yearly schedule and `ssm report --send`: render the year's report and e-mail it once.
report_delivery_job = dg.define_asset_job(
    "report_delivery_job",
    selection=dg.AssetSelection.assets(REPORT_KEY, EMAIL_KEY),
    description="Render one year's report and e-mail it to the leadership list (once per content).",
)

JOBS = [survey_year_job, ingest_job, transform_job, report_job, report_delivery_job]
