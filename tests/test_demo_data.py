"""Independent checks of the demonstration data written by ``pipelines.generators.demo.write_demo_data``.

Only the public function is used. Everything else (column lists, codes, labels, the bucket rules of
spec §5 and the cohort rules of §7) is written out here again from the specification, and the files
are read back with ``csv`` and ``pandas`` directly, so a mistake in the generator cannot hide behind
a shared constant.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

from pipelines.generators.demo import write_demo_data

YEARS = list(range(2016, 2027))
V1_YEARS = [y for y in YEARS if y <= 2019]
V2_YEARS = [y for y in YEARS if 2020 <= y <= 2025]
V3_YEARS = [y for y in YEARS if y >= 2026]
CHOICE_TEXT_YEARS = V2_YEARS + V3_YEARS  # v2 and v3: the Qualtrics current export, three header rows
REFERENCE_YEAR = 2018

# §3 v1, in order.
V1_COLUMNS = (
    [f"V{i}" for i in range(1, 11)]
    + ["Q1", "Q2", "Q3", "Q4", "Q4_17_TEXT", "Q5", "Q6", "Q7", "Q8_1", "Q8_2", "Q8_3", "Q9", "Q10", "Q11"]
    + [f"Q12_{i}" for i in range(1, 7)]
    + ["Q12_6_TEXT", "Q13", "LocationLatitude", "LocationLongitude", "LocationAccuracy"]
)
V1_METADATA_TEXTS = [
    "ResponseID",
    "ResponseSet",
    "Name",
    "ExternalDataReference",
    "EmailAddress",
    "IPAddress",
    "Status",
    "StartDate",
    "EndDate",
    "Finished",
]

# §3 v2, in order: metadata, then the question columns.
V2_COLUMNS = [
    "StartDate",
    "EndDate",
    "Status",
    "IPAddress",
    "Progress",
    "Duration (in seconds)",
    "Finished",
    "RecordedDate",
    "ResponseId",
    "RecipientLastName",
    "RecipientFirstName",
    "RecipientEmail",
    "ExternalReference",
    "LocationLatitude",
    "LocationLongitude",
    "DistributionChannel",
    "UserLanguage",
    "consent",
    "gender",
    "gender_4_TEXT",
    "age",
    "specialty",
    "specialty_17_TEXT",
    "mentor_formal",
    "mentor_informal",
    "had_student_mentor",
    "SSM_value_1",
    "SSM_value_2",
    "SSM_value_3",
    "mentor_again",
    "mentor_worthwhile",
    "mentees_count",
    "nonpart_reasons",
    "nonpart_reasons_6_TEXT",
    "comments",
]
# §3 v3 (rev 2): v2's columns with mentor_prepared right after mentor_worthwhile.
V3_COLUMNS = [
    *V2_COLUMNS[: V2_COLUMNS.index("mentor_worthwhile") + 1],
    "mentor_prepared",
    *V2_COLUMNS[V2_COLUMNS.index("mentor_worthwhile") + 1 :],
]
# §2 (rev 2): the question of mentor_prepared, and value_mentor's wording from 2026.
MENTOR_PREPARED_QUESTION = "The mentor orientation prepared me well for the role."
VALUE_MENTOR_2026_QUESTION = (
    "Serving as a mentor in the SSM program benefits the mentor's own professional development."
)
V2_LIKERT_LABELS = [
    "Strongly disagree",
    "Somewhat disagree",
    "Neither agree nor disagree",
    "Somewhat agree",
    "Strongly agree",
]

# §2.1: code -> group.
SPECIALTY_GROUP = {
    1: "other",
    2: "other",
    3: "other",
    4: "primary_care",
    5: "primary_care",
    6: "other",
    7: "surgical",
    8: "surgical",
    9: "other",
    10: "primary_care",
    11: "other",
    12: "other",
    13: "surgical",
    14: "surgical",
    15: "primary_care",
    16: "not_matched",
    17: "other",
}
SPECIALTY_LABELS = [
    "Anesthesiology",
    "Dermatology",
    "Emergency Medicine",
    "Family Medicine",
    "Internal Medicine",
    "Neurology",
    "Obstetrics and Gynecology",
    "Orthopaedic Surgery",
    "Pathology",
    "Pediatrics",
    "Psychiatry",
    "Radiology",
    "General Surgery",
    "Surgical subspecialty (e.g., ENT, Urology, Neurosurgery)",
    "Internal Medicine/Pediatrics",
    "Did not match / not applicable",
    "Other (please specify)",
]
# §2.2, in code order.
REASON_LABELS = [
    "Not enough time (clinical, research, or personal commitments)",
    "Was not aware of the program",
    "Not interested in mentoring",
    "Did not feel qualified to mentor",
    "Applied but was not selected",
    "Other (please specify)",
]
# §2.2 (rev 2): offered from 2026 (v3) on.
REASON_7_LABEL = "Program meeting times conflicted with my schedule"
V3_REASON_LABELS = [*REASON_LABELS, REASON_7_LABEL]
V2_AGREE = {"Somewhat agree", "Strongly agree"}
V1_AGREE = {"4", "5"}

# Spec §10, the reference year.
REFERENCE_FIGURES = {
    "class_size": 178,
    "received": 116,
    "buckets": {
        "preview": 3,
        "incomplete": 4,
        "no_consent": 1,
        "duplicate": 1,
        "rejected": 0,
        "respondent": 107,
    },
    "cohorts": {"mentor": 42, "non_mentor": 48, "informal": 17, "unclassified": 0},
    "value_distinct_all": 102,
    "value_mentee": {"mentor": 36, "non_mentor": 22},
    "value_mentor": {"mentor": 34, "non_mentor": 25},
    "mentor_again_yes": 35,
    "mentor_worthwhile_agree": 31,
    "gender_female_male": {"mentor": (24, 18), "non_mentor": (26, 22)},
    "specialty_groups": {"mentor": (16, 12, 13, 1), "non_mentor": (18, 14, 15, 1)},
    "reasons": [30, 9, 12, 5, 4, 3],
}
GROUP_ORDER = ("primary_care", "surgical", "other", "not_matched")


# ------------------------------------------------------------------------------------------------
# Reading the files back
# ------------------------------------------------------------------------------------------------


def read_csv_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def read_delivery(path: Path, header_rows: int) -> pd.DataFrame:
    """All data rows as strings; fails if a row has the wrong number of fields."""
    rows = read_csv_rows(path)
    header, data = rows[0], rows[header_rows:]
    assert all(len(row) == len(header) for row in data), f"{path.name}: ragged rows"
    return pd.DataFrame(data, columns=header, dtype=str)


def read_with_pandas(path: Path, header_rows: int) -> pd.DataFrame:
    return pd.read_csv(
        path, skiprows=range(1, header_rows), dtype=str, keep_default_na=False, encoding="utf-8-sig"
    )


def split_reason_labels(cell: str, offered: list[str] = V3_REASON_LABELS) -> list[str]:
    """Split a v2/v3 multi-select cell by matching the known labels (label 1 itself contains commas)."""
    labels = sorted(offered, key=len, reverse=True)
    chosen, rest = [], cell
    while rest:
        match = next((label for label in labels if rest == label or rest.startswith(label + ",")), None)
        assert match is not None, f"unknown reason label at {rest!r} in {cell!r}"
        chosen.append(match)
        rest = rest[len(match) + 1 :]
    return chosen


def _canonical_v1(df: pd.DataFrame) -> pd.DataFrame:
    yes_no = {"1": "yes", "2": "no"}
    return pd.DataFrame(
        {
            "response_id": df["V1"],
            "preview": df["V7"] != "0",
            "finished": df["V10"] == "1",
            "ended": df["V9"],
            "consent": df["Q1"].map(yes_no),
            "mentor_formal": df["Q5"].map(yes_no),
            "mentor_informal": df["Q6"].map(yes_no),
            "value_mentee_agree": df["Q8_2"].isin(V1_AGREE),
        }
    )


def _canonical_v2(df: pd.DataFrame) -> pd.DataFrame:
    yes_no = {"Yes": "yes", "No": "no"}
    preview = df["Status"].isin(["Survey Preview", "Survey Test", "Spam"]) | df["DistributionChannel"].isin(
        ["preview", "test"]
    )
    return pd.DataFrame(
        {
            "response_id": df["ResponseId"],
            "preview": preview,
            "finished": (df["Finished"] == "True") & (df["Progress"] == "100"),
            "ended": df["RecordedDate"],
            "consent": df["consent"].map(yes_no),
            "mentor_formal": df["mentor_formal"].map(yes_no),
            "mentor_informal": df["mentor_informal"].map(yes_no),
            "value_mentee_agree": df["SSM_value_2"].isin(V2_AGREE),
        }
    )


def assign_buckets(canonical: pd.DataFrame) -> pd.Series:
    """Spec §5, in its order; the first matching rule wins."""
    bucket = pd.Series(None, index=canonical.index, dtype=object)

    def claim(mask: pd.Series, name: str) -> None:
        bucket[bucket.isna() & mask] = name

    claim(canonical["preview"], "preview")
    claim(~canonical["finished"], "incomplete")
    claim(canonical["consent"] != "yes", "no_consent")
    open_rows = canonical[bucket.isna()]
    latest = open_rows.sort_values("ended", kind="stable").groupby("response_id").tail(1).index
    claim(canonical.index.isin(open_rows.index.difference(latest)), "duplicate")
    claim(canonical["response_id"] == "", "rejected")
    return bucket.fillna("respondent")


def assign_cohorts(canonical: pd.DataFrame) -> pd.Series:
    """Spec §7."""
    formal, informal = canonical["mentor_formal"], canonical["mentor_informal"]
    cohort = pd.Series("unclassified", index=canonical.index, dtype=object)
    cohort[(formal == "no") & (informal == "yes")] = "informal"
    cohort[(formal == "no") & (informal == "no")] = "non_mentor"
    cohort[formal == "yes"] = "mentor"
    return cohort


def classify(path: Path, year: int) -> pd.DataFrame:
    """The raw rows with their bucket and cohort, whatever the format."""
    if year <= 2019:
        raw = read_delivery(path, header_rows=2)
        canonical = _canonical_v1(raw)
    else:
        raw = read_delivery(path, header_rows=3)
        canonical = _canonical_v2(raw)
    raw["bucket"] = assign_buckets(canonical)
    raw["cohort"] = assign_cohorts(canonical).where(raw["bucket"] == "respondent")
    raw["value_mentee_agree"] = canonical["value_mentee_agree"]
    return raw


# ------------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("demo")
    write_demo_data(data_dir)
    return data_dir


def delivery(data_dir: Path, year: int) -> Path:
    return data_dir / "landing" / f"ssm_survey_{year}.csv"


@pytest.fixture(scope="module", params=[2019, 7], ids=["default-seed", "other-seed"])
def reference_year(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The 2018 delivery (v1), classified; its §10 figures must not depend on the seed."""
    data_dir = tmp_path_factory.mktemp(f"reference-{request.param}")
    write_demo_data(data_dir, years=[REFERENCE_YEAR], seed=request.param)
    return classify(delivery(data_dir, REFERENCE_YEAR), REFERENCE_YEAR)


@pytest.fixture(scope="module")
def reference_respondents(reference_year: pd.DataFrame) -> pd.DataFrame:
    return reference_year[reference_year["bucket"] == "respondent"]


# ------------------------------------------------------------------------------------------------
# Files, layout and determinism
# ------------------------------------------------------------------------------------------------


def test_layout_and_returned_paths(tmp_path: Path) -> None:
    paths = write_demo_data(tmp_path)
    assert paths == [delivery(tmp_path, year) for year in YEARS]
    assert all(path.is_file() for path in paths)
    assert (tmp_path / "reference" / "class_sizes.csv").is_file()


def test_same_inputs_give_byte_identical_files(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    write_demo_data(first)
    write_demo_data(second)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert len(files) == len(YEARS) + 1
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for relative in files:
        assert (first / relative).read_bytes() == (second / relative).read_bytes(), relative


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    write_demo_data(tmp_path / "a", years=[2021])
    write_demo_data(tmp_path / "b", years=[2021], seed=11)
    assert delivery(tmp_path / "a", 2021).read_bytes() != delivery(tmp_path / "b", 2021).read_bytes()


def test_class_sizes_cover_every_year(demo_dir: Path) -> None:
    sizes = pd.read_csv(demo_dir / "reference" / "class_sizes.csv")
    assert list(sizes.columns) == ["survey_year", "class_size"]
    assert sorted(sizes["survey_year"]) == YEARS
    by_year = dict(zip(sizes["survey_year"], sizes["class_size"]))
    assert by_year[REFERENCE_YEAR] == REFERENCE_FIGURES["class_size"]
    assert all(160 <= size <= 190 for size in by_year.values())


@pytest.mark.parametrize("year", V1_YEARS)
def test_v1_files_have_the_legacy_layout(demo_dir: Path, year: int) -> None:
    path = delivery(demo_dir, year)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "v1 files carry a UTF-8 byte-order mark"
    assert raw.split(b"\n", 1)[0].endswith(b"\r"), "v1 files use CRLF line endings"
    rows = read_csv_rows(path)
    assert rows[0] == V1_COLUMNS
    assert rows[1][:10] == V1_METADATA_TEXTS
    assert rows[2][0].startswith("R_"), "data start on row 3"
    assert all(len(row) == len(V1_COLUMNS) for row in rows)


@pytest.mark.parametrize("year", V2_YEARS)
def test_v2_files_have_three_header_rows(demo_dir: Path, year: int) -> None:
    path = delivery(demo_dir, year)
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), "v2 files have no byte-order mark"
    rows = read_csv_rows(path)
    assert rows[0] == V2_COLUMNS
    assert rows[1][:2] == ["Start Date", "End Date"]
    import_ids = [json.loads(cell) for cell in rows[2]]
    assert all(list(cell) == ["ImportId"] for cell in import_ids)
    assert rows[2][V2_COLUMNS.index("specialty")] == '{"ImportId":"QID4"}'
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", rows[3][0]), "data start on row 4"
    assert all(len(row) == len(V2_COLUMNS) for row in rows)


@pytest.mark.parametrize("year", YEARS)
def test_pandas_reads_the_same_rows_as_csv(demo_dir: Path, year: int) -> None:
    header_rows = 2 if year <= 2019 else 3
    path = delivery(demo_dir, year)
    assert read_with_pandas(path, header_rows).equals(read_delivery(path, header_rows))


@pytest.mark.parametrize("year", CHOICE_TEXT_YEARS)
def test_v2_multi_select_cells_round_trip(demo_dir: Path, year: int) -> None:
    offered = V3_REASON_LABELS if year in V3_YEARS else REASON_LABELS
    df = read_delivery(delivery(demo_dir, year), header_rows=3)
    cells = [cell for cell in df["nonpart_reasons"] if cell]
    assert cells
    for cell in cells:
        labels = split_reason_labels(cell, offered)
        assert ",".join(labels) == cell
        assert len(set(labels)) == len(labels)
        assert labels == sorted(labels, key=offered.index), "labels come in choice order"
    # A naive comma split would break label 1 apart, so the test above is not vacuous.
    assert any(REASON_LABELS[0] in cell for cell in cells)
    other_text = df["nonpart_reasons_6_TEXT"] != ""
    ticked_other = df["nonpart_reasons"].map(
        lambda c: "Other (please specify)" in split_reason_labels(c, offered)
    )
    assert not (other_text & ~ticked_other).any()


# ------------------------------------------------------------------------------------------------
# The reference year, recounted from the raw columns (spec §10)
# ------------------------------------------------------------------------------------------------


def test_reference_buckets(reference_year: pd.DataFrame) -> None:
    assert len(reference_year) == REFERENCE_FIGURES["received"]
    counts = reference_year["bucket"].value_counts().to_dict()
    expected = {k: v for k, v in REFERENCE_FIGURES["buckets"].items() if v}
    assert counts == expected
    incomplete = reference_year[reference_year["bucket"] == "incomplete"]
    assert (incomplete["Q1"] == "1").all(), "the unfinished rows did consent"
    refused = reference_year[reference_year["bucket"] == "no_consent"]
    answer_columns = [c for c in V1_COLUMNS if c.startswith("Q") and c != "Q1"]
    assert (refused[answer_columns] == "").all().all(), "a refusal answers nothing else"


def test_reference_duplicate_keeps_the_later_submission(reference_year: pd.DataFrame) -> None:
    duplicate = reference_year[reference_year["bucket"] == "duplicate"].iloc[0]
    same_id = reference_year[reference_year["V1"] == duplicate["V1"]]
    kept = same_id[same_id["bucket"] == "respondent"]
    assert len(same_id) == 2 and len(kept) == 1
    assert duplicate["V9"] < kept.iloc[0]["V9"]


def test_reference_cohorts(reference_respondents: pd.DataFrame) -> None:
    counts = reference_respondents["cohort"].value_counts().to_dict()
    assert counts == {k: v for k, v in REFERENCE_FIGURES["cohorts"].items() if v}
    assert reference_respondents["V1"].is_unique


def test_reference_value_items(reference_respondents: pd.DataFrame) -> None:
    r = reference_respondents
    for column in ("Q8_1", "Q8_2", "Q8_3"):
        assert r[column].isin(["1", "2", "3", "4", "5"]).all(), f"{column} answered by everybody"
    assert r["Q8_1"].isin(V1_AGREE).sum() == REFERENCE_FIGURES["value_distinct_all"]
    for column, item in (("Q8_2", "value_mentee"), ("Q8_3", "value_mentor")):
        for cohort, expected in REFERENCE_FIGURES[item].items():
            members = r[r["cohort"] == cohort]
            assert members[column].isin(V1_AGREE).sum() == expected, (item, cohort)


def test_reference_headline_ratios(reference_respondents: pd.DataFrame) -> None:
    r = reference_respondents

    def agree(column: str, cohort: str) -> tuple[int, int]:
        members = r[r["cohort"] == cohort]
        return int(members[column].isin(V1_AGREE).sum()), len(members)

    (a, n1), (c, n2) = agree("Q8_2", "mentor"), agree("Q8_2", "non_mentor")
    assert (a / n1) / (c / n2) == pytest.approx(1.87, abs=0.005)
    (a, n1), (c, n2) = agree("Q8_3", "mentor"), agree("Q8_3", "non_mentor")
    assert (a * (n2 - c)) / ((n1 - a) * c) == pytest.approx(3.9, abs=0.02)


def test_reference_mentor_experience(reference_respondents: pd.DataFrame) -> None:
    mentors = reference_respondents[reference_respondents["cohort"] == "mentor"]
    assert (mentors["Q9"] == "1").sum() == REFERENCE_FIGURES["mentor_again_yes"]
    assert set(mentors["Q9"]) == {"1", "2", "3"}, "the rest is a mix of no and unsure"
    assert mentors["Q10"].isin(V1_AGREE).sum() == REFERENCE_FIGURES["mentor_worthwhile_agree"]
    assert mentors["Q10"].isin(["1", "2", "3", "4", "5"]).all()
    assert mentors["Q11"].str.fullmatch(r"\d+").all()


def test_reference_gender(reference_respondents: pd.DataFrame) -> None:
    r = reference_respondents
    assert r["Q2"].isin(["1", "2", "3"]).all()
    for cohort, (female, male) in REFERENCE_FIGURES["gender_female_male"].items():
        members = r[r["cohort"] == cohort]
        assert ((members["Q2"] == "2").sum(), (members["Q2"] == "1").sum()) == (female, male), cohort


def test_reference_specialty_groups(reference_respondents: pd.DataFrame) -> None:
    r = reference_respondents
    groups = r["Q4"].astype(int).map(SPECIALTY_GROUP)
    assert groups.notna().all()
    for cohort, expected in REFERENCE_FIGURES["specialty_groups"].items():
        counts = groups[r["cohort"] == cohort].value_counts()
        assert tuple(int(counts.get(group, 0)) for group in GROUP_ORDER) == expected, cohort
    other_text_given = r["Q4_17_TEXT"] != ""
    assert (other_text_given == (r["Q4"] == "17")).all()


def test_reference_nonparticipation_reasons(reference_respondents: pd.DataFrame) -> None:
    r = reference_respondents
    reason_columns = [f"Q12_{code}" for code in range(1, 7)]
    non_mentors = r[r["cohort"] == "non_mentor"]
    assert [int((non_mentors[c] == "1").sum()) for c in reason_columns] == REFERENCE_FIGURES["reasons"]
    assert non_mentors[reason_columns].isin(["1", ""]).all().all()
    assert (non_mentors[reason_columns] == "1").any(axis=1).all(), "every non-mentor ticks a reason"
    ticked_other = r["Q12_6"] == "1"
    assert ((r["Q12_6_TEXT"] != "") == ticked_other).all()


def test_reference_ages_are_valid_and_balanced(reference_respondents: pd.DataFrame) -> None:
    r = reference_respondents
    assert r["Q3"].str.fullmatch(r"\d+").all()
    ages = r["Q3"].astype(int)
    assert ages.between(24, 40).all()
    mentors = ages[r["cohort"] == "mentor"]
    non_mentors = ages[r["cohort"] == "non_mentor"]
    welch = stats.ttest_ind(mentors, non_mentors, equal_var=False)
    assert welch.pvalue > 0.2


def test_reference_year_has_no_bad_cells(reference_respondents: pd.DataFrame) -> None:
    r = reference_respondents
    mentor = r["cohort"] == "mentor"
    mentor_only = ["Q9", "Q10", "Q11"]
    reason_columns = [f"Q12_{code}" for code in range(1, 7)] + ["Q12_6_TEXT"]
    assert (r.loc[~mentor, mentor_only] == "").all().all(), "mentor-only answers from non-mentors"
    assert (r.loc[mentor, reason_columns] == "").all().all(), "reasons ticked by mentors"
    assert r["Q4"].astype(int).between(1, 17).all()
    assert r["Q7"].isin(["1", "2", "3"]).all()


# ------------------------------------------------------------------------------------------------
# The other years: realistic, and with the planted bad cells
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def all_years(demo_dir: Path) -> dict[int, pd.DataFrame]:
    return {year: classify(delivery(demo_dir, year), year) for year in YEARS}


@pytest.mark.parametrize("year", [y for y in YEARS if y != REFERENCE_YEAR])
def test_other_years_look_like_real_deliveries(all_years: dict[int, pd.DataFrame], year: int) -> None:
    rows = all_years[year]
    assert 100 <= len(rows) <= 130
    buckets = rows["bucket"].value_counts()
    for bucket in ("preview", "incomplete", "no_consent"):
        assert buckets.get(bucket, 0) >= 1, bucket
    assert buckets.get("rejected", 0) == 0
    cohorts = rows["cohort"].value_counts(normalize=True)
    assert 0.25 < cohorts["mentor"] < 0.55 and 0.3 < cohorts["non_mentor"] < 0.6
    assert 0.05 < cohorts["informal"] < 0.3


@pytest.mark.parametrize("year", YEARS)
def test_dates_fall_in_the_spring_of_the_survey_year(demo_dir: Path, year: int) -> None:
    header_rows, date_columns = (
        (2, ["V8", "V9"]) if year <= 2019 else (3, ["StartDate", "EndDate", "RecordedDate"])
    )
    df = read_delivery(delivery(demo_dir, year), header_rows)
    for column in date_columns:
        dates = pd.to_datetime(df[column], format="%Y-%m-%d %H:%M:%S")
        assert (dates.dt.year == year).all() and dates.dt.month.between(3, 5).all(), column


@pytest.mark.parametrize("year", YEARS)
def test_identifying_columns_are_filled_with_fakes(demo_dir: Path, year: int) -> None:
    if year <= 2019:
        df = read_delivery(delivery(demo_dir, year), 2)
        email, ip, name = df["V5"], df["V6"], df["V3"]
    else:
        df = read_delivery(delivery(demo_dir, year), 3)
        email, ip, name = df["RecipientEmail"], df["IPAddress"], df["RecipientLastName"]
    assert email.str.fullmatch(r"[a-z]+\.[a-z]+\d*@example\.edu").all()
    assert ip.str.fullmatch(r"10\.\d+\.\d+\.\d+").all()
    assert (name != "").all()
    assert (df["LocationLatitude"] != "").all() and (df["LocationLongitude"] != "").all()


def test_v2_previews_are_marked_in_status_and_channel(all_years: dict[int, pd.DataFrame]) -> None:
    for year in CHOICE_TEXT_YEARS:
        previews = all_years[year][all_years[year]["bucket"] == "preview"]
        assert (previews["Status"] == "Survey Preview").all()
        assert (previews["DistributionChannel"] == "preview").all()
        unfinished = all_years[year][all_years[year]["bucket"] == "incomplete"]
        assert (unfinished["Finished"] == "False").all()
        assert unfinished["Progress"].astype(int).lt(100).all()


def test_mentors_value_being_a_mentee_more(all_years: dict[int, pd.DataFrame]) -> None:
    rows = pd.concat(all_years.values(), ignore_index=True)
    share = rows.groupby("cohort")["value_mentee_agree"].mean()
    assert share["mentor"] > share["non_mentor"] + 0.2


def test_comments_hold_pii_to_mask_and_awkward_text(all_years: dict[int, pd.DataFrame]) -> None:
    for year, rows in all_years.items():
        comments = rows["Q13" if year <= 2019 else "comments"]
        assert (comments == "").mean() > 0.7, "comments are mostly empty"
        assert comments.str.contains(r"@example\.edu").any(), year
        assert comments.str.contains(r"\(\d{3}\) \d{3}-\d{4}").any(), year
        assert comments.str.contains("\n").any() and comments.str.contains(",").any(), year


def _non_mentor_mentor_only_answers(year: int, rows: pd.DataFrame) -> int:
    columns = ["Q9", "Q10", "Q11"] if year <= 2019 else ["mentor_again", "mentor_worthwhile", "mentees_count"]
    non_mentors = rows[rows["cohort"] == "non_mentor"]
    return int((non_mentors[columns] != "").any(axis=1).sum())


def test_bad_cells_are_planted_outside_the_reference_year(all_years: dict[int, pd.DataFrame]) -> None:
    ages = {year: set(rows["Q3" if year <= 2019 else "age"]) for year, rows in all_years.items()}
    assert any("twenty six" in found for found in ages.values())
    assert any("7" in found for found in ages.values())
    assert any("99" in set(all_years[year]["Q4"]) for year in V1_YEARS)
    assert any(
        _non_mentor_mentor_only_answers(year, rows)
        for year, rows in all_years.items()
        if year != REFERENCE_YEAR
    )
    assert _non_mentor_mentor_only_answers(REFERENCE_YEAR, all_years[REFERENCE_YEAR]) == 0
    for year in CHOICE_TEXT_YEARS:
        unknown = set(all_years[year]["specialty"]) - set(SPECIALTY_LABELS) - {""}
        assert unknown <= {"Cardiology"}, (year, unknown)


# ------------------------------------------------------------------------------------------------
# 2026, the first year of the v3 instrument (spec §2, §2.2 and §3, rev 2)
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def year_2026(demo_dir: Path) -> tuple[list[str], list[str], list[str], list[dict[str, str]]]:
    """The 2026 delivery read with the csv module: its three header rows and its data rows by column."""
    rows = read_csv_rows(delivery(demo_dir, 2026))
    tags, texts, import_ids, data = rows[0], rows[1], rows[2], rows[3:]
    assert all(len(row) == len(tags) for row in data), "ragged rows"
    return tags, texts, import_ids, [dict(zip(tags, row, strict=True)) for row in data]


def test_2026_has_the_v3_layout(demo_dir: Path, year_2026) -> None:
    tags, texts, import_ids, _ = year_2026
    raw = delivery(demo_dir, 2026).read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and b"\r" not in raw, "as v2: no byte-order mark, LF endings"
    assert tags == V3_COLUMNS
    assert tags.index("mentor_prepared") == tags.index("mentor_worthwhile") + 1
    assert texts[tags.index("mentor_prepared")] == MENTOR_PREPARED_QUESTION
    # A matrix row: Qualtrics writes "<matrix question> - <statement>"; the statement is the new wording.
    assert texts[tags.index("SSM_value_3")].endswith(f" - {VALUE_MENTOR_2026_QUESTION}")
    assert "(or would be) valuable" not in texts[tags.index("SSM_value_3")]
    assert all(list(json.loads(cell)) == ["ImportId"] for cell in import_ids)
    assert len(set(import_ids)) == len(import_ids), "every question has its own import id"


def test_2026_only_mentors_answer_mentor_prepared(year_2026) -> None:
    _, _, _, rows = year_2026
    answered = [row for row in rows if row["mentor_prepared"]]
    assert answered
    assert all(row["mentor_formal"] == "Yes" for row in answered), "a non-mentor answered mentor_prepared"
    mentors = [row for row in rows if row["mentor_formal"] == "Yes" and row["consent"] == "Yes"]
    valid = [row["mentor_prepared"] for row in mentors if row["mentor_prepared"] in V2_LIKERT_LABELS]
    assert len(valid) >= 0.9 * len(mentors), "mentors mostly answer it, in the SSM_value_* labels"
    agree = sum(value in V2_AGREE for value in valid) / len(valid)
    assert 0.5 < agree < 0.95, f"mostly agree, not all: {agree:.2f}"


def test_2026_offers_the_seventh_reason(year_2026) -> None:
    _, _, _, rows = year_2026
    ticked = [split_reason_labels(row["nonpart_reasons"]) for row in rows if row["nonpart_reasons"]]
    with_7 = [labels for labels in ticked if REASON_7_LABEL in labels]
    assert [REASON_7_LABEL] in with_7, "somebody ticks reason 7 alone"
    assert any(len(labels) > 1 for labels in with_7), "and somebody with other reasons"
    # Joined with a bare comma, like the other labels (label 1's own commas included).
    assert any(REASON_LABELS[0] in labels and REASON_7_LABEL in labels for labels in ticked)
    assert all(row["mentor_formal"] != "Yes" for row in rows if row["nonpart_reasons"])


def test_2026_shows_every_exclusion_bucket_and_bad_cells(all_years: dict[int, pd.DataFrame]) -> None:
    rows = all_years[2026]
    buckets = rows["bucket"].value_counts()
    for bucket in ("preview", "incomplete", "no_consent", "duplicate", "respondent"):
        assert buckets.get(bucket, 0) >= 1, bucket
    assert "twenty six" in set(rows["age"])
    assert "Cardiology" in set(rows["specialty"])
    assert _non_mentor_mentor_only_answers(2026, rows) >= 1
    respondents = rows[rows["bucket"] == "respondent"]
    mentors_prepared = respondents.loc[respondents["cohort"] == "mentor", "mentor_prepared"]
    assert set(mentors_prepared) - set(V2_LIKERT_LABELS) - {""}, "a label not in the list, from a mentor"


def test_the_project_reader_recognises_2026_as_v3(demo_dir: Path) -> None:
    from pipelines.lib.ingest.readers import read_delivery as read_with_project_reader

    with read_with_project_reader(delivery(demo_dir, 2026)) as table:
        assert table.instrument.name == "v3"
        assert table.columns == tuple(V3_COLUMNS)
    with read_with_project_reader(delivery(demo_dir, 2025)) as table:
        assert table.instrument.name == "v2"
