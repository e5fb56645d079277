"""Jobs: the yearly load (file to report) and the report delivery (report to leadership's inbox)."""

import dagster as dg

EMAIL_KEY = dg.AssetKey(["report", "report_email"])

# `ssm run` and the landing sensor: everything from the file to the rendered report, for one year.
survey_year_job = dg.define_asset_job(
    "survey_year_job",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(EMAIL_KEY),
    description="Load one survey year's delivery, rebuild the warehouse models and render the report.",
)

# The yearly schedule and `ssm report --send`: render the year's report and e-mail it once.
report_delivery_job = dg.define_asset_job(
    "report_delivery_job",
    selection=dg.AssetSelection.assets(EMAIL_KEY).upstream(depth=1),
    description="Render one year's report and e-mail it to the leadership list (once per content).",
)

JOBS = [survey_year_job, report_delivery_job]
