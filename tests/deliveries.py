"""Hand-made deliveries for tests, written from the column lists of spec §3 (not from project code)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

V1_COLUMNS = [
    "V1", "V2", "V3", "V4", "V5", "V6", "V7", "V8", "V9", "V10", "Q1", "Q2", "Q3", "Q4", "Q4_17_TEXT", "Q5",
    "Q6", "Q7", "Q8_1", "Q8_2", "Q8_3", "Q9", "Q10", "Q11", "Q12_1", "Q12_2", "Q12_3", "Q12_4", "Q12_5",
    "Q12_6", "Q12_6_TEXT", "Q13", "LocationLatitude", "LocationLongitude", "LocationAccuracy",
]  # fmt: skip
V2_META = [
    "StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)", "Finished", "RecordedDate",
    "ResponseId", "RecipientLastName", "RecipientFirstName", "RecipientEmail", "ExternalReference",
    "LocationLatitude", "LocationLongitude", "DistributionChannel", "UserLanguage",
]  # fmt: skip
V2_QUESTIONS = [
    "consent", "gender", "gender_4_TEXT", "age", "specialty", "specialty_17_TEXT", "mentor_formal",
    "mentor_informal", "had_student_mentor", "SSM_value_1", "SSM_value_2", "SSM_value_3", "mentor_again",
    "mentor_worthwhile", "mentees_count", "nonpart_reasons", "nonpart_reasons_6_TEXT", "comments",
]  # fmt: skip
V2_COLUMNS = V2_META + V2_QUESTIONS
REASON_1 = "Not enough time (clinical, research, or personal commitments)"


def v1_row(
    response_id: str, end: str = "2018-04-01 10:00:00", status: str = "0", finished: str = "1", **answers: str
) -> list[str]:
    """One v1 row: numeric codes; answers by export column (Q1, Q3, ...), a consenting non-mentor by default."""
    cells = {
        "V1": response_id, "V2": "Default Response Set", "V3": "Jane Doe", "V4": "", "V5": "jane.doe@example.edu",
        "V6": "10.1.2.3", "V7": status, "V8": end, "V9": end, "V10": finished, "Q1": "1", "Q2": "2", "Q3": "27",
        "Q4": "10", "Q5": "2", "Q6": "2", "Q7": "1", "Q8_1": "5", "Q8_2": "4", "Q8_3": "2", "Q12_1": "1",
        "LocationLatitude": "41.1", "LocationLongitude": "-81.1", "LocationAccuracy": "-1",
    }  # fmt: skip
    cells.update(answers)
    return [cells.get(c, "") for c in V1_COLUMNS]


def v2_row(
    response_id: str,
    recorded: str = "2022-04-01 10:00:00",
    status: str = "IP Address",
    progress: str = "100",
    finished: str = "True",
    channel: str = "anonymous",
    **answers: str,
) -> list[str]:
    """One v2 choice-text row; answers by export column, a consenting non-mentor by default."""
    cells = {
        "StartDate": recorded, "EndDate": recorded, "Status": status, "IPAddress": "10.0.0.1",
        "Progress": progress, "Duration (in seconds)": "300", "Finished": finished, "RecordedDate": recorded,
        "ResponseId": response_id, "RecipientLastName": "Doe", "RecipientFirstName": "Jane",
        "RecipientEmail": "jane@example.edu", "ExternalReference": "", "LocationLatitude": "41.1",
        "LocationLongitude": "-81.1", "DistributionChannel": channel, "UserLanguage": "EN",
        "consent": "Yes", "gender": "Woman", "age": "27", "specialty": "Pediatrics", "mentor_formal": "No",
        "mentor_informal": "No", "had_student_mentor": "Yes", "SSM_value_1": "Strongly agree",
        "SSM_value_2": "Somewhat agree", "SSM_value_3": "Somewhat disagree", "nonpart_reasons": REASON_1,
    }  # fmt: skip
    cells.update(answers)
    return [cells.get(c, "") for c in V2_COLUMNS]


def csv_text(header_rows: list[list[str]], rows: list[list[str]], line_end: str = "\n") -> str:
    """CSV text as Qualtrics writes it (quoting only where needed)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=line_end).writerows([*header_rows, *rows])
    return buffer.getvalue()


def v1_headers() -> list[list[str]]:
    return [V1_COLUMNS, [f"question {c}" for c in V1_COLUMNS]]


def v2_headers(columns: list[str] = V2_COLUMNS) -> list[list[str]]:
    return [columns, [f"question {c}" for c in columns], [f'{{"ImportId":"{c}"}}' for c in columns]]


def write_v1(path: Path, rows: list[list[str]], encoding: str = "utf-8-sig") -> Path:
    """A v1 legacy export: two header rows, CRLF, BOM by default."""
    path.write_bytes(csv_text(v1_headers(), rows, "\r\n").encode(encoding))
    return path


def write_v2(path: Path, rows: list[list[str]]) -> Path:
    """A v2 choice-text export: three header rows, UTF-8 without BOM."""
    path.write_text(csv_text(v2_headers(), rows), encoding="utf-8")
    return path
