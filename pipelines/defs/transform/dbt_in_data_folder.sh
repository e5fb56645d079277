#!/bin/sh
# dbt as the Dagster dbt asset runs it: from the data folder (SSM_DBT_WORKDIR), so that the profile's
# warehouse path (SSM_DBT_WAREHOUSE, relative) is the same text for every data folder. dbt keeps its
# parse of the project only while the profile stays the same, so every data folder, a new one too,
# re-uses the project's parse instead of parsing it again (pipelines/defs/transform/assets.py).
cd "${SSM_DBT_WORKDIR:-.}" || exit 1
# The dbt of the environment the pipeline runs in (pipelines/project.py), else the one on PATH.
exec "${SSM_DBT_BIN:-dbt}" "$@"
