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
    # Only the computed years' respondents are read: the cohort tables grow with every year.
    in_years = f"survey_year in ({', '.join(map(str, years)) or 'null'})"
    columns = "survey_year, gender, age, specialty_group"
    mentors = dbt.ref("cohort_mentors").filter(in_years).project(columns).df()
    non_mentors = dbt.ref("cohort_non_mentors").filter(in_years).project(columns).df()
    rows = []
    for survey_year in years:
        m = mentors[mentors["survey_year"] == survey_year]
        n = non_mentors[non_mentors["survey_year"] == survey_year]

        gender = [[int((g["gender"] == level).sum()) for level in GENDERS_TESTED] for g in (m, n)]
        test = fisher_or_chi_square(gender)
        smd = smd_binary_counts(gender[0][0], sum(gender[0]), gender[1][0], sum(gender[1]))
        rows.append((survey_year, "gender", test.test, test.statistic, test.p_value, smd))

        ages = [g["age"].dropna().astype(float).tolist() for g in (m, n)]
        test = welch_t(ages[0], ages[1])
        rows.append(
            (survey_year, "age", test.test, test.statistic, test.p_value, smd_continuous(ages[0], ages[1]))
        )

        groups = [[int((g["specialty_group"] == level).sum()) for level in GROUPS_TESTED] for g in (m, n)]
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
