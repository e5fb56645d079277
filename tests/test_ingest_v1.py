"""v1 (Qualtrics legacy CSV, numeric codes, two header rows): hand-made deliveries, every bucket and
issue known, in UTF-8 with BOM and in Windows-1252 as Excel saves it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipelines.lib.ingest.harmonise import harmonise
from pipelines.lib.ingest.readers import read_delivery
from tests.deliveries import v1_row, write_v1

ROWS = [
    v1_row("R_1"),  # row 3: respondent, non-mentor, reason 1 ticked
    v1_row("R_2", status="1"),  # row 4: preview
    v1_row("R_3", finished="0"),  # row 5: incomplete
    v1_row("R_4", Q1="2"),  # row 6: no_consent
    v1_row("R_5", Q5="1", Q6="1", Q9="1", Q10="5", Q11="2", Q12_1=""),  # row 7: mentor (informal yes too)
    v1_row("R_6", Q6="1", Q12_1="", Q12_3="1"),  # row 8: informal
    v1_row("R_7", Q5="", Q12_1=""),  # row 9: unclassified (mentor_formal missing)
    v1_row("R_8", Q3="twenty six", Q4="99", Q2="7"),  # row 10: three bad cells
    v1_row("R_9", Q9="1", Q13="Café was great; ring 216-555-0199"),  # row 11: off-branch answer, masked phone
]


@pytest.fixture(params=["utf-8-sig", "cp1252"])
def delivery(request, tmp_path: Path) -> Path:
    return write_v1(tmp_path / "ssm_survey_2018_final.csv", ROWS, encoding=request.param)


def test_buckets(delivery: Path) -> None:
    result = harmonise(read_delivery(delivery), 2018, "salt")
    assert result.instrument == "v1" and result.coding == "numeric"
    assert dict(zip(result.responses["row_number"], result.responses["bucket"], strict=True)) == {
        3: "respondent", 4: "preview", 5: "incomplete", 6: "no_consent", 7: "respondent", 8: "respondent",
        9: "respondent", 10: "respondent", 11: "respondent",
    }  # fmt: skip


def test_issues(delivery: Path) -> None:
    result = harmonise(read_delivery(delivery), 2018, "salt")
    assert {(r.row_number, r.column_name, r.original_value, r.rule) for r in result.issues.itertuples()} == {
        (10, "Q3", "twenty six", "not_an_integer"),
        (10, "Q4", "99", "not_in_code_list"),
        (10, "Q2", "7", "not_in_code_list"),
        (11, "Q9", "1", "off_branch"),
    }


def test_decoded_answers(delivery: Path) -> None:
    rows = harmonise(read_delivery(delivery), 2018, "salt").responses.set_index("row_number")
    assert rows.loc[3, "gender"] == "female" and rows.loc[3, "age"] == 27 and rows.loc[3, "specialty"] == 10
    assert rows.loc[7, "mentor_formal"] == "yes" and rows.loc[7, "mentor_again"] == "yes"
    assert rows.loc[7, "mentees_count"] == 2 and rows.loc[7, "mentor_worthwhile"] == 5
    assert pd.isna(rows.loc[7, "nonpart_reason_1"])  # not shown to a mentor: missing, not "no"
    assert bool(rows.loc[3, "nonpart_reason_1"]) and not bool(rows.loc[3, "nonpart_reason_2"])
    assert pd.isna(rows.loc[9, "mentor_formal"])
    assert (
        pd.isna(rows.loc[10, "age"])
        and pd.isna(rows.loc[10, "specialty"])
        and pd.isna(rows.loc[10, "gender"])
    )
    assert (
        rows.loc[11, "comments"] == "Café was great; ring [phone removed]"
    )  # decoded right in both encodings
