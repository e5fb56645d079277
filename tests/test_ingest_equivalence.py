"""The columnar ingest against simple reference implementations kept here (spec §3-§5).

read_delivery splits a CSV with DuckDB's CSV reader after a byte-level check, and harmonise keeps the
cells in DuckDB: it decodes each distinct value of a column once (in Python) and joins the result back
to the rows, strips and parses in SQL where SQL does exactly what Python does, and applies the §5 rules
as SQL over the columns. Each shortcut is compared with the plain way of doing the same thing, written
out below: the csv module reading the file record by record, Python's str.strip and pandas' date
parsing, a rule applied to every cell, the multi-select labels of §2.2 as they were joined, and the §5
bucket rules applied row by row.
"""

from __future__ import annotations

import csv
import io
import tempfile
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.lib.ingest import harmonise as H
from pipelines.lib.ingest.errors import DeliveryError
from pipelines.lib.ingest.privacy import mask_series
from pipelines.lib.ingest.readers import (
    PY_WHITESPACE,
    RawTable,
    _duckdb_csv_grid,
    _field_counts,
    _records_shape,
    blank,
    read_delivery,
    sql_string,
    stripped,
)
from schemas.instruments import instruments
from tests.deliveries import REASON_1, V2_COLUMNS, csv_text, v2_headers, v2_row

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# A harmonised file costs a tenth of a second (pandera): fewer, larger examples.
FILE_SETTINGS = settings(SETTINGS, max_examples=30)
V2 = next(i for i in instruments() if i.name == "v2")
REASONS = [
    REASON_1,
    "Was not aware of the program",
    "Not interested in mentoring",
    "Did not feel qualified to mentor",
    "Applied but was not selected",
    "Other (please specify)",
]

# Cell text with everything that makes CSV interesting: separators, quotes, line breaks, white space.
AWKWARD = st.text(
    alphabet=st.sampled_from(list(' ,"\n\r\tab;XY01\xa0\u3000\x85\u2028é#\\')), max_size=8
) | st.sampled_from(["", " ", "Yes", "R_1", REASON_1, 'say ""hi""', "a,b", "StartDate"])


def write(folder: str, data: bytes, name: str = "ssm_survey_2022.csv") -> Path:
    path = Path(folder) / name
    path.write_bytes(data)
    return path


# ------------------------------------------------------------------------------------------------
# Reading: the csv module, record by record, is the reference
# ------------------------------------------------------------------------------------------------


def reference_read(
    text: str, header_rows: int = 3
) -> tuple[list[str], list[tuple[int, tuple[str, ...]]]] | int:
    """Header row and data rows (row number, cells) as the csv module reads them, or the row number at
    which it gives up. Blank rows are not rows; row numbers count every record, headers included."""
    records: list[list[str]] = []
    try:
        for record in csv.reader(io.StringIO(text, newline=""), strict=True):
            records.append(record)
    except csv.Error:
        return len(records) + 1
    header = [c.strip() for c in records[0]]
    while header and header[-1] == "":
        header.pop()
    rows = [
        (number, tuple(record))
        for number, record in enumerate(records, start=1)
        if number > header_rows and any(c.strip() for c in record)
    ]
    return header, rows


@st.composite
def csv_documents(draw: st.DrawFn) -> str:
    """The v2 header rows, then rows of awkward cells, each cell quoted properly, not at all (which can
    break the row) or badly; any line ending; ragged, blank and cut-off rows."""
    lines = [line for line in csv_text(v2_headers(), []).split("\n") if line]
    for _ in range(draw(st.integers(1, 8))):
        width = draw(st.sampled_from([len(V2_COLUMNS)] * 4 + [0, 1, 5, len(V2_COLUMNS) + 1]))
        cells = []
        for _ in range(width):
            value = draw(AWKWARD)
            style = draw(st.sampled_from(["auto"] * 6 + ["quoted", "raw", "bad"]))
            if style == "auto" and any(c in value for c in ',"\r\n'):
                style = "quoted"
            cells.append(
                '"' + value.replace('"', '""') + '"'
                if style == "quoted"
                else f'"{value}"x'
                if style == "bad"
                else value
            )
        lines.append(",".join(cells))
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = ending.join(lines) + draw(st.sampled_from(["", ending, ending * 2]))
    if draw(st.integers(0, 4)) == 0:
        text = text[: draw(st.integers(len(lines[0]) + 1, len(text)))]  # cut off anywhere after row 1
    return text


@SETTINGS
@given(text=csv_documents())
def test_reader_reads_what_the_csv_module_reads(text: str) -> None:
    expected = reference_read(text)
    with tempfile.TemporaryDirectory() as folder:
        path = write(folder, text.encode("utf-8"))
        if isinstance(expected, int):
            with pytest.raises(DeliveryError, match="cannot be read as CSV") as refused:
                read_delivery(path)
            assert refused.value.row == expected
            return
        header, rows = expected
        try:
            table = read_delivery(path)
        except DeliveryError as err:
            assert "no responses" in str(err) and not rows
            return
    assert list(table.columns) == header
    assert [(r.row_number, r.cells) for r in table.rows] == rows
    assert len(table.rows) == table.row_count == len(rows)


@SETTINGS
@given(
    rows=st.lists(st.lists(AWKWARD, max_size=6), min_size=1, max_size=12),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
    ending=st.sampled_from(["\n", "\r\n"]),
)
def test_well_formed_csv_takes_the_fast_path(rows: list[list[str]], quoting: int, ending: str) -> None:
    """What csv.writer writes is counted on the bytes and read by DuckDB, field for field. Left to the
    csv module: records ended by different line breaks (csv.writer leaves a lone CR unquoted), and empty
    lines, which DuckDB skips except after a quoted field (its count of rows then differs)."""
    buffer = io.StringIO()
    csv.writer(buffer, quoting=quoting, lineterminator=ending).writerows(rows)
    text = buffer.getvalue()
    records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    counts = _field_counts(text.encode("utf-8"))
    assert counts is not None
    assert counts.tolist() == [len(r) for r in records]
    if not records[0]:
        return  # an empty row 1 is refused before any reading (no export starts so)
    with tempfile.TemporaryDirectory() as folder, duckdb.connect() as con:
        path = write(folder, text.encode("utf-8"))
        grid = _duckdb_csv_grid(con, path, text.encode("utf-8"), "utf-8", path.name)
        if grid is None:
            assert [] in records or _records_shape(text.encode("utf-8")).newline is None
            return
        cells = ", ".join(f"coalesce(c{j}, '')" for j in range(grid.width))
        read = con.execute(f"select {grid.rec}, {grid.nf}, {cells} from {grid.table} order by 1").fetchall()
    filled = [(number, record) for number, record in enumerate(records) if record]
    assert [(rec, (tuple(cells) + grid.wider.get(rec, ()))[:nf]) for rec, nf, *cells in read] == [
        (number, tuple(record)) for number, record in filled
    ]


# ------------------------------------------------------------------------------------------------
# Decoding each distinct value once = decoding every cell
# ------------------------------------------------------------------------------------------------

CELLS = st.lists(
    st.sampled_from(["", "1", "2", "5", "9", "Yes", "no", " yes", "Strongly agree", "somewhat AGREE", "27"])
    | st.sampled_from(["+3", "-1", "٢٧", "07", "twenty", "a@b.org", "call 216-555-0100", "Pediatrics"])
    | st.text(max_size=5),
    max_size=30,
)
RULES = {
    "choice (text)": lambda s: H._decode_choice(s, V2.variables["value_mentee"], "text")[0],
    "choice unknown (text)": lambda s: H._decode_choice(s, V2.variables["gender"], "text")[1],
    "choice (numeric)": lambda s: H._decode_choice(s, V2.variables["value_mentee"], "numeric")[0],
    "specialty (text)": lambda s: H._decode_choice(s, V2.variables["specialty"], "text")[0],
    "integer": lambda s: H._decode_integer(s)[0],
    "integer bad": lambda s: H._decode_integer(s)[1],
    "casefold": lambda s: s.str.casefold(),
    "text": lambda s: s.where(s != ""),
    "mask contacts": mask_series,
    "mask contacts of text": lambda s: mask_series(s.where(s != "")),
}


def cells_table(con: duckdb.DuckDBPyConnection, cells: list[str]) -> RawTable:
    """A RawTable of one column, "x", holding these cells in rows 4, 5, ..."""
    con.execute(
        "create temp table cells as select (ordinality + 3)::integer as rn, 1 as nf, c0 "
        "from unnest(?::VARCHAR[]) with ordinality as t(c0, ordinality)",
        [cells],
    )
    return RawTable("ssm_survey_2022.csv", V2, ("x",), con, "cells", 1, {}, len(cells), "utf-8")


def rule_by_value(table: RawTable, scope: str, function) -> list:
    """harmonise's way: the column's distinct cells from DuckDB, stripped, the rule applied once per
    distinct value, the results joined back to the rows in SQL."""
    run = H._Run(table)
    if scope != "all":
        run.scopes[scope] = f"(select * from {table.cells} where {scope})"
    column = run.distinct(scope, ["x"])["x"]
    per_value = function(column.values).tolist()
    kinds = {type(H._python(v)) for v in per_value} - {type(None)}
    sql_type = "BOOLEAN" if kinds <= {bool} and kinds else "VARCHAR" if str in kinds else "DOUBLE"
    results = run.value_table(column.raw, {"y": (sql_type, column.spread(per_value))})
    joined = table.con.execute(
        f"select d.y from {run.scopes[scope]} r left join {results} d on d.v = r.c0 order by r.rn"
    ).fetchall()
    return [y for (y,) in joined]


def same_values(got: list, expected: pd.Series) -> bool:
    """Value for value, missing as missing (the SQL types are not pandas' dtypes)."""
    expected_values = [None if H._is_missing(v) else H._python(v) for v in expected.tolist()]
    return got == expected_values


@SETTINGS
@given(cells=CELLS, rule=st.sampled_from(sorted(RULES)), data=st.data())
def test_a_rule_on_distinct_values_equals_the_rule_on_every_cell(cells: list[str], rule: str, data) -> None:
    """Each rule sees a cell as str.strip() leaves it; applied per distinct value and joined back in
    DuckDB, it gives what it gives applied to every (stripped) cell, for all rows and for a subset (the
    respondents: only the values they use)."""
    function = RULES[rule]
    series = pd.Series([c.strip() for c in cells], dtype="str")
    with duckdb.connect() as con:
        table = cells_table(con, cells)
        assert same_values(rule_by_value(table, "all", function), function(series))
        positions = sorted(data.draw(st.sets(st.integers(0, max(len(cells) - 1, 0)))))
        positions = [p for p in positions if p < len(cells)]
        rows = ", ".join(str(p + 4) for p in positions) or "NULL"
        expected = function(series.iloc[positions].reset_index(drop=True))
        assert same_values(rule_by_value(table, f"rn in ({rows})", function), expected)


@SETTINGS
@given(text=st.text(alphabet=st.sampled_from(list(PY_WHITESPACE + "ab é\u200b\ufeff\x00%_")), max_size=8))
def test_sql_strips_and_finds_blanks_as_python_does(text: str) -> None:
    """stripped() (the ResponseId) and blank() (blank rows) in SQL are str.strip() in Python."""
    with duckdb.connect() as con:
        got = con.execute(f"select {stripped('$1')}, {blank('$1')}", [text]).fetchall()[0]
    assert got == (text.strip(), not text.strip())


def test_the_whitespace_of_sql_is_pythons() -> None:
    import sys

    assert "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()) == PY_WHITESPACE


DIGITS = st.sampled_from(list("0123456789"))


@SETTINGS
@given(
    parts=st.lists(st.text(alphabet=DIGITS, min_size=2, max_size=2), min_size=6, max_size=6),
    century=st.sampled_from(["00", "10", "19", "20", "21", "99"]),
)
def test_plain_dates_parse_in_sql_as_pandas_parses_them(parts: list[str], century: str) -> None:
    """The dates harmonise parses in SQL (those of the export's plain format, seconds under 60) get the
    timestamp pandas gives them, or are missing where pandas finds no date (30 February, month 13)."""
    year, month, day, hour, minute, second = parts
    text = f"{century}{year}-{month}-{day} {hour}:{minute}:{second}"
    with duckdb.connect() as con:
        plain, micros = con.execute(
            f"select regexp_full_match(?, {sql_string(H._PLAIN_DATE)}), "
            f"epoch_us(try_strptime(?, {sql_string(H._DATE_FORMAT)}))",
            [text, text],
        ).fetchall()[0]
    expected = H._parse_dates(pd.Series([text], dtype="str")).to_numpy().astype("datetime64[us]")[0]
    if plain:
        assert micros == (None if np.isnat(expected) else int(expected.view(np.int64)))
    else:
        assert int(second) >= 60  # sent to pandas


# ------------------------------------------------------------------------------------------------
# Multi-select reasons (§2.2): the labels that were joined come back, the rest is an issue
# ------------------------------------------------------------------------------------------------

# No label starts with x, y or z; no comma; too few digits to look like a phone number.
UNKNOWN_PART = st.from_regex(r"[xyz]([xyz0-9 ]{0,4}[xyz])?", fullmatch=True)


@st.composite
def reason_cells(draw: st.DrawFn, coding: str) -> tuple[str, set[int], str]:
    """A cell of chosen reasons (any order, any case), maybe with unknown parts, and what it means."""
    codes = draw(st.lists(st.integers(1, 6), unique=True, max_size=6))
    parts = [
        str(code)
        if coding == "numeric"
        else draw(st.sampled_from([str.upper, str.lower, str]))(REASONS[code - 1])
        for code in codes
    ]
    unknown = draw(st.lists(UNKNOWN_PART, max_size=2)) if coding == "text" else []
    for part in unknown:
        parts.insert(draw(st.integers(0, len(parts))), part)
    unknown_in_order = [p for p in parts if p in unknown and p not in [str(c) for c in codes]]
    return ",".join(parts), set(codes), ",".join(unknown_in_order)


@FILE_SETTINGS
@given(data=st.data(), coding=st.sampled_from(["text", "numeric"]))
def test_multi_select_reasons_come_back_as_ticked(data, coding: str) -> None:
    cells = [data.draw(reason_cells(coding)) for _ in range(data.draw(st.integers(1, 20)))]
    rows = [v2_row(f"R_{i}", nonpart_reasons=cell) for i, (cell, _, _) in enumerate(cells)]
    if coding == "numeric":  # the whole file in numeric values, so that the coding is detected as such
        codes = {"Status": "0", "Finished": "1", "consent": "1", "gender": "1", "specialty": "10",
                 "mentor_formal": "2", "mentor_informal": "2", "had_student_mentor": "1",
                 "SSM_value_1": "5", "SSM_value_2": "4", "SSM_value_3": "2"}  # fmt: skip
        rows = [[codes.get(c, v) for c, v in zip(V2_COLUMNS, row, strict=True)] for row in rows]
    with tempfile.TemporaryDirectory() as folder:
        result = H.harmonise(read_delivery(write(folder, csv_text(v2_headers(), rows).encode())), 2022, "s")
    assert result.coding == coding
    responses = result.responses.set_index("row_number")
    issues = result.issues[result.issues["column_name"] == "nonpart_reasons"]
    for row_number, (_, ticked, unknown) in enumerate(cells, start=4):
        flags = {code for code in range(1, 7) if responses.loc[row_number, f"nonpart_reason_{code}"]}
        assert flags == ticked
        expected = [(row_number, unknown, "unknown_label")] if unknown else []
        found = issues[issues["row_number"] == row_number][["row_number", "original_value", "rule"]]
        assert [tuple(r) for r in found.itertuples(index=False)] == expected


# ------------------------------------------------------------------------------------------------
# Buckets (§5), row by row
# ------------------------------------------------------------------------------------------------

PREVIEW_STATUS = {"survey preview", "survey test", "spam"}


def reference_buckets(rows: list[list[str]]) -> list[str]:
    """The §5 rules applied to one row after another, in their order."""
    width = len(V2_COLUMNS)
    buckets: list[str | None] = []
    recorded: list[datetime] = []
    for row in rows:
        cells = dict(zip(V2_COLUMNS, [c.strip() for c in row], strict=False))
        try:
            recorded.append(datetime.strptime(cells.get("RecordedDate", ""), "%Y-%m-%d %H:%M:%S"))
        except ValueError:
            recorded.append(datetime.min)  # no date: the earliest, so any dated copy wins
        try:
            progress = float(cells.get("Progress", ""))
        except ValueError:
            progress = float("nan")
        if len(row) != width:
            buckets.append("rejected")
        elif cells["Status"].casefold() in PREVIEW_STATUS or cells["DistributionChannel"].casefold() in {
            "preview",
            "test",
        }:
            buckets.append("preview")
        elif cells["Finished"].casefold() != "true" or not progress >= 100:
            buckets.append("incomplete")
        elif cells["consent"].casefold() != "yes":
            buckets.append("no_consent")
        else:
            buckets.append(None)
    for i, row in enumerate(rows):
        response_id = row[V2_COLUMNS.index("ResponseId")].strip() if buckets[i] is None else ""
        if not response_id:
            continue
        later = [
            j
            for j, other in enumerate(rows)
            if j != i
            and buckets[j] in (None, "duplicate")
            and other[V2_COLUMNS.index("ResponseId")].strip() == response_id
            and (recorded[j], j) > (recorded[i], i)
        ]
        if later:
            buckets[i] = "duplicate"
    return [
        b
        if b is not None
        else "rejected"
        if not row[V2_COLUMNS.index("ResponseId")].strip()
        else "respondent"
        for b, row in zip(buckets, rows, strict=True)
    ]


def padded(value: str) -> st.SearchStrategy[str]:
    return st.sampled_from([value, f" {value}", f"{value} ", value.upper()])


def usually(common: str, *others: str) -> st.SearchStrategy[str]:
    """Mostly the value that lets a row through, padded or in capitals now and then."""
    return st.sampled_from([common] * 6 + list(others)).flatmap(padded)


@st.composite
def bucket_rows(draw: st.DrawFn) -> list[str]:
    row = v2_row(
        draw(st.sampled_from(["R_1", "R_2", "R_3", " R_1", ""])),
        recorded=draw(st.sampled_from(["2022-04-01 10:00:00", "2022-04-02 09:00:00", "", "not a date"])),
        status=draw(usually("IP Address", "Survey Preview", "Survey Test", "Spam", "")),
        progress=draw(st.sampled_from(["100"] * 6 + ["100.0", "99.5", "40", "", "n/a"])),
        finished=draw(usually("True", "False", "")),
        channel=draw(usually("anonymous", "preview", "test", "")),
        consent=draw(usually("Yes", "No", "")),
    )
    cut = draw(st.sampled_from([None] * 12 + [5, 20, len(V2_COLUMNS) - 1]))
    return row if cut is None else row[:cut]


@FILE_SETTINGS
@given(rows=st.lists(bucket_rows(), min_size=1, max_size=25))
def test_buckets_follow_the_rules_row_by_row(rows: list[list[str]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        table = read_delivery(write(folder, csv_text(v2_headers(), rows).encode()))
        try:
            result = H.harmonise(table, 2022, "salt")
        except DeliveryError as err:  # Status or Finished mostly empty or unknown: refused as a whole
            assert "do not fit" in str(err)
            return
    assert list(result.responses["bucket"]) == reference_buckets(rows)
