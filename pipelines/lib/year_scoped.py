"""Per-year work inside the dbt Python models of marts/across_years (issue 4: loading a year recomputes
that year's rows, not every year's).

dbt-duckdb 1.11 cannot run Python models incrementally here (docs/decisions.md), so these models stay
tables, but they compute only the years being loaded and copy the other years' rows from the table as it
stands. Without years (a plain `dbt build`), every year is computed.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is there when dbt runs the models; the Dagster asset reads only the name
    import pandas as pd

# Set by the Dagster dbt asset for its build (pipelines/defs/transform/assets.py), as "2019,2020".
BUILD_YEARS_ENV = "SSM_BUILD_YEARS"


def loaded_years(config_value: object) -> list[int] | None:
    """The survey years of this dbt invocation; None means every year.

    The dbt var survey_years comes first (dbt_project.yml renders it into the model config as
    "2019,2020", or "all" when unset); without it, SSM_BUILD_YEARS, as macros/survey_year.sql reads it.
    """
    if config_value is None:
        config_value = "all"
    if isinstance(config_value, (list, tuple)):
        return sorted({int(y) for y in config_value})
    text = str(config_value).strip().strip("[]")
    if text.lower() in ("all", "none", "null"):
        text = os.environ.get(BUILD_YEARS_ENV, "").strip()
        if not text:
            return None
    return sorted({int(part) for part in text.split(",") if part.strip()})


def rows_of_other_years(
    session, this, years: list[int] | None, years_on_record: list[int]
) -> pd.DataFrame | None:
    """The table's current rows for every year on record except `years`; None when all must be computed.

    Years no longer on record (none today, but a year could be withdrawn) are dropped, never copied.
    """
    if years is None:
        return None
    # fetchall, not fetchone: DuckDB 2 refuses new work on a connection with an unfinished result.
    exists = session.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [this.schema, this.identifier],
    ).fetchall()[0][0]
    if not exists:
        return None
    others = [y for y in years_on_record if y not in years]
    if not others:
        return session.sql(f"select * from {this!r} where false").df()
    listed = ", ".join(str(int(y)) for y in others)
    return session.sql(f"select * from {this!r} where survey_year in ({listed})").df()


def years_to_compute(
    years: list[int] | None, kept: pd.DataFrame | None, years_on_record: list[int]
) -> list[int]:
    """The years this invocation computes: the loaded years and any year on record the table lacks
    (so a table that missed a year heals on the next load), or every year when nothing is kept."""
    if kept is None:
        return sorted(years_on_record)
    have = set(kept["survey_year"].astype(int))
    return sorted(y for y in years_on_record if y in (years or []) or y not in have)


def combine(kept: pd.DataFrame | None, computed: pd.DataFrame) -> pd.DataFrame:
    """The kept rows of the other years followed by the computed ones, in the computed frame's types."""
    import pandas as pd

    if kept is None or kept.empty:
        return computed.reset_index(drop=True)
    kept = kept[computed.columns].astype(computed.dtypes.to_dict())
    return (
        pd.concat([kept, computed], ignore_index=True)
        .sort_values("survey_year", kind="stable")
        .reset_index(drop=True)
    )
