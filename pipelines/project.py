"""Where the project and its data live: paths, the data folder of §11 and the dbt project."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster_dbt import DbtProject

from pipelines.lib.warehouse import BUILD_DIR

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
REPORT_TEMPLATES_DIR = PROJECT_ROOT / "reports"
INSTANCE_CONFIG = PROJECT_ROOT / "dagster.yaml"
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"

# dbt as the dbt asset runs it: from the data folder named in SSM_DBT_WORKDIR, building the warehouse
# named in SSM_DBT_WAREHOUSE relative to it (dbt_project/profiles.yml). A relative path keeps the
# profile, and so dbt's partial parse, the same for every data folder (pipelines/defs/transform/assets.py).
DBT_EXECUTABLE = PROJECT_ROOT / "pipelines" / "defs" / "transform" / "dbt_in_data_folder.sh"
DBT_WORKDIR_ENV = "SSM_DBT_WORKDIR"
DBT_WAREHOUSE_ENV = "SSM_DBT_WAREHOUSE"
# The copy of the warehouse that a build writes (warehouse.build_in_copy), relative to the data folder.
DBT_BUILD_WAREHOUSE = f"{BUILD_DIR}/warehouse.duckdb"
# The survey years a dbt build (re)loads, as "2019,2020", which the dbt asset sets for its build and
# the per-year models read (dbt_project/macros/survey_year.sql). Unset: every year.
BUILD_YEARS_ENV = "SSM_BUILD_YEARS"

# dbt's profiles.yml and the Dagster resources both read SSM_DATA_DIR; setting the default here (and
# never overwriting a value the analyst chose) keeps the two pointing at the same warehouse.
os.environ.setdefault("SSM_DATA_DIR", str(DEFAULT_DATA_DIR))

# dagster-dbt finds `dbt` on PATH. An analyst who calls .venv/bin/ssm without activating the venv has
# no dbt on PATH, so put this interpreter's own scripts folder first.
_scripts = str(Path(sys.executable).parent)
if _scripts not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _scripts + os.pathsep + os.environ.get("PATH", "")


def data_dir() -> Path:
    """Return the data folder of §11 as an absolute path, creating it on first use."""
    path = Path(os.environ["SSM_DATA_DIR"]).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def dagster_home() -> Path:
    """Return the Dagster instance folder inside the data folder, with the project's dagster.yaml in it.

    `ssm run`, the tests and `dagster dev` share this folder, so the UI shows what the command did.
    """
    home = Path(os.environ.get("DAGSTER_HOME") or data_dir() / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists() or target.read_bytes() != INSTANCE_CONFIG.read_bytes():
        shutil.copyfile(INSTANCE_CONFIG, target)
    return home


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


def _manifest_is_stale(project: DbtProject) -> bool:
    manifest = project.manifest_path
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for folder in ("models", "macros", "tests"):
        sources.extend(p for p in (DBT_PROJECT_DIR / folder).rglob("*") if p.is_file())
    return any(p.stat().st_mtime > built for p in sources)


dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR)

# dagster-dbt only re-parses under `dagster dev`; everywhere else (the `ssm` command, tests, CI) a
# missing or stale manifest would either fail at import or silently run yesterday's models. Parsing
# costs a few seconds, and only when a dbt file changed since the last parse. It parses with the
# profile a build has, so that dagster-dbt's copy of this parse serves each new data folder's first build.
if _manifest_is_stale(dbt_project):
    with environment_variable(DBT_WAREHOUSE_ENV, DBT_BUILD_WAREHOUSE):
        dbt_project.preparer.prepare(dbt_project)
