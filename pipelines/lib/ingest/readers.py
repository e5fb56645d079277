"""Readers for survey deliveries: bytes on disk to header rows and a DuckDB table of data cells.

The reader only decodes and splits; what the columns mean is the instrument mapping's business
(schemas/instruments/), and what happens to each row is harmonise.py's.

A CSV delivery is split by DuckDB's CSV reader (every field as text, the dialect given explicitly, not
sniffed) straight into a table, one column per field position: no Python object per row or cell. That
reader is more lenient than the csv module (strict mode) that defines how a delivery is read, so it is
only used after a check on the raw bytes (numpy, no Python loop per row) has shown that the two agree
on the file: every quote opens or closes a whole quoted field, no field can be longer than the csv
module allows, every record ends with the same line break, and DuckDB finds one row per non-empty
record. Anything else (a quote inside an unquoted field, text after a closing quote, a file cut inside
a quoted field, mixed line breaks, ...) is read by the csv module exactly as before, so its refusals
keep their wording and row numbers; its records go into the same kind of table. So do a Windows-1252
file's (DuckDB decodes UTF-8 only) and an Excel workbook's first sheet (openpyxl: DuckDB reads no
Excel here). Those are the small legacy files; a large delivery is a UTF-8 export.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import duckdb
import numpy as np
import pandas as pd

from pipelines.lib.ingest.errors import DeliveryError
from schemas.instruments import Instrument, instruments

XLSX_MAGIC = b"PK\x03\x04"
MiB = 1 << 20
# A medical school's class exports to a few MB; the benchmark's consortium year (50,000 rows, v2 CSV)
# to about 16 MB, and the largest class raw/class_sizes accepts (100,000) to about 32 MB. Anything
# over this is not a survey export, and reading it would cost several times its size in memory.
MAX_FILE_BYTES = 256 * MiB
# Excel's cell limit; Qualtrics caps a text answer well below it. A longer field is a damaged file,
# usually a quote that is never closed, so the field runs on through the rest of the file.
MAX_FIELD_CHARS = 32_767
# Row 1 of an export is its column names (a few KB). A file without a line break this early is not CSV.
MAX_FIRST_LINE_BYTES = MiB
_UTF16_32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# A line as io.StringIO(newline="") reads it: up to and including \r\n, \r or \n.
_LINE = re.compile(r"[^\r\n]*(?:\r\n?|\n)|[^\r\n]+")
# One field of a record as the csv module reads it (a quoted field may run to the end of the text).
_FIELD = re.compile(r'"[^"]*(?:""[^"]*)*"?|[^,\r\n]*')

_QUOTE, _COMMA, _CR, _LF = (ord(c) for c in '",\r\n')
# Bytes that may stand next to a quote that opens or closes a quoted field.
_AROUND_QUOTES = np.zeros(256, dtype=bool)
_AROUND_QUOTES[[_QUOTE, _COMMA, _CR, _LF]] = True

# The characters Python's str.strip() removes (those for which str.isspace() is true), so that SQL's
# trim(cell, PY_WHITESPACE) strips a cell exactly as Python does (tests/test_ingest_equivalence.py).
PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# Names of the temporary tables a process makes: unique, so that several deliveries can be open at once.
_TABLE_NUMBERS = itertools.count(1)


def sql_string(text: str) -> str:
    """A SQL string literal of any text."""
    return "'" + text.replace("'", "''") + "'"


def sql_name(text: str) -> str:
    """A quoted SQL identifier of any text."""
    return '"' + text.replace('"', '""') + '"'


# The same characters as a class of DuckDB's regular expressions (RE2).
_WHITESPACE_CLASS = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in PY_WHITESPACE) + "]"


def stripped(expression: str) -> str:
    """SQL for the text of an expression as Python's str.strip() leaves it (trim with a set of
    characters is slow in DuckDB, so only the values with white space at an end go through it)."""
    edge = sql_string(f"^{_WHITESPACE_CLASS}|{_WHITESPACE_CLASS}$")
    return (
        f"case when regexp_matches({expression}, {edge}) "
        f"then trim({expression}, {sql_string(PY_WHITESPACE)}) else {expression} end"
    )


def blank(expression: str) -> str:
    """SQL: is the text of an expression nothing but white space (as str.strip() sees it)?"""
    return f"regexp_full_match({expression}, {sql_string(_WHITESPACE_CLASS + '*')})"


def temp_table_name(kind: str) -> str:
    """A fresh name for a temporary table of this process."""
    return f"ssm_{kind}_{next(_TABLE_NUMBERS)}"


@dataclass(frozen=True)
class RawRow:
    """One data row as read. row_number counts as a spreadsheet does: header rows included, from 1."""

    row_number: int
    cells: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class RawTable:
    """A delivery split into its header row and a table of data cells, with the instrument it matches.

    Attributes:
        file_name: the name used in messages.
        instrument: the survey version whose signature the header row carries.
        columns: the first header row, stripped, without trailing empty names.
        con: the DuckDB connection that holds the cells (a private in-memory one unless read_delivery
            was given one).
        cells: a temporary view of the data rows (header rows and blank rows left out), in file order:
            ``rn`` the row number (as a spreadsheet counts rows, from 1), ``nf`` how many fields the row
            really had (the width check of spec §5), then ``c0``, ``c1``, ... one column per field
            position of row 1, the text exactly as read (not stripped), "" where a row has fewer fields.
        width: how many ``c`` columns the view has (the fields of row 1).
        wider: the cells past ``width`` of the few rows that have more fields than row 1, by row number.
        row_count: data rows received (blank rows are not rows).
        encoding: ``utf-8``, ``windows-1252`` or ``xlsx``.
    """

    file_name: str
    instrument: Instrument
    columns: tuple[str, ...]
    con: duckdb.DuckDBPyConnection
    cells: str
    width: int
    wider: dict[int, tuple[str, ...]]
    row_count: int
    encoding: str
    _tables: tuple[str, ...] = ()
    _owns_connection: bool = False

    @property
    def row_numbers(self) -> np.ndarray:
        """The row number of each data row, in file order."""
        return self._column("rn")

    @property
    def field_counts(self) -> np.ndarray:
        """How many fields each data row really had, in file order."""
        return self._column("nf")

    @property
    def rows(self) -> RawRows:
        """The data rows one by one, as RawRow (fetched on demand; ``len(table.rows)`` costs nothing)."""
        return RawRows(self)

    def _column(self, name: str) -> np.ndarray:
        result = self.con.execute(f"select {name} from {self.cells} order by rn").fetchnumpy()
        return np.asarray(result[name], dtype=np.int64)

    def close(self) -> None:
        """Drop the cells' tables (and close the connection if the table opened it)."""
        if self._owns_connection:
            self.con.close()
            return
        self.con.execute(f"drop view if exists {self.cells}")
        for table in self._tables:
            self.con.execute(f"drop table if exists {table}")

    def __enter__(self) -> RawTable:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RawRows(Sequence[RawRow]):
    """A read-only sequence of the data rows of a RawTable, fetched from its table when asked for."""

    def __init__(self, table: RawTable) -> None:
        self._table = table
        self._fetched: list[RawRow] | None = None

    def __len__(self) -> int:
        return self._table.row_count

    @overload
    def __getitem__(self, index: int) -> RawRow: ...

    @overload
    def __getitem__(self, index: slice) -> list[RawRow]: ...

    def __getitem__(self, index: int | slice) -> RawRow | list[RawRow]:
        rows = self._all()
        if isinstance(index, slice):
            return rows[index]
        return rows[range(len(self))[index]]  # negative indices, and IndexError past the end

    def __iter__(self) -> Iterator[RawRow]:
        return iter(self._all())

    def _all(self) -> list[RawRow]:
        if self._fetched is None:
            table = self._table
            cells = ", ".join(f"c{j}" for j in range(table.width))
            records = table.con.execute(f"select rn, nf, {cells} from {table.cells} order by rn").fetchall()
            self._fetched = [
                RawRow(record[0], (tuple(record[2:]) + table.wider.get(record[0], ()))[: record[1]])
                for record in records
            ]
        return self._fetched


def _check_text(data: bytes, file_name: str) -> str:
    """Refuse bytes that are not CSV text at all; return the encoding (``utf-8`` or ``windows-1252``).

    Byte-level checks only, cheapest first, so that junk is refused before it is decoded or split.
    """
    head = data[:4096]
    if head.startswith(_UTF16_32_BOMS) or (head.count(0) > len(head) // 4 and b"\x00\x00\x00" not in head):
        # UTF-16 puts a NUL beside every ASCII character: "Unicode Text" from Excel, or a text editor.
        raise DeliveryError(
            file_name,
            "is saved as UTF-16 or UTF-32 text, not as UTF-8 CSV",
            "Export the survey again from Qualtrics as CSV, or in Excel save it as "
            "'CSV UTF-8 (Comma delimited)', and replace the file in landing/.",
        )
    if b"\x00" in data:
        offset = data.index(b"\x00")
        row = data.count(b"\n", 0, offset) + 1
        raise DeliveryError(
            file_name,
            f"contains a NUL byte at byte {offset} (the file is binary or damaged)",
            "Export the survey again from Qualtrics as CSV and replace the file in landing/.",
            row=row,
        )
    if len(data) > MAX_FIRST_LINE_BYTES and not any(
        data.find(end, 0, MAX_FIRST_LINE_BYTES) >= 0 for end in (b"\n", b"\r")
    ):
        raise DeliveryError(
            file_name,
            f"has no line break in its first {MAX_FIRST_LINE_BYTES // MiB} MB, so it is not a CSV export "
            "(row 1 of an export is its column names, a few KB)",
            "Export the survey again from Qualtrics as CSV and replace the file in landing/.",
            row=1,
        )
    try:
        data.decode("utf-8")  # only to validate: the text is made when (and if) the csv module needs it
        return "utf-8"
    except UnicodeDecodeError:
        pass
    # Excel on Windows saves legacy exports as Windows-1252; every byte sequence that is not UTF-8
    # in practice is that. Bytes undefined in 1252 (0x81, 0x8d, ...) still fail, as they should.
    undefined = re.search(rb"[\x81\x8d\x8f\x90\x9d]", data)
    if undefined:
        raise DeliveryError(
            file_name,
            f"is neither UTF-8 nor Windows-1252 text (undecodable byte at {undefined.start()})",
            "Export the survey again from Qualtrics as CSV (UTF-8).",
        )
    return "windows-1252"


def _decode(data: bytes, encoding: str) -> str:
    return data.decode("utf-8-sig" if encoding == "utf-8" else "cp1252")


def _csv_records(text: str, file_name: str) -> list[list[str]]:
    """The reference reading of a CSV delivery (csv module, strict), for files the fast path declines.

    The csv module gets the text line by line (as io.StringIO(newline="") would give it, without that
    buffer's four bytes per character), so a refused file costs little more than its text.
    """
    read_to = 0  # the end of the last line the csv module took: the start of the next record

    def lines() -> Iterator[str]:
        nonlocal read_to
        for match in _LINE.finditer(text):
            read_to = match.end()
            yield match.group()

    records: list[list[str]] = []
    record_start = 0
    try:
        for record in csv.reader(lines(), strict=True):
            if record and max(map(len, record)) > MAX_FIELD_CHARS:
                column = next(j for j, cell in enumerate(record) if len(cell) > MAX_FIELD_CHARS)
                raise _field_too_long(file_name, len(records) + 1, column, records[:1])
            records.append(record)
            record_start = read_to
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):  # the csv module's own limit, 131,072
            column = _long_field_at(text, record_start)
            raise _field_too_long(file_name, len(records) + 1, column, records[:1]) from None
        raise DeliveryError(
            file_name,
            f"cannot be read as CSV ({exc}); the file is probably truncated or has an unbalanced quote",
            "Export the survey again from Qualtrics and replace the file in landing/.",
            row=len(records) + 1,
        ) from exc
    return records


def _long_field_at(text: str, start: int) -> int | None:
    """The position in its record of the first field over MAX_FIELD_CHARS, in the record at start."""
    column, position = 0, start
    while (field := _FIELD.match(text, position)) is not None:
        if field.end() - field.start() > MAX_FIELD_CHARS:
            return column
        position = field.end()
        if text[position : position + 1] != ",":
            return None
        column, position = column + 1, position + 1
    return None


def _field_too_long(file_name: str, row: int, column: int | None, header: list[list[str]]) -> DeliveryError:
    """The refusal of a field over MAX_FIELD_CHARS; the column by its name in row 1 where it has one."""
    name = None
    if column is not None:
        names = header[0] if header and row > 1 else []
        name = names[column].strip()[:40] if column < len(names) else f"number {column + 1}"
    return DeliveryError(
        file_name,
        f"has a field longer than {MAX_FIELD_CHARS:,} characters, the most a spreadsheet cell (or any "
        "survey answer) can hold: the file is damaged, or a quote opened here is never closed",
        "Export the survey again from Qualtrics and replace the file in landing/.",
        row=row,
        column=name,
    )


@dataclass(frozen=True)
class _Shape:
    """Where the records of CSV bytes are, as the csv module would split them."""

    counts: np.ndarray  # fields per record (0 for an empty line)
    starts: np.ndarray  # byte offset of each record
    ends: np.ndarray  # byte offset of its line break (or of the end)
    longest: int  # bytes in the longest record
    newline: str | None  # the line break that ends every record, None when they differ


def _field_counts(body: bytes) -> np.ndarray | None:
    """Fields per record of CSV bytes, or None when the csv module might read them otherwise than DuckDB."""
    shape = _records_shape(body)
    return None if shape is None else shape.counts


def _records_shape(body: bytes) -> _Shape | None:
    """Fields per record of CSV bytes, where each record lies and which line break ends it; None as for
    _field_counts.

    Works on the bytes with numpy: quotes, commas and line breaks are single bytes in UTF-8 and never
    part of a multi-byte character. The quotes must pair up into whole quoted fields: each opening quote
    at the start of a field (after a comma, a line break, the start, or the closing quote of a doubled
    ``""``), each closing quote followed by a comma, a line break, the end or a doubled quote. Then a
    byte lies inside a quoted field exactly when an odd number of quotes precede it, which tells the
    commas and line breaks that separate fields and records from those inside a field.
    """
    a = np.frombuffer(body, dtype=np.uint8)
    n = a.size
    # Positions as int32 where they fit: the binary searches below then stay in the CPU caches.
    kind = np.int32 if n < 2**31 - 1 else np.int64

    def where(mask: np.ndarray) -> np.ndarray:
        return np.flatnonzero(mask).astype(kind, copy=False)

    quotes = where(a == _QUOTE)
    if quotes.size % 2:
        return None  # a quoted field runs to the end of the file: the csv module says where
    opens, closes = quotes[0::2], quotes[1::2]
    if opens.size and not (
        ((opens == 0) | _AROUND_QUOTES[a[opens - 1]]).all()
        and ((closes == n - 1) | _AROUND_QUOTES[a[np.minimum(closes + 1, n - 1)]]).all()
    ):
        return None  # a quote inside an unquoted field, or text after a closing quote
    breaks = where((a == _LF) | (a == _CR)) if b"\r" in body else where(a == _LF)
    if opens.size and breaks.size:
        span = np.maximum(np.searchsorted(opens, breaks, side="right") - 1, 0)
        breaks = breaks[~((opens[span] < breaks) & (breaks < closes[span]))]
    # CRLF ends one record; a lone CR or LF ends one too (an empty line is an empty record).
    lf_after_cr = (a[breaks] == _LF) & (breaks > 0) & (a[breaks - 1] == _CR)
    ends = breaks[~lf_after_cr]
    crlf = (a[ends] == _CR) & (a[np.minimum(ends + 1, n - 1)] == _LF) & (ends + 1 < n)
    kinds = {
        newline
        for newline, present in (
            ("\r\n", crlf.any()),
            ("\r", ((a[ends] == _CR) & ~crlf).any()),
            ("\n", (a[ends] == _LF).any()),
        )
        if present
    }
    starts = np.concatenate(([0], ends + 1 + crlf)).astype(kind)
    ends = np.concatenate((ends, [n])).astype(kind)
    if starts[-1] >= n:  # the last record ends with a line break
        starts, ends = starts[:-1], ends[:-1]
    longest = int((ends - starts).max()) if ends.size else 0
    if longest > csv.field_size_limit():
        return None  # a field may be too long for the csv module, which refuses the file
    commas = where(a == _COMMA)
    in_quotes = np.searchsorted(commas, closes) - np.searchsorted(commas, opens)
    quoted_commas = np.concatenate(([0], np.cumsum(in_quotes)))

    def separators_before(positions: np.ndarray) -> np.ndarray:
        return np.searchsorted(commas, positions) - quoted_commas[np.searchsorted(closes, positions)]

    counts = separators_before(ends) - separators_before(starts) + 1
    counts[ends == starts] = 0  # an empty line has no fields, as the csv module reads it
    newline = kinds.pop() if len(kinds) == 1 else "\n" if not kinds else None
    return _Shape(counts.astype(np.int64), starts, ends, longest, newline)


@dataclass
class _Grid:
    """Every record of a delivery in a DuckDB table: ``c0`` ... as many text columns as row 1 has fields."""

    table: str
    width: int  # the fields of row 1
    counts: np.ndarray  # fields per record, empty records included
    rec: str  # SQL for a table row's record (0 for row 1; an empty line is a record but not a table row)
    nf: str  # SQL for a table row's field count
    wider: dict[int, tuple[str, ...]]  # the cells past `width` of the records that have more, by record
    tables: list[str]  # the temporary tables made for it


# The CSV dialect of a Qualtrics export, given rather than sniffed: no header (row 1 is data to the
# reader), no comment lines, every field text. Empty fields are NULL, quoted or not, then "" like an
# empty field (a missing trailing field too: its row's field count says it was missing).
_NEW_LINES = {"\n": "\\n", "\r\n": "\\r\\n", "\r": "\\r"}
# Characters that make DuckDB read a path as a pattern of file names.
_GLOB = re.compile(r"[*?\[\]{}]")


def _duckdb_csv_grid(
    con: duckdb.DuckDBPyConnection, path: Path, data: bytes, encoding: str, file_name: str
) -> _Grid | None:
    """Every record of a CSV delivery read by DuckDB into a table; None to let the csv module read it.

    DuckDB reads the file itself (it decodes UTF-8 only: a Windows-1252 file goes to the csv module,
    as does a path DuckDB would take for a pattern).
    """
    if encoding != "utf-8" or _GLOB.search(str(path)):
        return None
    # DuckDB drops a byte-order mark as Python's utf-8-sig does; a second one is text to both.
    body = data[len(codecs.BOM_UTF8) :] if data.startswith(codecs.BOM_UTF8) else data
    shape = _records_shape(body)
    if shape is None or shape.newline is None or not shape.counts.size or shape.counts[0] == 0:
        return None
    counts = shape.counts
    width = int(counts[0])
    filled = np.flatnonzero(counts > 0)  # DuckDB skips empty lines: its rows are the other records
    uniform = bool((counts[filled] == width).all())
    wider = {
        int(r): tuple(_one_record(body[shape.starts[r] : shape.ends[r]].decode("utf-8"))[width:])
        for r in np.flatnonzero(counts > width)
    }
    del body
    table = temp_table_name("grid")
    columns = "{" + ", ".join(f"'c{j}': 'VARCHAR'" for j in range(width)) + "}"
    try:
        con.execute(
            f"create temp table {table} as select * from read_csv(?, header = false, delim = ',', "
            f"quote = '\"', escape = '\"', new_line = '{_NEW_LINES[shape.newline]}', comment = '', "
            f"skip = 0, auto_detect = false, columns = {columns}, allow_quoted_nulls = false, "
            # Reading in parallel needs rows of one width; a shorter row is padded, a wider one cut
            # (its other cells come from the bytes: `wider`). Not strict: the bytes are checked above,
            # and this DuckDB, told strict_mode = true, loses rows of CRLF files.
            f"null_padding = {not uniform}, parallel = {uniform}, strict_mode = false)",
            [str(path)],
        )
    except duckdb.Error:
        con.execute(f"drop table if exists {table}")
        return None  # DuckDB refuses what the csv module reads (an empty line after "" ...)
    rows = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    if rows != filled.size:
        con.execute(f"drop table {table}")
        return None  # DuckDB kept an empty line (after a line ending in a quoted field): not aligned
    grid = _Grid(table, width, counts, "rowid", str(width), wider, [table])
    if not uniform or not np.array_equal(filled, np.arange(filled.size)):
        # Some rows are shorter or wider than row 1, or an empty line is followed by more records:
        # each row's record and field count come from the bytes.
        numbers = pd.DataFrame({"rec": filled.astype(np.int64), "nf": counts[filled].astype(np.int64)})
        numbered = temp_table_name("grid")
        con.register(f"{numbered}_numbers", numbers)
        try:
            con.execute(
                f"create temp table {numbered} as select * from {table} positional join {numbered}_numbers"
            )
        finally:
            con.unregister(f"{numbered}_numbers")
        con.execute(f"drop table {table}")
        grid = _Grid(numbered, width, counts, "rec", "nf", wider, [numbered])
    if shape.longest > MAX_FIELD_CHARS:  # only then can a field be too long: look at every cell
        _check_field_lengths(con, grid, file_name)
    return grid


def _one_record(text: str) -> list[str]:
    """The cells of one record (its quotes known to pair up) as the csv module reads them."""
    return next(csv.reader(io.StringIO(text, newline=""), strict=True), [])


def _check_field_lengths(con: duckdb.DuckDBPyConnection, grid: _Grid, file_name: str) -> None:
    """Refuse the first field (by row, then column) longer than MAX_FIELD_CHARS."""
    lengths = ", ".join(f"coalesce(length(c{j}), 0)" for j in range(grid.width))
    found = con.execute(
        f"select {grid.rec} as rec, [{lengths}] as lengths from {grid.table} "
        f"where greatest({lengths}) > {MAX_FIELD_CHARS} order by rec limit 1"
    ).fetchall()
    first: tuple[int, int] | None = None
    if found:
        rec, lengths_of_row = found[0]
        first = (int(rec), next(j for j, n in enumerate(lengths_of_row) if n > MAX_FIELD_CHARS))
    for rec, cells in sorted(grid.wider.items()):
        if first is not None and rec >= first[0]:
            break
        long = [j for j, cell in enumerate(cells) if len(cell) > MAX_FIELD_CHARS]
        if long:
            first = (rec, grid.width + long[0])
            break
    if first is not None:
        cells = ", ".join(f"coalesce(c{j}, '')" for j in range(grid.width))
        header = con.execute(f"select {cells} from {grid.table} where {grid.rec} = 0").fetchall()
        raise _field_too_long(file_name, first[0] + 1, first[1], [list(header[0]) if header else []])


def _records_grid(con: duckdb.DuckDBPyConnection, records: list[list[str]]) -> _Grid:
    """Records (lists of cells, as the csv module or openpyxl gives them) in a DuckDB table."""
    counts = np.fromiter(map(len, records), dtype=np.int64, count=len(records))
    width = int(counts[0]) if counts.size else 0
    wider = {r: tuple(record[width:]) for r, record in enumerate(records) if len(record) > width}
    columns = itertools.islice(itertools.zip_longest(*records, fillvalue=""), width)
    frame = pd.DataFrame(
        {
            "rec": np.arange(len(records), dtype=np.int64),
            "nf": counts,
            **{f"c{j}": np.array(column, dtype=object) for j, column in enumerate(columns)},
        }
    )
    table = temp_table_name("grid")
    con.register(f"{table}_records", frame)
    try:
        con.execute(f"create temp table {table} as select * from {table}_records")
    finally:
        con.unregister(f"{table}_records")
    return _Grid(table, width, counts, "rec", "nf", wider, [table])


def _xlsx_records(data: bytes, file_name: str) -> list[list[str]]:
    from openpyxl import load_workbook  # imported here: only Excel deliveries pay for it

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise _unreadable_workbook(file_name, exc) from None
    # zipfile stops each member at its declared size, so this bounds what openpyxl can unpack.
    if unpacked > MAX_FILE_BYTES:
        raise DeliveryError(
            file_name,
            f"is an Excel workbook that unpacks to {unpacked / MiB:,.0f} MB, more than the "
            f"{MAX_FILE_BYTES / MiB:,.0f} MB any survey export needs (a damaged or hostile archive)",
            "Export the survey again from Qualtrics (CSV or Excel) and replace the file in landing/.",
        )
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            if not workbook.worksheets:
                raise ValueError("no worksheet")
            sheet = workbook.worksheets[0]
            records = [
                ["" if v is None else _cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)
            ]
        finally:
            workbook.close()
    except MemoryError:
        raise
    # openpyxl reads the sheet lazily, so damage surfaces while iterating, and as whatever its XML
    # parser, zlib or its descriptors raise (ParseError, zlib.error, TypeError, KeyError, IndexError,
    # ...; found by tests/test_fuzz_readers.py): every one of them means the workbook is unreadable.
    except Exception as exc:
        raise _unreadable_workbook(file_name, exc) from None
    # Excel pads rows to the widest row of the sheet; trailing empty rows are padding, not data.
    while records and not any(records[-1]):
        records.pop()
    return records


def _unreadable_workbook(file_name: str, exc: BaseException) -> DeliveryError:
    # Only the kind of damage: a parser's own message can quote the cell it choked on.
    return DeliveryError(
        file_name,
        f"is not a readable Excel workbook (its archive or XML is damaged: {type(exc).__name__})",
        "Open it in Excel and save it again as .xlsx, or export the survey as CSV.",
    )


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M:%S")  # type: ignore[attr-defined]
    return str(value)


def _check_first_row(data: bytes, encoding: str, file_name: str) -> None:
    """Refuse a file whose row 1 matches no survey version before splitting the rest of it, so that
    junk costs a read of its first line, not a parse of the whole file. When row 1 does not end in
    the first MAX_FIRST_LINE_BYTES (a quoted line break, a stray quote), the full read decides."""
    head = data[:MAX_FIRST_LINE_BYTES].decode("utf-8-sig" if encoding == "utf-8" else "cp1252", "replace")
    read_to = 0

    def lines() -> Iterator[str]:
        nonlocal read_to
        for match in _LINE.finditer(head):
            read_to = match.end()
            yield match.group()

    try:
        first = next(csv.reader(lines(), strict=True), None)
    except csv.Error:
        return
    if first is None or (read_to == len(head) and len(data) > MAX_FIRST_LINE_BYTES):
        return  # row 1 may go on past the head
    columns = [c.strip() for c in first]
    while columns and columns[-1] == "":
        columns.pop()
    match_instrument(columns, file_name)


def _shortened(name: str, limit: int = 30) -> str:
    return name if len(name) <= limit else name[: limit - 3] + "..."


def match_instrument(columns: list[str], file_name: str) -> Instrument:
    """Return the instrument whose signature columns are all in the first header row; where several
    match (v3 is v2 with a column more), the one with the most signature columns."""
    present = set(columns)
    matching = [instrument for instrument in instruments() if set(instrument.signature) <= present]
    if matching:
        return max(matching, key=lambda instrument: len(instrument.signature))
    expected = "; ".join(f"{i.name}: {', '.join(i.signature[:4])}, ..." for i in instruments())
    raise DeliveryError(
        file_name,
        # The names are shortened: row 1 of a damaged file can hold anything, at any length.
        "has a header row that matches no known survey version "
        f"(first columns: {', '.join(_shortened(c) for c in columns[:5])})",
        f"Check that this is the SSM survey export with its header rows ({expected}); "
        "a new survey version needs a mapping file in schemas/instruments/ and an entry in "
        "schemas/codebook.yaml (docs/changing-the-survey.md).",
        row=1,
    )


def read_delivery(
    path: Path, name: str | None = None, *, con: duckdb.DuckDBPyConnection | None = None
) -> RawTable:
    """Read one delivery file (Qualtrics CSV or Excel) into its header row and a table of data cells.

    Args:
        path: the file to read.
        name: the name to use in messages (the landing file name when reading its archived copy).
        con: the DuckDB connection to hold the cells in temporary tables (the ingest passes the
            warehouse's, so that the harmonised rows are written without leaving DuckDB); a private
            in-memory one by default. Close the table (``close()``) when done with it.

    Raises:
        DeliveryError: the file is empty, binary, not CSV/Excel, or matches no known instrument.
    """
    file_name = name or path.name
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise DeliveryError(
            file_name,
            f"is {size / MiB:,.0f} MB, more than the {MAX_FILE_BYTES / MiB:,.0f} MB any survey export "
            "needs (a class of 2,000 students exports to under 1 MB)",
            "Check that this is the SSM survey export; export it again from Qualtrics if it is.",
        )
    data = path.read_bytes()
    if not data or data.isspace():
        raise DeliveryError(
            file_name, "is empty", "Export the survey again and replace the file in landing/."
        )
    owned = con is None
    connection = duckdb.connect() if con is None else con
    grid: _Grid | None = None
    view = temp_table_name("cells")
    try:
        if data.startswith(XLSX_MAGIC) or path.suffix.lower() == ".xlsx":
            records = _xlsx_records(data, file_name)
            encoding = "xlsx"
        else:
            encoding = _check_text(data, file_name)
            _check_first_row(data, encoding, file_name)
            grid = _duckdb_csv_grid(connection, path, data, encoding, file_name)
            records = [] if grid is not None else _csv_records(_decode(data, encoding), file_name)
        data = b""  # the bytes are not needed any more
        if grid is None:
            if not records:
                raise DeliveryError(
                    file_name, "has no rows", "Export the survey again and replace the file in landing/."
                )
            grid = _records_grid(connection, records)
            del records
        return _raw_table(connection, grid, view, file_name, encoding, owned)
    except BaseException:
        if owned:
            connection.close()
        elif grid is not None:
            connection.execute(f"drop view if exists {view}")
            for table in grid.tables:
                connection.execute(f"drop table if exists {table}")
        raise


def _raw_table(
    con: duckdb.DuckDBPyConnection, grid: _Grid, view: str, file_name: str, encoding: str, owned: bool
) -> RawTable:
    """The RawTable of a grid: its header row matched to an instrument, its data rows as a view."""
    first = con.execute(
        f"select {', '.join(f'c{j}' for j in range(grid.width))} from {grid.table} where {grid.rec} = 0"
    ).fetchall()
    columns = [("" if c is None else c).strip() for c in first[0]] if first else []
    # Legacy exports end row 1 with a comma: a trailing unnamed column that holds nothing.
    while columns and columns[-1] == "":
        columns.pop()
    instrument = match_instrument(columns, file_name)
    records = grid.counts.size
    if records <= instrument.header_rows:
        raise DeliveryError(
            file_name,
            f"has only its {records} header row(s) and no responses",
            "Check the export filter in Qualtrics (all responses, not a saved subset) and export again.",
        )
    cells = [f"coalesce(c{j}, '')" for j in range(grid.width)]
    # A blank row holds nothing but white space (blank rows are not rows); its first cell has to, which
    # most rows' do not (the rest is looked at only then). Found once, here, not each time the view is read.
    everything = blank("concat(" + ", ".join(cells) + ")")
    not_blank_past_width = [rec for rec, extra in grid.wider.items() if any(c.strip() for c in extra)]
    if not_blank_past_width:
        everything += f" and {grid.rec} not in ({', '.join(map(str, not_blank_past_width))})"
    data = f"{grid.rec} >= {instrument.header_rows}"
    blank_rows = [
        rec
        for (rec,) in con.execute(
            f"select {grid.rec} from {grid.table} where {data} and "
            f"case when {blank(cells[0])} then {everything} else false end"
        ).fetchall()
    ]
    if len(blank_rows) > 1000:  # a hostile file: a table, not a list in the SQL text
        blanks = temp_table_name("blank")
        con.execute(f"create temp table {blanks} as select unnest(?::BIGINT[]) as rec", [blank_rows])
        grid.tables.append(blanks)
        data += f" and {grid.rec} not in (select rec from {blanks})"
    elif blank_rows:
        data += f" and {grid.rec} not in ({', '.join(map(str, blank_rows))})"
    con.execute(
        f"create temp view {view} as select ({grid.rec} + 1)::integer as rn, ({grid.nf})::integer as nf, "
        f"{', '.join(f'{cell} as c{j}' for j, cell in enumerate(cells))} from {grid.table} where {data}"
    )
    row_count = con.execute(f"select count(*) from {view}").fetchall()[0][0]
    if not row_count:  # without this, harmonise met columns of no type
        raise DeliveryError(
            file_name,
            f"has only its {instrument.header_rows} header row(s) and no responses (the rest is blank lines)",
            "Check the export filter in Qualtrics (all responses, not a saved subset) and export again.",
        )
    return RawTable(
        file_name,
        instrument,
        tuple(columns),
        con,
        view,
        grid.width,
        {rec + 1: extra for rec, extra in grid.wider.items()},
        int(row_count),
        encoding,
        tuple(grid.tables),
        owned,
    )
