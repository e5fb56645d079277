"""The Cochran-Armitage trend test in Python (spec ``survey.md`` §8, "Methods, exactly").

The marts compute every statistic in SQL (dbt_project/models/marts, with the p-values from
pipelines/lib/stats/pvalues.py). The report needs this one test in Python as well: report_history asks
whether a trend's conclusion would read the same for every count that a masked figure could hide.
It is the test of marts.metric_trend_tests; tests/test_stats.py checks it against statsmodels and
the spec's formula.

The function is pure: plain ints and sequences go in, a frozen dataclass comes out. A figure that is
undefined (fewer than two years, no variation) is ``None``, never ``nan`` or ``inf``; input that
cannot come from real counts (negative counts, more successes than trials, mismatched lengths, a
repeated year) raises ``ValueError``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps


@dataclass(frozen=True)
class TrendTest:
    """Cochran-Armitage trend test across survey years (``marts.metric_trend_tests``).

    Attributes:
        first_year: Earliest year with a non-zero total, or None when there is none.
        last_year: Latest year with a non-zero total, or None when there is none.
        years: Number of years with a non-zero total that entered the test.
        z: Standardised statistic; positive when the proportion rises with the year.
        p_value: Two-sided normal p-value.
    """

    first_year: int | None
    last_year: int | None
    years: int
    z: float | None
    p_value: float | None


def _finite(value: float | np.floating | None) -> float | None:
    """Return ``value`` as a builtin float, or None when it is missing, nan or infinite."""
    if value is None:
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def _check_count(name: str, value: int) -> int:
    """Validate a count: a non-negative int (numpy ints and integral floats like 3.0 pass, bools do not)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        if isinstance(value, float | np.floating) and float(value).is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be an integer count, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return int(value)


# --------------------------------------------------------------------------------------------------
# trends across years
# --------------------------------------------------------------------------------------------------


def cochran_armitage(years: Sequence[int], successes: Sequence[int], totals: Sequence[int]) -> TrendTest:
    """Cochran-Armitage test for a linear trend in a proportion across survey years.

    No continuity correction; the scores t_i are the survey years themselves::

        p̄ = Σx_i / N,   T = Σ t_i (x_i - n_i p̄),
        Var(T) = p̄(1 - p̄) [Σ t_i² n_i - (Σ t_i n_i)² / N],   z = T / sqrt(Var(T)),
        p = 2 · (1 - Φ(|z|))

    Var(T) uses N (the classic Cochran-Armitage form); statsmodels' ``test_ordinal_association``
    (Mantel's linear-by-linear test) uses N - 1, so its z is this z times sqrt((N - 1)/N).

    Numerically the years are centred on their weighted mean before use. T and Var(T) are invariant
    to shifting the scores, and centring avoids cancellation in Σ t² n - (Σ t n)²/N, whose two terms
    are ~10⁶ times larger than their difference when t ≈ 2020.

    Args:
        years: Survey years (the scores); must be distinct.
        successes: Successes per year (x_i).
        totals: Denominator per year (n_i).

    Returns:
        A :class:`TrendTest`. Years with total 0 are skipped; ``first_year``/``last_year``/``years``
        describe the years used. z and p are None when fewer than 2 years remain or p̄ is 0 or 1.

    Raises:
        ValueError: If the sequences differ in length, a year repeats, a count is negative, or
            successes exceed the total.
    """
    if not len(years) == len(successes) == len(totals):
        raise ValueError("years, successes and totals must have the same length")
    yrs = [int(y) for y in years]
    if len(set(yrs)) != len(yrs):
        raise ValueError(f"years must be distinct, got {yrs}")
    rows = []
    for year, x, n in zip(yrs, successes, totals, strict=True):
        x, n = _check_count("successes", x), _check_count("totals", n)
        if x > n:
            raise ValueError(f"successes ({x}) > total ({n}) in {year}")
        if n > 0:
            rows.append((year, x, n))
    if not rows:
        return TrendTest(None, None, 0, None, None)
    used_years = [r[0] for r in rows]
    first, last, k = min(used_years), max(used_years), len(rows)
    t = np.asarray([r[0] for r in rows], dtype=np.float64)
    x = np.asarray([r[1] for r in rows], dtype=np.float64)
    n = np.asarray([r[2] for r in rows], dtype=np.float64)
    big_n = float(n.sum())
    p_bar = float(x.sum()) / big_n
    if k < 2 or p_bar <= 0.0 or p_bar >= 1.0:
        return TrendTest(first, last, k, None, None)
    tc = t - float(t @ n) / big_n  # centred scores; Σ tc n = 0
    stat = float(tc @ (x - n * p_bar))
    var = p_bar * (1.0 - p_bar) * float((tc * tc) @ n)
    if var <= 0.0:
        return TrendTest(first, last, k, None, None)
    z = stat / math.sqrt(var)
    p_value = 2.0 * float(sps.norm.sf(abs(z)))
    return TrendTest(first, last, k, _finite(z), _finite(min(p_value, 1.0)))


__all__ = ["TrendTest", "cochran_armitage"]
