"""Small hand-made deliveries whose every bucket and issue is known in advance (spec §5)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipelines.lib.ingest.errors import DeliveryError
from pipelines.lib.ingest.harmonise import harmonise
from pipelines.lib.ingest.privacy import EMAIL_MASK, PHONE_MASK
from pipelines.lib.ingest.readers import read_delivery
from tests.deliveries import REASON_1, v2_row, write_v2


@pytest.fixture
def v2_delivery(tmp_path: Path) -> Path:
    rows = [
        v2_row("R_1", nonpart_reasons=""),  # row 4: respondent, non-mentor
        v2_row("R_2", status="Survey Preview"),  # row 5: preview
        v2_row("R_3", channel="test"),  # row 6: preview (distribution channel)
        v2_row("R_4", progress="60", finished="False"),  # row 7: incomplete
        v2_row("R_5", consent="No"),  # row 8: no_consent
        v2_row("R_6", recorded="2022-04-02 09:00:00"),  # row 9: duplicate (earlier copy of R_6)
        v2_row(
            "R_6", recorded="2022-04-03 09:00:00", mentor_formal="Yes", nonpart_reasons=""
        ),  # row 10: respondent (latest)
        v2_row(""),  # row 11: rejected (no ResponseId)
        v2_row("R_7", age="twenty six", nonpart_reasons=f"{REASON_1},Was not aware of the program"),  # row 12
        v2_row(
            "R_8",
            age="7",
            mentor_formal="No",
            mentor_again="Yes",  # row 13: age out of range, off-branch
            comments="Mail me at jane.doe@example.edu or 919-555-0134, thanks",
        ),
        v2_row("R_9", specialty="Cardiology", SSM_value_1="Agree a lot"),  # row 14: unknown labels
    ]
    return write_v2(tmp_path / "ssm_survey_2022.csv", rows)


def test_every_row_in_exactly_one_bucket(v2_delivery: Path) -> None:
    result = harmonise(read_delivery(v2_delivery), 2022, "salt")
    buckets = dict(zip(result.responses["row_number"], result.responses["bucket"], strict=True))
    assert buckets == {
        4: "respondent", 5: "preview", 6: "preview", 7: "incomplete", 8: "no_consent", 9: "duplicate",
        10: "respondent", 11: "rejected", 12: "respondent", 13: "respondent", 14: "respondent",
    }  # fmt: skip
    assert result.bucket_counts() == {
        "preview": 2, "incomplete": 1, "no_consent": 1, "duplicate": 1, "rejected": 1, "respondent": 5,
    }  # fmt: skip


def test_bad_cells_become_issues_not_dropped_rows(v2_delivery: Path) -> None:
    result = harmonise(read_delivery(v2_delivery), 2022, "salt")
    issues = {(r.row_number, r.column_name, r.original_value, r.rule) for r in result.issues.itertuples()}
    assert issues == {
        (12, "age", "twenty six", "not_an_integer"),
        (13, "age", "7", "out_of_range"),
        (13, "mentor_again", "Yes", "off_branch"),
        (14, "specialty", "Cardiology", "unknown_label"),
        (14, "SSM_value_1", "Agree a lot", "unknown_label"),
    }
    respondents = result.responses.set_index("row_number")
    assert pd.isna(respondents.loc[13, "age"])  # the row stays, the bad value goes
    assert pd.isna(respondents.loc[13, "mentor_again"])
    assert respondents.loc[13, "bucket"] == "respondent"


def test_multi_select_labels_with_commas(v2_delivery: Path) -> None:
    result = harmonise(read_delivery(v2_delivery), 2022, "salt").responses.set_index("row_number")
    ticked = [code for code in range(1, 7) if result.loc[12, f"nonpart_reason_{code}"] == True]  # noqa: E712
    assert ticked == [1, 2]


def test_identifiers_dropped_and_free_text_masked(v2_delivery: Path) -> None:
    result = harmonise(read_delivery(v2_delivery), 2022, "salt").responses
    flat = result.astype(str).to_csv()
    assert "jane@example.edu" not in flat and "10.0.0.1" not in flat and "R_1" not in flat
    comment = result.set_index("row_number").loc[13, "comments"]
    assert comment == f"Mail me at {EMAIL_MASK} or {PHONE_MASK}, thanks"


def test_salted_keys_depend_on_the_salt(v2_delivery: Path) -> None:
    one = harmonise(read_delivery(v2_delivery), 2022, "salt-one").responses["respondent_key"]
    two = harmonise(read_delivery(v2_delivery), 2022, "salt-two").responses["respondent_key"]
    assert one.notna().sum() == 10  # every row with a ResponseId has a key
    assert not set(one.dropna()) & set(two.dropna())


def test_mislabelled_year_is_refused(v2_delivery: Path) -> None:
    with pytest.raises(DeliveryError) as refused:
        harmonise(read_delivery(v2_delivery), 2023, "salt")
    assert "named for survey year 2023" in str(refused.value)
    assert "rename the file ssm_survey_2022" in str(refused.value)


def test_an_integer_too_large_for_any_answer_is_out_of_range(tmp_path: Path) -> None:
    """A twenty-digit age (a pasted ID, a stuck key) is an out-of-range cell like age 7, not a crash:
    it overflows a 64-bit integer, which is why it is caught before decoding."""
    rows = [v2_row("R_1"), v2_row("R_2", age="99999999999999999999"), v2_row("R_3", age="-0000000000027")]
    result = harmonise(read_delivery(write_v2(tmp_path / "ssm_survey_2022.csv", rows)), 2022, "salt")
    issues = {(r.row_number, r.column_name, r.rule) for r in result.issues.itertuples()}
    assert issues == {(5, "age", "out_of_range"), (6, "age", "out_of_range")}
    # Long digit runs look like phone numbers: the issue keeps the masked value (spec §6).
    assert "99999999999999999999" not in set(result.issues["original_value"])
    ages = result.responses.set_index("row_number")["age"]
    assert ages[4] == 27 and pd.isna(ages[5]) and pd.isna(ages[6])
    assert list(result.responses["bucket"]) == ["respondent"] * 3
