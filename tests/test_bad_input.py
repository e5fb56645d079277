"""Bad deliveries through `ssm validate` as a subprocess: a clear message naming the file (and the row
and column where there is one) and what to do; exit status 2; never a traceback (spec §11)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.deliveries import V1_COLUMNS, csv_text, v1_headers, v1_row, v2_headers, v2_row, write_v1, write_v2

SSM = str(Path(sys.executable).parent / "ssm")


def validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([SSM, "validate", str(path)], capture_output=True, text=True, timeout=120)


def assert_refused(result: subprocess.CompletedProcess, *fragments: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "ssm_survey_2022.csv"
    path.write_bytes(b"")
    assert_refused(validate(path), "ssm_survey_2022.csv: is empty", "Export the survey again")


def test_header_only(tmp_path: Path) -> None:
    path = write_v2(tmp_path / "ssm_survey_2022.csv", [])
    assert_refused(validate(path), "ssm_survey_2022.csv: has only its 3 header row(s) and no responses")


def test_binary_junk(tmp_path: Path) -> None:
    path = tmp_path / "ssm_survey_2022.csv"
    path.write_bytes(bytes(range(256)) * 40)
    assert_refused(validate(path), "ssm_survey_2022.csv, row 1: contains a NUL byte")


def test_nul_byte_inside_a_good_file(tmp_path: Path) -> None:
    path = write_v2(tmp_path / "ssm_survey_2022.csv", [v2_row(f"R_{i}") for i in range(5)])
    lines = path.read_bytes().split(b"\n")
    lines[5] = lines[5].replace(b"Pediatrics", b"Pedi\x00atrics")
    path.write_bytes(b"\n".join(lines))
    assert_refused(validate(path), "ssm_survey_2022.csv, row 6: contains a NUL byte")


def test_truncated_inside_a_quoted_field(tmp_path: Path) -> None:
    rows = [v2_row(f"R_{i}", comments="fine, thanks") for i in range(5)]
    path = write_v2(tmp_path / "ssm_survey_2022.csv", rows)
    data = path.read_bytes()
    path.write_bytes(data[: data.rindex(b'"fine, thanks') + 6])  # cut inside the last quoted field
    assert_refused(validate(path), "ssm_survey_2022.csv, row 8: cannot be read as CSV", "truncated")


def test_truncated_last_row_is_rejected_not_dropped(tmp_path: Path) -> None:
    path = write_v2(tmp_path / "ssm_survey_2022.csv", [v2_row(f"R_{i}") for i in range(5)])
    data = path.read_bytes().rstrip(b"\n")
    path.write_bytes(data[: data.rindex(b",2022-04-01")])  # the last row loses its later fields
    result = validate(path)
    assert result.returncode == 0, result.stderr
    assert "rows received: 5" in result.stdout
    assert "rejected     1" in result.stdout and "respondent   4" in result.stdout


def test_unknown_column_set(tmp_path: Path) -> None:
    path = tmp_path / "ssm_survey_2022.csv"
    path.write_text(csv_text([["Name", "Email", "Score"]], [["a", "b", "1"]]), encoding="utf-8")
    assert_refused(validate(path), "row 1: has a header row that matches no known survey version")


def test_missing_column(tmp_path: Path) -> None:
    columns = [c for c in v2_headers()[0] if c != "mentees_count"]
    rows = [[c for c, name in zip(v2_row("R_1"), v2_headers()[0], strict=True) if name != "mentees_count"]]
    path = tmp_path / "ssm_survey_2022.csv"
    path.write_text(csv_text(v2_headers(columns), rows), encoding="utf-8")
    assert_refused(validate(path), "lacks the column(s) mentees_count")


def test_v1_header_with_v2_values(tmp_path: Path) -> None:
    v2_values = [v2_row(f"R_{i}")[: len(V1_COLUMNS)] for i in range(5)]
    path = tmp_path / "ssm_survey_2018.csv"
    path.write_text(csv_text(v1_headers(), v2_values), encoding="utf-8")
    assert_refused(
        validate(path), "ssm_survey_2018.csv, row 3, column V7: has values that do not fit its v1 header"
    )


def test_duplicate_header_rows(tmp_path: Path) -> None:
    rows = [v2_row("R_1"), *v2_headers(), v2_row("R_2")]
    path = write_v2(tmp_path / "ssm_survey_2022.csv", rows)
    assert_refused(validate(path), "ssm_survey_2022.csv, row 5: repeats its header row")


def test_zip_renamed_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "ssm_survey_2022.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "not a workbook")
    assert_refused(validate(path), "ssm_survey_2022.xlsx: is not a readable Excel workbook")


def test_mislabelled_year(tmp_path: Path) -> None:
    path = write_v1(
        tmp_path / "ssm_survey_2019.csv", [v1_row(f"R_{i}", end="2018-04-02 09:00:00") for i in range(6)]
    )
    assert_refused(
        validate(path), "is named for survey year 2019, but 6 of 6 responses were recorded in 2018"
    )


@pytest.mark.parametrize("name", ["survey_2019.csv", "ssm_survey_19.csv"])
def test_file_name_without_year(tmp_path: Path, name: str) -> None:
    path = write_v1(tmp_path / name, [v1_row("R_1")])
    assert_refused(validate(path), f"{name}: the name does not follow ssm_survey_<YYYY>")
