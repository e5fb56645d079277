"""Tests for pipelines.lib.stats.trend (the Cochran-Armitage test the report re-runs, spec survey.md §8)
against independent computations.

Every expected number here comes from a different implementation (statsmodels) or from the spec's
formula written out in this file - never from numbers printed by pipelines.lib.stats.trend. The marts'
statistics are SQL; tests/test_statistics_sql.py checks them.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.contingency_tables import Table

from pipelines.lib.stats import trend as S

TOL = 1e-9  # z
P_TOL = 1e-6  # p-values


def close(x: float | None, y: float, tol: float = TOL) -> bool:
    """Absolute-or-relative closeness; None never matches a number."""
    return x is not None and math.isclose(x, y, rel_tol=tol, abs_tol=tol)


def finite_or_none(*values: object) -> bool:
    return all(v is None or (isinstance(v, float) and math.isfinite(v)) for v in values)


# --------------------------------------------------------------------------------------------------
# independent reference computations
# --------------------------------------------------------------------------------------------------


def ca_exact(years: list[int], x: list[int], n: list[int]) -> float:
    """The spec's Cochran-Armitage formula, literally, in exact rational arithmetic."""
    big_n = sum(n)
    p = Fraction(sum(x), big_n)
    t_stat = sum(Fraction(t) * (xi - ni * p) for t, xi, ni in zip(years, x, n, strict=True))
    var = (
        p
        * (1 - p)
        * (
            sum(Fraction(t * t * ni) for t, ni in zip(years, n, strict=True))
            - Fraction(sum(t * ni for t, ni in zip(years, n, strict=True)) ** 2, big_n)
        )
    )
    return float(t_stat) / math.sqrt(float(var))


def ca_statsmodels(years: list[int], x: list[int], n: list[int]) -> tuple[float, float]:
    """statsmodels' linear-by-linear test rescaled from its N-1 variance to the classic N."""
    tab = np.array([[xi, ni - xi] for xi, ni in zip(x, n, strict=True)], dtype=float)
    # shift_zeros=False: Table's default would replace zero cells (e.g. an all-yes year) by 0.5.
    res = Table(tab, shift_zeros=False).test_ordinal_association(
        row_scores=np.asarray(years, dtype=float), col_scores=np.array([1.0, 0.0])
    )
    big_n = tab.sum()
    z = float(res.zscore) * math.sqrt(big_n / (big_n - 1))
    return z, float(2 * sps.norm.sf(abs(z)))


# --------------------------------------------------------------------------------------------------
# Cochran-Armitage
# --------------------------------------------------------------------------------------------------

TRENDS = [
    ([2019, 2020, 2021, 2022, 2023], [20, 24, 28, 30, 36], [45, 44, 47, 46, 42]),
    ([2021, 2022], [36, 22], [42, 48]),
    ([2018, 2020, 2024], [5, 5, 5], [10, 10, 10]),  # no trend: z = 0
    ([2019, 2020, 2021], [10, 0, 12], [10, 1, 12]),  # a 1-respondent year, zero cells
    ([2019, 2020, 2021, 2022], [3, 12, 15, 40], [30, 30, 31, 40]),
]


@pytest.mark.parametrize(("years", "x", "n"), TRENDS)
def test_cochran_armitage_matches_statsmodels_and_formula(
    years: list[int], x: list[int], n: list[int]
) -> None:
    got = S.cochran_armitage(years, x, n)
    z_sm, p_sm = ca_statsmodels(years, x, n)
    assert close(got.z, z_sm)
    assert close(got.p_value, p_sm, P_TOL)
    assert close(got.z, ca_exact(years, x, n))
    assert (got.first_year, got.last_year, got.years) == (min(years), max(years), len(years))


def test_cochran_armitage_random_against_statsmodels() -> None:
    rng = np.random.default_rng(11)
    for _ in range(100):
        k = int(rng.integers(2, 8))
        years = sorted(int(y) for y in rng.choice(np.arange(2010, 2030), size=k, replace=False))
        n = [int(v) for v in rng.integers(1, 80, size=k)]
        x = [int(rng.integers(0, ni + 1)) for ni in n]
        if sum(x) in (0, sum(n)):
            continue
        got = S.cochran_armitage(years, x, n)
        z_sm, p_sm = ca_statsmodels(years, x, n)
        assert close(got.z, z_sm) and close(got.z, ca_exact(years, x, n))
        assert close(got.p_value, p_sm, P_TOL)


def test_cochran_armitage_skips_empty_years() -> None:
    got = S.cochran_armitage([2018, 2019, 2020, 2021], [0, 10, 14, 20], [0, 40, 38, 41])
    z_sm, p_sm = ca_statsmodels([2019, 2020, 2021], [10, 14, 20], [40, 38, 41])
    assert (got.first_year, got.last_year, got.years) == (2019, 2021, 3)
    assert close(got.z, z_sm) and close(got.p_value, p_sm, P_TOL)


@pytest.mark.parametrize(
    ("years", "x", "n", "expected"),
    [
        ([], [], [], S.TrendTest(None, None, 0, None, None)),
        ([2020], [5], [9], S.TrendTest(2020, 2020, 1, None, None)),  # one year only
        ([2020, 2021], [0, 4], [0, 7], S.TrendTest(2021, 2021, 1, None, None)),
        ([2020, 2021], [0, 0], [0, 0], S.TrendTest(None, None, 0, None, None)),
        ([2020, 2021, 2022], [8, 9, 1], [8, 9, 1], S.TrendTest(2020, 2022, 3, None, None)),  # all yes
        ([2020, 2021], [0, 0], [3, 1], S.TrendTest(2020, 2021, 2, None, None)),  # nobody yes
    ],
)
def test_cochran_armitage_undefined(
    years: list[int], x: list[int], n: list[int], expected: S.TrendTest
) -> None:
    assert S.cochran_armitage(years, x, n) == expected


def test_cochran_armitage_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        S.cochran_armitage([2020, 2021], [1], [2, 3])
    with pytest.raises(ValueError):
        S.cochran_armitage([2020, 2020], [1, 1], [2, 3])
    with pytest.raises(ValueError):
        S.cochran_armitage([2020, 2021], [3, 1], [2, 3])


# --------------------------------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), max_size=6))
def test_trend_property(rows: list[tuple[int, int]]) -> None:
    years = list(range(2018, 2018 + len(rows)))
    x = [min(a, b) for a, b in rows]
    n = [max(a, b) for a, b in rows]
    got = S.cochran_armitage(years, x, n)
    assert finite_or_none(got.z, got.p_value)
    assert (got.z is None) == (got.p_value is None)
    if got.p_value is not None:
        assert 0.0 <= got.p_value <= 1.0
