"""The p-values of the marts (spec §8) as DuckDB functions, registered on dbt's connection.

Every other figure of the marts is closed-form SQL in the dbt models (dbt_project/models/marts and
dbt_project/macros); a p-value needs a distribution's tail or Fisher's exact test, which SQL does not
have, so the SQL models call these functions and scipy computes them in the dbt process:

    fisher_exact_p(a, b, c, d)   two-sided Fisher's exact test of the 2x2 table [[a, b], [c, d]]
    chi_square_p(statistic, df)  upper tail of the chi-square distribution with df degrees of freedom
    welch_t_p(t, df)             two-sided p of Student's t with (Welch's, fractional) df
    normal_two_sided_p(z)        two-sided p of a standard normal z

A null argument gives null (DuckDB does not call the function), as does a result that is not a finite
number. scipy is imported on the first call, not when dbt loads the plugin, so a dbt command that
computes no p-value (parse, compile, a test) does not pay for the import.

The profile (dbt_project/profiles.yml) names this module under `plugins:`; dbt-duckdb then calls
Plugin.configure_connection on the connection it opens, and its cursors see the functions.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from dbt.adapters.duckdb.plugins import BasePlugin

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def fisher_exact_p(a: int, b: int, c: int, d: int) -> float | None:
    """Two-sided Fisher's exact p-value of [[a, b], [c, d]] (scipy.stats.fisher_exact)."""
    from scipy.stats import fisher_exact

    return _finite(fisher_exact([[a, b], [c, d]], alternative="two-sided").pvalue)


def chi_square_p(statistic: float, df: int) -> float | None:
    """P(X >= statistic) for X chi-square with df degrees of freedom (chi2_contingency's p-value)."""
    from scipy.stats import chi2

    return _finite(chi2.sf(statistic, df))


def welch_t_p(t: float, df: float) -> float | None:
    """Two-sided p-value of Welch's t with df degrees of freedom (ttest_ind(equal_var=False)'s)."""
    from scipy.stats import t as student_t

    return _finite(2.0 * student_t.sf(abs(t), df))


def normal_two_sided_p(z: float) -> float | None:
    """Two-sided p-value of a standard normal z: 2 (1 - Phi(|z|))."""
    from scipy.stats import norm

    return _finite(min(1.0, 2.0 * norm.sf(abs(z))))


def register(connection: DuckDBPyConnection) -> None:
    """Create the p-value functions on a DuckDB connection (its cursors see them too)."""
    from duckdb import sqltypes

    big, double = sqltypes.BIGINT, sqltypes.DOUBLE
    for name, function, parameters in (
        ("fisher_exact_p", fisher_exact_p, [big, big, big, big]),
        ("chi_square_p", chi_square_p, [double, big]),
        ("welch_t_p", welch_t_p, [double, double]),
        ("normal_two_sided_p", normal_two_sided_p, [double]),
    ):
        connection.create_function(name, function, parameters, double)


class Plugin(BasePlugin):
    """dbt-duckdb plugin: the p-value functions on every connection dbt opens."""

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        register(conn)
