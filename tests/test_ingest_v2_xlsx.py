"""v2 as an Excel workbook (first sheet, the same three header rows): the same rows as the CSV."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

from pipelines.lib.ingest.harmonise import harmonise
from pipelines.lib.ingest.readers import read_delivery
from tests.deliveries import REASON_1, v2_headers, v2_row, write_v2

ROWS = [
    v2_row("R_1", nonpart_reasons=f"{REASON_1},Was not aware of the program", comments="line one\nline two"),
    v2_row("R_2", status="Survey Test"),
    v2_row("R_3", age="twenty six"),
    v2_row("R_4", mentor_formal="Yes", mentor_again="Yes", nonpart_reasons=""),
]


def write_xlsx(path: Path, rows: list[list[str]]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    for row in [*v2_headers(), *rows]:
        # Excel stores numbers as numbers: age and Progress come back as 27.0 / 100 unless read carefully.
        sheet.append([int(c) if c.isdigit() else c for c in row])
    workbook.create_sheet("Notes").append(["not read: only the first sheet is the export"])
    workbook.save(path)
    return path


def test_workbook_harmonises_like_csv(tmp_path: Path) -> None:
    from_csv = harmonise(read_delivery(write_v2(tmp_path / "ssm_survey_2022.csv", ROWS)), 2022, "salt")
    from_xlsx = harmonise(read_delivery(write_xlsx(tmp_path / "ssm_survey_2022.xlsx", ROWS)), 2022, "salt")
    assert from_xlsx.bucket_counts() == from_csv.bucket_counts()
    assert from_xlsx.bucket_counts()["preview"] == 1 and from_xlsx.bucket_counts()["respondent"] == 3
    assert from_xlsx.responses.equals(from_csv.responses)
    assert from_xlsx.issues.equals(from_csv.issues)
    assert [tuple(r) for r in from_xlsx.issues.itertuples(index=False)] == [
        (6, "age", "twenty six", "not_an_integer")
    ]
