"""Jobs: the yearly load (file to report) and the report delivery (report to leadership's inbox)."""

import dagster as dg

EMAIL_KEY = dg.AssetKey(["report", "report_email"])
REPORT_KEY = dg.AssetKey(["report", "yearly_report"])

# The landing sensor and `ssm run` (the runs of defs/planning.py): everything from the file to the
# rendered report, for one survey year or a range of them in one run.
survey_year_job = dg.define_asset_job(
    "survey_year_job",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(EMAIL_KEY),
    description="Load the run's survey years' deliveries, rebuild the warehouse models for those years "
    "and render their reports.",
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

JOBS = [survey_year_job, report_job, report_delivery_job]
