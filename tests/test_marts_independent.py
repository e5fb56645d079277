"""Every mart of spec §8 against an independent computation (scipy, statsmodels) from the respondents
as they were generated, on years built through the real pipeline: an ordinary v1 year, a year with
a zero cell, a year with a single respondent (no non-mentors) and a year with no mentors, loaded
first; then 2026 and 2027, loaded afterwards as a batch. value_mentor is reworded from 2026 (spec §2),
so 2026 starts its second series; the later load also shows that new years change no earlier row of
the trends (no hindsight, spec §8 rev 2).

Tolerances: 1e-9 for proportions, ratios, intervals and SMD; 1e-6 for p-values (spec §8).
"""

from __future__ import annotations

import math
import random
import shutil
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import duckdb
import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import Table, Table2x2
from statsmodels.stats.proportion import proportion_confint

from tests.conftest import pipeline_environment, run_pending
from tests.deliveries import REASON_1, V2_COLUMNS, csv_text, v1_headers, v1_row, v2_headers, v2_row

Z = 1.959963984540054
CLASS_SIZES = {2019: 120, 2020: 40, 2021: 30}  # 2022 has none: its response rate must be null
SPECIALTY_GROUPS = {4: "primary_care", 5: "primary_care", 10: "primary_care", 13: "surgical", 7: "surgical",
                    1: "other", 11: "other", 16: "not_matched"}  # fmt: skip
SPECIALTY_LABELS = {4: "Family Medicine", 5: "Internal Medicine", 10: "Pediatrics", 13: "General Surgery",
                    7: "Obstetrics and Gynecology", 1: "Anesthesiology", 11: "Psychiatry",
                    16: "Did not match / not applicable"}  # fmt: skip
REASON_LABELS = {1: REASON_1, 2: "Was not aware of the program", 3: "Not interested in mentoring",
                 4: "Did not feel qualified to mentor", 5: "Applied but was not selected", 6: "Other (please specify)",
                 7: "Program meeting times conflicted with my schedule"}  # fmt: skip
# Spec §2, §3 (rev 2): from 2026 (instrument v3) mentors are asked mentor_prepared and reason 7 is offered.
V3_FROM = 2026
LIKERT_V2 = [
    "Strongly disagree",
    "Somewhat disagree",
    "Neither agree nor disagree",
    "Somewhat agree",
    "Strongly agree",
]
METRICS = (
    "value_distinct",
    "value_mentee",
    "value_mentor",
    "mentor_again",
    "mentor_worthwhile",
    "mentor_prepared",
)
COHORTS = ("all", "mentor", "non_mentor")
# The answer levels of each metric (spec §2): likert 1..5, mentor_again yes/no/unsure.
LEVELS = {metric: ("1", "2", "3", "4", "5") for metric in METRICS} | {"mentor_again": ("yes", "no", "unsure")}
# Wording changes as spec §2 states them (what the seed item_series must say): the first survey year
# of each new wording.
REWORDED = {"value_mentor": (2026,)}
FIRST_LOAD = (2019, 2020, 2021, 2022)
LATER_LOAD = (2026, 2027)  # loaded after FIRST_LOAD, in one batch


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
    prepared: int | None = None
    reasons: set[int] = field(default_factory=set)

    @property
    def formal(self) -> str | None:
        return {"mentor": "yes", "non_mentor": "no", "informal": "no", "unclassified": None}[self.cohort]

    @property
    def informal(self) -> str:
        return "yes" if self.cohort in ("mentor", "informal") else "no"


def asked(metric: str, year: int) -> bool:
    """Whether the year's instrument asks the metric's item (spec §2: mentor_prepared from 2026)."""
    return metric != "mentor_prepared" or year >= V3_FROM


def offered_reasons(year: int) -> list[int]:
    return [code for code in REASON_LABELS if code != 7 or year >= V3_FROM]


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
                if year >= V3_FROM:
                    # every mentor agrees in 2027: a zero cell in a v3 year
                    person.prepared = rng.randint(4, 5) if year == 2027 else rng.randint(1, 5)
            elif cohort in ("non_mentor", "informal"):
                person.reasons = {r for r in offered_reasons(year) if rng.random() < 0.3}
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
        "mentor_prepared": LIKERT_V2[p.prepared - 1] if p.prepared else "",
    }  # fmt: skip
    return v3_row(v2_row(p.rid, recorded=recorded, **answers), answers["mentor_prepared"])


# v3 (spec §3): the v2 columns with mentor_prepared right after mentor_worthwhile.
V3_COLUMNS = [*V2_COLUMNS[: V2_COLUMNS.index("mentor_worthwhile") + 1], "mentor_prepared",
              *V2_COLUMNS[V2_COLUMNS.index("mentor_worthwhile") + 1 :]]  # fmt: skip


def v3_row(v2_cells: list[str], prepared: str = "") -> list[str]:
    cells = dict(zip(V2_COLUMNS, v2_cells, strict=True)) | {"mentor_prepared": prepared}
    return [cells[c] for c in V3_COLUMNS]


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
        2026: (make_people(rng, 2026, {"mentor": 9, "non_mentor": 8, "informal": 1}), {"preview": 0, "incomplete": 1}),
        2027: (make_people(rng, 2027, {"mentor": 6, "non_mentor": 7, "unclassified": 1}), {"preview": 1, "incomplete": 0}),
    }  # fmt: skip


def write_delivery(root: Path, year: int, people: list[Person], extra: dict[str, int]) -> None:
    stamp = f"{year}-04-02 09:00:00"
    if year <= 2019:
        rows = [v1_cells(p, stamp) for p in people]
        rows += [v1_row(f"P_{i}", end=stamp, status="1") for i in range(extra["preview"])]
        rows += [v1_row(f"I_{i}", end=stamp, finished="0") for i in range(extra["incomplete"])]
        text = csv_text(v1_headers(), rows, "\r\n")
    else:
        rows = [v2_cells(p, stamp) for p in people]
        rows += [
            v3_row(v2_row(f"P_{i}", recorded=stamp, status="Survey Preview")) for i in range(extra["preview"])
        ]
        rows += [
            v3_row(v2_row(f"I_{i}", recorded=stamp, progress="20", finished="False"))
            for i in range(extra["incomplete"])
        ]
        if year >= V3_FROM:
            text = csv_text(v2_headers(V3_COLUMNS), rows)
        else:  # v2: without the mentor_prepared column
            dropped = V3_COLUMNS.index("mentor_prepared")
            text = csv_text(v2_headers(), [r[:dropped] + r[dropped + 1 :] for r in rows])
    (root / "landing" / f"ssm_survey_{year}.csv").write_text(text, encoding="utf-8")


def load(root: Path, years: dict, load_years: tuple[int, ...]) -> None:
    for year in load_years:
        write_delivery(root, year, *years[year])
    with pipeline_environment(root):
        outcomes = run_pending(root)
    assert sorted(o.survey_year for o in outcomes) == sorted(load_years)
    assert all(o.succeeded for o in outcomes), [o.message for o in outcomes]


@pytest.fixture(scope="module")
def first_load(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The data folder with FIRST_LOAD built, and a copy of its warehouse as it was then."""
    root = tmp_path_factory.mktemp("independent") / "data"
    (root / "landing").mkdir(parents=True)
    (root / "reference").mkdir()
    (root / "reference" / "class_sizes.csv").write_text(
        "survey_year,class_size\n" + "".join(f"{y},{n}\n" for y, n in CLASS_SIZES.items())
    )
    load(root, build_years(), FIRST_LOAD)
    before = root.parent / "warehouse-before-later-years.duckdb"
    shutil.copyfile(root / "warehouse.duckdb", before)
    return root, before


@pytest.fixture(scope="module")
def built(first_load: tuple[Path, Path]):
    root, _ = first_load
    years = build_years()
    load(root, years, LATER_LOAD)
    assert sorted(years) == sorted(FIRST_LOAD + LATER_LOAD)
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
             "mentor_worthwhile": p.worthwhile, "mentor_prepared": p.prepared}.get(metric)  # fmt: skip
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
        assert row["instrument_version"] == ("v1" if year <= 2019 else "v2" if year < V3_FROM else "v3")


def test_metric_summary(built) -> None:
    years, con = built
    got = {
        (r["survey_year"], r["metric_id"], r["cohort"]): r
        for r in rows(con, "select * from marts.metric_summary")
    }
    assert len(got) == sum(asked(metric, year) for year in years for metric in METRICS) * 3
    assert {year for year, metric, _ in got if metric == "mentor_prepared"} == {
        y for y in years if y >= V3_FROM
    }
    for year, (people, _) in years.items():
        for metric in (m for m in METRICS if asked(m, year)):
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
        # a reason the year's instrument did not offer has no row (spec §8 rev 2)
        assert {code for y, code in got if y == year} == set(offered_reasons(year))
        for code in offered_reasons(year):
            k = sum(code in p.reasons for p in non_mentors)
            row = got[year, code]
            assert (row["n"], row["denominator"]) == (k, denominator)
            assert close(row["proportion"], k / denominator if denominator else None, 1e-12)


def series_start(metric: str, year: int, years_on_record: list[int]) -> int:
    """Spec §8 rev 2: the first year of the wording asked in `year`, else the item's first year."""
    started = [start for start in REWORDED.get(metric, ()) if start <= year]
    return max(started) if started else min(years_on_record)


def cochran_armitage_z(used: list[tuple[int, int, int]]) -> float | None:
    """z of spec §8 from (year, x, n) with n > 0, in exact rational arithmetic (scores = the years):
    T = Σ t_i (x_i - n_i p̄), Var(T) = p̄(1 - p̄)[Σ t_i² n_i - (Σ t_i n_i)²/N]. None when fewer than two
    years or no variance (everyone or no one agrees)."""
    if len(used) < 2:
        return None
    big_n = sum(n for *_, n in used)
    p_bar = Fraction(sum(x for _, x, _ in used), big_n)
    t_stat = sum(t * (x - n * p_bar) for t, x, n in used)
    spread = sum(t * t * n for t, _, n in used) - Fraction(sum(t * n for t, _, n in used) ** 2, big_n)
    variance = p_bar * (1 - p_bar) * spread
    if variance == 0:
        return None
    return math.copysign(math.sqrt(t_stat * t_stat / variance), t_stat)


def test_metric_trends_and_trend_tests(built) -> None:
    """metric_trends (series_start, change_vs_prior, prior_year, p_value_vs_prior) and every row of
    metric_trend_tests (spec §8 rev 2), recomputed from the generated respondents."""
    years, con = built
    on_record = sorted(years)
    trends = {
        (r["survey_year"], r["metric_id"], r["cohort"]): r
        for r in rows(con, "select * from marts.metric_trends")
    }
    tests = {
        (r["metric_id"], r["cohort"], r["last_year"]): r
        for r in rows(con, "select * from marts.metric_trend_tests")
    }
    expected_tests = set()
    z_seen = 0
    for metric in METRICS:
        # an item has rows from the first year an instrument asked it (mentor_prepared: 2026)
        metric_years = [y for y in on_record if asked(metric, y)]
        for cohort in COHORTS:
            series = [(y, *counts(years[y][0], metric, cohort)) for y in metric_years]
            prior = None
            for index, (year, x, n) in enumerate(series):
                start = series_start(metric, year, metric_years)
                row = trends[year, metric, cohort]
                assert row["series_start"] == start, (year, metric, cohort)
                if prior and series_start(metric, prior[0], metric_years) != start:
                    prior = None  # the previous year lies in another series
                if n and prior:
                    _, px, pn = prior
                    assert close(row["change_vs_prior"], x / n - px / pn, 1e-12)
                    assert row["prior_year"] == prior[0]
                    assert close(
                        row["p_value_vs_prior"], stats.fisher_exact([[px, pn - px], [x, n - x]]).pvalue, 1e-6
                    )
                else:
                    assert row["change_vs_prior"] is None and row["p_value_vs_prior"] is None
                    assert row["prior_year"] is None
                if not n:
                    continue
                prior = (year, x, n)

                # The test as it stood in `year`: the years of its series up to it.
                window = [s for s in series[: index + 1] if series_start(metric, s[0], metric_years) == start]
                used = [s for s in window if s[2]]
                expected_tests.add((metric, cohort, year))
                test = tests[metric, cohort, year]
                assert (test["first_year"], test["years"]) == (window[0][0], len(used)), (
                    metric,
                    cohort,
                    year,
                )
                z = cochran_armitage_z(used)
                if z is None:
                    assert test["z"] is None and test["p_value"] is None, (metric, cohort, year)
                    continue
                z_seen += 1
                assert close(test["z"], z, 1e-9) and close(
                    test["p_value"], math.erfc(abs(z) / math.sqrt(2)), 1e-6
                ), (metric, cohort, year)
                # The same z from statsmodels' linear-by-linear test, whose variance uses N - 1. Its
                # sums of raw years lose digits to cancellation, so it gets years less the first
                # (the test does not change when the scores are shifted).
                total = sum(s[2] for s in used)
                ordinal = Table(
                    np.array([[x_, n_ - x_] for _, x_, n_ in used]), shift_zeros=False
                ).test_ordinal_association(
                    row_scores=np.array([s[0] - used[0][0] for s in used]), col_scores=np.array([1, 0])
                )
                assert close(abs(test["z"]), abs(ordinal.zscore) * math.sqrt(total / (total - 1)), 1e-9)
    assert set(tests) == expected_tests
    assert z_seen >= 20  # most tests have a z, so the figures were really compared


def test_value_mentor_starts_a_new_series_in_2026(built) -> None:
    """value_mentor's rewording (spec §2) is a series break for that item only: from 2026 its
    series_start is 2026, 2026 has no change from 2022, and its trend tests start again in 2026; the
    seed lists exactly the wording changes of the spec."""
    _, con = built
    assert {
        tuple(r) for r in con.execute("select metric_id, series_start from reference.item_series").fetchall()
    } == {(metric, start) for metric, starts in REWORDED.items() for start in starts}
    trends = {
        (r["survey_year"], r["metric_id"], r["cohort"]): r
        for r in rows(con, "select * from marts.metric_trends")
    }
    tests = {
        (r["metric_id"], r["cohort"], r["last_year"]): r
        for r in rows(con, "select * from marts.metric_trend_tests")
    }
    for cohort in COHORTS:
        for year in FIRST_LOAD:
            assert trends[year, "value_mentor", cohort]["series_start"] == 2019
        for year in LATER_LOAD:
            assert trends[year, "value_mentor", cohort]["series_start"] == 2026
            assert trends[year, "value_distinct", cohort]["series_start"] == 2019
        first = trends[2026, "value_mentor", cohort]
        assert first["denominator"] > 0
        assert first["change_vs_prior"] is None and first["p_value_vs_prior"] is None
        assert trends[2027, "value_mentor", cohort]["change_vs_prior"] is not None
        assert trends[2026, "value_distinct", cohort]["change_vs_prior"] is not None  # from 2022 or 2020
        test = tests["value_mentor", cohort, 2026]
        assert (test["first_year"], test["years"], test["z"], test["p_value"]) == (2026, 1, None, None)
        later = tests["value_mentor", cohort, 2027]
        assert (later["first_year"], later["years"]) == (2026, 2)
        assert tests["value_distinct", cohort, 2027]["first_year"] == 2019
    assert tests["value_mentor", "all", 2027]["z"] is not None
    assert tests["value_distinct", "all", 2027]["years"] == 6


def answer(p: Person, metric: str) -> str | None:
    value = {"value_distinct": p.values[0], "value_mentee": p.values[1], "value_mentor": p.values[2],
             "mentor_worthwhile": p.worthwhile, "mentor_again": p.mentor_again, "mentor_prepared": p.prepared}[metric]  # fmt: skip
    return None if value is None else str(value)


def test_item_distributions(built) -> None:
    """item_distributions (spec §8 rev 2), counted from the generated answers: every level of every
    metric, cohort and year, those nobody chose with n = 0, and the combinations of metric_summary."""
    years, con = built
    got = {
        (r["survey_year"], r["metric_id"], r["cohort"], r["level"]): r
        for r in rows(con, "select * from marts.item_distributions")
    }
    expected = set()
    unchosen = 0
    for year, (people, _) in years.items():
        for metric in (m for m in METRICS if asked(m, year)):
            for cohort in COHORTS:
                answers = [answer(p, metric) for p in people if cohort == "all" or p.cohort == cohort]
                answered = [a for a in answers if a is not None]
                for level in LEVELS[metric]:
                    k = answered.count(level)
                    row = got[year, metric, cohort, level]
                    assert (row["n"], row["denominator"]) == (k, len(answered)), (year, metric, cohort, level)
                    assert close(row["proportion"], k / len(answered) if answered else None, 1e-12)
                    expected.add((year, metric, cohort, level))
                    unchosen += bool(answered) and k == 0
    assert set(got) == expected
    assert unchosen >= 10  # e.g. mentor_worthwhile 1 is never generated
    summary = {
        tuple(r)
        for r in con.execute("select survey_year, metric_id, cohort from marts.metric_summary").fetchall()
    }
    assert {key[:3] for key in got} == summary


def test_later_years_change_no_earlier_row(first_load, built) -> None:
    """Promise (spec §8 rev 2, no hindsight): loading later years, one of them a series break, changes
    no row of metric_trend_tests and no earlier year's row of metric_trends or of any other mart; they
    only add rows. So an earlier year's report, made again, reads the same figures."""
    from pipelines.lib.report.context import load_report_context

    _, before_path = first_load
    _, con = built
    meta = {"code_version": "test", "source_sha256": "b" * 64}
    with duckdb.connect(str(before_path), read_only=True) as before:
        tables = {
            table: "survey_year" if "survey_year" in columns else "last_year"
            for table, columns in _mart_columns(before).items()
        }
        # every mart but the trend tests has a survey year
        assert [t for t, column in tables.items() if column == "last_year"] == ["metric_trend_tests"]
        assert set(tables) == set(_mart_columns(con))
        for table, year_column in tables.items():
            earlier = f"select * from marts.{table} where {year_column} in {FIRST_LOAD} order by all"
            then, now = before.execute(earlier).fetchall(), con.execute(earlier).fetchall()
            assert now == then, table
            assert then or table == "data_quality_issues", table  # the generated cells are all good
            assert before.execute(
                f"select count(*) from marts.{table} where {year_column} not in {FIRST_LOAD}"
            ).fetchall() == [(0,)]
        for year in FIRST_LOAD:
            assert load_report_context(con, year, 5, meta) == load_report_context(before, year, 5, meta), year


def _mart_columns(con) -> dict[str, list[str]]:
    columns: dict[str, list[str]] = {}
    for table, column in con.execute(
        "select table_name, column_name from information_schema.columns where table_schema = 'marts' "
        "order by table_name, ordinal_position"
    ).fetchall():
        columns.setdefault(table, []).append(column)
    return columns


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
