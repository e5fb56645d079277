"""Statistics for the mentoring-survey marts (spec ``survey.md`` §8, "Methods, exactly").

Every function here is pure: plain ints, floats and sequences go in; floats, ``None`` or frozen
dataclasses come out. The contract shared by all of them:

* A figure whose denominator is 0, or that is otherwise undefined (a group too small, no variation,
  a probability of 0 or 1 where a variance is needed), is returned as ``None``. No function returns
  ``nan`` or ``inf`` and none raises for such data; reports show ``None`` as "no data".
* Input that cannot come from real counts (negative counts, more successes than trials, ragged
  tables, mismatched lengths) raises ``ValueError``: that is a bug upstream, not "no data".
* Ratios, intervals and SMDs are implemented here in closed form so that the tests can check them
  against independent implementations (statsmodels, scipy, tableone) rather than against themselves.
  Exact tests (Fisher, chi-square, Welch) delegate to scipy, as the spec names those functions.

Sign conventions: the first group is always the mentors, the second the non-mentors. Risk and odds
ratios are mentor over non-mentor, t and signed SMDs are mentor minus non-mentor.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

#: The 97.5% standard normal quantile; spelled out in the spec so every figure uses the same value.
Z_975: float = 1.959963984540054

#: Haldane-Anscombe correction added to every cell of a 2x2 table that has a zero cell.
ZERO_CELL_CORRECTION: float = 0.5


@dataclass(frozen=True)
class TwoByTwo:
    """Mentor-versus-non-mentor comparison of one yes/not-yes item (``marts.cohort_comparisons``).

    Attributes:
        risk_ratio: (a/(a+b)) / (c/(c+d)), mentors over non-mentors.
        rr_ci_low: Lower 95% limit, Katz log method.
        rr_ci_high: Upper 95% limit, Katz log method.
        odds_ratio: (a*d) / (b*c), mentors over non-mentors.
        or_ci_low: Lower 95% limit, Woolf logit method.
        or_ci_high: Upper 95% limit, Woolf logit method.
        p_value: Two-sided Fisher's exact p-value on the uncorrected table.
        zero_cell_corrected: True when 0.5 was added to all four cells (for the ratios and intervals
            only) because one cell was 0. False when no correction was applied, including when a group
            is empty and nothing was computed.
    """

    risk_ratio: float | None
    rr_ci_low: float | None
    rr_ci_high: float | None
    odds_ratio: float | None
    or_ci_low: float | None
    or_ci_high: float | None
    p_value: float | None
    zero_cell_corrected: bool


@dataclass(frozen=True)
class TestResult:
    """A hypothesis test as stored in ``marts.demographic_balance``.

    Attributes:
        test: ``"fisher_exact"``, ``"chi_square"`` or ``"welch_t"``.
        statistic: Chi-square statistic, or t (mentors minus non-mentors); None for Fisher's exact and
            whenever the test is undefined.
        p_value: Two-sided p-value, or None when the test is undefined.
    """

    __test__ = False  # not a pytest test class, despite the name

    test: str
    statistic: float | None
    p_value: float | None


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


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


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


def _check_two_shares(x1: int, n1: int, x2: int, n2: int) -> tuple[int, int, int, int]:
    """Validate two numerator/denominator pairs: whole, non-negative, numerators within denominators."""
    checked = tuple(
        _check_count(name, v) for name, v in zip(("x1", "n1", "x2", "n2"), (x1, n1, x2, n2), strict=True)
    )
    if checked[0] > checked[1] or checked[2] > checked[3]:
        raise ValueError(f"numerator exceeds denominator: {x1}/{n1}, {x2}/{n2}")
    return checked  # type: ignore[return-value]


def _check_proportion(name: str, value: float) -> float:
    """Validate a proportion in [0, 1]."""
    out = float(value)
    if not 0.0 <= out <= 1.0:
        raise ValueError(f"{name} must be a proportion in [0, 1], got {value!r}")
    return out


def _clean_values(values: Iterable[float | None]) -> np.ndarray:
    """Drop None, nan and infinite values (treated as missing, as tableone's nan-aware summaries do)."""
    kept = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return np.asarray(kept, dtype=np.float64)


def _fisher_p(table: Sequence[Sequence[int]]) -> float | None:
    """Two-sided Fisher's exact p-value of a 2x2 table of counts, via scipy."""
    return _finite(sps.fisher_exact(np.asarray(table, dtype=np.int64), alternative="two-sided").pvalue)


# --------------------------------------------------------------------------------------------------
# proportions
# --------------------------------------------------------------------------------------------------


def wilson_interval(successes: int, n: int) -> tuple[float, float] | None:
    """95% Wilson score interval for a proportion, without continuity correction.

    Closed form (same algebra as statsmodels ``proportion_confint(method="wilson")``)::

        centre    = (x + z²/2) / (n + z²)
        halfwidth = z / (n + z²) * sqrt(x (n - x) / n + z²/4)

    For x = 0 the lower limit is exactly 0 and for x = n the upper limit is exactly 1 (set directly,
    as rounding would leave them a hair off); other limits are clipped to [0, 1] like statsmodels.

    Args:
        successes: Number of respondents who said yes/agree (x).
        n: Number who answered the item (the denominator).

    Returns:
        ``(ci_low, ci_high)``, or None when ``n`` is 0.

    Raises:
        ValueError: If a count is negative or ``successes > n``.
    """
    x = _check_count("successes", successes)
    n = _check_count("n", n)
    if x > n:
        raise ValueError(f"successes ({x}) > n ({n})")
    if n == 0:
        return None
    z2 = Z_975 * Z_975
    centre = (x + z2 / 2.0) / (n + z2)
    half = Z_975 / (n + z2) * math.sqrt(x * (n - x) / n + z2 / 4.0)
    # At x = 0 (x = n) the lower (upper) limit is exactly 0 (1); centre - half would leave ~1e-17.
    low = 0.0 if x == 0 else max(0.0, centre - half)
    high = 1.0 if x == n else min(1.0, centre + half)
    return low, high


# --------------------------------------------------------------------------------------------------
# 2x2 cohort comparison
# --------------------------------------------------------------------------------------------------


def two_by_two(a: int, b: int, c: int, d: int) -> TwoByTwo:
    """Risk ratio (Katz), odds ratio (Woolf) and Fisher's exact test for mentors vs non-mentors.

    Table layout (rows = cohorts, column 0 = event)::

                       yes   not yes
        mentor          a       b
        non_mentor      c       d

    When any cell is 0, 0.5 is added to *all four* cells (Haldane-Anscombe) before the ratios and
    their intervals are computed; the p-value always uses the uncorrected counts. This is deliberately
    not statsmodels' default ``Table2x2(..., shift_zeros=True)``, which replaces only the zero cells
    by 0.5 and so gives different ratios; statsmodels agrees with this function only when given the
    corrected table and ``shift_zeros=False``.

    Formulas, with z = 1.959963984540054::

        RR = (a/(a+b)) / (c/(c+d)),  exp(ln RR ± z·sqrt(1/a - 1/(a+b) + 1/c - 1/(c+d)))
        OR = a·d / (b·c),            exp(ln OR ± z·sqrt(1/a + 1/b + 1/c + 1/d))

    Args:
        a: Mentors answering yes.
        b: Mentors answering not yes.
        c: Non-mentors answering yes.
        d: Non-mentors answering not yes.

    Returns:
        A :class:`TwoByTwo`. Every figure is None when either cohort is empty (a+b == 0 or c+d == 0).
        With both cohorts non-empty every figure is defined, because the correction keeps all cells
        > 0: e.g. an all-yes table (b = d = 0) is corrected and gives a Fisher p-value of 1.

    Raises:
        ValueError: If a count is negative or not an integer.
    """
    a, b, c, d = (_check_count(name, v) for name, v in zip("abcd", (a, b, c, d), strict=True))
    if a + b == 0 or c + d == 0:
        return TwoByTwo(None, None, None, None, None, None, None, zero_cell_corrected=False)

    p_value = _fisher_p([[a, b], [c, d]])

    corrected = min(a, b, c, d) == 0
    shift = ZERO_CELL_CORRECTION if corrected else 0.0
    fa, fb, fc, fd = a + shift, b + shift, c + shift, d + shift
    n1, n2 = fa + fb, fc + fd

    # Work on the log scale: the intervals are symmetric there, and exp() of a finite log is finite.
    log_rr = math.log(fa / n1) - math.log(fc / n2)
    se_log_rr = math.sqrt(1.0 / fa - 1.0 / n1 + 1.0 / fc - 1.0 / n2)
    log_or = math.log(fa) + math.log(fd) - math.log(fb) - math.log(fc)
    se_log_or = math.sqrt(1.0 / fa + 1.0 / fb + 1.0 / fc + 1.0 / fd)

    return TwoByTwo(
        risk_ratio=_finite((fa / n1) / (fc / n2)),
        rr_ci_low=_finite(math.exp(log_rr - Z_975 * se_log_rr)),
        rr_ci_high=_finite(math.exp(log_rr + Z_975 * se_log_rr)),
        odds_ratio=_finite((fa * fd) / (fb * fc)),
        or_ci_low=_finite(math.exp(log_or - Z_975 * se_log_or)),
        or_ci_high=_finite(math.exp(log_or + Z_975 * se_log_or)),
        p_value=p_value,
        zero_cell_corrected=corrected,
    )


def fisher_two_years(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """Two-sided Fisher's exact p-value comparing a proportion between two survey years.

    Used for ``p_value_vs_prior`` in ``marts.metric_trends`` on the table
    ``[[x1, n1 - x1], [x2, n2 - x2]]``.

    Args:
        x1: Successes in the first (earlier) year.
        n1: Denominator in the first year.
        x2: Successes in the second (later) year.
        n2: Denominator in the second year.

    Returns:
        The p-value, or None when either denominator is 0.

    Raises:
        ValueError: If a count is negative or a numerator exceeds its denominator.
    """
    x1, n1, x2, n2 = _check_two_shares(x1, n1, x2, n2)
    if n1 == 0 or n2 == 0:
        return None
    return _fisher_p([[x1, n1 - x1], [x2, n2 - x2]])


# --------------------------------------------------------------------------------------------------
# demographic balance: tests
# --------------------------------------------------------------------------------------------------


def fisher_or_chi_square(table: Sequence[Sequence[int]]) -> TestResult:
    """Fisher's exact test for a 2x2 table, Pearson chi-square (no continuity correction) otherwise.

    Levels nobody chose (all-zero columns) are dropped first, so that e.g. a specialty group absent
    in a year neither breaks the chi-square (zero expected counts) nor turns a 2x2 into a 2x3.

    Args:
        table: Counts, rows = cohorts (mentor, non_mentor), columns = levels of the characteristic.

    Returns:
        A :class:`TestResult`. ``test`` is ``"fisher_exact"`` (statistic None) when two non-empty
        columns remain and ``"chi_square"`` (statistic = chi-square) when more remain. Statistic and
        p-value are None when fewer than 2 non-empty columns remain or a row sums to 0; the test
        name is then the one the table as given would call for (2 columns: Fisher, else chi-square).

    Raises:
        ValueError: If the table is empty, ragged, or holds negative or non-integer counts.
    """
    rows = [[_check_count("cell", v) for v in row] for row in table]
    if not rows or len({len(r) for r in rows}) != 1 or not rows[0]:
        raise ValueError("table must be a non-empty rectangular sequence of rows")
    counts = np.asarray(rows, dtype=np.int64)
    counts = counts[:, counts.sum(axis=0) > 0]
    n_rows, n_cols = counts.shape

    is_two_by_two = n_rows == 2 and (n_cols == 2 if n_cols >= 2 else len(rows[0]) == 2)
    name = "fisher_exact" if is_two_by_two else "chi_square"
    if n_cols < 2 or n_rows < 2 or bool((counts.sum(axis=1) == 0).any()):
        return TestResult(name, None, None)
    if is_two_by_two:
        return TestResult(name, None, _fisher_p(counts.tolist()))
    # correction=False: the spec asks for Pearson's statistic; scipy's default Yates correction
    # would apply whenever dof == 1 (e.g. a 3x2 table passed with rows and columns swapped).
    res = sps.chi2_contingency(counts, correction=False)
    statistic, p_value = _finite(res.statistic), _finite(res.pvalue)
    if statistic is None or p_value is None:
        return TestResult(name, None, None)
    return TestResult(name, statistic, p_value)


def welch_t(mentor_values: Sequence[float], non_mentor_values: Sequence[float]) -> TestResult:
    """Welch's unequal-variance t-test (e.g. age), t = mentors minus non-mentors.

    None, nan and infinite values are dropped as missing.

    Args:
        mentor_values: Values of the mentors.
        non_mentor_values: Values of the non-mentors.

    Returns:
        ``TestResult("welch_t", t, p)`` with a two-sided p-value; t and p are None when either group
        has fewer than 2 values or both groups have zero variance (t undefined).
    """
    x1, x2 = _clean_values(mentor_values), _clean_values(non_mentor_values)
    if x1.size < 2 or x2.size < 2 or (np.var(x1) == 0 and np.var(x2) == 0):
        return TestResult("welch_t", None, None)
    with warnings.catch_warnings():
        # scipy warns about "catastrophic cancellation" when one group is constant (e.g. every
        # mentor aged 23); that variance is exactly 0 and the result is checked for finiteness below.
        warnings.simplefilter("ignore", RuntimeWarning)
        res = sps.ttest_ind(x1, x2, equal_var=False)
    statistic, p_value = _finite(res.statistic), _finite(res.pvalue)
    if statistic is None or p_value is None:
        return TestResult("welch_t", None, None)
    return TestResult("welch_t", statistic, p_value)


# --------------------------------------------------------------------------------------------------
# demographic balance: standardised mean differences (as tableone 0.9.6 computes them)
# --------------------------------------------------------------------------------------------------
#
# tableone reports, in the column "SMD (g1,g2)" of ``TableOne(..., groupby=..., smd=True)`` (raw floats
# in ``TableOne.smd_table``), with g1 < g2 in sorted order, i.e. g1 = "mentor", g2 = "non_mentor":
#   * continuous: (mean_g2 - mean_g1) / sqrt((sd1² + sd2²)/2), sample SDs (ddof=1)  -> the OPPOSITE
#     sign of ``smd_continuous`` here (we report mentors minus non-mentors, as the spec asks);
#   * every categorical variable, binary included: sqrt(Yang-Dalton Mahalanobis form), i.e. always
#     >= 0 -> ``smd_categorical`` is unsigned too; ``smd_binary`` gives the same magnitude with a sign.
# Where tableone gives nan (singular covariance) we return None. We also return None where tableone
# would give a number for a degenerate case: a group with a single value (tableone takes its SD as 0)
# and a characteristic where everyone in both groups has the same level (tableone gives 0).


def smd_continuous(x1: Sequence[float], x2: Sequence[float]) -> float | None:
    """Standardised mean difference of a continuous characteristic, mentors minus non-mentors.

    ``(mean1 - mean2) / sqrt((s1² + s2²) / 2)`` with sample SDs (ddof = 1). The magnitude equals
    tableone's; tableone's sign is the opposite (it reports second group minus first).
    None, nan and infinite values are dropped as missing.

    Args:
        x1: Values of the first group (mentors).
        x2: Values of the second group (non-mentors).

    Returns:
        The signed SMD, or None when either group has fewer than 2 values (no sample SD) or both SDs
        are 0.
    """
    v1, v2 = _clean_values(x1), _clean_values(x2)
    if v1.size < 2 or v2.size < 2:
        return None
    s1, s2 = float(np.std(v1, ddof=1)), float(np.std(v2, ddof=1))
    pooled = math.sqrt((s1 * s1 + s2 * s2) / 2.0)
    if pooled == 0.0:
        return None
    return _finite((float(np.mean(v1)) - float(np.mean(v2))) / pooled)


def smd_binary(p1: float, p2: float) -> float | None:
    """Standardised difference of a binary characteristic, first group minus second.

    ``(p1 - p2) / sqrt((p1(1 - p1) + p2(1 - p2)) / 2)`` - the one-level case of Yang and Dalton's
    form, so its absolute value equals tableone's (unsigned) SMD for a two-level variable whichever
    level ``p`` refers to. The sign follows the level the caller chose for ``p`` (e.g. share female).

    Args:
        p1: Proportion with the level in the first group (mentors), 0..1.
        p2: Proportion with the level in the second group (non-mentors), 0..1.

    Returns:
        The signed SMD, or None when the pooled variance is 0 (both proportions are 0 or 1).

    Raises:
        ValueError: If a proportion is outside [0, 1].
    """
    p1, p2 = _check_proportion("p1", p1), _check_proportion("p2", p2)
    pooled_var = (p1 * (1.0 - p1) + p2 * (1.0 - p2)) / 2.0
    if pooled_var <= 0.0:
        return None
    return _finite((p1 - p2) / math.sqrt(pooled_var))


def smd_binary_counts(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """Count-based :func:`smd_binary`: p1 = x1/n1, p2 = x2/n2.

    Args:
        x1: Members of the first group (mentors) with the level.
        n1: Members of the first group with a known value.
        x2: Members of the second group (non-mentors) with the level.
        n2: Members of the second group with a known value.

    Returns:
        The signed SMD, or None when a denominator is 0 or the pooled variance is 0.

    Raises:
        ValueError: If a count is negative or a numerator exceeds its denominator.
    """
    x1, n1, x2, n2 = _check_two_shares(x1, n1, x2, n2)
    if n1 == 0 or n2 == 0:
        return None
    return smd_binary(x1 / n1, x2 / n2)


def smd_categorical(counts1: Sequence[int], counts2: Sequence[int]) -> float | None:
    """Yang and Dalton's multivariate SMD of a categorical characteristic, as tableone computes it.

    With p1, p2 the level proportions of each group (of members with a known value), the first level
    dropped (as tableone and R tableone do; the result does not depend on which level is dropped),
    and S_g = diag(p_g) - p_g p_gᵀ::

        SMD = sqrt((p1 - p2)ᵀ [(S1 + S2)/2]⁻¹ (p1 - p2))

    It is a distance, so it is never negative. For a two-level variable it equals
    ``abs(smd_binary(...))``.

    Args:
        counts1: Counts per level in the first group (mentors).
        counts2: Counts per level in the second group (non-mentors), same level order.

    Returns:
        The SMD (>= 0), or None when a group is empty, fewer than 2 levels are used by anyone (no
        variation), or the pooled covariance is singular (the groups share no level: perfect
        separation; tableone gives nan).

    Raises:
        ValueError: If the sequences differ in length or hold negative or non-integer counts.
    """
    c1 = np.asarray([_check_count("counts1", v) for v in counts1], dtype=np.float64)
    c2 = np.asarray([_check_count("counts2", v) for v in counts2], dtype=np.float64)
    if c1.shape != c2.shape:
        raise ValueError("counts1 and counts2 must have the same number of levels")
    # Levels nobody has are not levels of the data (tableone builds its levels from the data).
    used = (c1 + c2) > 0
    c1, c2 = c1[used], c2[used]
    if c1.size < 2 or c1.sum() == 0 or c2.sum() == 0:
        return None
    # With every remaining level used by someone, (S1 + S2)/2 is singular exactly when no level is used
    # by both groups (a score constant within each group then has zero variance). Test it exactly
    # instead of trusting a floating-point rank estimate.
    if not bool(((c1 > 0) & (c2 > 0)).any()):
        return None
    p1 = (c1 / c1.sum())[1:]
    p2 = (c2 / c2.sum())[1:]
    cov1 = np.diag(p1) - np.outer(p1, p1)
    cov2 = np.diag(p2) - np.outer(p2, p2)
    diff = p1 - p2
    sq = float(diff @ np.linalg.solve((cov1 + cov2) / 2.0, diff))
    return _finite(math.sqrt(max(sq, 0.0)))


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


__all__ = [
    "ZERO_CELL_CORRECTION",
    "Z_975",
    "TestResult",
    "TrendTest",
    "TwoByTwo",
    "cochran_armitage",
    "fisher_or_chi_square",
    "fisher_two_years",
    "smd_binary",
    "smd_binary_counts",
    "smd_categorical",
    "smd_continuous",
    "two_by_two",
    "welch_t",
    "wilson_interval",
]
