"""Where the dbt project and the Dagster instance settings are (the report templates: paths.py), and
the two preparations a run needs: a current dbt manifest and the Dagster home of a data folder.

Importing this module changes nothing: no environment variable, no PATH, no dbt parse. The `ssm`
command and the test session call prepare_dbt_project() before they load the definitions;
`dagster dev` parses through dagster-dbt's prepare_if_dev (pipelines/definitions.py).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster_dbt import DbtProject

from pipelines.lib.warehouse.database import BUILD_DIR
from pipelines.paths import POSTGRES_URL_ENV, PROJECT_ROOT, DataFolder

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
# The Dagster instance: on one analyst's machine, SQLite under the data folder; for a team, PostgreSQL
# at the URL in SSM_DAGSTER_POSTGRES_URL (spec §11), with the daemon's queue (README "Deploy for a team").
INSTANCE_CONFIG = PROJECT_ROOT / "dagster.yaml"
TEAM_INSTANCE_CONFIG = PROJECT_ROOT / "deploy" / "dagster.yaml"

# dbt as the dbt asset runs it: from the data folder named in SSM_DBT_WORKDIR, building the warehouse
# named in SSM_DBT_WAREHOUSE relative to it (dbt_project/profiles.yml), with the dbt of this
# interpreter's environment (SSM_DBT_BIN: `.venv/bin/ssm` works without an activated venv). A relative
# path keeps the profile, and so dbt's partial parse, the same for every data folder
# (pipelines/defs/transform/assets.py).
DBT_EXECUTABLE = PROJECT_ROOT / "pipelines" / "defs" / "transform" / "dbt_in_data_folder.sh"
DBT_WORKDIR_ENV = "SSM_DBT_WORKDIR"
DBT_WAREHOUSE_ENV = "SSM_DBT_WAREHOUSE"
DBT_BIN_ENV = "SSM_DBT_BIN"
DBT_BIN = Path(sys.executable).parent / "dbt"
# The copy of the warehouse that a build writes (warehouse.build_in_copy), relative to the data folder.
DBT_BUILD_WAREHOUSE = f"{BUILD_DIR}/warehouse.duckdb"
# The survey years a dbt build (re)loads, as "2019,2020", which the dbt asset sets for its build and
# the per-year models read (dbt_project/macros/survey_year.sql). Unset: every year.
BUILD_YEARS_ENV = "SSM_BUILD_YEARS"

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR)


@contextmanager
def environment_variable(name: str, value: str) -> Iterator[None]:
    """Set `name` for the block (subprocesses such as dbt inherit it), then put back what was there."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def dbt_manifest_is_stale() -> bool:
    """Whether dbt's manifest is missing or older than a file of the dbt project."""
    manifest = dbt_project.manifest_path
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for folder in ("models", "macros", "tests", "seeds"):
        sources.extend(p for p in (DBT_PROJECT_DIR / folder).rglob("*") if p.is_file())
    return any(p.stat().st_mtime > built for p in sources)


def prepare_dbt_project() -> bool:
    """Parse the dbt project when its manifest is missing or stale; returns whether it parsed.

    dagster-dbt reads the manifest when the definitions load and re-parses only under `dagster dev`;
    everywhere else a stale manifest would run yesterday's models. Parsing costs a few seconds, and
    only after a dbt file changed. It parses with the profile a build has, so that dagster-dbt's copy
    of this parse serves each new data folder's first build (partial parsing).
    """
    if not dbt_manifest_is_stale():
        return False
    path = os.pathsep.join([str(DBT_BIN.parent), os.environ.get("PATH", "")])
    with environment_variable(DBT_WAREHOUSE_ENV, DBT_BUILD_WAREHOUSE), environment_variable("PATH", path):
        dbt_project.preparer.prepare(dbt_project)
    # dagster-dbt registered dbt's DuckDB adapter in this process to parse; its connection manager holds
    # a multiprocessing lock that, left registered, is reported as a "leaked semaphore" when ssm exits.
    from dbt.adapters.factory import reset_adapters

    reset_adapters()
    return True


def instance_config() -> Path:
    """The instance settings in force: the team's (PostgreSQL) when SSM_DAGSTER_POSTGRES_URL is set,
    else the local ones (SQLite under the data folder)."""
    return TEAM_INSTANCE_CONFIG if os.environ.get(POSTGRES_URL_ENV) else INSTANCE_CONFIG


def prepare_dagster_home(folder: DataFolder) -> Path:
    """The Dagster instance folder of a data folder (DAGSTER_HOME when set), with the instance settings
    in force copied in; `ssm`, the tests, `dagster dev` and the services of a team deployment share it,
    so the UI shows what `ssm` did. The settings name the PostgreSQL URL's variable, never its value."""
    home = Path(os.environ.get("DAGSTER_HOME") or folder.dagster_home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    source, target = instance_config(), home / "dagster.yaml"
    if not target.exists() or target.read_bytes() != source.read_bytes():
        shutil.copyfile(source, target)
    return home


def main(argv: list[str]) -> None:
    """`python -m pipelines.project [--dagster-home]`: parse the dbt project if it changed (and print
    the data folder's Dagster home, for `make dev`)."""
    prepare_dbt_project()
    if "--dagster-home" in argv:
        print(prepare_dagster_home(DataFolder.from_environment().ensure()))


if __name__ == "__main__":
    main(sys.argv[1:])
