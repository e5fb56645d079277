"""The analysts' alarm: a failed run (a refused delivery, a failed step, a failed blocking check)
e-mails SSM_ALERT_RECIPIENTS. Leadership never gets these."""

import dagster as dg

from pipelines.defs.resources import Mailer, SurveyConfig
from pipelines.defs.shared import SURVEY_YEARS_TAG
from pipelines.lib.mail.alerts import FailedRun, failure_reasons, send_alert
from pipelines.lib.mail.messages import SendOutcome


def failed_run(instance: dg.DagsterInstance, run: dg.DagsterRun) -> FailedRun:
    """The failed run as the alert describes it, with the reasons from its event log."""
    events = [entry.dagster_event for entry in instance.all_logs(run.run_id)]
    return FailedRun(
        run_id=run.run_id,
        job_name=run.job_name,
        survey_year=run.tags.get(SURVEY_YEARS_TAG, "").replace(",", ", ")
        or run.tags.get("dagster/partition"),
        reasons=failure_reasons(events),
    )


def alert_analysts(
    instance: dg.DagsterInstance, run: dg.DagsterRun, mailer: Mailer, survey: SurveyConfig
) -> SendOutcome | None:
    """Send the alert for one failed run (once, whoever asks first); returns the outcome or None."""
    return send_alert(
        failed_run(instance, run),
        smtp=mailer.smtp(),
        sender=mailer.mail_from,
        recipients=mailer.analysts(),
        data_dir=survey.root,
    )


# Running by default: it only ever writes to the analysts, and only when a run has failed.
@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=30)
def analyst_alert_sensor(context: dg.RunFailureSensorContext, mailer: Mailer, survey: SurveyConfig) -> None:
    """E-mail the analysts (SSM_ALERT_RECIPIENTS) when a run of this code location fails."""
    if not mailer.analysts():
        context.log.warning("A run failed, but SSM_ALERT_RECIPIENTS is not set: nobody was alerted.")
        return
    outcome = alert_analysts(context.instance, context.dagster_run, mailer, survey)
    if outcome is None:
        context.log.info(f"Run {context.dagster_run.run_id} was already alerted (by `ssm run`).")
    elif outcome.outcome == "failed":
        context.log.error(
            f"The alert for run {context.dagster_run.run_id} could not be sent: {outcome.detail}"
        )
    else:
        context.log.info(f"Alerted the analysts about run {context.dagster_run.run_id}: {outcome.outcome}.")
