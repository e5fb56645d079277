"""The yearly schedule: after the spring survey closes, e-mail the newest year's report to leadership."""

import dagster as dg

from pipelines.defs.jobs import report_delivery_job
from pipelines.defs.shared import survey_years

# The survey runs in spring and the file usually lands in May; 1 July 08:00 leaves June for checks.
# Stopped by default: an analyst turns it on in the UI once the year's data has been reviewed.
YEARLY_REPORT_CRON = "0 8 1 7 *"


@dg.schedule(
    job=report_delivery_job,
    cron_schedule=YEARLY_REPORT_CRON,
    execution_timezone="America/New_York",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def yearly_report_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    """Request the report delivery for the newest survey year on record (sent once per report content)."""
    years = context.instance.get_dynamic_partitions(survey_years.name)
    if not years:
        return dg.SkipReason("No survey year has been loaded yet.")
    newest = max(years, key=int)
    return dg.RunRequest(
        run_key=f"yearly-report-{newest}-{context.scheduled_execution_time:%Y}", partition_key=newest
    )
