"""Readers for survey deliveries: bytes on disk to header rows and data rows of strings.

The reader only decodes and splits; what the columns mean is the instrument mapping's business
(schemas/instruments/), and what happens to each row is harmonise.py's.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pipelines.lib.errors import DeliveryError
from schemas.instruments import Instrument, instruments

XLSX_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class RawRow:
    """One data row as read. row_number counts as a spreadsheet does: header rows included, from 1."""

    row_number: int
    cells: tuple[str, ...]


@dataclass(frozen=True)
class RawTable:
    """A delivery split into its header rows and data rows, with the instrument it matches."""

    file_name: str
    instrument: Instrument
    columns: tuple[str, ...]
    rows: tuple[RawRow, ...]
    encoding: str


def _decode(data: bytes, file_name: str) -> tuple[str, str]:
    if b"\x00" in data:
        offset = data.index(b"\x00")
        row = data[:offset].count(b"\n") + 1
        raise DeliveryError(
            file_name,
            f"contains a NUL byte at byte {offset} (the file is binary or damaged)",
            "Export the survey again from Qualtrics as CSV and replace the file in landing/.",
            row=row,
        )
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        # Excel on Windows saves legacy exports as Windows-1252; every byte sequence that is not UTF-8
        # in practice is that. Bytes undefined in 1252 (0x81, 0x8d, ...) still fail, as they should.
        try:
            return data.decode("cp1252"), "windows-1252"
        except UnicodeDecodeError as exc:
            raise DeliveryError(
                file_name,
                f"is neither UTF-8 nor Windows-1252 text (undecodable byte at {exc.start})",
                "Export the survey again from Qualtrics as CSV (UTF-8).",
            ) from exc


def _csv_records(text: str, file_name: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[list[str]] = []
    try:
        for record in reader:
            records.append(record)
    except csv.Error as exc:
        raise DeliveryError(
            file_name,
            f"cannot be read as CSV ({exc}); the file is probably truncated or has an unbalanced quote",
            "Export the survey again from Qualtrics and replace the file in landing/.",
            row=len(records) + 1,
        ) from exc
    return records


def _xlsx_records(data: bytes, file_name: str) -> list[list[str]]:
    from openpyxl import load_workbook  # imported here: only Excel deliveries pay for it

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise DeliveryError(
            file_name,
            f"is not a readable Excel workbook ({type(exc).__name__}: {exc})",
            "Open it in Excel and save it again as .xlsx, or export the survey as CSV.",
        ) from exc
    sheet = workbook.worksheets[0]
    records = [["" if v is None else _cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    workbook.close()
    # Excel pads rows to the widest row of the sheet; trailing empty rows are padding, not data.
    while records and not any(records[-1]):
        records.pop()
    return records


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M:%S")  # type: ignore[attr-defined]
    return str(value)


def match_instrument(columns: list[str], file_name: str) -> Instrument:
    """Return the instrument whose signature columns are all in the first header row."""
    present = set(columns)
    for instrument in instruments():
        if set(instrument.signature) <= present:
            return instrument
    expected = "; ".join(f"{i.name}: {', '.join(i.signature[:4])}, ..." for i in instruments())
    raise DeliveryError(
        file_name,
        f"has a header row that matches no known survey version (first columns: {', '.join(columns[:5])})",
        f"Check that this is the SSM survey export with its header rows ({expected}); "
        "a new survey version needs a mapping file in schemas/instruments/.",
        row=1,
    )


def read_delivery(path: Path, name: str | None = None) -> RawTable:
    """Read one delivery file (Qualtrics CSV or Excel) into header and data rows.

    Args:
        path: the file to read.
        name: the name to use in messages (the landing file name when reading its archived copy).

    Raises:
        DeliveryError: the file is empty, binary, not CSV/Excel, or matches no known instrument.
    """
    file_name = name or path.name
    data = path.read_bytes()
    if not data.strip():
        raise DeliveryError(
            file_name, "is empty", "Export the survey again and replace the file in landing/."
        )
    if data.startswith(XLSX_MAGIC) or path.suffix.lower() == ".xlsx":
        records, encoding = _xlsx_records(data, file_name), "xlsx"
    else:
        text, encoding = _decode(data, file_name)
        records = _csv_records(text, file_name)
    if not records:
        raise DeliveryError(
            file_name, "has no rows", "Export the survey again and replace the file in landing/."
        )
    columns = [c.strip() for c in records[0]]
    # Legacy exports end row 1 with a comma: a trailing unnamed column that holds nothing.
    while columns and columns[-1] == "":
        columns.pop()
    instrument = match_instrument(columns, file_name)
    if len(records) <= instrument.header_rows:
        raise DeliveryError(
            file_name,
            f"has only its {len(records)} header row(s) and no responses",
            "Check the export filter in Qualtrics (all responses, not a saved subset) and export again.",
        )
    rows = tuple(
        RawRow(row_number=index + 1, cells=tuple(record))
        for index, record in enumerate(records)
        if index >= instrument.header_rows and any(cell.strip() for cell in record)
    )
    return RawTable(file_name, instrument, tuple(columns), rows, encoding)
