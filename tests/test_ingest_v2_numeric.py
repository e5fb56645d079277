"""v2 as a "numeric values" export: codes in the order of each value list of spec §3, Status and
Finished as codes. The same answers as choice text must harmonise to the same rows."""

from __future__ import annotations

from pathlib import Path

from pipelines.lib.ingest.harmonise import harmonise
from pipelines.lib.ingest.readers import read_delivery
from tests.deliveries import REASON_1, V2_COLUMNS, csv_text, v2_headers, v2_row, write_v2

# The value lists of spec §3 v2, in order: numeric code = 1-based position.
V2_VALUE_LISTS = {
    "consent": ["Yes", "No"],
    "gender": ["Woman", "Man", "Non-binary", "Prefer to self-describe", "Prefer not to answer"],
    "mentor_formal": ["Yes", "No"],
    "mentor_informal": ["Yes", "No"],
    "had_student_mentor": ["Yes", "No", "Not sure"],
    "mentor_again": ["Yes", "No", "Unsure"],
}
LIKERT = [
    "Strongly disagree",
    "Somewhat disagree",
    "Neither agree nor disagree",
    "Somewhat agree",
    "Strongly agree",
]
SPECIALTIES = {"Pediatrics": "10", "General Surgery": "13"}
STATUS = {"IP Address": "0", "Survey Preview": "1", "Survey Test": "2", "Spam": "8"}
REASONS = {REASON_1: "1", "Was not aware of the program": "2"}


def to_numeric(row: list[str]) -> list[str]:
    cells = dict(zip(V2_COLUMNS, row, strict=True))
    for column, values in V2_VALUE_LISTS.items():
        if cells[column]:
            cells[column] = str(values.index(cells[column]) + 1)
    for column in ("SSM_value_1", "SSM_value_2", "SSM_value_3", "mentor_worthwhile"):
        if cells[column]:
            cells[column] = str(LIKERT.index(cells[column]) + 1)
    cells["specialty"] = SPECIALTIES.get(cells["specialty"], cells["specialty"])
    cells["Status"] = STATUS[cells["Status"]]
    cells["Finished"] = {"True": "1", "False": "0"}[cells["Finished"]]
    if cells["nonpart_reasons"]:
        labels = [REASON_1] if cells["nonpart_reasons"] == REASON_1 else cells["nonpart_reasons"].split(",")
        cells["nonpart_reasons"] = ",".join(REASONS[label] for label in labels)
    return [cells[c] for c in V2_COLUMNS]


TEXT_ROWS = [
    v2_row("R_1"),
    v2_row("R_2", status="Survey Preview"),
    v2_row("R_3", progress="40", finished="False"),
    v2_row("R_4", consent="No"),
    v2_row(
        "R_5",
        mentor_formal="Yes",
        mentor_again="Unsure",
        mentor_worthwhile="Strongly agree",
        mentees_count="3",
        nonpart_reasons="",
    ),
    v2_row(
        "R_6",
        gender="Man",
        specialty="General Surgery",
        SSM_value_2="Strongly disagree",
        nonpart_reasons="Was not aware of the program",
    ),
    v2_row("R_7", status="Spam"),
]


def test_numeric_export_harmonises_like_choice_text(tmp_path: Path) -> None:
    text = harmonise(read_delivery(write_v2(tmp_path / "ssm_survey_2022.csv", TEXT_ROWS)), 2022, "salt")
    numeric_path = tmp_path / "ssm_survey_2022_numeric.csv"
    numeric_path.write_text(csv_text(v2_headers(), [to_numeric(r) for r in TEXT_ROWS]), encoding="utf-8")
    numeric = harmonise(read_delivery(numeric_path), 2022, "salt")
    assert (text.coding, numeric.coding) == ("text", "numeric")
    assert numeric.bucket_counts() == text.bucket_counts() == {
        "preview": 2, "incomplete": 1, "no_consent": 1, "duplicate": 0, "rejected": 0, "respondent": 3,
    }  # fmt: skip
    assert numeric.responses.equals(text.responses)
    assert numeric.issues.empty and text.issues.empty


def test_numeric_export_flags_unknown_codes(tmp_path: Path) -> None:
    rows = [to_numeric(r) for r in TEXT_ROWS]
    rows[0][V2_COLUMNS.index("SSM_value_1")] = "9"
    path = tmp_path / "ssm_survey_2022.csv"
    path.write_text(csv_text(v2_headers(), rows), encoding="utf-8")
    issues = harmonise(read_delivery(path), 2022, "salt").issues
    assert [tuple(r) for r in issues.itertuples(index=False)] == [(4, "SSM_value_1", "9", "not_in_code_list")]
