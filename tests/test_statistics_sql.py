"""The statistics marts' SQL (spec §8, "Methods, exactly") against independent computations, on tables
chosen to reach every edge: zero cells, empty cohorts, levels nobody has, a level in one cohort only,
no level shared by the cohorts, constant ages, single years, all or no agreement, a series break.

The models as dbt compiles them (cohort_comparisons, demographic_balance, metric_trends,
metric_trend_tests) run in DuckDB on hand-made input tables, one case per survey year (or metric),
with the p-value functions of pipelines/lib/stats/pvalues.py registered as dbt-duckdb registers them. The
expected figures come from statsmodels, scipy, tableone or a formula written out here, never from the
models. Tolerances: 1e-9 for ratios, intervals, statistics, SMDs and z; 1e-6 for p-values (spec §8).
tests/test_marts_independent.py checks the same marts end to end on years built by the pipeline.
"""

from __future__ import annotations

import math
import subprocess
import sys
import warnings
from fractions import Fraction
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import Table, Table2x2
from tableone import TableOne

from pipelines.lib.stats import pvalues
from pipelines.project import DBT_PROJECT_DIR
from tests.conftest import pipeline_env

TOL = 1e-9
P_TOL = 1e-6
MODELS = {
    "cohort_comparisons": "marts/cohort_comparisons.sql",
    "demographic_balance": "marts/demographic_balance.sql",
    "metric_trends": "marts/across_years/metric_trends.sql",
    "metric_trend_tests": "marts/across_years/metric_trend_tests.sql",
}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The four models' SQL as dbt compiles it for a first build (every year), by model name."""
    root = tmp_path_factory.mktemp("compile")
    command = [
        str(Path(sys.executable).with_name("dbt")), "compile", "--select", *MODELS,
        "--profiles-dir", ".", "--target-path", str(root / "target"), "--log-path", str(root / "logs"),
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=DBT_PROJECT_DIR, env=pipeline_env(root), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:]
    folder = root / "target" / "compiled" / "ssm" / "models"
    return {name: (folder / path).read_text() for name, path in MODELS.items()}


def run_model(sql: str, tables: dict[str, pd.DataFrame]) -> list[dict]:
    """Run a compiled model on the given input tables ("schema.table": frame) in a fresh database
    called warehouse, as the profile names it; return its rows."""
    con = duckdb.connect()
    try:
        pvalues.register(con)
        con.execute("attach ':memory:' as warehouse")
        con.execute("use warehouse")
        for name, frame in tables.items():
            schema, table = name.split(".")
            con.execute(f"create schema if not exists {schema}")
            con.register("frame", frame)
            con.execute(f"create table {schema}.{table} as select * from frame")
            con.unregister("frame")
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


def close(x: float | None, y: float | None, tol: float = TOL) -> bool:
    """Absolute-or-relative closeness; None matches only None (or nan: undefined)."""
    if y is None or (isinstance(y, float) and math.isnan(y)):
        return x is None
    return x is not None and math.isclose(x, y, rel_tol=tol, abs_tol=tol)


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


def tableone_smd(frame: pd.DataFrame, column: str, categorical: bool) -> float:
    """tableone's SMD of one characteristic between the cohorts (magnitude; nan where undefined)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = TableOne(
            frame, columns=[column], categorical=[column] if categorical else [], groupby="cohort", smd=True
        )
    return float(table.smd_table["SMD (mentor,non_mentor)"].iloc[0])


def ca_exact(rows: list[tuple[int, int, int]]) -> float | None:
    """The spec's Cochran-Armitage z from (year, x, n), literally, in exact rational arithmetic; None
    when fewer than 2 years have data or there is no variance."""
    used = [(t, x, n) for t, x, n in rows if n > 0]
    if len(used) < 2:
        return None
    big_n = sum(n for *_, n in used)
    p = Fraction(sum(x for _, x, _ in used), big_n)
    t_stat = sum(t * (x - n * p) for t, x, n in used)
    var = (
        p
        * (1 - p)
        * (sum(t * t * n for t, _, n in used) - Fraction(sum(t * n for t, _, n in used) ** 2, big_n))
    )
    if var == 0:
        return None
    return math.copysign(math.sqrt(t_stat * t_stat / var), t_stat)


def ca_statsmodels(rows: list[tuple[int, int, int]]) -> tuple[float, float]:
    """statsmodels' linear-by-linear test rescaled from its N - 1 variance to the classic N."""
    used = [(t, x, n) for t, x, n in rows if n > 0]
    table = np.array([[x, n - x] for _, x, n in used], dtype=float)
    result = Table(table, shift_zeros=False).test_ordinal_association(
        row_scores=np.array([t - used[0][0] for t, _, _ in used], dtype=float),
        col_scores=np.array([1.0, 0.0]),
    )
    big_n = table.sum()
    z = float(result.zscore) * math.sqrt(big_n / (big_n - 1))
    return z, float(2 * sps.norm.sf(abs(z)))


# --------------------------------------------------------------------------------------------------
# cohort_comparisons: Katz and Woolf intervals, the 0.5 rule, Fisher's p
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
    (0, 0, 5, 5),  # empty cohorts: no figures
    (3, 4, 0, 0),
    (0, 0, 0, 0),
    (2400, 600, 1900, 1100),  # consortium-sized
]


@pytest.fixture(scope="module")
def comparisons(compiled: dict[str, str]) -> dict[tuple[int, int, int, int], dict]:
    rng = np.random.default_rng(20240601)
    cases = TABLES + [tuple(int(v) for v in rng.integers(0, 30, size=4)) for _ in range(300)]
    cases = list(dict.fromkeys(cases))
    summary = pd.DataFrame(
        [
            (year, "value_mentee", cohort, yes, yes + no)
            for year, (a, b, c, d) in enumerate(cases, start=1000)
            for cohort, yes, no in (("mentor", a, b), ("non_mentor", c, d), ("all", a + c, b + d))
        ],
        columns=["survey_year", "metric_id", "cohort", "numerator", "denominator"],
    )
    got = {
        r["survey_year"]: r
        for r in run_model(
            compiled["cohort_comparisons"],
            # which metrics are compared: the seed as generated from the codebook
            {
                "marts.metric_summary": summary,
                "reference.metrics": pd.read_csv(DBT_PROJECT_DIR / "seeds" / "metrics.csv"),
            },
        )
    }
    assert len(got) == len(cases)
    return {cells: got[year] for year, cells in enumerate(cases, start=1000)}


def test_ratios_intervals_and_p_match_statsmodels_and_scipy(comparisons: dict) -> None:
    for (a, b, c, d), row in comparisons.items():
        assert (row["mentor_yes"], row["mentor_n"], row["non_mentor_yes"], row["non_mentor_n"]) == (
            a,
            a + b,
            c,
            c + d,
        )
        figures = (
            "risk_ratio",
            "rr_ci_low",
            "rr_ci_high",
            "odds_ratio",
            "or_ci_low",
            "or_ci_high",
            "p_value",
        )
        if a + b == 0 or c + d == 0:
            assert all(row[k] is None for k in figures) and row["zero_cell_corrected"] is False
            continue
        ref = Table2x2(haldane_table(a, b, c, d), shift_zeros=False)
        assert row["zero_cell_corrected"] is (min(a, b, c, d) == 0)
        assert close(row["risk_ratio"], ref.riskratio), (a, b, c, d)
        assert close(row["rr_ci_low"], ref.riskratio_confint()[0]) and close(
            row["rr_ci_high"], ref.riskratio_confint()[1]
        )
        assert close(row["odds_ratio"], ref.oddsratio)
        assert close(row["or_ci_low"], ref.oddsratio_confint()[0]) and close(
            row["or_ci_high"], ref.oddsratio_confint()[1]
        )
        # the p-value on the table as counted, not the corrected one
        assert close(row["p_value"], fisher_by_hypergeom([[a, b], [c, d]]), P_TOL)
        assert row["rr_ci_low"] <= row["risk_ratio"] <= row["rr_ci_high"]
        assert row["or_ci_low"] <= row["odds_ratio"] <= row["or_ci_high"]


def test_zero_cells_are_not_statsmodels_default(comparisons: dict) -> None:
    """statsmodels' default replaces only the zero cells by 0.5: a different answer (the trap)."""
    for cells in [(0, 10, 5, 5), (3, 7, 0, 12), (10, 0, 12, 0)]:
        row = comparisons[cells]
        default = Table2x2(np.array([[cells[0], cells[1]], [cells[2], cells[3]]]))  # shift_zeros=True
        assert row["zero_cell_corrected"]
        assert not close(row["risk_ratio"], default.riskratio, 1e-6)
    assert close(comparisons[(10, 0, 12, 0)]["p_value"], 1.0, P_TOL)
    assert close(comparisons[(10, 0, 12, 0)]["risk_ratio"], (10.5 / 11) / (12.5 / 13))


def test_reference_year_ratios(comparisons: dict) -> None:
    mentee, mentor = comparisons[(36, 6, 22, 26)], comparisons[(34, 8, 25, 23)]
    assert round(mentee["risk_ratio"], 2) == 1.87 and not mentee["zero_cell_corrected"]
    assert round(mentor["odds_ratio"], 1) == 3.9 and close(mentor["odds_ratio"], (34 * 23) / (8 * 25))


# --------------------------------------------------------------------------------------------------
# demographic_balance: Fisher or chi-square, Welch's t, the three SMDs
# --------------------------------------------------------------------------------------------------

GROUPS = ("primary_care", "surgical", "other")  # tested; not_matched is shown, not tested
People = list[tuple[str | None, int | None, str | None]]  # (gender, age, specialty_group)


def people(genders: dict[str, int], groups: dict[str, int], ages: list[int | None]) -> People:
    """A cohort whose members have these gender and group counts and ages (in order; None = missing)."""
    gender_list = [g for g, k in genders.items() for _ in range(k)]
    group_list = [g for g, k in groups.items() for _ in range(k)]
    size = max(len(gender_list), len(group_list), len(ages))
    gender_list += [None] * (size - len(gender_list))
    group_list += [None] * (size - len(group_list))
    ages = ages + [None] * (size - len(ages))
    return list(zip(gender_list, ages, group_list, strict=True))


def random_people(rng: np.random.Generator, size: int, shift: float) -> People:
    genders = rng.choice(
        ["female", "male", "nonbinary_or_other", "not_reported"], size, p=[0.45, 0.4, 0.1, 0.05]
    )
    weights = rng.dirichlet(np.ones(4))
    groups = rng.choice([*GROUPS, "not_matched"], size, p=weights)
    ages = rng.normal(25 + shift, 3, size).round().astype(int)
    return [(str(g), int(a), str(s)) for g, a, s in zip(genders, ages, groups, strict=True)]


EDGE_CASES: dict[str, tuple[People, People]] = {
    # a group nobody has this year: a 2x2 table, so Fisher's exact test
    "group_nobody_has": (
        people({"female": 5, "male": 4}, {"primary_care": 4, "other": 5}, [24, 25, 26, 30, 24]),
        people({"female": 3, "male": 6}, {"primary_care": 6, "other": 3}, [27, 28, 26, 31]),
    ),
    "first_group_nobody_has": (
        people({"female": 5}, {"surgical": 2, "other": 7}, [24, 25]),
        people({"male": 6}, {"surgical": 6, "other": 3}, [27, 27, 27]),
    ),
    # a group the mentors have and the non-mentors do not: still 2x3, chi-square
    "group_in_one_cohort": (
        people({"female": 3, "male": 3}, {"primary_care": 2, "surgical": 3, "other": 1}, [22, 22, 22]),
        people({"female": 4, "male": 3}, {"primary_care": 1, "surgical": 6}, [23, 25]),
    ),
    # no group had by both cohorts: chi-square defined, SMD not (tableone gives nan)
    "no_shared_group": (
        people({"female": 4}, {"primary_care": 4}, [24]),
        people({"female": 2, "male": 3}, {"surgical": 2, "other": 3}, [25, 26, 27]),
    ),
    "one_group_only": (
        people({"female": 1, "male": 1}, {"surgical": 2}, [24, 24]),
        people({"female": 2, "male": 2}, {"surgical": 4, "not_matched": 3}, [24, 24, 24]),
    ),
    "no_mentors": ([], people({"female": 3, "male": 2}, {"primary_care": 5}, [25, 26, 27])),
    "no_non_mentors": (people({"female": 3}, {"primary_care": 1, "other": 2}, [25, 26]), []),
    "nobody_tested": (
        people({"not_reported": 2}, {"not_matched": 2}, [None, None]),
        people({"nonbinary_or_other": 1}, {"not_matched": 1}, [None]),
    ),
    # genders: one level only; perfect separation (Fisher defined, SMD not)
    "all_female": (
        people({"female": 4}, {"primary_care": 2, "surgical": 2}, [24, 26]),
        people({"female": 5, "not_reported": 1}, {"primary_care": 3, "surgical": 3}, [24, 26, 28]),
    ),
    "genders_separate": (
        people({"female": 4}, {"primary_care": 2, "surgical": 2}, [24, 26]),
        people({"male": 5}, {"primary_care": 3, "surgical": 2}, [24, 26, 28]),
    ),
    # ages: constant in one cohort (defined), constant in both (undefined), one mentor age, missing
    "mentors_all_one_age": (
        people({"female": 2, "male": 2}, {"primary_care": 4}, [23, 23, 23, 23]),
        people({"female": 2, "male": 2}, {"primary_care": 2, "other": 2}, [24, 26, 25, 30]),
    ),
    "everyone_one_age": (
        people({"female": 2, "male": 2}, {"primary_care": 4}, [23, 23]),
        people({"female": 2, "male": 2}, {"primary_care": 2, "other": 2}, [23, 23, 23]),
    ),
    "one_mentor_age": (
        people({"female": 2, "male": 2}, {"primary_care": 4}, [23, None, None]),
        people({"female": 2, "male": 2}, {"primary_care": 2, "other": 2}, [23, 25, 27]),
    ),
}


@pytest.fixture(scope="module")
def balance(compiled: dict[str, str]) -> dict[object, tuple[People, People, dict[str, dict]]]:
    rng = np.random.default_rng(7)
    cases: dict[object, tuple[People, People]] = dict(EDGE_CASES)
    for seed in range(40):
        cases[seed] = (
            random_people(rng, int(rng.integers(2, 70)), 0.0),
            random_people(rng, int(rng.integers(2, 70)), float(rng.normal(0, 1))),
        )
    cases["consortium"] = (random_people(rng, 20000, 0.0), random_people(rng, 25000, 0.3))
    years = {key: 1000 + i for i, key in enumerate(cases)}
    columns = ["survey_year", "gender", "age", "specialty_group"]
    tables = {
        f"marts.{table}": pd.DataFrame(
            [(years[key], *person) for key, pair in cases.items() for person in pair[index]], columns=columns
        ).astype({"survey_year": "int32", "age": "Int32", "gender": "string", "specialty_group": "string"})
        for index, table in enumerate(("cohort_mentors", "cohort_non_mentors"))
    }
    tables["marts.response_funnel"] = pd.DataFrame({"survey_year": list(years.values())}, dtype="int32")
    got: dict[int, dict[str, dict]] = {}
    for row in run_model(compiled["demographic_balance"], tables):
        got.setdefault(row["survey_year"], {})[row["characteristic"]] = row
    return {key: (*pair, got[years[key]]) for key, pair in cases.items()}


def expected_table_test(table: list[list[int]], given_levels: int) -> tuple[str, float | None, float | None]:
    """The test of spec §8 on a 2 x k table with levels nobody has left out: (name, statistic, p)."""
    kept = [[row[j] for j in range(len(row)) if table[0][j] + table[1][j] > 0] for row in table]
    levels = len(kept[0])
    two_by_two = levels == 2 if levels >= 2 else given_levels == 2
    name = "fisher_exact" if two_by_two else "chi_square"
    if levels < 2 or 0 in (sum(kept[0]), sum(kept[1])):
        return name, None, None
    if two_by_two:
        return name, None, fisher_by_hypergeom(kept)
    return name, *chi_square_by_hand(kept)


def test_balance_tests_match_scipy_and_hand_formulas(balance: dict) -> None:
    for key, (mentors, non_mentors, got) in balance.items():
        assert set(got) == {"gender", "age", "specialty_group"}, key
        cohorts = (mentors, non_mentors)

        gender = [[sum(p[0] == level for p in cohort) for level in ("female", "male")] for cohort in cohorts]
        name, _, p_value = expected_table_test(gender, 2)
        row = got["gender"]
        assert (row["test"], row["statistic"]) == (name, None), key
        assert close(row["p_value"], p_value, P_TOL), (key, row)

        groups = [[sum(p[2] == level for p in cohort) for level in GROUPS] for cohort in cohorts]
        name, statistic, p_value = expected_table_test(groups, 3)
        row = got["specialty_group"]
        assert row["test"] == name, (key, row)
        assert close(row["statistic"], statistic) and close(row["p_value"], p_value, P_TOL), (key, row)

        ages = [[float(p[1]) for p in cohort if p[1] is not None] for cohort in cohorts]
        row = got["age"]
        assert row["test"] == "welch_t"
        if min(len(a) for a in ages) >= 2 and (np.var(ages[0]) > 0 or np.var(ages[1]) > 0):
            t, p_value = welch_by_hand(*ages)
            assert close(row["statistic"], t) and close(row["p_value"], p_value, P_TOL), (key, row)
            sd = math.sqrt((np.var(ages[0], ddof=1) + np.var(ages[1], ddof=1)) / 2)
            assert close(row["smd"], (np.mean(ages[0]) - np.mean(ages[1])) / sd), key
        else:
            assert row["statistic"] is None and row["p_value"] is None and row["smd"] is None, (key, row)


def test_balance_smds_match_tableone(balance: dict) -> None:
    """tableone's SMD of each characteristic on the compared levels (magnitude; the mart signs the
    gender and age SMDs mentors minus non-mentors). Where tableone has no figure or a degenerate one
    (a cohort without values, one level only, no level shared), the mart has null."""
    compared = 0
    for key, (mentors, non_mentors, got) in balance.items():
        frame = pd.DataFrame(
            [("mentor", *p) for p in mentors] + [("non_mentor", *p) for p in non_mentors],
            columns=["cohort", "gender", "age", "specialty_group"],
        )
        for characteristic, levels in (("gender", ("female", "male")), ("specialty_group", GROUPS)):
            data = frame[frame[characteristic].isin(levels)]
            smd = got[characteristic]["smd"]
            by_cohort = [set(data.loc[data["cohort"] == c, characteristic]) for c in ("mentor", "non_mentor")]
            if not all(by_cohort) or len(by_cohort[0] | by_cohort[1]) < 2 or not by_cohort[0] & by_cohort[1]:
                assert smd is None, (key, characteristic, smd)
                continue
            assert close(abs(smd), tableone_smd(data, characteristic, categorical=True)), (
                key,
                characteristic,
            )
            compared += 1
            if characteristic == "gender":
                shares = [
                    (data.loc[data["cohort"] == c, "gender"] == "female").mean()
                    for c in ("mentor", "non_mentor")
                ]
                assert (smd > 0) == (shares[0] > shares[1]) or smd == 0, key
        ages = frame.dropna(subset=["age"]).astype({"age": float})
        smd = got["age"]["smd"]
        if smd is not None:
            assert close(smd, -tableone_smd(ages, "age", categorical=False)), key
            compared += 1
    assert compared >= 100


def test_balance_edge_cases_say_what_they_should(balance: dict) -> None:
    """A few cases spelt out, so that a wrong rule cannot pass by agreeing with a wrong reference."""
    _, _, got = balance["group_nobody_has"]
    assert got["specialty_group"]["test"] == "fisher_exact" and got["specialty_group"]["p_value"] is not None
    _, _, got = balance["group_in_one_cohort"]
    assert got["specialty_group"]["test"] == "chi_square" and got["specialty_group"]["smd"] is not None
    assert got["age"]["statistic"] is not None  # the mentors' ages are all 22: defined
    _, _, got = balance["no_shared_group"]
    assert got["specialty_group"]["statistic"] is not None and got["specialty_group"]["smd"] is None
    _, _, got = balance["no_mentors"]
    assert [got[c]["test"] for c in ("gender", "age", "specialty_group")] == [
        "fisher_exact",
        "welch_t",
        "chi_square",
    ]
    assert all(got[c][f] is None for c in got for f in ("statistic", "p_value", "smd"))
    _, _, got = balance["genders_separate"]
    assert got["gender"]["p_value"] is not None and got["gender"]["smd"] is None
    _, _, got = balance["everyone_one_age"]
    assert got["age"]["statistic"] is None and got["age"]["smd"] is None


# --------------------------------------------------------------------------------------------------
# metric_trends and metric_trend_tests: series, the prior year with data, Cochran-Armitage
# --------------------------------------------------------------------------------------------------

# (metric_id, cohort): {year: (x, n)}; value_mentor is reworded in 2026 (the seed, below).
SERIES: dict[tuple[str, str], dict[int, tuple[int, int]]] = {
    ("value_distinct", "all"): {
        2019: (20, 45),
        2020: (24, 44),
        2021: (28, 47),
        2022: (30, 46),
        2023: (36, 42),
    },
    ("value_distinct", "mentor"): {2019: (10, 10), 2020: (0, 1), 2021: (12, 12), 2022: (0, 0), 2023: (5, 9)},
    ("value_distinct", "non_mentor"): {2019: (0, 0), 2020: (0, 0), 2021: (3, 8), 2022: (0, 0), 2023: (4, 9)},
    ("value_mentee", "all"): {2019: (5, 10), 2020: (5, 10), 2021: (5, 10), 2022: (5, 10), 2023: (5, 10)},
    ("value_mentee", "mentor"): {2019: (8, 8), 2020: (9, 9), 2021: (1, 1), 2022: (7, 7), 2023: (3, 3)},
    ("value_mentee", "non_mentor"): {2019: (0, 3), 2020: (0, 1), 2021: (0, 0), 2022: (0, 6), 2023: (0, 2)},
    ("value_mentor", "all"): {2019: (3, 30), 2020: (12, 30), 2024: (15, 31), 2026: (40, 40), 2027: (2, 41)},
    ("value_mentor", "mentor"): {
        2019: (2400, 3000),
        2020: (2380, 2990),
        2024: (2500, 3100),
        2026: (0, 0),
        2027: (9, 12),
    },
    ("value_mentor", "non_mentor"): {2019: (0, 0), 2020: (5, 9), 2024: (0, 0), 2026: (6, 11), 2027: (7, 12)},
}
REWORDED = {"value_mentor": 2026}


@pytest.fixture(scope="module")
def trends(compiled: dict[str, str]) -> tuple[dict, dict]:
    summary = pd.DataFrame(
        [
            (year, metric, cohort, x, n, x / n if n else None)
            for (metric, cohort), years in SERIES.items()
            for year, (x, n) in years.items()
        ],
        columns=["survey_year", "metric_id", "cohort", "numerator", "denominator", "proportion"],
    ).astype({"survey_year": "int32"})
    summary["ci_low"] = summary["ci_high"] = np.nan  # not read by the trends
    seed = pd.DataFrame(
        {"metric_id": list(REWORDED), "series_start": pd.array(list(REWORDED.values()), dtype="int32")}
    )
    trend_rows = run_model(
        compiled["metric_trends"], {"marts.metric_summary": summary, "reference.item_series": seed}
    )
    by_key = {(r["survey_year"], r["metric_id"], r["cohort"]): r for r in trend_rows}
    test_rows = run_model(compiled["metric_trend_tests"], {"marts.metric_trends": pd.DataFrame(trend_rows)})
    return by_key, {(r["metric_id"], r["cohort"], r["last_year"]): r for r in test_rows}


def series_start(metric: str, year: int) -> int:
    start = REWORDED.get(metric)
    if start is not None and start <= year:
        return start
    return min(y for (m, _), years in SERIES.items() if m == metric for y in years)


def test_changes_from_the_prior_year_with_data_within_the_series(trends: tuple[dict, dict]) -> None:
    by_key, _ = trends
    for (metric, cohort), years in SERIES.items():
        prior = None
        for year, (x, n) in sorted(years.items()):
            row = by_key[year, metric, cohort]
            assert row["series_start"] == series_start(metric, year)
            if prior and series_start(metric, prior[0]) != series_start(metric, year):
                prior = None
            if n and prior:
                _, px, pn = prior
                assert row["prior_year"] == prior[0], (metric, cohort, year)
                assert close(row["change_vs_prior"], x / n - px / pn)
                expected = sps.fisher_exact([[px, pn - px], [x, n - x]]).pvalue
                assert close(row["p_value_vs_prior"], expected, P_TOL)
            else:
                assert (row["prior_year"], row["change_vs_prior"], row["p_value_vs_prior"]) == (
                    None,
                    None,
                    None,
                )
            if n:
                prior = (year, x, n)


def test_trend_tests_match_the_formula_and_statsmodels(trends: tuple[dict, dict]) -> None:
    _, tests = trends
    expected_keys, z_seen = set(), 0
    for (metric, cohort), years in SERIES.items():
        ordered = sorted(years.items())
        for index, (year, (_, n)) in enumerate(ordered):
            if not n:
                continue
            window = [
                (y, x_, n_)
                for y, (x_, n_) in ordered[: index + 1]
                if series_start(metric, y) == series_start(metric, year)
            ]
            expected_keys.add((metric, cohort, year))
            row = tests[metric, cohort, year]
            assert (row["first_year"], row["years"]) == (window[0][0], sum(1 for w in window if w[2])), row
            z = ca_exact(window)
            assert close(row["z"], z), (metric, cohort, year, row)
            if z is None:
                assert row["p_value"] is None
                continue
            z_seen += 1
            z_sm, p_sm = ca_statsmodels(window)
            assert close(row["z"], z_sm) and close(row["p_value"], p_sm, P_TOL)
    assert set(tests) == expected_keys
    assert z_seen >= 10
