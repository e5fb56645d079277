"""The landing sensor: a new or changed delivery in landing/ starts its survey year's run."""

import time

import dagster as dg

from pipelines.defs.ingest.partitions import survey_years
from pipelines.defs.jobs import survey_year_job
from pipelines.defs.resources import SurveyConfig
from pipelines.lib.landing import sha256_of
from pipelines.runner import pending_years

# A file still being copied into landing/ changes size and mtime; wait until it has been still this long.
SETTLE_SECONDS = 30


@dg.sensor(job=survey_year_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
def landing_sensor(
    context: dg.SensorEvaluationContext, survey: SurveyConfig
) -> dg.SensorResult | dg.SkipReason:
    """Request the survey-year run for each delivery in landing/ that is not loaded yet."""
    root = survey.root
    requests, new_years = [], []
    for year, landed in pending_years(root).items():
        if time.time() - landed.modified_at < SETTLE_SECONDS:
            continue
        key = str(year)
        if not context.instance.has_dynamic_partition(survey_years.name, key):
            new_years.append(key)
        # One run per file content and arrival: the same file never starts a second run, a corrected
        # file does, and so does an older delivery put back in landing/ (a new modification time).
        arrival = int(landed.modified_at)
        requests.append(
            dg.RunRequest(run_key=f"{year}-{sha256_of(landed.path)}-{arrival}", partition_key=key)
        )
    if not requests:
        return dg.SkipReason(f"Nothing new in {root / 'landing'}.")
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[survey_years.build_add_request(new_years)] if new_years else [],
    )
