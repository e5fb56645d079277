"""Fuzzing the readers with mutated real-shaped deliveries (issue 7: hostile input).

Promise: whatever bytes arrive under a delivery's name, reading and harmonising them (the path the
ingest asset takes: ``read_delivery`` then ``harmonise``) either succeeds or refuses the file with a
DeliveryError that names the file and says what to do. Any other exception is a crash and fails the test.

The seeds are real-shaped deliveries made with the project's own generators (tests/deliveries.py,
tests/test_ingest_v2_numeric.py, pipelines/generators/synthetic.py, pipelines/generators/demo.py): v1 legacy CSV (BOM,
CRLF), v2 choice-text and numeric CSV, a synthetic v2 year, a demo v1 year, and a v2 Excel workbook.
They are mutated at the byte level (flips, inserted quotes, NULs, byte-order marks, CRs, huge fields,
bytes that are not UTF-8), at the line level (lines dropped, repeated, swapped; the file cut short;
other encodings and line endings) and, for the workbook, inside the zip (flipped bytes in the archive,
and mutated XML re-packed with valid checksums, so that openpyxl's parser sees the damage).

Bounded and reproducible: hypothesis runs a fixed number of examples per test (``derandomize=True``, no
example database), about 60 s in all on the shared 2-core machine. For a longer hunt set
``SSM_FUZZ_EXAMPLES`` (examples per test, e.g. 5000) and ``SSM_FUZZ_SEED`` (any integer: other examples
than CI's), e.g.::

    SSM_FUZZ_EXAMPLES=5000 SSM_FUZZ_SEED=7 PYTHONPATH=. .venv/bin/python -m pytest tests/test_fuzz_readers.py
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import zipfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, seed, settings
from hypothesis import strategies as st

from pipelines.lib.ingest.errors import DeliveryError
from pipelines.lib.ingest.harmonise import harmonise
from pipelines.lib.ingest.readers import read_delivery
from tests.deliveries import REASON_1, csv_text, v1_headers, v1_row, v2_headers, v2_row
from tests.test_ingest_v2_numeric import to_numeric
from tests.test_ingest_v2_xlsx import write_xlsx

EXAMPLES = int(os.environ.get("SSM_FUZZ_EXAMPLES", "0"))
SEED = os.environ.get("SSM_FUZZ_SEED")
SALT = "fuzz-salt"
# A message is for a person: it says where and what to do, and never carries a whole field.
MAX_MESSAGE_CHARS = 600


def fuzz_settings(ci_examples: int) -> Callable:
    """Fixed examples and no database in CI; SSM_FUZZ_EXAMPLES / SSM_FUZZ_SEED for a longer hunt."""

    def decorate(test: Callable) -> Callable:
        test = settings(
            max_examples=EXAMPLES or ci_examples,
            deadline=None,  # one example can take 0.3 s (pandera) on a loaded machine: no flaky deadline
            derandomize=SEED is None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )(test)
        return seed(int(SEED))(test) if SEED is not None else test

    return decorate


# ------------------------------------------------------------------------------------------------
# Seeds: real-shaped deliveries
# ------------------------------------------------------------------------------------------------

V1_ROWS = [
    v1_row("R_a1", Q13='fine, "thanks"\r\nsecond line'),
    v1_row("R_a2", Q5="1", Q9="1", Q10="4", Q11="3", Q12_1=""),
    v1_row("R_a3", status="1"),
    v1_row("R_a4", finished="0"),
    v1_row("R_a5", Q1="2"),
    v1_row("R_a1", end="2018-04-02 10:00:00", Q3="twenty six"),
    v1_row("", Q4="99"),
]
V2_ROWS = [
    v2_row("R_b1", nonpart_reasons=f"{REASON_1},Was not aware of the program", comments="a,b\nc"),
    v2_row("R_b2", status="Survey Preview"),
    v2_row("R_b3", progress="50", finished="False"),
    v2_row("R_b4", mentor_formal="Yes", mentor_again="Yes", mentor_worthwhile="Strongly agree"),
    v2_row("R_b1", recorded="2022-04-02 10:00:00", age="7"),
    v2_row("R_b6", consent="No", specialty="Cardiology"),
]


@cache
def seeds() -> dict[str, bytes]:
    """Each seed's bytes by the delivery name it is fuzzed under (the name gives the year)."""
    from pipelines.generators.demo import write_demo_data
    from pipelines.generators.synthetic import write_synthetic_deliveries

    found = {
        "ssm_survey_2018_v1.csv": csv_text(v1_headers(), V1_ROWS, "\r\n").encode("utf-8-sig"),
        "ssm_survey_2022_v2.csv": csv_text(v2_headers(), V2_ROWS).encode("utf-8"),
        "ssm_survey_2022_numeric.csv": csv_text(v2_headers(), [to_numeric(r) for r in V2_ROWS[1:5]]).encode(),
    }
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (synthetic,) = write_synthetic_deliveries(root / "synthetic", [2021], rows_per_year=24)
        found["ssm_survey_2021_synthetic.csv"] = synthetic.read_bytes()
        write_demo_data(root / "demo", years=[2017])
        demo = (root / "demo" / "landing" / "ssm_survey_2017.csv").read_bytes()
        found["ssm_survey_2017_demo.csv"] = b"".join(demo.splitlines(keepends=True)[:30])
        found["ssm_survey_2022_v2.xlsx"] = write_xlsx(root / "x.xlsx", V2_ROWS).read_bytes()
    return found


def ingest(name: str, data: bytes, folder: Path) -> None:
    """What the ingest asset does with an archived delivery: read it, then harmonise it.

    Returns quietly on success or a clear refusal; any other exception propagates (a crash).
    """
    path = folder / f"archived{Path(name).suffix}"  # the archive keeps the suffix; messages use `name`
    path.write_bytes(data)
    year = int(name[len("ssm_survey_") :][:4])
    try:
        table = read_delivery(path, name=name)
        result = harmonise(table, year, SALT)
    except DeliveryError as err:
        message = str(err)
        assert message.startswith(name), message
        assert err.problem and err.action, message
        assert len(message) <= MAX_MESSAGE_CHARS, message
        event(
            f"refused: {re.sub(r'[0-9]+', 'N', err.problem.split('(')[0][:40])}"
        )  # --hypothesis-show-statistics
        return
    event("read")
    assert sum(result.bucket_counts().values()) == len(result.responses)


@pytest.fixture(scope="module")
def folder() -> Path:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


# ------------------------------------------------------------------------------------------------
# Mutations
# ------------------------------------------------------------------------------------------------

TOKENS = [
    b'"', b'""', b",", b"\x00", b"\r", b"\n", b"\r\n", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff",
    b"\xff", b"\x81", b"\xc3", b"\xe9", b"\x85", b"\xe2\x80\xa8", b"\t", b" ", b"=", b"R_b1",
    b"A" * 40_000, b'"' + b"B" * 140_000, b"," * 500, b"\n" * 50, b"2019-04-01 10:00:00",
    b"StartDate", b"V1", b"-99999999999999999999", b"1e308", b"NaN", b"PK\x03\x04",
]  # fmt: skip


def header_end(data: bytes) -> int:
    """Where the data rows start (after 2 header rows for v1, 3 for v2; none of them holds a line break)."""
    lines = data.splitlines(keepends=True)
    rows = 2 if lines and lines[0].lstrip(b"\xef\xbb\xbf").startswith(b"V1,") else 3
    return len(b"".join(lines[:rows]))


@st.composite
def byte_mutation(draw: st.DrawFn, data: bytes, body_from: int = 0) -> bytes:
    """A few edits at random positions, most after body_from (damage to a header row ends the read
    there): flip, replace, insert a token, delete a range."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 6))):
        low = draw(st.sampled_from([body_from, body_from, body_from, 0]))
        at = draw(st.integers(min(low, max(len(out) - 1, 0)), max(len(out) - 1, 0)))
        kind = draw(st.sampled_from(["flip", "set", "insert", "delete"]))
        if not out:
            kind = "insert"
        if kind == "flip":
            out[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            out[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            token = draw(st.sampled_from(TOKENS) | st.binary(min_size=1, max_size=8))
            out[at:at] = token
        else:
            del out[at : at + draw(st.integers(1, 64))]
    return bytes(out)


@st.composite
def line_mutation(draw: st.DrawFn, data: bytes) -> bytes:
    """Lines dropped, repeated, swapped or cut; the file cut short; other endings or encodings."""
    lines = data.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        j = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["drop", "repeat", "swap", "cut", "blank", "widen"]))
        if kind == "drop":
            del lines[i]
        elif kind == "repeat":
            lines[i:i] = [lines[j]] * draw(st.integers(1, 3))
        elif kind == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif kind == "blank":
            lines[i:i] = [draw(st.sampled_from([b"\n", b"\r\n", b" \n", b",,,\n", b"\r"]))]
        else:
            lines[i] = lines[i].rstrip(b"\r\n") + b",extra,fields" + lines[i][len(lines[i].rstrip(b"\r\n")) :]
    out = b"".join(lines)
    ending = draw(st.sampled_from([None, b"\r\n", b"\r", b"\n"]))
    if ending is not None:
        out = ending.join(out.splitlines())
    encoding = draw(st.sampled_from([None] * 8 + ["utf-16", "utf-16-le", "utf-32", "cp1252", "latin-1"]))
    if encoding is not None:
        text = out.decode("utf-8", errors="replace")
        out = text.encode(encoding, errors="replace")
    if draw(st.booleans()):
        out = out[: draw(st.integers(0, len(out)))]
    return out


XLSX_MEMBERS = [
    "xl/worksheets/sheet1.xml", "xl/sharedStrings.xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels",
    "[Content_Types].xml", "xl/styles.xml", "docProps/app.xml",
]  # fmt: skip


@st.composite
def xml_mutation(draw: st.DrawFn, data: bytes) -> bytes:
    """The workbook re-packed with one part mutated (valid checksums: openpyxl parses the damage)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    names = source.namelist()
    target = draw(st.sampled_from([n for n in XLSX_MEMBERS if n in names]))
    action = draw(st.sampled_from(["mutate", "mutate", "mutate", "drop", "empty"]))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            content = source.read(name)
            if name == target:
                if action == "drop":
                    continue
                content = b"" if action == "empty" else draw(byte_mutation(content))
            archive.writestr(name, content)
    return out.getvalue()


CSV_SEEDS = ["ssm_survey_2018_v1.csv", "ssm_survey_2022_v2.csv", "ssm_survey_2022_numeric.csv",
             "ssm_survey_2021_synthetic.csv", "ssm_survey_2017_demo.csv"]  # fmt: skip
XLSX_SEED = "ssm_survey_2022_v2.xlsx"


def test_seeds_are_accepted(folder: Path) -> None:
    """The seeds themselves load (so the fuzzing starts from deliveries the pipeline reads)."""
    for name, data in seeds().items():
        path = folder / f"seed{Path(name).suffix}"
        path.write_bytes(data)
        result = harmonise(read_delivery(path, name=name), int(name[11:15]), SALT)
        assert result.bucket_counts()["respondent"] > 0, name


@fuzz_settings(ci_examples=100)
@given(data=st.data(), name=st.sampled_from(CSV_SEEDS))
def test_csv_with_damaged_bytes_is_read_or_refused_clearly(
    folder: Path, data: st.DataObject, name: str
) -> None:
    """Promise: a CSV delivery with flipped, replaced, inserted or deleted bytes (quotes, NULs, BOMs,
    CRs, huge fields, bytes that are not UTF-8) is read, or refused with a DeliveryError naming the file."""
    seed_bytes = seeds()[name]
    ingest(name, data.draw(byte_mutation(seed_bytes, header_end(seed_bytes))), folder)


@fuzz_settings(ci_examples=120)
@given(data=st.data(), name=st.sampled_from(CSV_SEEDS))
def test_csv_with_damaged_lines_is_read_or_refused_clearly(
    folder: Path, data: st.DataObject, name: str
) -> None:
    """Promise: a CSV delivery whose lines are dropped, repeated, swapped, cut or widened, with other
    line endings or saved in another encoding (UTF-16/32, Windows-1252), is read or refused clearly."""
    ingest(name, data.draw(line_mutation(seeds()[name])), folder)


@fuzz_settings(ci_examples=50)
@given(data=st.data())
def test_workbook_with_damaged_zip_is_read_or_refused_clearly(folder: Path, data: st.DataObject) -> None:
    """Promise: an Excel delivery with bytes of its zip archive flipped or cut is read or refused clearly."""
    ingest(XLSX_SEED, data.draw(byte_mutation(seeds()[XLSX_SEED])), folder)


@fuzz_settings(ci_examples=80)
@given(data=st.data())
def test_workbook_with_damaged_xml_is_read_or_refused_clearly(folder: Path, data: st.DataObject) -> None:
    """Promise: an Excel delivery whose sheet, shared strings, workbook, relations or content types are
    damaged, emptied or missing (re-packed with valid checksums) is read or refused clearly."""
    ingest(XLSX_SEED, data.draw(xml_mutation(seeds()[XLSX_SEED])), folder)
