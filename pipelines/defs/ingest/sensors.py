"""The landing sensor: new or changed deliveries in landing/ start the runs that load them."""

import dagster as dg

from pipelines.defs.jobs import survey_year_job
from pipelines.defs.planning import add_partitions_request, plan_runs
from pipelines.defs.resources import SurveyConfig
from pipelines.defs.shared import survey_years
from pipelines.lib.warehouse.database import WarehouseBusy
from pipelines.pending import pending_work
from pipelines.run_queue import runs_in_progress, started_by

# A file still being copied into landing/ changes size and mtime; wait until it has been still this long.
SETTLE_SECONDS = 30


@dg.sensor(job=survey_year_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
def landing_sensor(
    context: dg.SensorEvaluationContext, survey: SurveyConfig
) -> dg.SensorResult | dg.SkipReason:
    """Request the runs the landing folder needs: the same runs `ssm run` makes (defs/planning.py).

    While a load is queued or under way (this sensor's, one launched in the UI, one `ssm run`
    submitted), the tick waits: that run may do the work, and its files would otherwise still look
    new and be requested twice.
    """
    busy = runs_in_progress(context.instance, [survey_year_job.name])
    if busy:
        return dg.SkipReason(
            f"Run {busy[0].run_id} ({started_by(busy[0])}) is queued or under way; the next tick looks again."
        )
    folder = survey.folder
    try:
        # A run holds the warehouse: skip this tick rather than wait (the next comes in a minute).
        work = pending_work(folder, settle_seconds=SETTLE_SECONDS, wait_seconds=0)
    except WarehouseBusy as err:
        return dg.SkipReason(f"The warehouse is busy; trying again at the next tick. {err}")
    if not work:
        waiting = f" ({len(work.settling)} file(s) still being copied)" if work.settling else ""
        return dg.SkipReason(f"Nothing new in {folder.landing}{waiting}.")
    planned = plan_runs(work, context.instance.get_dynamic_partitions(survey_years.name))
    return dg.SensorResult(
        run_requests=planned.run_requests, dynamic_partitions_requests=add_partitions_request(planned)
    )
