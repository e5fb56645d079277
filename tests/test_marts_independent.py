"""Every mart of spec §8 against an independent computation (scipy, statsmodels) from the respondents
as they were generated, on four years built through the real pipeline: an ordinary v1 year, a year with
a zero cell, a year with a single respondent (no non-mentors) and a year with no mentors.

Tolerances: 1e-9 for proportions, ratios, intervals and SMD; 1e-6 for p-values (spec §8).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import Table, Table2x2
from statsmodels.stats.proportion import proportion_confint

from pipelines import runner
from tests.conftest import pipeline_environment
from tests.deliveries import REASON_1, csv_text, v1_headers, v1_row, v2_headers, v2_row

Z = 1.959963984540054
CLASS_SIZES = {2019: 120, 2020: 40, 2021: 30}  # 2022 has none: its response rate must be null
SPECIALTY_GROUPS = {4: "primary_care", 5: "primary_care", 10: "primary_care", 13: "surgical", 7: "surgical",
                    1: "other", 11: "other", 16: "not_matched"}  # fmt: skip
SPECIALTY_LABELS = {4: "Family Medicine", 5: "Internal Medicine", 10: "Pediatrics", 13: "General Surgery",
                    7: "Obstetrics and Gynecology", 1: "Anesthesiology", 11: "Psychiatry",
                    16: "Did not match / not applicable"}  # fmt: skip
REASON_LABELS = {1: REASON_1, 2: "Was not aware of the program", 3: "Not interested in mentoring",
                 4: "Did not feel qualified to mentor", 5: "Applied but was not selected", 6: "Other (please specify)"}  # fmt: skip
LIKERT_V2 = [
    "Strongly disagree",
    "Somewhat disagree",
    "Neither agree nor disagree",
    "Somewhat agree",
    "Strongly agree",
]
METRICS = ("value_distinct", "value_mentee", "value_mentor", "mentor_again", "mentor_worthwhile")


@dataclass
class Person:
    """One respondent in canonical values (spec §2)."""

    rid: str
    cohort: str
    gender: str
    age: int
    specialty: int
    values: tuple[int, int, int]
    mentor_again: str | None = None
    worthwhile: int | None = None
    mentees: int | None = None
    reasons: set[int] = field(default_factory=set)

    @property
    def formal(self) -> str | None:
        return {"mentor": "yes", "non_mentor": "no", "informal": "no", "unclassified": None}[self.cohort]

    @property
    def informal(self) -> str:
        return "yes" if self.cohort in ("mentor", "informal") else "no"


def make_people(
    rng: random.Random, year: int, cohorts: dict[str, int], force_mentor_value_agree: bool = False
) -> list[Person]:
    people = []
    for cohort, count in cohorts.items():
        for _ in range(count):
            index = len(people)
            agree_bias = 0.8 if cohort == "mentor" else 0.5
            values = tuple(
                rng.choice([4, 5]) if rng.random() < agree_bias else rng.choice([1, 2, 3]) for _ in range(3)
            )
            if force_mentor_value_agree and cohort == "mentor":
                values = (values[0], values[1], 5)
            person = Person(
                rid=f"R_{year}_{index}",
                cohort=cohort,
                gender=rng.choice(["female", "male", "female", "male", "not_reported"]),
                age=rng.randint(24, 36),
                specialty=rng.choice(list(SPECIALTY_GROUPS)),
                values=values,  # type: ignore[arg-type]
            )
            if cohort == "mentor":
                person.mentor_again = rng.choice(["yes", "yes", "yes", "no", "unsure"])
                person.worthwhile = rng.randint(2, 5)
                person.mentees = rng.randint(1, 4)
            elif cohort in ("non_mentor", "informal"):
                person.reasons = {r for r in REASON_LABELS if rng.random() < 0.3}
            people.append(person)
    return people


def v1_cells(p: Person, end: str) -> list[str]:
    codes = {"male": "1", "female": "2", "not_reported": "3"}
    answers = {
        "Q2": codes[p.gender], "Q3": str(p.age), "Q4": str(p.specialty),
        "Q5": {"yes": "1", "no": "2", None: ""}[p.formal], "Q6": {"yes": "1", "no": "2"}[p.informal],
        "Q8_1": str(p.values[0]), "Q8_2": str(p.values[1]), "Q8_3": str(p.values[2]),
        "Q9": {"yes": "1", "no": "2", "unsure": "3", None: ""}[p.mentor_again],
        "Q10": str(p.worthwhile or ""), "Q11": str(p.mentees or ""), "Q12_1": "",
    }  # fmt: skip
    answers.update({f"Q12_{r}": "1" for r in p.reasons})
    return v1_row(p.rid, end=end, **answers)


def v2_cells(p: Person, recorded: str) -> list[str]:
    genders = {"male": "Man", "female": "Woman", "not_reported": "Prefer not to answer"}
    answers = {
        "gender": genders[p.gender], "age": str(p.age), "specialty": SPECIALTY_LABELS[p.specialty],
        "mentor_formal": {"yes": "Yes", "no": "No", None: ""}[p.formal],
        "mentor_informal": {"yes": "Yes", "no": "No"}[p.informal],
        "SSM_value_1": LIKERT_V2[p.values[0] - 1], "SSM_value_2": LIKERT_V2[p.values[1] - 1],
        "SSM_value_3": LIKERT_V2[p.values[2] - 1],
        "mentor_again": {"yes": "Yes", "no": "No", "unsure": "Unsure", None: ""}[p.mentor_again],
        "mentor_worthwhile": LIKERT_V2[p.worthwhile - 1] if p.worthwhile else "",
        "mentees_count": str(p.mentees or ""),
        "nonpart_reasons": ",".join(REASON_LABELS[r] for r in sorted(p.reasons)),
    }  # fmt: skip
    return v2_row(p.rid, recorded=recorded, **answers)


def build_years() -> dict[int, tuple[list[Person], dict[str, int]]]:
    """Respondents per year and the non-respondent rows added to each delivery."""
    rng = random.Random(20260501)
    return {
        2019: (make_people(rng, 2019, {"mentor": 30, "non_mentor": 35, "informal": 8, "unclassified": 1}),
               {"preview": 2, "incomplete": 3}),
        2020: (make_people(rng, 2020, {"mentor": 7, "non_mentor": 9, "informal": 2}, force_mentor_value_agree=True),
               {"preview": 1, "incomplete": 0}),
        2021: (make_people(rng, 2021, {"mentor": 1}), {"preview": 0, "incomplete": 1}),
        2022: (make_people(rng, 2022, {"non_mentor": 5, "informal": 2}), {"preview": 1, "incomplete": 1}),
    }  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("independent") / "data"
    (root / "landing").mkdir(parents=True)
    (root / "reference").mkdir()
    (root / "reference" / "class_sizes.csv").write_text(
        "survey_year,class_size\n" + "".join(f"{y},{n}\n" for y, n in CLASS_SIZES.items())
    )
    years = build_years()
    for year, (people, extra) in years.items():
        stamp = f"{year}-04-02 09:00:00"
        if year <= 2019:
            rows = [v1_cells(p, stamp) for p in people]
            rows += [v1_row(f"P_{i}", end=stamp, status="1") for i in range(extra["preview"])]
            rows += [v1_row(f"I_{i}", end=stamp, finished="0") for i in range(extra["incomplete"])]
            text = csv_text(v1_headers(), rows, "\r\n")
        else:
            rows = [v2_cells(p, stamp) for p in people]
            rows += [
                v2_row(f"P_{i}", recorded=stamp, status="Survey Preview") for i in range(extra["preview"])
            ]
            rows += [
                v2_row(f"I_{i}", recorded=stamp, progress="20", finished="False")
                for i in range(extra["incomplete"])
            ]
            text = csv_text(v2_headers(), rows)
        (root / "landing" / f"ssm_survey_{year}.csv").write_text(text, encoding="utf-8")
    with pipeline_environment(root):
        outcomes = runner.run_job("survey_year_job", sorted(years), runner.instance())
    assert all(o.succeeded for o in outcomes), [o.message for o in outcomes]
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    yield years, con
    con.close()


def rows(con, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def close(actual, expected, tol: float) -> bool:
    if expected is None or (isinstance(expected, float) and math.isnan(expected)):
        return actual is None or (isinstance(actual, float) and math.isnan(actual))
    return actual is not None and abs(actual - expected) <= tol


def yes(p: Person, metric: str) -> bool | None:
    value = {"value_distinct": p.values[0], "value_mentee": p.values[1], "value_mentor": p.values[2],
             "mentor_worthwhile": p.worthwhile}.get(metric)  # fmt: skip
    if metric == "mentor_again":
        return None if p.mentor_again is None else p.mentor_again == "yes"
    return None if value is None else value >= 4


def counts(people: list[Person], metric: str, cohort: str) -> tuple[int, int]:
    answers = [yes(p, metric) for p in people if cohort == "all" or p.cohort == cohort]
    answered = [a for a in answers if a is not None]
    return sum(answered), len(answered)


def test_response_funnel(built) -> None:
    years, con = built
    got = {r["survey_year"]: r for r in rows(con, "select * from marts.response_funnel")}
    assert sorted(got) == sorted(years)
    for year, (people, extra) in years.items():
        row = got[year]
        n = len(people)
        assert (row["received"], row["preview"], row["incomplete"], row["respondents"]) == (
            n + extra["preview"] + extra["incomplete"],
            extra["preview"],
            extra["incomplete"],
            n,
        )
        assert [row[c] for c in ("mentors", "non_mentors", "informal", "unclassified")] == [
            sum(p.cohort == c for p in people) for c in ("mentor", "non_mentor", "informal", "unclassified")
        ]
        size = CLASS_SIZES.get(year)
        assert row["class_size"] == size
        assert close(row["response_rate"], n / size if size else None, 1e-12)
        assert row["instrument_version"] == ("v1" if year <= 2019 else "v2")


def test_metric_summary(built) -> None:
    years, con = built
    got = {
        (r["survey_year"], r["metric_id"], r["cohort"]): r
        for r in rows(con, "select * from marts.metric_summary")
    }
    assert len(got) == len(years) * len(METRICS) * 3
    for year, (people, _) in years.items():
        for metric in METRICS:
            for cohort in ("all", "mentor", "non_mentor"):
                x, n = counts(people, metric, cohort)
                row = got[year, metric, cohort]
                assert (row["numerator"], row["denominator"]) == (x, n), (year, metric, cohort)
                if n == 0:
                    assert row["proportion"] is None and row["ci_low"] is None and row["ci_high"] is None
                    continue
                low, high = proportion_confint(x, n, alpha=0.05, method="wilson")
                assert close(row["proportion"], x / n, 1e-12)
                assert close(row["ci_low"], max(0.0, low), 1e-9) and close(
                    row["ci_high"], min(1.0, high), 1e-9
                )


def test_cohort_comparisons(built) -> None:
    years, con = built
    got = {(r["survey_year"], r["metric_id"]): r for r in rows(con, "select * from marts.cohort_comparisons")}
    corrected_seen = False
    for year, (people, _) in years.items():
        for metric in ("value_distinct", "value_mentee", "value_mentor"):
            a, n1 = counts(people, metric, "mentor")
            c, n2 = counts(people, metric, "non_mentor")
            row = got[year, metric]
            assert (row["mentor_yes"], row["mentor_n"], row["non_mentor_yes"], row["non_mentor_n"]) == (
                a,
                n1,
                c,
                n2,
            )
            if n1 == 0 or n2 == 0:
                assert all(
                    row[k] is None for k in ("risk_ratio", "odds_ratio", "rr_ci_low", "or_ci_high", "p_value")
                )
                continue
            table = np.array([[a, n1 - a], [c, n2 - c]], dtype=float)
            corrected = bool((table == 0).any())
            corrected_seen |= corrected
            shifted = Table2x2(table + 0.5 if corrected else table, shift_zeros=False)
            assert row["zero_cell_corrected"] is corrected
            assert close(row["risk_ratio"], shifted.riskratio, 1e-9)
            assert close(row["rr_ci_low"], shifted.riskratio_confint()[0], 1e-9)
            assert close(row["rr_ci_high"], shifted.riskratio_confint()[1], 1e-9)
            assert close(row["odds_ratio"], shifted.oddsratio, 1e-9)
            assert close(row["or_ci_low"], shifted.oddsratio_confint()[0], 1e-9)
            assert close(row["or_ci_high"], shifted.oddsratio_confint()[1], 1e-9)
            assert close(row["p_value"], stats.fisher_exact(table.astype(int)).pvalue, 1e-6)
    assert corrected_seen  # 2020 was built to have a zero cell


def _two_group_test(table: list[list[int]]):
    array = np.array(table)
    array = array[:, array.sum(axis=0) > 0]
    if array.shape[1] < 2 or (array.sum(axis=1) == 0).any():
        return None, None
    if array.shape[1] == 2:
        return None, stats.fisher_exact(array).pvalue
    chi2, p, _, _ = stats.chi2_contingency(array, correction=False)
    return chi2, p


def test_demographic_balance(built) -> None:
    years, con = built
    got = {
        (r["survey_year"], r["characteristic"]): r
        for r in rows(con, "select * from marts.demographic_balance")
    }
    for year, (people, _) in years.items():
        m = [p for p in people if p.cohort == "mentor"]
        n = [p for p in people if p.cohort == "non_mentor"]

        gender = [[sum(p.gender == g for p in grp) for g in ("female", "male")] for grp in (m, n)]
        _, p_value = _two_group_test(gender)
        row = got[year, "gender"]
        assert close(row["p_value"], p_value, 1e-6), (year, row)
        if sum(gender[0]) and sum(gender[1]):
            p1, p2 = gender[0][0] / sum(gender[0]), gender[1][0] / sum(gender[1])
            pooled = math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2)
            assert close(row["smd"], (p1 - p2) / pooled if pooled else None, 1e-9)

        groups = [[sum(SPECIALTY_GROUPS[p.specialty] == g for p in grp) for g in ("primary_care", "surgical", "other")]
                  for grp in (m, n)]  # fmt: skip
        statistic, p_value = _two_group_test(groups)
        row = got[year, "specialty_group"]
        assert close(row["statistic"], statistic, 1e-9) and close(row["p_value"], p_value, 1e-6), (year, row)

        ages_m, ages_n = [p.age for p in m], [p.age for p in n]
        row = got[year, "age"]
        if len(ages_m) >= 2 and len(ages_n) >= 2:
            t = stats.ttest_ind(ages_m, ages_n, equal_var=False)
            assert close(row["statistic"], t.statistic, 1e-9) and close(row["p_value"], t.pvalue, 1e-6)
            sd = math.sqrt((np.var(ages_m, ddof=1) + np.var(ages_n, ddof=1)) / 2)
            assert close(row["smd"], (np.mean(ages_m) - np.mean(ages_n)) / sd, 1e-9)
        else:
            assert row["statistic"] is None and row["p_value"] is None


def test_demographics_by_cohort(built) -> None:
    years, con = built
    got = {(r["survey_year"], r["characteristic"], r["level"], r["cohort"]): r
           for r in rows(con, "select * from marts.demographics_by_cohort")}  # fmt: skip
    for year, (people, _) in years.items():
        for cohort in ("mentor", "non_mentor"):
            members = [p for p in people if p.cohort == cohort]
            for level in ("female", "male", "nonbinary_or_other", "not_reported"):
                k = sum(p.gender == level for p in members)
                row = got[year, "gender", level, cohort]
                assert row["n"] == k and close(
                    row["proportion"], k / len(members) if members else None, 1e-12
                )
            for level in ("primary_care", "surgical", "other", "not_matched"):
                k = sum(SPECIALTY_GROUPS[p.specialty] == level for p in members)
                assert got[year, "specialty_group", level, cohort]["n"] == k
            ages = [p.age for p in members]
            mean, sd = got[year, "age", "mean", cohort], got[year, "age", "sd", cohort]
            assert mean["n"] == len(ages)
            assert close(mean["value"], float(np.mean(ages)) if ages else None, 1e-9)
            assert close(sd["value"], float(np.std(ages, ddof=1)) if len(ages) > 1 else None, 1e-9)


def test_nonparticipation_reasons(built) -> None:
    years, con = built
    got = {
        (r["survey_year"], r["reason_code"]): r
        for r in rows(con, "select * from marts.nonparticipation_reasons")
    }
    for year, (people, _) in years.items():
        non_mentors = [p for p in people if p.cohort == "non_mentor"]
        denominator = sum(bool(p.reasons) for p in non_mentors)
        for code in REASON_LABELS:
            k = sum(code in p.reasons for p in non_mentors)
            row = got[year, code]
            assert (row["n"], row["denominator"]) == (k, denominator)
            assert close(row["proportion"], k / denominator if denominator else None, 1e-12)


def test_metric_trends_and_trend_tests(built) -> None:
    years, con = built
    trends = {
        (r["survey_year"], r["metric_id"], r["cohort"]): r
        for r in rows(con, "select * from marts.metric_trends")
    }
    tests = {(r["metric_id"], r["cohort"]): r for r in rows(con, "select * from marts.metric_trend_tests")}
    for metric in METRICS:
        for cohort in ("all", "mentor", "non_mentor"):
            series = [(y, *counts(years[y][0], metric, cohort)) for y in sorted(years)]
            prior = None
            for year, x, n in series:
                row = trends[year, metric, cohort]
                if n and prior:
                    _, px, pn = prior
                    assert close(row["change_vs_prior"], x / n - px / pn, 1e-12)
                    assert close(
                        row["p_value_vs_prior"], stats.fisher_exact([[px, pn - px], [x, n - x]]).pvalue, 1e-6
                    )
                else:
                    assert row["change_vs_prior"] is None and row["p_value_vs_prior"] is None
                if n:
                    prior = (year, x, n)
            used = [(y, x, n) for y, x, n in series if n]
            total, hits = sum(n for *_, n in used), sum(x for _, x, _ in used)
            row = tests[metric, cohort]
            assert row["years"] == len(used)
            if len(used) < 2 or hits in (0, total):
                assert row["z"] is None and row["p_value"] is None
                continue
            table = Table(np.array([[x, n - x] for _, x, n in used]), shift_zeros=False)
            ordinal = table.test_ordinal_association(
                row_scores=np.array([y for y, *_ in used]), col_scores=np.array([1, 0])
            )
            z = ordinal.zscore * math.sqrt(
                total / (total - 1)
            )  # statsmodels' variance uses N - 1, the spec N
            assert (row["first_year"], row["last_year"]) == (used[0][0], used[-1][0])
            assert close(abs(row["z"]), abs(z), 1e-9) and close(
                row["p_value"], 2 * stats.norm.sf(abs(z)), 1e-6
            )


def test_smd_equals_tableone(built) -> None:
    """SMD as the tableone package computes it (spec §8); tableone gives magnitudes, the mart a sign."""
    import warnings

    import pandas as pd
    from tableone import TableOne

    years, con = built
    got = {
        (r["survey_year"], r["characteristic"]): r["smd"]
        for r in rows(con, "select * from marts.demographic_balance")
    }
    for year in (2019, 2020):  # the years with at least two members in each compared cohort
        people = [p for p in years[year][0] if p.cohort in ("mentor", "non_mentor")]
        frame = pd.DataFrame({"cohort": [p.cohort for p in people], "age": [p.age for p in people]})
        checks = {"age": (frame, ["age"], [])}
        gender = pd.DataFrame({"cohort": [p.cohort for p in people], "gender": [p.gender for p in people]})
        checks["gender"] = (gender[gender["gender"].isin(["female", "male"])], ["gender"], ["gender"])
        group = pd.DataFrame(
            {
                "cohort": [p.cohort for p in people],
                "specialty_group": [SPECIALTY_GROUPS[p.specialty] for p in people],
            }
        )
        checks["specialty_group"] = (
            group[group["specialty_group"] != "not_matched"],
            ["specialty_group"],
            ["specialty_group"],
        )
        for characteristic, (data, columns, categorical) in checks.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                table = TableOne(data, columns=columns, categorical=categorical, groupby="cohort", smd=True)
            expected = float(table.smd_table["SMD (mentor,non_mentor)"].iloc[0])
            assert close(abs(got[year, characteristic]), abs(expected), 1e-9), (year, characteristic)
