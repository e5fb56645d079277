"""`ssm` on a team deployment whose daemon is running: its runs go through the daemon's queue.

On a team deployment (README "Deploy for a team") the landing sensor, the yearly schedule and runs
launched in the UI all wait in the daemon's run queue, which starts one run at a time. An `ssm run` or
`ssm report` that executed its runs in its own process would start beside them. So when the
instance's queue daemon is alive, `ssm` submits each run to the webserver (Dagster's public GraphQL
client, as the UI's launchpad does), waits for it to end, and reads its outcome from the instance as
it does for a run of its own: the same output and the same exit codes. Elsewhere (one analyst's
machine, `make demo`, `make dev`) the runs execute in the command's process, as before
(pipelines/launcher.py).

The command talks to the webserver directly on this machine (it listens on 127.0.0.1); the login in
front of it (deploy/nginx/) is for people's browsers.
"""

from __future__ import annotations

import getpass
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:  # Dagster is imported only once there is a run to make (`ssm run` with nothing new)
    import dagster as dg

WEBSERVER_URL_ENV = "SSM_DAGSTER_WEBSERVER_URL"
DEFAULT_WEBSERVER_URL = "http://127.0.0.1:3000"
# The daemon that starts queued runs; its heartbeat in the instance says whether one is running.
QUEUE_DAEMON = "QUEUED_RUN_COORDINATOR"
# Who submitted a run, for the UI's run list and for the alerts (the data folder's tag, DATA_DIR_TAG,
# stays on runs that `ssm` executes itself: it marks the runs a killed command leaves behind).
SUBMITTED_BY_TAG = "ssm/submitted_by"
# A run in one of these states (by name) has not ended.
WAITING = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")
POLL_SECONDS = 1.0


def _person() -> str:
    """Who runs the command: the analyst behind `sudo -u ssm` (README, "Deploy for a team"), else the user."""
    return os.environ.get("SUDO_USER") or getpass.getuser()


class QueueUnavailable(Exception):
    """The daemon is running but its webserver cannot take the run."""


@dataclass(frozen=True)
class FinishedRun:
    """A run that ended: its id and whether it succeeded (what ExecuteInProcessResult also says)."""

    run_id: str
    success: bool


# The daemon writes a heartbeat every 30 s. Dagster's own health rule allows 30 minutes without one,
# so a daemon that was stopped a minute ago would still count as running and `ssm` would queue runs
# that nobody starts; four missed heartbeats mean it is gone.
HEARTBEAT_TOLERANCE_SECONDS = 120


def queue_daemon_is_running(instance: dg.DagsterInstance) -> bool:
    """Whether the instance's queue daemon has sent a heartbeat in the last two minutes."""
    heartbeat = instance.get_daemon_heartbeats().get(QUEUE_DAEMON)
    return heartbeat is not None and time.time() - heartbeat.timestamp < HEARTBEAT_TOLERANCE_SECONDS


def runs_in_progress(instance: dg.DagsterInstance, job_names: list[str]) -> list[dg.DagsterRun]:
    """The runs of these jobs that are queued or under way."""
    import dagster as dg

    runs = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus[s] for s in WAITING]))
    return [run for run in runs if run.job_name in job_names]


def started_by(run: dg.DagsterRun) -> str:
    """Who started a run, in words: the sensor, the schedule, an `ssm` command or someone in the UI."""
    from pipelines.defs.dagster_internals import SCHEDULE_TAG, SENSOR_TAG

    tags = run.tags
    if SENSOR_TAG in tags:
        return f"the sensor {tags[SENSOR_TAG]}"
    if SCHEDULE_TAG in tags:
        return f"the schedule {tags[SCHEDULE_TAG]}"
    if SUBMITTED_BY_TAG in tags:
        return tags[SUBMITTED_BY_TAG]
    return "launched in the Dagster UI"


class RunQueue:
    """Submit runs to a deployment's webserver and wait for them in the instance."""

    def __init__(self, instance: dg.DagsterInstance, url: str, say: Callable[[str], None] = print) -> None:
        from dagster_graphql import DagsterGraphQLClient

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise QueueUnavailable(
                f"{WEBSERVER_URL_ENV}={url!r} is not a web address; give the Dagster webserver's, such as "
                f"{DEFAULT_WEBSERVER_URL}."
            )
        self.instance = instance
        self.url = url
        self.say = say
        self._client = DagsterGraphQLClient(
            parts.hostname,
            port_number=parts.port,
            use_https=parts.scheme == "https",
            path_prefix=parts.path.rstrip("/"),
            timeout=60,
        )

    def wait_until_idle(self, job_names: list[str], announce: Callable[[dg.DagsterRun], None]) -> None:
        """Wait until no run of these jobs is queued or under way, announcing each run waited for."""
        announced: set[str] = set()
        while busy := runs_in_progress(self.instance, job_names):
            for run in busy:
                if run.run_id not in announced:
                    announce(run)
                    announced.add(run.run_id)
            time.sleep(POLL_SECONDS)

    def run(
        self,
        job_name: str,
        tags: dict[str, str],
        run_config: dict | None = None,
    ) -> FinishedRun:
        """Submit one run of `job_name` to the queue and wait until it ends."""
        from dagster_graphql import DagsterGraphQLClientError

        try:
            run_id = self._client.submit_job_execution(
                job_name,
                run_config=run_config or {},
                tags={**tags, SUBMITTED_BY_TAG: f"ssm ({_person()}@{socket.gethostname()})"},
            )
        except DagsterGraphQLClientError as error:
            raise QueueUnavailable(
                f"the Dagster daemon is running, but its webserver at {self.url} did not take the run "
                f"of {job_name} ({error}). Start the webserver (README, 'Deploy for a team'), or set "
                f"{WEBSERVER_URL_ENV} to the address it listens on."
            ) from error
        said_stopped = False
        while True:
            run = self.instance.get_run_by_id(run_id)
            if run is not None and run.is_finished:
                return FinishedRun(run_id, run.status.value == "SUCCESS")
            queued = run is not None and run.status.value == "QUEUED"
            if queued and not said_stopped and not queue_daemon_is_running(self.instance):
                self.say(
                    f"The Dagster daemon has stopped: run {run_id[:8]} waits in its queue until the "
                    "daemon is started again (README, 'Deploy for a team')."
                )
                said_stopped = True
            time.sleep(POLL_SECONDS)
