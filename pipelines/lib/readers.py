"""Readers for survey deliveries: bytes on disk to header rows and columns of data cells.

The reader only decodes and splits; what the columns mean is the instrument mapping's business
(schemas/instruments/), and what happens to each row is harmonise.py's.

A CSV delivery is split by pandas' C parser into one column of strings per field position, not into one
Python tuple per row. That parser is more lenient than the csv module (strict mode) that defines how a
delivery is read, so it is only used after a check on the raw bytes (numpy, no Python loop per row) has
shown that the two agree on the file: every quote opens or closes a whole quoted field, no field can be
longer than the csv module allows, and no row is wider than the first. Anything else (a quote inside an
unquoted field, text after a closing quote, a file cut inside a quoted field, ...) is read by the csv
module exactly as before, so its refusals keep their wording and row numbers.
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

import numpy as np
import pandas as pd

from pipelines.lib.errors import DeliveryError
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


@dataclass(frozen=True)
class RawRow:
    """One data row as read. row_number counts as a spreadsheet does: header rows included, from 1."""

    row_number: int
    cells: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class RawTable:
    """A delivery split into its header row and columns of data cells, with the instrument it matches.

    Attributes:
        file_name: the name used in messages.
        instrument: the survey version whose signature the header row carries.
        columns: the first header row, stripped, without trailing empty names.
        cells: the data rows (header rows and blank rows left out), one column per field position
            (0, 1, ...; as many as the widest row has), the text exactly as read (not stripped), "" where
            a row has fewer fields; indexed by row number (``row_number``).
        field_counts: how many fields each data row really had (the width check of spec §5).
        encoding: ``utf-8``, ``windows-1252`` or ``xlsx``.
    """

    file_name: str
    instrument: Instrument
    columns: tuple[str, ...]
    cells: pd.DataFrame
    field_counts: np.ndarray
    encoding: str

    @property
    def row_count(self) -> int:
        """Data rows received (blank rows are not rows)."""
        return len(self.cells)

    @property
    def row_numbers(self) -> np.ndarray:
        """The row number of each data row, in file order."""
        return self.cells.index.to_numpy()

    @property
    def rows(self) -> RawRows:
        """The data rows one by one, as RawRow (built on demand; ``len(table.rows)`` costs nothing)."""
        return RawRows(self)


class RawRows(Sequence[RawRow]):
    """A read-only sequence of the data rows of a RawTable, each made when it is asked for."""

    def __init__(self, table: RawTable) -> None:
        self._table = table

    def __len__(self) -> int:
        return self._table.row_count

    @overload
    def __getitem__(self, index: int) -> RawRow: ...

    @overload
    def __getitem__(self, index: slice) -> list[RawRow]: ...

    def __getitem__(self, index: int | slice) -> RawRow | list[RawRow]:
        if isinstance(index, slice):
            return [self._row(i) for i in range(*index.indices(len(self)))]
        position = range(len(self))[index]  # negative indices, and IndexError past the end
        return self._row(position)

    def __iter__(self) -> Iterator[RawRow]:
        return (self._row(i) for i in range(len(self)))

    def _row(self, position: int) -> RawRow:
        table = self._table
        count = int(table.field_counts[position])
        cells = table.cells.iloc[position, :count]
        return RawRow(int(table.cells.index[position]), tuple(cells.tolist()))


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


def _field_counts(body: bytes) -> np.ndarray | None:
    """Fields per record of CSV bytes, or None when the csv module might read them otherwise than pandas."""
    shape = _records_shape(body)
    return None if shape is None else shape[0]


def _records_shape(body: bytes) -> tuple[np.ndarray, int] | None:
    """Fields per record of CSV bytes and the longest record in bytes; None as for _field_counts.

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
    return counts.astype(np.int64), longest


def _fast_csv_grid(data: bytes, encoding: str, file_name: str) -> tuple[pd.DataFrame, np.ndarray] | None:
    """Every record of a CSV delivery as columns of strings, and its field counts; None to use csv."""
    if encoding == "utf-8":
        body = data[len(codecs.BOM_UTF8) :] if data.startswith(codecs.BOM_UTF8) else data
    else:
        body = _decode(data, encoding).encode("utf-8")
    if body.startswith(codecs.BOM_UTF8):
        return None  # a second byte-order mark is text to the csv module; pandas would drop it
    shape = _records_shape(body)
    if shape is None or not shape[0].size or shape[0][0] == 0:
        return None
    counts, longest = shape
    try:
        grid = pd.read_csv(
            io.BytesIO(body),
            header=None,
            dtype=object,
            na_filter=False,
            skip_blank_lines=False,
            engine="c",
            encoding="utf-8",
        )
    except ValueError:  # pandas' ParserError and EmptyDataError: a row wider than the first, ...
        return None
    if len(grid) != counts.size or grid.shape[1] != counts[0] or counts.max() > grid.shape[1]:
        return None  # never seen; the csv module is the reference, so let it decide
    if longest > MAX_FIELD_CHARS:  # only then can a field be too long: look at every cell
        _check_field_lengths(grid, file_name)
    return grid, counts


def _check_field_lengths(grid: pd.DataFrame, file_name: str) -> None:
    """Refuse the first field (by row, then column) longer than MAX_FIELD_CHARS."""
    first: tuple[int, int] | None = None
    for j in grid.columns:
        long = np.flatnonzero(grid[j].str.len().to_numpy() > MAX_FIELD_CHARS)
        if long.size and (first is None or long[0] < first[0]):
            first = (int(long[0]), int(j))
    if first is not None:
        raise _field_too_long(file_name, first[0] + 1, first[1], [grid.iloc[0].tolist()])


def _grid_from_records(records: list[list[str]]) -> tuple[pd.DataFrame, np.ndarray]:
    """Records (lists of cells) as columns of strings, padded with "", and their field counts."""
    counts = np.fromiter(map(len, records), dtype=np.int64, count=len(records))
    columns = itertools.zip_longest(*records, fillvalue="")
    grid = pd.DataFrame({j: np.array(column, dtype=object) for j, column in enumerate(columns)})
    if grid.empty:
        grid = pd.DataFrame(index=pd.RangeIndex(len(records)))
    return grid, counts


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


def _blank_rows(grid: pd.DataFrame, positions: np.ndarray) -> np.ndarray:
    """Which of these rows hold nothing but white space (a mask over positions)."""
    pending = np.arange(positions.size)
    for j in grid.columns:
        if not pending.size:
            break
        values = grid[j].to_numpy()[positions[pending]]
        pending = pending[[not value.strip() for value in values]]
    blank = np.zeros(positions.size, dtype=bool)
    blank[pending] = True
    return blank


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
    """Return the instrument whose signature columns are all in the first header row."""
    present = set(columns)
    for instrument in instruments():
        if set(instrument.signature) <= present:
            return instrument
    expected = "; ".join(f"{i.name}: {', '.join(i.signature[:4])}, ..." for i in instruments())
    raise DeliveryError(
        file_name,
        # The names are shortened: row 1 of a damaged file can hold anything, at any length.
        "has a header row that matches no known survey version "
        f"(first columns: {', '.join(_shortened(c) for c in columns[:5])})",
        f"Check that this is the SSM survey export with its header rows ({expected}); "
        "a new survey version needs a mapping file in schemas/instruments/.",
        row=1,
    )


def read_delivery(path: Path, name: str | None = None) -> RawTable:
    """Read one delivery file (Qualtrics CSV or Excel) into its header row and columns of data cells.

    Args:
        path: the file to read.
        name: the name to use in messages (the landing file name when reading its archived copy).

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
    if data.startswith(XLSX_MAGIC) or path.suffix.lower() == ".xlsx":
        grid, counts = _grid_from_records(_xlsx_records(data, file_name))
        encoding = "xlsx"
    else:
        encoding = _check_text(data, file_name)
        _check_first_row(data, encoding, file_name)
        fast = _fast_csv_grid(data, encoding, file_name)
        if fast is None:
            text = _decode(data, encoding)
            del data  # the csv module needs only the text
            fast = _grid_from_records(_csv_records(text, file_name))
            del text
        grid, counts = fast
    data = None  # the bytes are not needed any more (the csv branch let them go earlier)
    if not counts.size:
        raise DeliveryError(
            file_name, "has no rows", "Export the survey again and replace the file in landing/."
        )
    columns = [str(c).strip() for c in grid.iloc[0, : counts[0]]]
    # Legacy exports end row 1 with a comma: a trailing unnamed column that holds nothing.
    while columns and columns[-1] == "":
        columns.pop()
    instrument = match_instrument(columns, file_name)
    if counts.size <= instrument.header_rows:
        raise DeliveryError(
            file_name,
            f"has only its {counts.size} header row(s) and no responses",
            "Check the export filter in Qualtrics (all responses, not a saved subset) and export again.",
        )
    positions = np.arange(instrument.header_rows, counts.size)
    positions = positions[~_blank_rows(grid, positions)]
    if not positions.size:  # blank rows are not rows: without this, harmonise met columns of no type
        raise DeliveryError(
            file_name,
            f"has only its {instrument.header_rows} header row(s) and no responses (the rest is blank lines)",
            "Check the export filter in Qualtrics (all responses, not a saved subset) and export again.",
        )
    cells = grid.take(positions)
    cells.index = pd.Index(positions + 1, name="row_number")
    return RawTable(file_name, instrument, tuple(columns), cells, counts[positions], encoding)
