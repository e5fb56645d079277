"""C, the peer of issue 6: the pandas + scipy script an analyst would write instead of the pipeline.

    python bench/peer_pandas.py DATA_DIR OUT_DIR [--stages STAGES.json]

Reads every landing/ssm_survey_<YYYY>*.csv of DATA_DIR (v2 choice-text exports, one per year) and
reference/class_sizes.csv, and writes the tables of spec §8 as CSV files into OUT_DIR, p-values included
(scipy). ResponseIds are hashed with SSM_RESPONSE_SALT like the pipeline does (spec §6), so the cohort
tables can be compared row by row. No Dagster, no dbt, no pandera, no warehouse.

It is written the way an analyst writes a one-off script: one big frame, vectorised where pandas makes
that natural, a loop where scipy wants one table at a time. It handles what the synthetic deliveries
contain, not every refusal and odd file the pipeline handles (no v1 or Excel, no wrong-width rows).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

Z = 1.959963984540054
SPECIALTIES = {
    "anesthesiology": (1, "other"), "dermatology": (2, "other"), "emergency medicine": (3, "other"),
    "family medicine": (4, "primary_care"), "internal medicine": (5, "primary_care"),
    "neurology": (6, "other"), "obstetrics and gynecology": (7, "surgical"),
    "orthopaedic surgery": (8, "surgical"), "pathology": (9, "other"), "pediatrics": (10, "primary_care"),
    "psychiatry": (11, "other"), "radiology": (12, "other"), "general surgery": (13, "surgical"),
    "surgical subspecialty (e.g., ent, urology, neurosurgery)": (14, "surgical"),
    "internal medicine/pediatrics": (15, "primary_care"),
    "did not match / not applicable": (16, "not_matched"), "other (please specify)": (17, "other"),
}  # fmt: skip
REASONS = {
    1: "Not enough time (clinical, research, or personal commitments)",
    2: "Was not aware of the program",
    3: "Not interested in mentoring",
    4: "Did not feel qualified to mentor",
    5: "Applied but was not selected",
    6: "Other (please specify)",
}
LIKERT = {
    "strongly disagree": 1, "somewhat disagree": 2, "neither agree nor disagree": 3,
    "somewhat agree": 4, "strongly agree": 5,
}  # fmt: skip
GENDER = {
    "woman": "female", "man": "male", "non-binary": "nonbinary_or_other",
    "prefer to self-describe": "nonbinary_or_other", "prefer not to answer": "not_reported",
}  # fmt: skip
YES_NO = {"yes": "yes", "no": "no"}
METRICS = ["value_distinct", "value_mentee", "value_mentor", "mentor_again", "mentor_worthwhile"]
LEVELS = {m: ["1", "2", "3", "4", "5"] for m in METRICS} | {"mentor_again": ["yes", "no", "unsure"]}
# Wording changes (spec §2; the pipeline's list is dbt_project/seeds/item_series.csv): the first year
# of each new wording starts a new series.
REWORDED = {"value_mentor": [2026]}
COMPARED = ["value_distinct", "value_mentee", "value_mentor"]


class Stages:
    """Wall-clock start and end of each named stage (for the benchmark's memory attribution)."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def start(self, name: str) -> None:
        now = time.time()
        if self.rows and "end" not in self.rows[-1]:
            self.rows[-1]["end"] = now
        self.rows.append({"stage": name, "start": now})

    def stop(self) -> list[dict]:
        if self.rows and "end" not in self.rows[-1]:
            self.rows[-1]["end"] = time.time()
        return self.rows


def low(column: pd.Series) -> pd.Series:
    return column.str.strip().str.lower()


def whole_number(column: pd.Series) -> pd.Series:
    text = column.str.strip()
    return pd.to_numeric(text.where(text.str.fullmatch(r"[+-]?\d+")), errors="coerce").astype("Int64")


def read_deliveries(landing: Path) -> tuple[pd.DataFrame, dict[int, str]]:
    frames, shas = [], {}
    for path in sorted(landing.glob("ssm_survey_*.csv")):
        year = int(re.search(r"ssm_survey_(\d{4})", path.name)[1])
        frame = pd.read_csv(path, skiprows=[1, 2], dtype=str, keep_default_na=False)
        frame["survey_year"] = year
        frame["delivery"] = path.name
        frame["row_number"] = np.arange(len(frame)) + 4  # three header rows, counted from 1
        frames.append(frame)
        shas[year] = hashlib.sha256(path.read_bytes()).hexdigest()
    return pd.concat(frames, ignore_index=True), shas


def assign_buckets(df: pd.DataFrame) -> pd.Series:
    preview = low(df["Status"]).isin(["survey preview", "survey test", "spam"]) | low(
        df["DistributionChannel"]
    ).isin(["preview", "test"])
    finished = (low(df["Finished"]) == "true") & (pd.to_numeric(df["Progress"], errors="coerce") >= 100)
    consented = low(df["consent"]) == "yes"
    response_id = df["ResponseId"].str.strip()
    bucket = pd.Series(
        np.select([preview, ~finished, ~consented], ["preview", "incomplete", "no_consent"], default=""),
        index=df.index,
    )
    candidates = (bucket == "") & (response_id != "")
    order = pd.DataFrame(
        {
            "survey_year": df["survey_year"],
            "response_id": response_id,
            "recorded": pd.to_datetime(
                df["RecordedDate"].str.strip(), format="%Y-%m-%d %H:%M:%S", errors="coerce"
            ),
            "position": np.arange(len(df)),
        }
    )[candidates].sort_values(["recorded", "position"], na_position="first", kind="stable")
    bucket[order.index[order.duplicated(["survey_year", "response_id"], keep="last")]] = "duplicate"
    bucket[(bucket == "") & (response_id == "")] = "rejected"
    bucket[bucket == ""] = "respondent"
    return bucket


def decode(df: pd.DataFrame, salt: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Respondents' answers as canonical values, and the data-quality issues of their cells."""
    out = pd.DataFrame(
        {"survey_year": df["survey_year"], "delivery": df["delivery"], "row_number": df["row_number"]}
    )
    out["respondent_key"] = [
        hashlib.sha256(f"{salt}\x1f{r.strip()}".encode()).hexdigest() for r in df["ResponseId"]
    ]
    issues = []

    def flag(mask: pd.Series, column: str, rule: str) -> None:
        if mask.any():
            issues.append(
                pd.DataFrame(
                    {
                        "delivery": df.loc[mask, "delivery"],
                        "survey_year": df.loc[mask, "survey_year"],
                        "row_number": df.loc[mask, "row_number"],
                        "column": column,
                        "original_value": df.loc[mask, column].str.strip(),
                        "rule": rule,
                    }
                )
            )

    def choice(column: str, mapping: dict) -> pd.Series:
        values = low(df[column]).map(mapping)
        flag((df[column].str.strip() != "") & values.isna(), column, "unknown_label")
        return values

    out["gender"] = choice("gender", GENDER)
    age = whole_number(df["age"])
    flag((df["age"].str.strip() != "") & age.isna(), "age", "not_an_integer")
    flag(age.notna() & ~age.between(20, 65), "age", "out_of_range")
    out["age"] = age.where(age.between(20, 65))
    specialty = low(df["specialty"]).map(SPECIALTIES)
    flag((df["specialty"].str.strip() != "") & specialty.isna(), "specialty", "unknown_label")
    out["specialty"] = specialty.map(lambda s: s[0], na_action="ignore").astype("Int64")
    out["specialty_group"] = specialty.map(lambda s: s[1], na_action="ignore")
    out["mentor_formal"] = choice("mentor_formal", YES_NO)
    out["mentor_informal"] = choice("mentor_informal", YES_NO)
    out["had_student_mentor"] = choice(
        "had_student_mentor", {"yes": "yes", "no": "no", "not sure": "not_sure"}
    )
    for number, name in enumerate(["value_distinct", "value_mentee", "value_mentor"], start=1):
        out[name] = choice(f"SSM_value_{number}", LIKERT).astype("Int64")
    mentor = out["mentor_formal"] == "yes"
    again = choice("mentor_again", {"yes": "yes", "no": "no", "unsure": "unsure"})
    worthwhile = choice("mentor_worthwhile", LIKERT).astype("Int64")
    mentees = whole_number(df["mentees_count"])
    flag((df["mentees_count"].str.strip() != "") & mentees.isna(), "mentees_count", "not_an_integer")
    flag(mentees.notna() & ~mentees.between(0, 20), "mentees_count", "out_of_range")
    mentees = mentees.where(mentees.between(0, 20))
    flag(again.notna() & ~mentor, "mentor_again", "off_branch")
    flag(worthwhile.notna() & ~mentor, "mentor_worthwhile", "off_branch")
    flag(mentees.notna() & ~mentor, "mentees_count", "off_branch")
    out["mentor_again"] = again.where(mentor)
    out["mentor_worthwhile"] = worthwhile.where(mentor)
    out["mentees_count"] = mentees.where(mentor)
    # The reasons are joined with a bare comma, and label 1 has commas of its own: look for each label
    # between separators instead of splitting on commas.
    padded = "," + low(df["nonpart_reasons"]) + ","
    non_formal = out["mentor_formal"] == "no"
    any_reason = pd.Series(False, index=df.index)
    for code, label in REASONS.items():
        ticked = padded.str.contains("," + label.lower() + ",", regex=False)
        any_reason |= ticked
        out[f"nonpart_reason_{code}"] = ticked.astype("boolean").where(non_formal)
    flag(any_reason & ~non_formal, "nonpart_reasons", "off_branch")
    flag(
        (df["nonpart_reasons_6_TEXT"].str.strip() != "") & ~non_formal, "nonpart_reasons_6_TEXT", "off_branch"
    )
    out["cohort"] = np.select(
        [
            mentor,
            non_formal & (out["mentor_informal"] == "no"),
            non_formal & (out["mentor_informal"] == "yes"),
        ],
        ["mentor", "non_mentor", "informal"],
        default="unclassified",
    )
    columns = ["delivery", "survey_year", "row_number", "column", "original_value", "rule"]
    # Spec §3 (rev 2): a v2 file dated outside 2020-2025 (the synthetic deliveries are v2) is loaded and
    # flagged, one issue on its header row.
    deliveries = df[["delivery", "survey_year"]].drop_duplicates()
    outside = deliveries[~deliveries["survey_year"].between(2020, 2025)]
    issues.append(
        pd.DataFrame(
            {
                "delivery": outside["delivery"],
                "survey_year": outside["survey_year"],
                "row_number": 1,
                "column": "instrument_version",
                "original_value": "v2 (used 2020-2025)",
                "rule": "instrument_outside_its_years",
            }
        )
    )
    issues_frame = pd.concat(issues, ignore_index=True) if issues else pd.DataFrame(columns=columns)
    return out, issues_frame


def wilson(x: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, n = x.astype(float), n.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = (x + Z * Z / 2) / (n + Z * Z)
        half = Z / (n + Z * Z) * np.sqrt(x * (n - x) / n + Z * Z / 4)
        low_, high = (
            np.where(x == 0, 0.0, np.maximum(0, centre - half)),
            np.where(x == n, 1.0, np.minimum(1, centre + half)),
        )
    return np.where(n > 0, low_, np.nan), np.where(n > 0, high, np.nan)


def metric_summary(resp: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    rows = []
    for metric in METRICS:
        answered = resp[resp[metric].notna()]
        yes = (
            answered["mentor_again"].eq("yes")
            if metric == "mentor_again"
            else answered[metric].astype(float).ge(4)
        )
        frame = answered.assign(is_yes=yes.to_numpy())
        for cohort in ["all", "mentor", "non_mentor"]:
            part = frame if cohort == "all" else frame[frame["cohort"] == cohort]
            counted = part.groupby("survey_year")["is_yes"].agg(["sum", "count"]).reindex(years, fill_value=0)
            rows.append(
                pd.DataFrame(
                    {
                        "survey_year": years,
                        "metric_id": metric,
                        "cohort": cohort,
                        "numerator": counted["sum"].to_numpy(int),
                        "denominator": counted["count"].to_numpy(int),
                    }
                )
            )
    summary = pd.concat(rows, ignore_index=True)
    n, x = summary["denominator"].to_numpy(), summary["numerator"].to_numpy()
    summary["proportion"] = np.where(n > 0, x / np.where(n > 0, n, 1), np.nan)
    summary["ci_low"], summary["ci_high"] = wilson(x, n)
    return summary.sort_values(["survey_year", "metric_id", "cohort"]).reset_index(drop=True)


def two_by_two(a: int, b: int, c: int, d: int) -> dict:
    if a + b == 0 or c + d == 0:
        return dict.fromkeys(
            ["risk_ratio", "rr_ci_low", "rr_ci_high", "odds_ratio", "or_ci_low", "or_ci_high", "p_value"],
            None,
        ) | {"zero_cell_corrected": False}
    p_value = stats.fisher_exact([[a, b], [c, d]]).pvalue
    corrected = min(a, b, c, d) == 0
    a, b, c, d = (v + 0.5 if corrected else float(v) for v in (a, b, c, d))
    rr = (a / (a + b)) / (c / (c + d))
    se_rr = np.sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d))
    odds = a * d / (b * c)
    se_or = np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    return {
        "risk_ratio": rr,
        "rr_ci_low": np.exp(np.log(rr) - Z * se_rr),
        "rr_ci_high": np.exp(np.log(rr) + Z * se_rr),
        "odds_ratio": odds,
        "or_ci_low": np.exp(np.log(odds) - Z * se_or),
        "or_ci_high": np.exp(np.log(odds) + Z * se_or),
        "p_value": p_value,
        "zero_cell_corrected": corrected,
    }


def cohort_comparisons(summary: pd.DataFrame) -> pd.DataFrame:
    wide = summary[summary["metric_id"].isin(COMPARED)].pivot_table(
        index=["survey_year", "metric_id"], columns="cohort", values=["numerator", "denominator"]
    )
    rows = []
    for (year, metric), r in wide.iterrows():
        a, n1 = int(r[("numerator", "mentor")]), int(r[("denominator", "mentor")])
        c, n2 = int(r[("numerator", "non_mentor")]), int(r[("denominator", "non_mentor")])
        rows.append(
            {"survey_year": year, "metric_id": metric, "mentor_yes": a, "mentor_n": n1, "non_mentor_yes": c,
             "non_mentor_n": n2} | two_by_two(a, n1 - a, c, n2 - c)
        )  # fmt: skip
    return pd.DataFrame(rows)


def demographics(compared: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    levels = {
        "gender": ["female", "male", "nonbinary_or_other", "not_reported"],
        "specialty_group": ["primary_care", "surgical", "other", "not_matched"],
    }
    rows = []
    for year in years:
        for cohort in ["mentor", "non_mentor"]:
            group = compared[(compared["survey_year"] == year) & (compared["cohort"] == cohort)]
            for characteristic, names in levels.items():
                counts = group[characteristic].value_counts()
                known = int(counts.reindex(names, fill_value=0).sum())
                for level in names:
                    n = int(counts.get(level, 0))
                    rows.append((year, characteristic, level, cohort, n, n / known if known else None, None))
            ages = group["age"].dropna().astype(float)
            rows.append((year, "age", "mean", cohort, len(ages), None, ages.mean() if len(ages) else None))
            rows.append((year, "age", "sd", cohort, len(ages), None, ages.std() if len(ages) > 1 else None))
    return pd.DataFrame(
        rows, columns=["survey_year", "characteristic", "level", "cohort", "n", "proportion", "value"]
    )


def demographic_balance(compared: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    rows = []
    for year in years:
        m = compared[(compared["survey_year"] == year) & (compared["cohort"] == "mentor")]
        n = compared[(compared["survey_year"] == year) & (compared["cohort"] == "non_mentor")]
        gender = [[int((g["gender"] == level).sum()) for level in ("female", "male")] for g in (m, n)]
        p1, p2 = gender[0][0] / sum(gender[0]), gender[1][0] / sum(gender[1])
        smd = (p1 - p2) / np.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2)
        rows.append((year, "gender", "fisher_exact", None, stats.fisher_exact(gender).pvalue, smd))
        a1, a2 = m["age"].dropna().astype(float), n["age"].dropna().astype(float)
        t = stats.ttest_ind(a1, a2, equal_var=False)
        smd = (a1.mean() - a2.mean()) / np.sqrt((a1.var() + a2.var()) / 2)
        rows.append((year, "age", "welch_t", t.statistic, t.pvalue, smd))
        table = np.array(
            [
                [int((g["specialty_group"] == lv).sum()) for lv in ("primary_care", "surgical", "other")]
                for g in (m, n)
            ]
        )
        chi = stats.chi2_contingency(table, correction=False)
        q1, q2 = (table[0] / table[0].sum())[1:], (table[1] / table[1].sum())[1:]
        pooled = (np.diag(q1) - np.outer(q1, q1) + np.diag(q2) - np.outer(q2, q2)) / 2
        smd = float(np.sqrt((q1 - q2) @ np.linalg.solve(pooled, q1 - q2)))
        rows.append((year, "specialty_group", "chi_square", chi.statistic, chi.pvalue, smd))
    return pd.DataFrame(
        rows, columns=["survey_year", "characteristic", "test", "statistic", "p_value", "smd"]
    )


def nonparticipation(resp: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    non_mentors = resp[resp["cohort"] == "non_mentor"]
    flags = [f"nonpart_reason_{c}" for c in REASONS]
    ticked_any = non_mentors[flags].fillna(False).any(axis=1)
    denominators = ticked_any.groupby(non_mentors["survey_year"]).sum().reindex(years, fill_value=0)
    counts = non_mentors.groupby("survey_year")[flags].sum().reindex(years, fill_value=0)
    rows = []
    for year in years:
        for code, label in REASONS.items():
            n, d = int(counts.loc[year, f"nonpart_reason_{code}"]), int(denominators[year])
            rows.append((year, code, label, n, d, n / d if d else None))
    return pd.DataFrame(
        rows, columns=["survey_year", "reason_code", "reason_label", "n", "denominator", "proportion"]
    )


def item_distributions(resp: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    frames = []
    for metric in METRICS:
        answered = resp.loc[resp[metric].notna(), ["survey_year", "cohort"]]
        answered = answered.assign(level=resp.loc[resp[metric].notna(), metric].astype(str).to_numpy())
        for cohort in ["all", "mentor", "non_mentor"]:
            part = answered if cohort == "all" else answered[answered["cohort"] == cohort]
            counted = (
                part.groupby(["survey_year", "level"]).size().unstack(fill_value=0)
                .reindex(index=years, columns=LEVELS[metric], fill_value=0)
            )  # fmt: skip
            totals = part.groupby("survey_year").size().reindex(years, fill_value=0)
            long = counted.stack().rename("n").reset_index()
            long["denominator"] = long["survey_year"].map(totals)
            frames.append(long.assign(metric_id=metric, cohort=cohort))
    out = pd.concat(frames, ignore_index=True)
    d = out["denominator"].to_numpy()
    out["proportion"] = np.where(d > 0, out["n"].to_numpy() / np.where(d > 0, d, 1), np.nan)
    return out[["survey_year", "metric_id", "cohort", "level", "n", "denominator", "proportion"]]


def trends(summary: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    summary = summary.sort_values(["metric_id", "cohort", "survey_year"]).reset_index(drop=True)
    first_year = summary.groupby("metric_id")["survey_year"].transform("min")
    summary["series_start"] = [
        max([s for s in REWORDED.get(m, []) if s <= y], default=f)
        for m, y, f in zip(summary["metric_id"], summary["survey_year"], first_year, strict=True)
    ]
    change, p_values, tests = [], [], []
    for (metric, cohort, _), series in summary.groupby(["metric_id", "cohort", "series_start"], sort=False):
        prior = None
        for row in series.itertuples():
            if row.denominator > 0 and prior is not None:
                change.append(row.proportion - prior.proportion)
                table = [[prior.numerator, prior.denominator - prior.numerator],
                         [row.numerator, row.denominator - row.numerator]]  # fmt: skip
                p_values.append(stats.fisher_exact(table).pvalue)
            else:
                change.append(None)
                p_values.append(None)
            if row.denominator > 0:
                prior = row
        # One test per year with data, over its series up to that year.
        for end in range(1, len(series) + 1):
            if series["denominator"].iloc[end - 1] == 0:
                continue
            used = series.iloc[:end]
            used = used[used["denominator"] > 0]
            t, x, n = (used[c].to_numpy(float) for c in ("survey_year", "numerator", "denominator"))
            z = p = None
            if len(used) >= 2:
                p_bar = x.sum() / n.sum()
                tc = t - (t @ n) / n.sum()
                var = p_bar * (1 - p_bar) * ((tc * tc) @ n)
                if 0 < p_bar < 1 and var > 0:
                    z = float(tc @ (x - n * p_bar)) / np.sqrt(var)
                    p = min(1.0, 2 * stats.norm.sf(abs(z)))
            first, last = int(series["survey_year"].iloc[0]), int(series["survey_year"].iloc[end - 1])
            tests.append((metric, cohort, first, last, len(used), z, p))
    # groupby(sort=False) keeps the sorted frame's order, series after series
    summary["change_vs_prior"] = pd.array(change, dtype="Float64")
    summary["p_value_vs_prior"] = pd.array(p_values, dtype="Float64")
    tests_frame = pd.DataFrame(
        tests, columns=["metric_id", "cohort", "first_year", "last_year", "years", "z", "p_value"]
    )
    return summary, tests_frame


def run(data_dir: Path, out_dir: Path, salt: str) -> list[dict]:
    stages = Stages()
    stages.start("read")
    df, shas = read_deliveries(data_dir / "landing")
    sizes_path = data_dir / "reference" / "class_sizes.csv"
    class_sizes = (
        pd.read_csv(sizes_path)
        if sizes_path.exists()
        else pd.DataFrame(columns=["survey_year", "class_size"])
    )

    stages.start("buckets")
    df["bucket"] = assign_buckets(df)
    stages.start("decode")
    resp, issues = decode(df[df["bucket"] == "respondent"].reset_index(drop=True), salt)
    years = sorted(df["survey_year"].unique().tolist())

    stages.start("marts")
    funnel = df.groupby("survey_year")["bucket"].value_counts().unstack(fill_value=0)
    funnel = funnel.reindex(
        columns=["preview", "incomplete", "no_consent", "duplicate", "rejected", "respondent"], fill_value=0
    )
    funnel.insert(0, "received", funnel.sum(axis=1))
    funnel = funnel.rename(columns={"respondent": "respondents"}).reset_index()
    cohorts = resp.groupby("survey_year")["cohort"].value_counts().unstack(fill_value=0)
    cohorts = cohorts.reindex(columns=["mentor", "non_mentor", "informal", "unclassified"], fill_value=0)
    cohorts.columns = ["mentors", "non_mentors", "informal", "unclassified"]
    funnel = funnel.merge(class_sizes, on="survey_year", how="left").merge(
        cohorts.reset_index(), on="survey_year", how="left"
    )
    # a class size below the year's respondents cannot be true: not used (as the pipeline does)
    funnel["class_size"] = funnel["class_size"].where(funnel["class_size"] >= funnel["respondents"])
    funnel["response_rate"] = funnel["respondents"] / funnel["class_size"]
    funnel["instrument_version"] = "v2"
    funnel["source_sha256"] = funnel["survey_year"].map(shas)
    cohort_columns = [
        "respondent_key", "survey_year", "gender", "age", "specialty", "specialty_group", "mentor_formal",
        "mentor_informal", "had_student_mentor", "value_distinct", "value_mentee", "value_mentor", "mentor_again",
        "mentor_worthwhile", "mentees_count", *[f"nonpart_reason_{c}" for c in REASONS],
    ]  # fmt: skip
    mentors = resp.loc[resp["cohort"] == "mentor", cohort_columns]
    non_mentors = resp.loc[resp["cohort"] == "non_mentor", cohort_columns]
    summary = metric_summary(resp, years)
    compared = resp[resp["cohort"].isin(["mentor", "non_mentor"])]
    by_cohort = demographics(compared, years)
    reasons = nonparticipation(resp, years)
    distributions = item_distributions(resp, years)

    stages.start("statistics")
    comparisons = cohort_comparisons(summary)
    balance = demographic_balance(compared, years)
    metric_trends, trend_tests = trends(summary)

    stages.start("write")
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {
        "response_funnel": funnel, "cohort_mentors": mentors, "cohort_non_mentors": non_mentors,
        "metric_summary": summary, "cohort_comparisons": comparisons, "demographic_balance": balance,
        "demographics_by_cohort": by_cohort, "nonparticipation_reasons": reasons, "metric_trends": metric_trends,
        "metric_trend_tests": trend_tests, "item_distributions": distributions, "data_quality_issues": issues,
    }  # fmt: skip
    for name, table in tables.items():
        table.to_csv(out_dir / f"{name}.csv", index=False)
    return stages.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--stages", type=Path, help="write the stage timings here (JSON)")
    args = parser.parse_args()
    timings = run(args.data_dir, args.out_dir, os.environ.get("SSM_RESPONSE_SALT", ""))
    if args.stages:
        args.stages.write_text(json.dumps(timings), encoding="utf-8")
    for t in timings:
        print(f"{t['stage']:<10} {t['end'] - t['start']:8.2f} s")


if __name__ == "__main__":
    main()
