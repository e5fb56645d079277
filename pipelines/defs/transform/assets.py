"""Transform assets: every dbt model (staging, intermediate, marts) as one Dagster asset each."""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from pipelines.defs.ingest.assets import WAREHOUSE_POOL
from pipelines.defs.ingest.partitions import survey_years
from pipelines.defs.resources import SurveyConfig
from pipelines.lib import warehouse
from pipelines.project import (
    BUILD_YEARS_ENV,
    DBT_WAREHOUSE_ENV,
    DBT_WORKDIR_ENV,
    dbt_project,
    environment_variable,
)


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
def ssm_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, survey: SurveyConfig):
    """Build and test the dbt models for the run's survey years (and the cross-year tables)."""
    years = sorted(int(key) for key in context.partition_keys)
    # One dbt target folder per data folder, kept from build to build: dbt re-parses only what changed
    # (its partial_parse.msgpack is valid while the profile stays the same, see dbt_warehouse), and the
    # folder does not gain a copy per run as dagster-dbt's default per-run target folders do.
    target_path = survey.root / "dbt" / "target"
    # dbt builds a copy of the warehouse, put in place in one step when the build succeeded: a killed
    # or failed build leaves the marts as they were, never some models rebuilt and others not.
    try:
        with (
            build_years(years),
            warehouse.build_in_copy(survey.warehouse_path) as copy,
            dbt_warehouse(survey.root, copy),
        ):
            yield from dbt.cli(["build"], context=context, target_path=target_path).stream()
    except (warehouse.WarehouseBusy, warehouse.WarehouseChanged) as err:
        raise dg.Failure(description=str(err), allow_retries=False) from None


@contextmanager
def dbt_warehouse(root: Path, path: Path) -> Iterator[None]:
    """Point dbt's profile at `path`, given relative to the data folder `root` that dbt runs in.

    The profile's warehouse path (SSM_DBT_WAREHOUSE, dbt_project/profiles.yml) is then the same text
    for every data folder, and dbt's partial parse stays valid: from build to build, and from the
    project's own parse (made when the code location loads) to the first build of a new data folder.
    dbt runs in `root` (pipelines.project.DBT_EXECUTABLE, the SurveyDbt resource's executable).
    """
    with (
        environment_variable(DBT_WORKDIR_ENV, str(root)),
        environment_variable(DBT_WAREHOUSE_ENV, str(path.relative_to(root))),
    ):
        yield


@contextmanager
def build_years(years: list[int]) -> Iterator[None]:
    """Tell the dbt build which survey years it (re)builds, through the environment it inherits.

    Not `--vars`: dbt re-parses the whole project whenever its vars change (5 s a build), while this
    variable is read only at run time (macros/survey_year.sql).
    """
    with environment_variable(BUILD_YEARS_ENV, ",".join(str(year) for year in years)):
        yield
