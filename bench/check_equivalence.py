"""Do B (bench/limit.sql) and C (bench/peer_pandas.py) compute the same marts as the pipeline (A)?

    python bench/check_equivalence.py --pipeline DATA_DIR [--limit LIMIT.duckdb] [--peer PEER_DIR] --salt SALT

Compares every table of spec §8 row by row on its key: counts exactly, proportions, intervals, ratios,
statistics and SMDs to 1e-9 (relative), p-values to 1e-6 (C only: B has none, see limit.sql), the
cohort tables row for row (B's raw ResponseIds are hashed with the salt the pipeline used). Prints one
line per table and source and exits 1 when anything differs.

    # typical scale, from scratch:
    SSM_DATA_DIR=/tmp/t SSM_RESPONSE_SALT=x python -m pipelines.generators.synthetic /tmp/t --years 2016-2025 --rows 200
    SSM_DATA_DIR=/tmp/t SSM_RESPONSE_SALT=x .venv/bin/ssm run
    python bench/limit.py /tmp/t /tmp/t-limit.duckdb
    SSM_RESPONSE_SALT=x python bench/peer_pandas.py /tmp/t /tmp/t-peer
    python bench/check_equivalence.py --pipeline /tmp/t --limit /tmp/t-limit.duckdb --peer /tmp/t-peer --salt x
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

REASON_FLAGS = [f"nonpart_reason_{code}" for code in range(1, 7)]
COHORT_COLUMNS = [
    "gender", "age", "specialty", "specialty_group", "mentor_formal", "mentor_informal", "had_student_mentor",
    "value_distinct", "value_mentee", "value_mentor", "mentor_again", "mentor_worthwhile", "mentees_count",
    *REASON_FLAGS,
]  # fmt: skip


@dataclass(frozen=True)
class Table:
    """How to compare one marts table: its key, exact columns, close columns and p-value columns."""

    name: str
    keys: list[str]
    exact: list[str] = field(default_factory=list)
    close: list[str] = field(default_factory=list)
    p_values: list[str] = field(default_factory=list)


TABLES = [
    Table(
        "response_funnel",
        ["survey_year"],
        [
            "class_size",
            "received",
            "preview",
            "incomplete",
            "no_consent",
            "duplicate",
            "rejected",
            "respondents",
            "mentors",
            "non_mentors",
            "informal",
            "unclassified",
            "instrument_version",
            "source_sha256",
        ],
        ["response_rate"],
    ),
    Table("cohort_mentors", ["survey_year", "respondent_key"], COHORT_COLUMNS),
    Table("cohort_non_mentors", ["survey_year", "respondent_key"], COHORT_COLUMNS),
    Table(
        "metric_summary",
        ["survey_year", "metric_id", "cohort"],
        ["numerator", "denominator"],
        ["proportion", "ci_low", "ci_high"],
    ),
    Table(
        "cohort_comparisons",
        ["survey_year", "metric_id"],
        ["mentor_yes", "mentor_n", "non_mentor_yes", "non_mentor_n", "zero_cell_corrected"],
        ["risk_ratio", "rr_ci_low", "rr_ci_high", "odds_ratio", "or_ci_low", "or_ci_high"],
        ["p_value"],
    ),
    Table(
        "demographic_balance", ["survey_year", "characteristic"], ["test"], ["statistic", "smd"], ["p_value"]
    ),
    Table(
        "demographics_by_cohort",
        ["survey_year", "characteristic", "level", "cohort"],
        ["n"],
        ["proportion", "value"],
    ),
    Table(
        "nonparticipation_reasons",
        ["survey_year", "reason_code"],
        ["reason_label", "n", "denominator"],
        ["proportion"],
    ),
    Table(
        "metric_trends",
        ["survey_year", "metric_id", "cohort"],
        ["numerator", "denominator", "series_start"],
        ["proportion", "ci_low", "ci_high", "change_vs_prior"],
        ["p_value_vs_prior"],
    ),
    Table(
        "metric_trend_tests",
        ["metric_id", "cohort", "last_year"],
        ["first_year", "years"],
        ["z"],
        ["p_value"],
    ),
    Table(
        "item_distributions",
        ["survey_year", "metric_id", "cohort", "level"],
        ["n", "denominator"],
        ["proportion"],
    ),
    Table(
        "data_quality_issues",
        ["survey_year", "row_number", "column"],
        ["delivery", "original_value", "rule"],
    ),
]


# Compared as numbers whatever type a source gives them (a CSV column may read as text).
YEARS_AND_CODES = (
    "survey_year",
    "row_number",
    "reason_code",
    "first_year",
    "last_year",
    "years",
    "series_start",
)


def _hash(salt: str, response_id: str) -> str:
    return hashlib.sha256(f"{salt}\x1f{response_id}".encode()).hexdigest()


def _normalise(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    frame = frame.copy()
    for column in table.keys + table.exact:
        if column not in frame:
            continue
        values = frame[column]
        if column in YEARS_AND_CODES or (
            pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        ):
            frame[column] = pd.to_numeric(values, errors="coerce").astype("Float64")
        else:
            frame[column] = (
                values.astype(object)
                .where(values.notna(), None)
                .map(
                    lambda v: (
                        None if v is None else str(v).lower() if isinstance(v, bool | np.bool_) else str(v)
                    )
                )
            )
    for column in table.close + table.p_values:
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


def compare(reference: pd.DataFrame, other: pd.DataFrame, table: Table, with_p: bool) -> tuple[bool, str]:
    ref, oth = _normalise(reference, table), _normalise(other, table)
    merged = ref.merge(oth, on=table.keys, how="outer", suffixes=("_a", "_b"), indicator=True)
    only_a = int((merged["_merge"] == "left_only").sum())
    only_b = int((merged["_merge"] == "right_only").sum())
    both = merged[merged["_merge"] == "both"]
    problems = []
    if only_a or only_b:
        problems.append(f"rows only in the pipeline {only_a}, only here {only_b}")
    for column in table.exact:
        a, b = both[f"{column}_a"], both[f"{column}_b"]
        same = (a == b).fillna(False) | (a.isna() & b.isna())
        if not bool(same.all()):
            first = both.loc[~same, [*table.keys, f"{column}_a", f"{column}_b"]].head(2).to_dict("records")
            problems.append(f"{column}: {int((~same).sum())} differ, e.g. {first}")
    worst = 0.0
    for column, tolerance in [(c, 1e-9) for c in table.close] + [(c, 1e-6) for c in table.p_values if with_p]:
        a, b = both[f"{column}_a"].to_numpy(float), both[f"{column}_b"].to_numpy(float)
        nan_mismatch = np.isnan(a) != np.isnan(b)
        diff = np.abs(np.nan_to_num(a) - np.nan_to_num(b)) / np.maximum(1.0, np.abs(np.nan_to_num(a)))
        worst = max(worst, float(diff.max(initial=0.0)))
        bad = nan_mismatch | (diff > tolerance)
        if bad.any():
            problems.append(f"{column}: {int(bad.sum())} differ (largest {diff.max():.3g})")
    summary = f"{len(both)} rows"
    if table.close:
        summary += f", largest relative difference {worst:.1e}"
    return not problems, summary + ("; " + "; ".join(problems) if problems else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", type=Path, required=True, help="the data folder that `ssm run` built")
    parser.add_argument("--limit", type=Path, help="B's database (bench/limit.py)")
    parser.add_argument("--peer", type=Path, help="C's output folder (bench/peer_pandas.py)")
    parser.add_argument("--salt", required=True, help="the SSM_RESPONSE_SALT the pipeline and C ran with")
    args = parser.parse_args()

    ok = True
    with duckdb.connect(str(args.pipeline / "warehouse.duckdb"), read_only=True) as con:
        pipeline = {t.name: con.execute(f"select * from marts.{t.name}").df() for t in TABLES}
    sources: dict[str, dict[str, pd.DataFrame]] = {}
    if args.limit:
        with duckdb.connect(str(args.limit), read_only=True) as con:
            sources["B limit"] = {t.name: con.execute(f"select * from {t.name}").df() for t in TABLES}
        for name in ("cohort_mentors", "cohort_non_mentors"):
            frame = sources["B limit"][name]
            frame["respondent_key"] = [_hash(args.salt, r) for r in frame["respondent_key"]]
    if args.peer:
        sources["C peer"] = {
            t.name: pd.read_csv(args.peer / f"{t.name}.csv", keep_default_na=True) for t in TABLES
        }
    for label, tables in sources.items():
        for table in TABLES:
            same, summary = compare(
                pipeline[table.name], tables[table.name], table, with_p=label != "B limit"
            )
            ok &= same
            print(f"{label:<8} {table.name:<26} {'same' if same else 'DIFFERENT'}: {summary}")
    if not sources:
        print("nothing to compare: give --limit and/or --peer")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
