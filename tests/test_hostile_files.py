"""Hostile files in landing/ (issue 7): huge junk, very long fields, damaged workbooks, UTF-16.

Each is refused with a DeliveryError that names the file (and the row and column where there is one)
and says what to do, never quotes a cell, and, for the 50 MB files, with bounded memory. Time is printed,
never asserted (speed is the benchmarks' business); pytest-timeout guards against a hang.

The limits (pipelines/lib/ingest/readers.py): a field may hold at most 32,767 characters (Excel's cell
limit), row 1 must end within the first 1 MB, a file may be at most 256 MB (and a workbook unpack to
at most that).
"""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import duckdb
import pytest
from openpyxl import Workbook

from pipelines.lib.ingest.errors import DeliveryError
from pipelines.lib.ingest.harmonise import harmonise
from pipelines.lib.ingest.readers import MAX_FIELD_CHARS, read_delivery
from tests.conftest import pipeline_env
from tests.deliveries import csv_text, v1_headers, v2_headers, v2_row

SSM = str(Path(sys.executable).parent / "ssm")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
MB = 1 << 20
JUNK_BYTES = 50 * MB
# What refusing a 50 MB file may cost on top of the process: the file's bytes, once decoded, and the
# numpy scan of them, with room to spare. (Reading it the old way, through io.StringIO, cost 350 MB.)
PEAK_LIMIT_BYTES = 200 * MB


def refuse(path: Path, name: str | None = None) -> DeliveryError:
    """Read and harmonise as the ingest asset does; return the refusal (fail if there is none)."""
    with pytest.raises(DeliveryError) as caught:
        harmonise(read_delivery(path, name=name), 2022, "salt")
    return caught.value


def refuse_measured(path: Path) -> tuple[DeliveryError, float, int]:
    """refuse(), with its wall time and its peak of traced memory (numpy's arrays included)."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        error = refuse(path)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"{path.name}: refused in {seconds:.2f} s, peak {peak / MB:.0f} MB: {error}")
    return error, seconds, peak


# ------------------------------------------------------------------------------------------------
# 50 MB of junk named like a delivery
# ------------------------------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_50_mb_of_random_bytes_is_refused_with_bounded_memory(tmp_path: Path) -> None:
    """Promise: 50 MB of random bytes named like a delivery is refused (binary) with < 200 MB of memory."""
    path = tmp_path / "ssm_survey_2022.csv"
    path.write_bytes(os.urandom(JUNK_BYTES))
    error, _, peak = refuse_measured(path)
    assert str(error).startswith("ssm_survey_2022.csv, row ") and "binary or damaged" in str(error)
    assert peak < PEAK_LIMIT_BYTES


@pytest.mark.timeout(120)
def test_50_mb_line_without_a_break_is_refused_with_bounded_memory(tmp_path: Path) -> None:
    """Promise: 50 MB of text with no line break (one gigantic field) is refused at row 1, < 200 MB."""
    path = tmp_path / "ssm_survey_2022.csv"
    path.write_bytes(b"StartDate,EndDate," + b"lorem ipsum " * (JUNK_BYTES // 12))
    error, _, peak = refuse_measured(path)
    assert str(error).startswith("ssm_survey_2022.csv, row 1: has no line break in its first 1 MB")
    assert "Export the survey again" in str(error)
    assert peak < PEAK_LIMIT_BYTES


@pytest.mark.timeout(120)
def test_50_mb_runaway_quote_is_refused_at_its_row_and_column(tmp_path: Path) -> None:
    """Promise: a real v2 header, then a quote that is never closed and 50 MB of text: refused at the
    row and column where the runaway field starts, with < 200 MB of memory."""
    path = tmp_path / "ssm_survey_2022.csv"
    good = csv_text(v2_headers(), [v2_row("R_1")]).encode()
    line = b"lorem, ipsum dolor\n"
    path.write_bytes(good + b'2022-04-01 10:00:00,"' + line * (JUNK_BYTES // len(line)))
    error, _, peak = refuse_measured(path)
    assert str(error).startswith(
        f"ssm_survey_2022.csv, row 5, column EndDate: has a field longer than {MAX_FIELD_CHARS:,} characters"
    )
    assert "lorem" not in str(error)  # the field is never quoted
    assert peak < PEAK_LIMIT_BYTES


@pytest.mark.timeout(120)
def test_50_mb_of_text_lines_is_refused_by_its_first_row(tmp_path: Path) -> None:
    """Promise: 50 MB of plausible CSV lines that are not a survey export are refused by row 1 (the
    long names shortened in the message), before the rest of the file is split, with < 200 MB."""
    path = tmp_path / "ssm_survey_2022.csv"
    path.write_bytes((b"x" * 1000 + b",y,z\n") * (JUNK_BYTES // 1005))
    error, _, peak = refuse_measured(path)
    message = str(error)
    assert message.startswith("ssm_survey_2022.csv, row 1: has a header row that matches no known survey")
    assert "xxx..., y, z)" in message and len(message) < 600
    assert peak < PEAK_LIMIT_BYTES


# ------------------------------------------------------------------------------------------------
# Very long fields (regressions: minimal inputs)
# ------------------------------------------------------------------------------------------------


def test_a_field_over_the_cell_limit_is_refused_at_its_row_and_column(tmp_path: Path) -> None:
    """Promise: one comment of 32,768 characters in a well-formed file (the fast reader) is refused,
    naming row and column, without quoting it; 32,767 characters are read."""
    path = tmp_path / "ssm_survey_2022.csv"
    rows = [v2_row("R_1"), v2_row("R_2", comments="w" * MAX_FIELD_CHARS)]
    path.write_text(csv_text(v2_headers(), rows), encoding="utf-8")
    assert harmonise(read_delivery(path), 2022, "salt").bucket_counts()["respondent"] == 2
    rows[1] = v2_row("R_2", comments="w" * (MAX_FIELD_CHARS + 1))
    path.write_text(csv_text(v2_headers(), rows), encoding="utf-8")
    message = str(refuse(path))
    assert message.startswith("ssm_survey_2022.csv, row 5, column comments: has a field longer than 32,767")
    assert "www" not in message


def test_a_long_field_in_a_file_the_csv_module_reads_is_refused_the_same_way(tmp_path: Path) -> None:
    """Promise: the same refusal when the file goes to the csv module (a quote inside an unquoted
    field sends it there): row and column named."""
    path = tmp_path / "ssm_survey_2022.csv"
    rows = [v2_row("R_1", comments='say "hi"'), v2_row("R_2", comments="w" * 40_000)]
    path.write_text(csv_text(v2_headers(), rows), encoding="utf-8")
    assert str(refuse(path)).startswith("ssm_survey_2022.csv, row 5, column comments: has a field longer")


# ------------------------------------------------------------------------------------------------
# Encodings and quirks
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_utf16_export_is_refused_as_utf16_not_as_binary(tmp_path: Path, encoding: str) -> None:
    """Promise: a delivery saved as UTF-16 (Excel's "Unicode Text") or UTF-32 is refused with a message
    that says so and how to save it as UTF-8 CSV (it used to say "contains a NUL byte")."""
    path = tmp_path / "ssm_survey_2022.csv"
    path.write_bytes(csv_text(v2_headers(), [v2_row("R_1")]).encode(encoding))
    message = str(refuse(path))
    assert message.startswith("ssm_survey_2022.csv: is saved as UTF-16 or UTF-32 text, not as UTF-8 CSV")
    assert "CSV UTF-8" in message


# ------------------------------------------------------------------------------------------------
# Damaged workbooks (regressions for crashes the fuzzing found: each was a traceback before)
# ------------------------------------------------------------------------------------------------


def small_workbook() -> bytes:
    workbook = Workbook()
    for row in [*v2_headers(), v2_row("R_1")]:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def repacked(data: bytes, member: str, content: bytes | None) -> bytes:
    """The workbook with one member replaced (None: left out), checksums valid."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for name in source.namelist():
            if name == member:
                if content is not None:
                    target.writestr(name, content)
            else:
                target.writestr(name, source.read(name))
    return out.getvalue()


def broken_deflate(data: bytes) -> bytes:
    """The workbook with the compressed bytes of its sheet scrambled (zlib.error when read lazily)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    damaged = bytearray(data)
    for k in range(start + 8, start + min(info.compress_size, 64)):
        damaged[k] ^= 0x5A
    return bytes(damaged)


WORKBOOK_DAMAGE = {
    # ParseError from the XML parser, while the rows are read (after load_workbook returned)
    "sheet XML cut short": lambda d: repacked(d, "xl/worksheets/sheet1.xml", b"<worksheet><sheetData><row>"),
    # ParseError from load_workbook itself
    "workbook XML not XML": lambda d: repacked(d, "xl/workbook.xml", b"\x00not xml"),
    # IndexError: a workbook without worksheets
    "no worksheet": lambda d: repacked(
        d,
        "xl/workbook.xml",
        b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets/></workbook>',
    ),
    # TypeError from openpyxl's descriptors: an attribute it does not know
    "unknown attribute": lambda d: repacked(
        d,
        "xl/worksheets/sheet1.xml",
        zipfile.ZipFile(io.BytesIO(d))
        .read("xl/worksheets/sheet1.xml")
        .replace(b"<selection ", b"<selection sqvef='1' ", 1),
    ),
    # zlib.error ("invalid distance too far back", ...), raised while the sheet is streamed
    "deflate data scrambled": broken_deflate,
}


@pytest.mark.parametrize("damage", list(WORKBOOK_DAMAGE))
def test_damaged_workbook_is_refused_not_a_traceback(tmp_path: Path, damage: str) -> None:
    """Promise: a workbook whose archive or XML is damaged is refused as unreadable (no traceback),
    with the kind of damage but no parser message (which could quote a cell)."""
    path = tmp_path / "ssm_survey_2022.xlsx"
    path.write_bytes(WORKBOOK_DAMAGE[damage](small_workbook()))
    message = str(refuse(path))
    assert message.startswith("ssm_survey_2022.xlsx: is not a readable Excel workbook"), message
    assert "save it again as .xlsx" in message


def test_v1_header_rows_then_only_blank_lines(tmp_path: Path) -> None:
    """Promise: v1 header rows followed by blank lines only are refused as having no responses."""
    path = tmp_path / "ssm_survey_2018.csv"
    path.write_bytes((csv_text(v1_headers(), [], "\r\n") + "\r\n" * 3 + ",,,\r\n").encode("utf-8-sig"))
    message = str(refuse(path))
    assert "no responses" in message, message


# ------------------------------------------------------------------------------------------------
# The whole path: `ssm run` on a landing folder with junk beside a good delivery
# ------------------------------------------------------------------------------------------------


@pytest.mark.timeout(600)
def test_ssm_run_refuses_junk_clearly_and_loads_nothing_of_it(tmp_path: Path) -> None:
    """Promise: `ssm run` with a 50 MB junk file and a runaway-quote file in landing/ (beside a good
    delivery) refuses both with clear messages naming them, prints no traceback, exits 1, and loads
    no row of either; the good year loads."""
    from pipelines.generators.demo import write_demo_data

    write_demo_data(tmp_path, years=[2019])
    landing = tmp_path / "landing"
    junk = random.Random(2023).randbytes(JUNK_BYTES)  # seeded: the NUL's row is the same every run
    (landing / "ssm_survey_2023.csv").write_bytes(junk)
    nul_row = junk.count(b"\n", 0, junk.index(b"\x00")) + 1
    good = csv_text(v2_headers(), [v2_row("R_1", recorded="2024-04-01 10:00:00")]).encode()
    (landing / "ssm_survey_2024.csv").write_bytes(good + b'2024-04-01 10:00:00,"' + b"x, y\n" * 400_000)
    start = time.perf_counter()
    result = subprocess.run(
        [SSM, "run"],
        env=pipeline_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
        cwd=PROJECT_ROOT,
    )
    output = result.stdout + result.stderr
    print(f"ssm run: {time.perf_counter() - start:.0f} s\n{output}")
    assert result.returncode == 1, output
    assert "Traceback" not in output
    # Dagster's own ERROR log of the step failure carries a "Stack Trace:" block: it goes to the log
    # file, and neither stream of the terminal shows it.
    assert "Stack Trace" not in output, result.stderr
    assert f"ssm_survey_2023.csv, row {nul_row}: contains a NUL byte" in result.stdout
    assert (
        "ssm_survey_2024.csv, row 5, column EndDate: has a field longer than 32,767 characters"
        in result.stdout
    )
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        loaded = dict(con.execute("select survey_year, count(*) from raw.responses group by 1").fetchall())
        statuses = dict(con.execute("select file_name, status from raw.deliveries").fetchall())
    assert set(loaded) == {2019}
    assert statuses["ssm_survey_2023.csv"] == "refused" and statuses["ssm_survey_2024.csv"] == "refused"
