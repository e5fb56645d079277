"""Are mentors and non-mentors alike? One row per survey year and characteristic (gender, age,
specialty_group): the test of spec §8 and the standardised mean difference (mentors minus non-mentors).
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

    mentors = dbt.ref("cohort_mentors").df()
    non_mentors = dbt.ref("cohort_non_mentors").df()
    funnel = dbt.ref("response_funnel").df()
    years = funnel["survey_year"].tolist()
    rows = []
    for year in sorted(years):
        m = mentors[mentors["survey_year"] == year]
        n = non_mentors[non_mentors["survey_year"] == year]

        gender = [[int((g["gender"] == level).sum()) for level in GENDERS_TESTED] for g in (m, n)]
        test = fisher_or_chi_square(gender)
        smd = smd_binary_counts(gender[0][0], sum(gender[0]), gender[1][0], sum(gender[1]))
        rows.append((year, "gender", test.test, test.statistic, test.p_value, smd))

        ages = [g["age"].dropna().astype(float).tolist() for g in (m, n)]
        test = welch_t(ages[0], ages[1])
        rows.append((year, "age", test.test, test.statistic, test.p_value, smd_continuous(ages[0], ages[1])))

        groups = [[int((g["specialty_group"] == level).sum()) for level in GROUPS_TESTED] for g in (m, n)]
        test = fisher_or_chi_square(groups)
        rows.append(
            (year, "specialty_group", test.test, test.statistic, test.p_value, smd_categorical(*groups))
        )

    frame = pd.DataFrame(
        rows, columns=["survey_year", "characteristic", "test", "statistic", "p_value", "smd"]
    )
    for column in ("statistic", "p_value", "smd"):
        frame[column] = frame[column].astype("float64")
    return frame
