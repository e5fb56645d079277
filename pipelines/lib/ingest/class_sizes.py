"""reference/class_sizes.csv, the class size per survey year that the analyst maintains (spec §4).

A bad row costs only itself: it is left out, recorded as an issue of the reference file (row, column,
value, what to fix), and its year gets no response rate and the visible warning of spec §4, while the
other years keep their class sizes. Only a file that is not a class-size table at all (empty, too
large, or without the header survey_year,class_size) is refused as a whole.

Pure Python (the csv module): the file is a line per year, and `ssm status` reads it without pandas.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pipelines.lib.ingest.errors import DeliveryError

HEADER = ("survey_year", "class_size")

# The smallest class: a graduating class has at least one student. 0 (or a negative number) is no
# class size; an analyst who does not know a year's size leaves the year out.
MIN_CLASS_SIZE = 1
# The largest class the pipeline is built for: a consortium of schools answering together, the scale
# of the benchmark (issue 6: 50,000 rows a year, whose classes come to 61,000-83,000 students at the
# response rates of 55-75% the synthetic data assume). The reader's file limit is set from the same
# scale (readers.MAX_FILE_BYTES). A medical school's class is a few hundred, so a larger number is a
# typing error (digits repeated, a number pasted into the wrong column), not a class. A class size
# below the year's respondents is caught where both are known (marts.response_funnel, spec §4).
MAX_CLASS_SIZE = 100_000
# The latest survey year a class size can be known for: a survey year is the graduation year of the
# class (spec §1), and the last class to have started a four-year MD program by the end of the
# current year graduates in the current year + 4. A later year is a typing error (2062 for 2026).
# There is deliberately no earliest year: the file is the school's record of its classes and may go
# back as far as the school's records do (40 years of history, to 1985, is ordinary); a row for a
# year without a delivery is never used, and a mistyped year (1026 for 2026) shows where it matters,
# as the year meant for it having no class size (the check class_size_on_record names that year).
YEARS_AHEAD = 4
# A survey year is four digits, as in the delivery file names (ssm_survey_<YYYY>).
FIRST_FOUR_DIGIT_YEAR = 1000
# The file is a line per year; anything this large is not a class-size table.
MAX_FILE_BYTES = 1 << 20
# Issues shown in full in the run log; the rest are counted (all of them are in the asset's metadata).
SHOWN_ISSUES = 20

_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
_LINES = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class ClassSizeIssue:
    """A row of the reference file that gives no class size: left out, its year has no response rate."""

    row_number: int  # the line in the file, counted as a spreadsheet or text editor does (header = 1)
    column: str | None  # survey_year, class_size, or None for the row as a whole
    original_value: str
    rule: str  # wrong_field_count, not_a_whole_number, out_of_range, duplicate_year
    problem: str
    action: str
    survey_year: int | None = None  # when the row's year could be read

    def message(self, path: Path | str) -> str:
        """File, row and column first, then the problem and what to do (as every error of the project)."""
        where = [str(path), f"row {self.row_number}"]
        if self.column:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.problem}. {self.action}"

    def as_metadata(self) -> dict[str, object]:
        return {
            "row": self.row_number,
            "column": self.column or "",
            "value": self.original_value,
            "rule": self.rule,
            "survey_year": self.survey_year,
            "what to do": self.action,
        }


@dataclass(frozen=True)
class ClassSizeTable:
    """The usable class sizes (survey year -> students) and the rows that gave none."""

    sizes: dict[int, int] = field(default_factory=dict)
    issues: list[ClassSizeIssue] = field(default_factory=list)

    def issue_for(self, year: int) -> ClassSizeIssue | None:
        """The first issue of a row for this survey year (why the year has no class size), if any."""
        return next((issue for issue in self.issues if issue.survey_year == year), None)


def read_class_sizes(path: Path, today: date | None = None) -> ClassSizeTable:
    """The class sizes of reference/class_sizes.csv and the rows that gave none.

    Raises DeliveryError (file, what is wrong, what to do) only when the file is not a class-size
    table at all: empty, over 1 MB, or without the header survey_year,class_size.
    """
    latest_year = (today or date.today()).year + YEARS_AHEAD
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise DeliveryError(
            str(path),
            f"is {size / (1 << 20):.0f} MB, not a class-size table (a line per survey year)",
            "Put back the file with the header survey_year,class_size and one row per year, e.g. 2018,178.",
        )
    # A byte that is not UTF-8 spoils only its own row (it is then not a number).
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    lines = _LINES.split(text)
    numbered = [(number, line) for number, line in enumerate(lines, start=1) if line.strip(" \t,")]
    if not numbered:
        raise DeliveryError(
            str(path),
            "is empty",
            "Write the header survey_year,class_size and one row per survey year, e.g. 2018,178; "
            "or delete the file (then no year has a response rate).",
        )
    header_number, header_line = numbered[0]
    header = tuple(cell.strip().lower() for cell in _fields(header_line) or [])
    if header != HEADER:
        shown = header_line.strip()[:80]
        raise DeliveryError(
            str(path),
            f"is not a class-size table: its first row is {shown!r}, not survey_year,class_size",
            "Put the header survey_year,class_size on the first row and one row per survey year below it, "
            "e.g. 2018,178 (is it the right file?).",
            row=header_number,
        )

    issues: list[ClassSizeIssue] = []
    found: dict[int, list[tuple[int, int]]] = {}  # year -> (row, size), in file order
    for number, line in numbered[1:]:
        parsed = _parse_row(number, line, latest_year)
        if isinstance(parsed, ClassSizeIssue):
            issues.append(parsed)
        else:
            year, students = parsed
            found.setdefault(year, []).append((number, students))

    sizes: dict[int, int] = {}
    for year, rows in found.items():
        distinct = sorted({students for _, students in rows})
        if len(distinct) == 1:
            sizes[year] = distinct[0]
            first = rows[0][0]
            issues += [
                ClassSizeIssue(
                    number,
                    "survey_year",
                    str(year),
                    "duplicate_year",
                    f"{year} is listed again (as on row {first}, with the same size {distinct[0]})",
                    "The size is used; delete the repeated row.",
                    year,
                )
                for number, _ in rows[1:]
            ]
        else:
            listed = ", ".join(f"row {number}: {students}" for number, students in rows)
            issues += [
                ClassSizeIssue(
                    number,
                    "survey_year",
                    str(year),
                    "duplicate_year",
                    f"{year} is listed more than once with different sizes ({listed}), so none is used "
                    f"and {year} gets no response rate",
                    f"Keep the one row with the right class size for {year} and delete the others.",
                    year,
                )
                for number, _ in rows
            ]
    issues.sort(key=lambda issue: issue.row_number)
    return ClassSizeTable(dict(sorted(sizes.items())), issues)


def _fields(line: str) -> list[str] | None:
    try:
        return next(csv.reader([line]))
    except (csv.Error, StopIteration):
        return None


def _parse_row(number: int, line: str, latest_year: int) -> tuple[int, int] | ClassSizeIssue:
    """(survey year, class size) of one row, or the issue that keeps it out."""
    shown = line.strip()[:80]
    fields = _fields(line)
    if fields is None or len(fields) != 2:
        count = "cannot be split into fields" if fields is None else f"has {len(fields)} fields"
        hint = (
            " Write numbers without a thousands separator (70000, not 70,000)."
            if fields is not None and len(fields) == 3
            else ""
        )
        return ClassSizeIssue(
            number,
            None,
            shown,
            "wrong_field_count",
            f"{shown!r} {count}, not 2 (survey_year,class_size), so the row is not used",
            f"Write the row as <survey year>,<class size>, e.g. 2018,178.{hint}",
        )
    year_text, size_text = (cell.strip() for cell in fields)

    if not _WHOLE_NUMBER.fullmatch(year_text):
        return ClassSizeIssue(
            number,
            "survey_year",
            year_text[:80],
            "not_a_whole_number",
            f"{year_text[:80]!r} is not a year, so the row is not used",
            "Write the survey year (the graduation year of the class) as four digits, e.g. 2018.",
        )
    digits = year_text.lstrip("+-").lstrip("0")
    year = int(year_text) if len(digits) <= 9 else None
    if year is None or not FIRST_FOUR_DIGIT_YEAR <= year <= latest_year:
        why = (
            f"no class graduating after {latest_year} has started medical school yet"
            if year is not None and year > latest_year
            else "a survey year has four digits"
        )
        return ClassSizeIssue(
            number,
            "survey_year",
            year_text[:80],
            "out_of_range",
            f"{year_text[:80]} is not a survey year ({why}), so the row is not used",
            "Check the year: it is the graduation year of the class, e.g. 2026.",
        )

    consequence = f"so {year} gets no response rate"
    if not _WHOLE_NUMBER.fullmatch(size_text):
        problem = "is empty" if not size_text else f"{size_text[:80]!r} is not a whole number of students"
        return ClassSizeIssue(
            number,
            "class_size",
            size_text[:80],
            "not_a_whole_number",
            f"the class size {problem}, {consequence}",
            f"Write the number of students in the class of {year} as a whole number (e.g. 178, no "
            "decimals, units or thousands separators), or delete the row if it is not known.",
            year,
        )
    digits = size_text.lstrip("+-").lstrip("0")
    students = int(size_text) if len(digits) <= 9 else None
    if students is None or students > MAX_CLASS_SIZE:
        return ClassSizeIssue(
            number,
            "class_size",
            size_text[:80],
            "out_of_range",
            f"{size_text[:80]} students is more than {MAX_CLASS_SIZE:,}, the largest class the pipeline "
            f"is built for (a consortium of schools), {consequence}",
            f"Check for a typing error (a digit repeated, a number from another column) and write the "
            f"number of students in the class of {year}.",
            year,
        )
    if students < MIN_CLASS_SIZE:
        return ClassSizeIssue(
            number,
            "class_size",
            size_text[:80],
            "out_of_range",
            f"{students} is not a class size (a class has at least one student), {consequence}",
            f"Write the number of students in the class of {year}, or delete the row if it is not known.",
            year,
        )
    return year, students
