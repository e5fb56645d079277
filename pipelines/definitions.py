"""The Dagster code location: every asset, check, job, schedule and sensor of the SSM pipeline.

The dbt manifest must exist before this module loads: `ssm`, `make dev` and the tests prepare it
(pipelines.project.prepare_dbt_project), and under `dagster dev` dagster-dbt parses the project itself
(prepare_if_dev in defs/transform/assets.py).
"""

import dagster as dg

from pipelines.defs import alerts, jobs, resources
from pipelines.defs.ingest import assets as ingest_assets
from pipelines.defs.ingest import checks as ingest_checks
from pipelines.defs.ingest import sensors as ingest_sensors
from pipelines.defs.report import assets as report_assets
from pipelines.defs.report import schedules as report_schedules
from pipelines.defs.transform import assets as transform_assets
from pipelines.defs.transform import checks as transform_checks

defs = dg.Definitions.merge(
    resources.defs(),
    dg.Definitions(
        assets=dg.load_assets_from_modules([ingest_assets, transform_assets, report_assets]),
        asset_checks=dg.load_asset_checks_from_modules([ingest_checks, transform_checks]),
        jobs=jobs.JOBS,
        sensors=[ingest_sensors.landing_sensor, alerts.analyst_alert_sensor],
        schedules=[report_schedules.yearly_report_schedule],
        # One process for the whole run: DuckDB allows one writing process per file, and the default
        # multiprocess executor would open it from a process per step (see dagster.yaml for runs).
        executor=dg.in_process_executor,
    ),
)
