"""Transform assets: every dbt model (staging, intermediate, marts) as one Dagster asset each."""

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from pipelines.defs.ingest.assets import WAREHOUSE_POOL
from pipelines.defs.ingest.partitions import survey_years
from pipelines.project import dbt_project


class SchemaQualifiedTranslator(DagsterDbtTranslator):
    """Asset keys mirror the warehouse: the model marts.metric_summary is the asset marts/metric_summary."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "transform"


@dbt_assets(
    manifest=dbt_project.manifest_path,
    dagster_dbt_translator=SchemaQualifiedTranslator(),
    partitions_def=survey_years,
    # A batch of years (ssm run with several new deliveries, a backfill) is one dbt build, not one per
    # year: dbt's start-up and parsing are most of a small year's cost.
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
)
def ssm_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """Build and test the dbt models for the run's survey years (and the cross-year tables)."""
    years = sorted(int(key) for key in context.partition_keys)
    args = ["build", "--vars", json.dumps({"survey_years": years})]
    yield from dbt.cli(args, context=context).stream()
