"""Are mentors and non-mentors alike? One row per survey year and characteristic (gender, age,
specialty_group): the test of spec §8 and the standardised mean difference (mentors minus non-mentors).
Loading a year reads and computes that year only and keeps the other years' rows
(pipelines.lib.year_scoped).
"""

import pandas as pd

GENDERS_TESTED = ("female", "male")
GROUPS_TESTED = ("primary_care", "surgical", "other")  # not_matched is shown, not tested


def model(dbt, session):
    dbt.config(materialized="table")
    from pipelines.lib.stats import (
        fisher_or_chi_square,
        smd_binary_counts,
        smd_categorical,
        smd_continuous,
        welch_t,
    )
    from pipelines.lib.year_scoped import combine, loaded_years, rows_of_other_years, years_to_compute

    loaded = loaded_years(dbt.config.get("survey_years"))
    funnel = dbt.ref("response_funnel")
    on_record = [int(y) for (y,) in funnel.project("survey_year").fetchall()]
    kept = rows_of_other_years(session, dbt.this, loaded, on_record)
    years = years_to_compute(loaded, kept, on_record)
    # Only the computed years' respondents are read (the cohort tables grow with every year), and
    # only what the tests need: counts per level, counted by DuckDB, and the ages as numbers. A frame
    # of every respondent's text columns cost 2.7 s per cohort at a million rows (bench/PROFILE.md).
    in_years = f"survey_year in ({', '.join(map(str, years)) or 'null'})"
    # dbt reads the refs from the source itself: their names must be written out.
    cohorts = [dbt.ref("cohort_mentors").filter(in_years), dbt.ref("cohort_non_mentors").filter(in_years)]
    gender_counts = [_counts(cohort, "gender") for cohort in cohorts]
    group_counts = [_counts(cohort, "specialty_group") for cohort in cohorts]
    ages_by_year = [_ages(cohort) for cohort in cohorts]
    rows = []
    for survey_year in years:
        gender = [
            [counts.get((survey_year, level), 0) for level in GENDERS_TESTED] for counts in gender_counts
        ]
        test = fisher_or_chi_square(gender)
        smd = smd_binary_counts(gender[0][0], sum(gender[0]), gender[1][0], sum(gender[1]))
        rows.append((survey_year, "gender", test.test, test.statistic, test.p_value, smd))

        ages = [by_year.get(survey_year, []) for by_year in ages_by_year]
        test = welch_t(ages[0], ages[1])
        rows.append(
            (survey_year, "age", test.test, test.statistic, test.p_value, smd_continuous(ages[0], ages[1]))
        )

        groups = [[counts.get((survey_year, level), 0) for level in GROUPS_TESTED] for counts in group_counts]
        test = fisher_or_chi_square(groups)
        rows.append(
            (
                survey_year,
                "specialty_group",
                test.test,
                test.statistic,
                test.p_value,
                smd_categorical(*groups),
            )
        )

    frame = pd.DataFrame(
        rows, columns=["survey_year", "characteristic", "test", "statistic", "p_value", "smd"]
    )
    for column in ("statistic", "p_value", "smd"):
        frame[column] = frame[column].astype("float64")
    frame["survey_year"] = frame["survey_year"].astype("int64")
    return combine(kept, frame)


def _counts(cohort, column: str) -> dict[tuple[int, str], int]:
    """Respondents per (survey year, value of column) in a cohort relation."""
    rows = cohort.aggregate(f"survey_year, {column}, count(*)", f"survey_year, {column}").fetchall()
    return {(int(year), value): int(n) for year, value, n in rows}


def _ages(cohort) -> dict[int, list[float]]:
    """The known ages per survey year in a cohort relation, in a fixed order (sums do not drift)."""
    columns = (
        cohort.filter("age is not null")
        .project("survey_year, cast(age as double) as age")
        .order("survey_year, age")
        .fetchnumpy()
    )
    ages: dict[int, list[float]] = {}
    for year, age in zip(columns["survey_year"].tolist(), columns["age"].tolist(), strict=True):
        ages.setdefault(int(year), []).append(age)
    return ages
