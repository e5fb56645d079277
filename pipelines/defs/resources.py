"""Resources shared by the asset groups: survey configuration, the warehouse and dbt.

Values come from the environment names of spec §11 through dg.EnvVar, so they are read when a run
starts (and can be overridden in the launchpad), and secrets never appear in the UI.
"""

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.defs.dagster_internals import SurveyDbt
from pipelines.lib.mail.messages import SmtpSettings
from pipelines.lib.warehouse import database as warehouse
from pipelines.paths import DATA_DIR_ENV, DataFolder
from pipelines.project import DBT_EXECUTABLE, dbt_project


def env_or(name: str, default: str = "") -> dg.EnvVar | str:
    """An EnvVar when the variable is set where the definitions load, else the default."""
    return dg.EnvVar(name) if os.environ.get(name) else default


class SurveyConfig(dg.ConfigurableResource):
    """Where the data folder is, the ResponseId salt and the small-cell threshold (spec §11)."""

    # Empty: SSM_DATA_DIR as it is when the run starts (else the project's data/ folder).
    data_dir: str = ""
    response_salt: str = ""
    small_cell_min: int = 5

    @property
    def folder(self) -> DataFolder:
        """The data folder and its named places (pipelines/paths.py)."""
        return DataFolder.at(self.data_dir) if self.data_dir else DataFolder.from_environment()

    @property
    def root(self) -> Path:
        return self.folder.root

    @property
    def landing_dir(self) -> Path:
        return self.folder.landing

    @property
    def archive_dir(self) -> Path:
        return self.folder.archive

    @property
    def reports_dir(self) -> Path:
        return self.folder.reports

    @property
    def report_cache_dir(self) -> Path:
        """What each year's report may show, kept between runs (report_figures.ProtectionCache)."""
        return self.folder.report_protection_cache

    @property
    def outbox_dir(self) -> Path:
        return self.folder.outbox

    @property
    def class_sizes_path(self) -> Path:
        return self.folder.class_sizes

    @property
    def warehouse_path(self) -> Path:
        return self.folder.warehouse

    def require_salt(self) -> str:
        """The ResponseId salt, or a clear failure telling the analyst how to set it."""
        if not self.response_salt:
            raise dg.Failure(
                description=(
                    "SSM_RESPONSE_SALT is not set. ResponseIds enter the warehouse only as salted hashes "
                    "(spec §6), and the salt must not live in the repository. Set it in the environment "
                    "(for example in your shell profile or the launchpad) and run again; keep the same value "
                    "every year so that keys stay comparable."
                ),
                allow_retries=False,
            )
        return self.response_salt


class Warehouse(dg.ConfigurableResource):
    """The DuckDB file; every connection waits out another writer and is always closed."""

    # Empty: SSM_DATA_DIR as it is when the run starts (else the project's data/ folder).
    data_dir: str = ""

    @property
    def path(self) -> Path:
        folder = DataFolder.at(self.data_dir) if self.data_dir else DataFolder.from_environment()
        return folder.warehouse

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        stack = ExitStack()
        try:
            connection = stack.enter_context(warehouse.connect(self.path, read_only=read_only))
        except warehouse.WarehouseBusy as err:
            # The run fails with the message (who holds the file, what to close), not a traceback.
            raise dg.Failure(description=str(err), allow_retries=False) from None
        with stack:
            if not read_only:
                warehouse.ensure_raw_tables(connection)
            yield connection


class Mailer(dg.ConfigurableResource):
    """SMTP settings and recipient lists (spec §11); with no host, messages go to outbox/ as .eml."""

    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_user: str = ""
    smtp_password: str = ""
    mail_from: str = "ssm-reports@localhost"
    report_recipients: str = ""
    alert_recipients: str = ""
    smtp_timeout_seconds: float = 30.0
    smtp_data_timeout_seconds: float = 600.0
    smtp_attempts: int = 3
    smtp_backoff_seconds: float = 2.0

    def smtp(self) -> SmtpSettings:
        return SmtpSettings(
            host=self.smtp_host,
            port=self.smtp_port,
            security=self.smtp_security.lower(),
            user=self.smtp_user,
            password=self.smtp_password,
            timeout_seconds=self.smtp_timeout_seconds,
            data_timeout_seconds=self.smtp_data_timeout_seconds,
            attempts=self.smtp_attempts,
            backoff_seconds=self.smtp_backoff_seconds,
        )

    @staticmethod
    def _split(addresses: str) -> list[str]:
        return [a.strip() for a in addresses.split(",") if a.strip()]

    def leadership(self) -> list[str]:
        return self._split(self.report_recipients)

    def analysts(self) -> list[str]:
        return self._split(self.alert_recipients)


@dg.definitions
def defs() -> dg.Definitions:
    data_dir = env_or(DATA_DIR_ENV)
    return dg.Definitions(
        resources={
            "survey": SurveyConfig(
                data_dir=data_dir,
                response_salt=env_or("SSM_RESPONSE_SALT"),
                small_cell_min=int(os.environ.get("SSM_SMALL_CELL_MIN", "5")),
            ),
            "warehouse": Warehouse(data_dir=data_dir),
            "dbt": SurveyDbt(project_dir=dbt_project, dbt_executable=str(DBT_EXECUTABLE)),
            "mailer": Mailer(
                smtp_host=env_or("SSM_SMTP_HOST"),
                smtp_port=int(os.environ.get("SSM_SMTP_PORT") or 587),
                smtp_security=env_or("SSM_SMTP_SECURITY", "starttls"),
                smtp_user=env_or("SSM_SMTP_USER"),
                smtp_password=env_or("SSM_SMTP_PASSWORD"),
                mail_from=env_or("SSM_MAIL_FROM", "ssm-reports@localhost"),
                report_recipients=env_or("SSM_REPORT_RECIPIENTS"),
                alert_recipients=env_or("SSM_ALERT_RECIPIENTS"),
                # How long to wait for the server, and how often to try (docs/decisions.md).
                smtp_timeout_seconds=float(os.environ.get("SSM_SMTP_TIMEOUT_SECONDS") or 30),
                smtp_data_timeout_seconds=float(os.environ.get("SSM_SMTP_DATA_TIMEOUT_SECONDS") or 600),
                smtp_attempts=int(os.environ.get("SSM_SMTP_ATTEMPTS") or 3),
                smtp_backoff_seconds=float(os.environ.get("SSM_SMTP_BACKOFF_SECONDS") or 2),
            ),
        }
    )
