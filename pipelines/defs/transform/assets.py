"""Transform assets: every dbt model (staging, intermediate, marts) as one Dagster asset each, and the
marts published for readers after a successful build."""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets
from pydantic import Field

from pipelines.defs.resources import SurveyConfig
from pipelines.defs.shared import WAREHOUSE_POOL
from pipelines.lib.warehouse import database as warehouse
from pipelines.lib.warehouse import publish
from pipelines.project import (
    BUILD_YEARS_ENV,
    DBT_BIN,
    DBT_BIN_ENV,
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


# Without the dbt unit tests: their inputs are fixed rows, so they say nothing about a year's data and
# only cost each run their time (0.3 s of dbt's node time in a one-year load). dbt advises running them in
# development and CI only; tests/test_dbt_unit_tests.py runs them.
BUILD_ARGS = ["build", "--exclude-resource-type", "unit_test"]


class DbtBuildConfig(dg.Config):
    """Which survey years the build recomputes (the others' rows stay as they are)."""

    years: list[int] | None = Field(
        default=None,
        description="The survey years whose rows to rebuild, e.g. [2025]; leave empty to rebuild every "
        "year. The landing sensor and `ssm run` set the years their run loads (defs/planning.py).",
    )


# Under `dagster dev` only (dagster-dbt's pattern): parse a changed project before reading its manifest.
dbt_project.prepare_if_dev()


# Not partitioned: the models are one build over the warehouse, and the cross-year marts
# (metric_trends, metric_trend_tests) are not per-year things. A run that loads a year tells the build
# that year through its run configuration; the per-year models then rebuild only its rows.
@dbt_assets(
    manifest=dbt_project.manifest_path,
    dagster_dbt_translator=SchemaQualifiedTranslator(),
    pool=WAREHOUSE_POOL,
)
def ssm_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, survey: SurveyConfig, config: DbtBuildConfig
):
    """Build and test the dbt models: the years named in the run configuration, or every year."""
    folder = survey.folder
    # dbt builds a copy of the warehouse, put in place in one step when the build succeeded: a killed
    # or failed build leaves the marts as they were, never some models rebuilt and others not.
    try:
        with (
            build_years(config.years),
            warehouse.build_in_copy(folder.warehouse) as copy,
            dbt_warehouse(folder.root, copy),
        ):
            # One dbt target folder per data folder, kept from build to build: dbt re-parses only what
            # changed (its partial_parse.msgpack is valid while the profile stays the same, see
            # dbt_warehouse), and the folder does not gain a copy per run as dagster-dbt's default
            # per-run target folders do.
            yield from dbt.cli(BUILD_ARGS, context=context, target_path=folder.dbt_target).stream()
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
        environment_variable(DBT_BIN_ENV, str(DBT_BIN)),
    ):
        yield


@contextmanager
def build_years(years: list[int] | None) -> Iterator[None]:
    """Tell the dbt build which survey years it (re)builds (None: every year), through the
    environment it inherits.

    Not `--vars`: dbt re-parses the whole project whenever its vars change (5 s a build), while this
    variable is read only at run time (macros/survey_year.sql).
    """
    listed = "" if years is None else ",".join(str(year) for year in sorted(set(years)))
    with environment_variable(BUILD_YEARS_ENV, listed):
        yield


# The dbt models of schema marts: the tables the published file holds.
MART_KEYS = sorted((key for key in ssm_dbt_models.keys if key.path[0] == publish.SCHEMA), key=str)


# Downstream of every mart, so a run publishes only after its dbt build succeeded (a failed build
# skips this step and the previous snapshot stays). Not partitioned, like the build it copies.
@dg.asset(
    key="published_marts",
    deps=MART_KEYS,
    group_name="transform",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
)
def published_marts(context: dg.AssetExecutionContext, survey: SurveyConfig) -> dg.MaterializeResult:
    """published/marts.duckdb and published/<table>.parquet: every marts table for readers
    (notebooks, DBeaver, BI tools), copied from the warehouse and swapped in whole; a reader holding
    them never delays a run."""
    folder = survey.folder
    try:
        published = publish.publish_marts(folder.warehouse, folder.published_marts)
    except warehouse.WarehouseBusy as err:
        raise dg.Failure(description=str(err), allow_retries=False) from None
    context.log.info(f"Published {len(published.tables)} marts tables to {published.path}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(published.path)),
            "parquet": [str(path) for path in published.parquet],
            "tables": published.tables,
            "rows": published.rows,
        }
    )
