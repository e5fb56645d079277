"""The data folder of spec §11, every path in it named once.

Everything the pipeline reads and writes lives under one folder, SSM_DATA_DIR (default: data/ in the
project). The `ssm` command, the Dagster resources, the landing sensor and the benchmark all reach its
parts through DataFolder, so a renamed folder is renamed here and nowhere else.

Importing this module reads nothing and creates nothing; `DataFolder.from_environment()` reads the
variable when asked, and `ensure()` creates the folder on first use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The Jinja2 templates of the report and the e-mails (presentation lives there, not in Python).
REPORT_TEMPLATES_DIR = PROJECT_ROOT / "reports"
DATA_DIR_ENV = "SSM_DATA_DIR"
# Set: a team deployment, whose Dagster instance keeps its runs in this PostgreSQL database (spec §11).
POSTGRES_URL_ENV = "SSM_DAGSTER_POSTGRES_URL"
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"


@dataclass(frozen=True)
class DataFolder:
    """One data folder: its root and the named places in it."""

    root: Path

    @classmethod
    def at(cls, path: str | os.PathLike[str]) -> DataFolder:
        """The data folder at `path` (made absolute; `~` expanded)."""
        return cls(Path(path).expanduser().resolve())

    @classmethod
    def from_environment(cls) -> DataFolder:
        """The data folder named in SSM_DATA_DIR, or the project's data/ when it is not set."""
        return cls.at(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)

    def ensure(self) -> DataFolder:
        """Create the folder if it is not there yet (spec §11: made on first use); returns self."""
        self.root.mkdir(parents=True, exist_ok=True)
        return self

    # -- what the analyst puts in ------------------------------------------------------------------
    @property
    def landing(self) -> Path:
        """New deliveries, as the analyst drops them (ssm_survey_<YYYY>*.csv / .xlsx)."""
        return self.root / "landing"

    @property
    def class_sizes(self) -> Path:
        """The reference file of class sizes per survey year, maintained by the analyst."""
        return self.root / "reference" / "class_sizes.csv"

    # -- what the pipeline keeps -------------------------------------------------------------------
    @property
    def archive(self) -> Path:
        """Every delivery received, unchanged, named by its SHA-256."""
        return self.root / "archive"

    @property
    def warehouse(self) -> Path:
        """The DuckDB warehouse."""
        return self.root / "warehouse.duckdb"

    @property
    def published(self) -> Path:
        """Copies of the marts for readers, each put in place whole after a successful build."""
        return self.root / "published"

    @property
    def published_marts(self) -> Path:
        """The marts for notebooks and DBeaver: a DuckDB file with schema marts, opened read-only."""
        return self.published / "marts.duckdb"

    @property
    def reports(self) -> Path:
        """reports/<year>/: each year's report, its e-mail parts and images."""
        return self.root / "reports"

    def report_dir(self, year: int) -> Path:
        """The folder of one survey year's report."""
        return self.reports / str(year)

    def report_provenance(self, year: int) -> Path:
        """What a year's report was made from (its delivery's SHA-256), written with the report."""
        return self.report_dir(year) / "provenance.json"

    @property
    def report_protection_cache(self) -> Path:
        """What each year's report may show, kept between runs (report_figures.ProtectionCache)."""
        return self.reports / ".protection"

    @property
    def outbox(self) -> Path:
        """E-mails written as .eml files when no SMTP server is configured."""
        return self.root / "outbox"

    # -- the tools' own state ----------------------------------------------------------------------
    @property
    def dagster_home(self) -> Path:
        """The Dagster instance of this data folder (runs, events, schedules), shared by `ssm` and the UI."""
        return self.root / "dagster_home"

    @property
    def dbt_target(self) -> Path:
        """dbt's target folder for this data folder, kept from build to build (partial parsing)."""
        return self.root / "dbt" / "target"

    @property
    def logs(self) -> Path:
        """The detailed output (dbt's log lines, Dagster's console log) of the `ssm` command's runs."""
        return self.root / "logs"

    @property
    def alerts(self) -> Path:
        """One claim file per failed run whose alert was sent (lib/alerts.py): each alert goes once."""
        return self.root / "alerts"

    @property
    def landing_checksums(self) -> Path:
        """A cache of the landing files' SHA-256 by name, size and modification time (lib/landing.py)."""
        return self.root / ".landing-checksums.json"

    @property
    def run_lock(self) -> Path:
        """The lock that keeps two `ssm` commands on this folder from running at once."""
        return self.root / ".ssm-run.lock"
