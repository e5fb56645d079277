"""Tests for pipelines.lib.stats against independent computations (spec survey.md §8).

Every expected number here comes from a different implementation (statsmodels, scipy, tableone) or
from a hand-written formula in this file - never from numbers printed by pipelines.lib.stats.
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.contingency_tables import Table, Table2x2
from statsmodels.stats.proportion import proportion_confint
from tableone import TableOne
from tableone.statistics import Statistics

from pipelines.lib import stats as S

TOL = 1e-9  # proportions, ratios, intervals, SMD, z
P_TOL = 1e-6  # p-values
SMD_COL = "SMD (mentor,non_mentor)"  # tableone sorts the group levels: mentor < non_mentor


def close(x: float | None, y: float, tol: float = TOL) -> bool:
    """Absolute-or-relative closeness; None never matches a number."""
    return x is not None and math.isclose(x, y, rel_tol=tol, abs_tol=tol)


def finite_or_none(*values: object) -> bool:
    return all(v is None or (isinstance(v, float) and math.isfinite(v)) for v in values)


# --------------------------------------------------------------------------------------------------
# independent reference computations
# --------------------------------------------------------------------------------------------------


def haldane_table(a: int, b: int, c: int, d: int) -> np.ndarray:
    """The spec's rule: add 0.5 to all four cells when any cell is 0."""
    t = np.array([[a, b], [c, d]], dtype=float)
    return t + 0.5 if t.min() == 0 else t


def fisher_by_hypergeom(table: list[list[int]]) -> float:
    """Two-sided Fisher p: sum of hypergeometric probabilities <= that of the observed table."""
    (a, b), (c, d) = table
    total, row1, col1 = a + b + c + d, a + b, a + c
    dist = sps.hypergeom(total, col1, row1)  # population, successes in population, draws
    support = np.arange(max(0, row1 + col1 - total), min(row1, col1) + 1)
    pmf = dist.pmf(support)
    observed = dist.pmf(a)
    return float(min(1.0, pmf[pmf <= observed * (1 + 1e-7)].sum()))


def chi_square_by_hand(table: list[list[int]]) -> tuple[float, float]:
    o = np.asarray(table, dtype=float)
    o = o[:, o.sum(axis=0) > 0]
    e = np.outer(o.sum(axis=1), o.sum(axis=0)) / o.sum()
    stat = float(((o - e) ** 2 / e).sum())
    dof = (o.shape[0] - 1) * (o.shape[1] - 1)
    return stat, float(sps.chi2.sf(stat, dof))


def welch_by_hand(x1: list[float], x2: list[float]) -> tuple[float, float]:
    n1, n2 = len(x1), len(x2)
    m1, m2 = sum(x1) / n1, sum(x2) / n2
    v1 = sum((v - m1) ** 2 for v in x1) / (n1 - 1)
    v2 = sum((v - m2) ** 2 for v in x2) / (n2 - 1)
    se2 = v1 / n1 + v2 / n2
    t = (m1 - m2) / math.sqrt(se2)
    df = se2**2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
    return t, float(2 * sps.t.sf(abs(t), df))


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


def tableone_smd(df: pd.DataFrame, columns: list[str], categorical: list[str]) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t1 = TableOne(df, columns=columns, categorical=categorical, groupby="cohort", smd=True)
    # smd_table holds the raw floats; the printed table rounds them to 3 decimals.
    return t1.smd_table[SMD_COL].astype(float)


# --------------------------------------------------------------------------------------------------
# Wilson
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 12, 42, 48, 60, 250])
def test_wilson_matches_statsmodels(n: int) -> None:
    for x in range(n + 1):
        lo, hi = proportion_confint(x, n, alpha=0.05, method="wilson")
        got = S.wilson_interval(x, n)
        assert got is not None
        assert close(got[0], lo) and close(got[1], hi), (x, n, got, (lo, hi))
        assert 0.0 <= got[0] <= x / n <= got[1] <= 1.0


def test_wilson_zero_denominator_and_bad_input() -> None:
    assert S.wilson_interval(0, 0) is None
    with pytest.raises(ValueError):
        S.wilson_interval(3, 2)
    with pytest.raises(ValueError):
        S.wilson_interval(-1, 2)


def test_z_constant_is_the_normal_quantile() -> None:
    assert close(S.Z_975, float(sps.norm.ppf(0.975)), 1e-15)


# --------------------------------------------------------------------------------------------------
# 2x2 comparisons
# --------------------------------------------------------------------------------------------------

TABLES = [
    (36, 6, 22, 26),  # §10 value_mentee
    (34, 8, 25, 23),  # §10 value_mentor
    (1, 1, 1, 1),
    (5, 40, 30, 2),
    (0, 10, 5, 5),  # zero cells from here on
    (10, 0, 5, 5),
    (3, 7, 0, 12),
    (3, 7, 12, 0),
    (0, 10, 0, 12),
    (10, 0, 12, 0),  # all yes
    (1, 0, 0, 1),
    (0, 1, 0, 1),
]


@pytest.mark.parametrize("cells", TABLES)
def test_two_by_two_matches_statsmodels(cells: tuple[int, int, int, int]) -> None:
    a, b, c, d = cells
    ref = Table2x2(haldane_table(a, b, c, d), shift_zeros=False)
    got = S.two_by_two(a, b, c, d)
    assert got.zero_cell_corrected == (min(cells) == 0)
    assert close(got.risk_ratio, ref.riskratio)
    rr_lo, rr_hi = ref.riskratio_confint(alpha=0.05)
    assert close(got.rr_ci_low, rr_lo) and close(got.rr_ci_high, rr_hi)
    assert close(got.odds_ratio, ref.oddsratio)
    or_lo, or_hi = ref.oddsratio_confint(alpha=0.05)
    assert close(got.or_ci_low, or_lo) and close(got.or_ci_high, or_hi)
    # p-value on the UNcorrected table
    assert close(got.p_value, fisher_by_hypergeom([[a, b], [c, d]]), P_TOL)


@pytest.mark.parametrize("cells", [(0, 10, 5, 5), (3, 7, 0, 12), (10, 0, 12, 3)])
def test_statsmodels_default_shift_zeros_is_not_the_spec_rule(cells: tuple[int, int, int, int]) -> None:
    """statsmodels' default replaces only the zero cells by 0.5 - a different answer (the trap)."""
    a, b, c, d = cells
    default = Table2x2(np.array([[a, b], [c, d]]))  # shift_zeros=True
    got = S.two_by_two(a, b, c, d)
    assert got.zero_cell_corrected
    assert not close(got.risk_ratio, default.riskratio, 1e-6)
    assert not close(got.odds_ratio, default.oddsratio, 1e-6)


def test_two_by_two_random_tables_match_statsmodels() -> None:
    rng = np.random.default_rng(20240601)
    for _ in range(300):
        a, b, c, d = (int(v) for v in rng.integers(0, 30, size=4))
        if a + b == 0 or c + d == 0:
            continue
        ref = Table2x2(haldane_table(a, b, c, d), shift_zeros=False)
        got = S.two_by_two(a, b, c, d)
        assert close(got.risk_ratio, ref.riskratio)
        assert close(got.odds_ratio, ref.oddsratio)
        assert close(got.rr_ci_low, ref.riskratio_confint()[0])
        assert close(got.rr_ci_high, ref.riskratio_confint()[1])
        assert close(got.or_ci_low, ref.oddsratio_confint()[0])
        assert close(got.or_ci_high, ref.oddsratio_confint()[1])
        assert close(got.p_value, fisher_by_hypergeom([[a, b], [c, d]]), P_TOL)


def test_reference_year_figures() -> None:
    mentee = S.two_by_two(36, 42 - 36, 22, 48 - 22)
    assert round(mentee.risk_ratio, 2) == 1.87
    assert mentee.rr_ci_low < 1.87 < mentee.rr_ci_high
    assert not mentee.zero_cell_corrected
    mentor = S.two_by_two(34, 42 - 34, 25, 48 - 25)
    assert round(mentor.odds_ratio, 1) == 3.9
    assert close(mentor.odds_ratio, (34 * 23) / (8 * 25))
    assert mentor.or_ci_low < mentor.odds_ratio < mentor.or_ci_high


@pytest.mark.parametrize("cells", [(0, 0, 5, 5), (3, 4, 0, 0), (0, 0, 0, 0)])
def test_two_by_two_empty_cohort_gives_nulls(cells: tuple[int, int, int, int]) -> None:
    got = S.two_by_two(*cells)
    assert got == S.TwoByTwo(None, None, None, None, None, None, None, zero_cell_corrected=False)


def test_two_by_two_all_yes_is_defined_and_corrected() -> None:
    got = S.two_by_two(10, 0, 12, 0)
    assert got.zero_cell_corrected
    assert close(got.p_value, 1.0, P_TOL)
    assert close(got.risk_ratio, (10.5 / 11) / (12.5 / 13))


def test_two_by_two_rejects_negative() -> None:
    with pytest.raises(ValueError):
        S.two_by_two(-1, 2, 3, 4)


# --------------------------------------------------------------------------------------------------
# Fisher between years
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2"), [(36, 42, 30, 45), (0, 5, 5, 5), (1, 1, 0, 1), (7, 7, 9, 9), (12, 40, 25, 41)]
)
def test_fisher_two_years(x1: int, n1: int, x2: int, n2: int) -> None:
    expected = fisher_by_hypergeom([[x1, n1 - x1], [x2, n2 - x2]])
    assert close(S.fisher_two_years(x1, n1, x2, n2), expected, P_TOL)


def test_fisher_two_years_zero_denominator() -> None:
    assert S.fisher_two_years(0, 0, 3, 5) is None
    assert S.fisher_two_years(3, 5, 0, 0) is None
    with pytest.raises(ValueError):
        S.fisher_two_years(6, 5, 0, 1)


# --------------------------------------------------------------------------------------------------
# Fisher / chi-square for demographic balance
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "table",
    [
        [[20, 22], [30, 18]],
        [[20, 0, 22], [30, 0, 18]],  # empty level dropped -> 2x2 -> Fisher
        [[0, 20, 22], [0, 30, 18]],
    ],
)
def test_two_levels_use_fisher(table: list[list[int]]) -> None:
    got = S.fisher_or_chi_square(table)
    nonzero = [[v for j, v in enumerate(row) if table[0][j] + table[1][j] > 0] for row in table]
    assert got.test == "fisher_exact" and got.statistic is None
    assert close(got.p_value, fisher_by_hypergeom(nonzero), P_TOL)


@pytest.mark.parametrize(
    "table",
    [
        [[10, 12, 8, 12], [15, 5, 20, 8]],
        [[10, 0, 8, 12], [15, 0, 20, 8]],  # 2x3 after dropping
        [[1, 2, 0, 39], [3, 0, 1, 44]],  # small expected counts: still chi-square by the spec
        [[5, 6, 7], [8, 9, 1], [2, 3, 4]],
    ],
)
def test_larger_tables_use_chi_square(table: list[list[int]]) -> None:
    got = S.fisher_or_chi_square(table)
    stat, p = chi_square_by_hand(table)
    assert got.test == "chi_square"
    assert close(got.statistic, stat)
    assert close(got.p_value, p, P_TOL)


@pytest.mark.parametrize(
    ("table", "name"),
    [
        ([[5, 0], [7, 0]], "fisher_exact"),  # one non-empty level
        ([[0, 0], [0, 0]], "fisher_exact"),
        ([[5, 0, 0], [7, 0, 0]], "chi_square"),
        ([[0, 0, 0], [4, 5, 6]], "chi_square"),  # empty cohort
        ([[0, 0], [4, 5]], "fisher_exact"),
    ],
)
def test_fisher_or_chi_square_undefined(table: list[list[int]], name: str) -> None:
    assert S.fisher_or_chi_square(table) == S.TestResult(name, None, None)


def test_fisher_or_chi_square_rejects_bad_tables() -> None:
    with pytest.raises(ValueError):
        S.fisher_or_chi_square([[1, 2], [3]])
    with pytest.raises(ValueError):
        S.fisher_or_chi_square([])
    with pytest.raises(ValueError):
        S.fisher_or_chi_square([[1, -2], [3, 4]])


# --------------------------------------------------------------------------------------------------
# Welch
# --------------------------------------------------------------------------------------------------


def test_welch_matches_hand_formula() -> None:
    rng = np.random.default_rng(7)
    for _ in range(50):
        x1 = [float(v) for v in rng.normal(24, 3, int(rng.integers(2, 60))).round()]
        x2 = [float(v) for v in rng.normal(25, 4, int(rng.integers(2, 60))).round()]
        if np.var(x1) == 0 and np.var(x2) == 0:
            continue
        t, p = welch_by_hand(x1, x2)
        got = S.welch_t(x1, x2)
        assert got.test == "welch_t"
        assert close(got.statistic, t)  # sign: mentors minus non-mentors
        assert close(got.p_value, p, P_TOL)


def test_welch_sign_and_missing_values() -> None:
    got = S.welch_t([30.0, 31.0, float("nan"), None], [20.0, 22.0, 21.0])
    t, p = welch_by_hand([30.0, 31.0], [20.0, 22.0, 21.0])
    assert got.statistic is not None and got.statistic > 0
    assert close(got.statistic, t) and close(got.p_value, p, P_TOL)


@pytest.mark.parametrize(
    ("x1", "x2"), [([], []), ([23.0], [24.0, 25.0]), ([23.0, 24.0], [25.0]), ([22.0, 22.0], [25.0, 25.0])]
)
def test_welch_undefined(x1: list[float], x2: list[float]) -> None:
    assert S.welch_t(x1, x2) == S.TestResult("welch_t", None, None)


# --------------------------------------------------------------------------------------------------
# SMD vs tableone
# --------------------------------------------------------------------------------------------------

SPECIALTIES = ["general_practice", "internal_medicine", "surgery", "psychiatry", "paediatrics"]


def random_cohorts(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_m, n_n = int(rng.integers(8, 60)), int(rng.integers(8, 60))
    cohort = ["mentor"] * n_m + ["non_mentor"] * n_n
    age = np.concatenate([rng.normal(24, 2.5, n_m), rng.normal(25, 3.5, n_n)]).round()
    p_f = rng.uniform(0.3, 0.8, size=2)
    gender = np.concatenate(
        [rng.choice(["female", "male"], n_m, p=[p_f[0], 1 - p_f[0]]), rng.choice(["female", "male"], n_n)]
    )
    weights = rng.dirichlet(np.ones(len(SPECIALTIES)))
    specialty = np.concatenate([rng.choice(SPECIALTIES, n_m, p=weights), rng.choice(SPECIALTIES, n_n)])
    return pd.DataFrame({"cohort": cohort, "age": age, "gender": gender, "specialty_group": specialty})


def level_counts(df: pd.DataFrame, column: str, cohort: str) -> list[int]:
    levels = sorted(df[column].dropna().unique())
    counts = df.loc[df["cohort"] == cohort, column].value_counts()
    return [int(counts.get(level, 0)) for level in levels]


@pytest.mark.parametrize("seed", range(12))
def test_smd_matches_tableone(seed: int) -> None:
    df = random_cohorts(seed)
    ref = tableone_smd(df, ["age", "gender", "specialty_group"], ["gender", "specialty_group"])
    m, nm = df[df.cohort == "mentor"], df[df.cohort == "non_mentor"]

    # continuous: tableone reports non_mentor minus mentor; ours is mentor minus non_mentor
    cont = S.smd_continuous(m["age"].tolist(), nm["age"].tolist())
    assert close(cont, -ref["age"])

    # binary: tableone is unsigned; ours has the sign of p_female(mentor) - p_female(non_mentor)
    pf_m, pf_n = (m["gender"] == "female").mean(), (nm["gender"] == "female").mean()
    binary = S.smd_binary(float(pf_m), float(pf_n))
    assert close(abs(binary), ref["gender"])
    assert (binary > 0) == (pf_m > pf_n) or binary == 0
    counted = S.smd_binary_counts(
        int((m["gender"] == "female").sum()), len(m), int((nm["gender"] == "female").sum()), len(nm)
    )
    assert close(counted, binary)
    assert close(
        S.smd_categorical(level_counts(df, "gender", "mentor"), level_counts(df, "gender", "non_mentor")),
        ref["gender"],
    )

    # multi-level categorical: Yang & Dalton, unsigned
    cat = S.smd_categorical(
        level_counts(df, "specialty_group", "mentor"), level_counts(df, "specialty_group", "non_mentor")
    )
    assert close(cat, ref["specialty_group"])


@pytest.mark.parametrize("seed", range(5))
def test_smd_matches_tableone_internal_helpers(seed: int) -> None:
    """Same check through tableone's own _cont_smd / _cat_smd (first argument = control = mentor)."""
    rng = np.random.default_rng(100 + seed)
    helper = Statistics()
    x1, x2 = rng.normal(24, 3, 40), rng.normal(26, 2, 35)
    ref_cont, _ = helper._cont_smd(
        mean1=x1.mean(), mean2=x2.mean(), sd1=x1.std(ddof=1), sd2=x2.std(ddof=1), n1=40, n2=35
    )
    assert close(S.smd_continuous(x1.tolist(), x2.tolist()), -ref_cont)

    c1, c2 = rng.integers(1, 20, size=4), rng.integers(1, 20, size=4)
    ref_cat, _ = helper._cat_smd(prop1=c1 / c1.sum(), prop2=c2 / c2.sum(), n1=c1.sum(), n2=c2.sum())
    assert close(S.smd_categorical(c1.tolist(), c2.tolist()), ref_cat)
    # independent of level order and of which level is dropped
    assert close(S.smd_categorical(c1[::-1].tolist(), c2[::-1].tolist()), ref_cat)


def test_smd_categorical_ignores_levels_nobody_has() -> None:
    assert close(S.smd_categorical([3, 0, 4, 5], [6, 0, 2, 2]), S.smd_categorical([3, 4, 5], [6, 2, 2]))


def test_smd_categorical_level_missing_in_one_group_matches_tableone() -> None:
    df = pd.DataFrame(
        {
            "cohort": ["mentor"] * 6 + ["non_mentor"] * 7,
            "sg": ["a", "a", "b", "b", "b", "c", "a", "b", "b", "d", "d", "d", "c"],
        }
    )
    ref = tableone_smd(df, ["sg"], ["sg"])
    assert close(S.smd_categorical([2, 3, 1, 0], [1, 2, 1, 3]), ref["sg"])


def test_smd_edge_cases() -> None:
    assert S.smd_continuous([], [1.0, 2.0]) is None
    assert S.smd_continuous([30.0], [20.0, 22.0]) is None  # 1-respondent group: no sample SD
    assert S.smd_continuous([22.0, 22.0], [22.0, 22.0]) is None
    assert S.smd_continuous([1.0, 2.0, float("nan")], [1.0, 2.0]) == 0.0
    assert S.smd_binary(1.0, 1.0) is None
    assert S.smd_binary(0.0, 1.0) is None  # perfect separation: tableone gives nan
    assert S.smd_binary(0.5, 0.5) == 0.0
    assert S.smd_binary_counts(0, 0, 3, 5) is None
    assert S.smd_categorical([0, 0, 0], [1, 2, 3]) is None  # empty cohort
    assert S.smd_categorical([5, 0], [7, 0]) is None  # one level only (tableone: 0)
    assert S.smd_categorical([5, 0, 0], [0, 3, 4]) is None  # no shared level: singular
    assert S.smd_categorical([], []) is None
    with pytest.raises(ValueError):
        S.smd_binary(1.5, 0.2)
    with pytest.raises(ValueError):
        S.smd_categorical([1, 2], [1, 2, 3])


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

counts = st.integers(min_value=0, max_value=40)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(min_value=0, max_value=500), data=st.data())
def test_wilson_property(n: int, data: st.DataObject) -> None:
    x = data.draw(st.integers(min_value=0, max_value=n))
    got = S.wilson_interval(x, n)
    if n == 0:
        assert got is None
        return
    assert got is not None and finite_or_none(*got)
    assert 0.0 <= got[0] <= x / n <= got[1] <= 1.0


@settings(max_examples=200, deadline=None)
@given(a=counts, b=counts, c=counts, d=counts)
def test_two_by_two_property(a: int, b: int, c: int, d: int) -> None:
    got = S.two_by_two(a, b, c, d)
    values = (got.risk_ratio, got.rr_ci_low, got.rr_ci_high, got.odds_ratio, got.or_ci_low, got.or_ci_high)
    assert finite_or_none(*values, got.p_value)
    if a + b == 0 or c + d == 0:
        assert all(v is None for v in (*values, got.p_value))
        return
    assert got.rr_ci_low <= got.risk_ratio <= got.rr_ci_high
    assert got.or_ci_low <= got.odds_ratio <= got.or_ci_high
    assert 0.0 <= got.p_value <= 1.0
    assert got.zero_cell_corrected == (min(a, b, c, d) == 0)


@settings(max_examples=200, deadline=None)
@given(
    table=st.lists(st.lists(st.integers(0, 15), min_size=1, max_size=5), min_size=2, max_size=2).filter(
        lambda t: len(t[0]) == len(t[1])
    )
)
def test_fisher_or_chi_square_property(table: list[list[int]]) -> None:
    got = S.fisher_or_chi_square(table)
    assert got.test in ("fisher_exact", "chi_square")
    assert finite_or_none(got.statistic, got.p_value)
    if got.p_value is not None:
        assert 0.0 <= got.p_value <= 1.0


@settings(max_examples=200, deadline=None)
@given(
    x1=st.lists(st.integers(17, 60).map(float), max_size=8),
    x2=st.lists(st.integers(17, 60).map(float), max_size=8),
)
def test_continuous_property(x1: list[float], x2: list[float]) -> None:
    t = S.welch_t(x1, x2)
    assert finite_or_none(t.statistic, t.p_value, S.smd_continuous(x1, x2))


@settings(max_examples=200, deadline=None)
@given(c1=st.lists(st.integers(0, 12), min_size=1, max_size=5), data=st.data())
def test_categorical_smd_property(c1: list[int], data: st.DataObject) -> None:
    c2 = data.draw(st.lists(st.integers(0, 12), min_size=len(c1), max_size=len(c1)))
    got = S.smd_categorical(c1, c2)
    assert finite_or_none(got)
    assert got is None or got >= 0.0
    if len(c1) == 2 and got is not None:
        assert close(abs(S.smd_binary_counts(c1[0], sum(c1), c2[0], sum(c2))), got)


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


@settings(max_examples=200, deadline=None)
@given(x1=counts, n1=counts, x2=counts, n2=counts)
def test_fisher_two_years_property(x1: int, n1: int, x2: int, n2: int) -> None:
    x1, x2 = min(x1, n1), min(x2, n2)
    got = S.fisher_two_years(x1, n1, x2, n2)
    assert finite_or_none(got)
    assert (got is None) == (n1 == 0 or n2 == 0)
