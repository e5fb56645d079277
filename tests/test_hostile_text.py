"""Hostile text in a delivery (issue 7): no formula reaches a spreadsheet, no markup reaches a reader.

The deliveries of tests/seeded_deliveries.py put CSV-injection payloads (=HYPERLINK(...), +1+1, -2+3,
@SUM(...), =cmd|..., tab- and CR-prefixed formulas) and HTML/script payloads (<script>, <img onerror>,
"><svg onload>, javascript: URLs, entity tricks, template syntax) into every text column a delivery can
carry: the question-text header rows, ResponseSet and UserLanguage, the free text (other specialty,
other reason, comments, self-description), integer answers typed as text, answer labels and codes,
and the file name. `ssm run` and `ssm report --send` (to a loopback SMTP server) then run on them.

The project writes no CSV or spreadsheet from survey data: a search of the code for to_csv,
csv.writer, openpyxl, to_excel and COPY ... TO finds only the demonstration and benchmark data
generators (pipelines/generators/demo.py, pipelines/generators/synthetic.py), which write deliveries, not outputs,
and the benchmark's pandas baseline (bench/peer_pandas.py), which is not part of the pipeline. The
first test proves it for a real run: afterwards the data folder holds no CSV/XLSX file but the
deliveries, their byte-identical archive copies, the class sizes the test wrote and dbt's copies of
the project's code lists, no e-mail carries one, and the OWASP check, shown to catch the payloads in
the deliveries, finds no formula in any of them.
"""

from __future__ import annotations

import csv
import email
import hashlib
import io
import re
import zipfile
from email import policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import pytest
from openpyxl import load_workbook

from pipelines.lib.mail.messages import build_report_message
from pipelines.lib.report.context import load_report_context
from pipelines.lib.report.pdf import html_to_pdf
from pipelines.lib.report.rendering import EMAIL_CHARTS, render_email_html, render_report_html
from pipelines.paths import REPORT_TEMPLATES_DIR
from tests.report_email_parts import active_pdf_content, attached_pdf, html_visible_text, pdf_text, words
from tests.seeded_deliveries import (
    CLASS_SIZES,
    CSV_PAYLOADS,
    HTML_PAYLOADS,
    LEADERSHIP,
    LOADED_YEARS,
    PAYLOADS,
    REPORT_YEAR,
    SeededRun,
    seeded_run,
)

# OWASP "CSV Injection": a cell starting with one of these is run as a formula by spreadsheet programs.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
SPREADSHEET_SUFFIXES = (".csv", ".tsv", ".xlsx", ".xlsm", ".xls", ".ods")
SPREADSHEET_TYPES = (
    "text/csv", "text/tab-separated-values", "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.oasis.opendocument.spreadsheet",
)  # fmt: skip
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
# Tags that can run script or load a document, whatever their attributes.
# Tags an HTML parser inserts by itself (css-inline parses the e-mail body as HTML5 and adds <tbody>).
IMPLIED_TAGS = {"html", "head", "body", "tbody"}
ACTIVE_TAGS = {
    "script", "iframe", "frame", "frameset", "object", "embed", "svg", "math", "base", "form", "applet",
}  # fmt: skip
URL_SCHEMES = re.compile(r"^(javascript|vbscript|livescript|data:text/html)", re.IGNORECASE)
URL_ATTRIBUTES = {
    "href", "src", "srcset", "action", "formaction", "xlink:href", "background", "poster", "data", "codebase",
    "cite", "longdesc", "dynsrc", "lowsrc",
}  # fmt: skip
SEEDS_DIR = Path(__file__).resolve().parent.parent / "dbt_project" / "seeds"
SSTI_RESULT = str(7 * 7191)  # what "{{ 7*7191 }}" would print if text were ever rendered as a template


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> SeededRun:
    result = seeded_run(tmp_path_factory)
    assert result.commands["report"].returncode == 0, result.commands["report"].stdout
    return result


# ---------------------------------------------------------------------------------------------------
# Spreadsheets
# ---------------------------------------------------------------------------------------------------


def is_neutralised(cell: str) -> bool:
    """OWASP: a cell is safe when it does not start with a trigger, is a plain number (-79.05), or is
    prefixed with a single quote, which spreadsheet programs show as text."""
    return not cell.startswith(FORMULA_TRIGGERS) or bool(NUMBER.fullmatch(cell))


def formula_cells(path: Path) -> list[str]:
    """The cells of a CSV/TSV or Excel file that a spreadsheet program would run as formulas."""
    data = path.read_bytes()
    if data.startswith(b"PK\x03\x04"):
        workbook = load_workbook(io.BytesIO(data))  # not data_only: formulas stay formulas
        cells = []
        for sheet in workbook.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    if cell.data_type == "f" or (
                        isinstance(cell.value, str)
                        and not cell.quotePrefix
                        and not is_neutralised(cell.value)
                    ):
                        cells.append(str(cell.value))
        return cells
    text = data.decode("utf-8-sig", errors="replace")
    dialect = csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel
    return [
        c for row in csv.reader(io.StringIO(text, newline=""), dialect) for c in row if not is_neutralised(c)
    ]


def looks_like_spreadsheet(path: Path) -> bool:
    if path.suffix.lower() in SPREADSHEET_SUFFIXES:
        return True
    with path.open("rb") as handle:
        if handle.read(4) != b"PK\x03\x04":
            return False
    with zipfile.ZipFile(path) as archive:  # an Excel or OpenDocument file under another name
        names = archive.namelist()
    return any(n.startswith("xl/") or n == "content.xml" for n in names)


def test_no_csv_or_spreadsheet_is_written(run: SeededRun) -> None:
    """CSV-injection strings never reach a CSV or spreadsheet the project writes as formulas, because it
    writes none: besides the deliveries, their byte-identical archive copies and the test's class sizes,
    the data folder holds only dbt's SQL for loading the project's code lists, named *.csv after them
    (no delivery text in it), and no e-mail attaches a spreadsheet. The OWASP check that any new output
    would have to pass is shown to find every CSV payload in the deliveries, CSV and Excel alike."""
    root = run.root
    spreadsheets = [p for p in sorted(root.rglob("*")) if p.is_file() and looks_like_spreadsheet(p)]
    landed = {hashlib.sha256(p.read_bytes()).hexdigest() for p in run.deliveries}
    seeds = {p.name for p in SEEDS_DIR.glob("*.csv")}
    written = []
    for path in spreadsheets:
        relative = path.relative_to(root)
        if relative.parts[0] == "landing" and path in run.deliveries:
            continue
        if relative.parts[0] == "archive" and path.stem in landed:
            assert hashlib.sha256(path.read_bytes()).hexdigest() == path.stem  # kept unchanged
            continue
        if relative == Path("reference/class_sizes.csv") and path.read_text(encoding="utf-8") == CLASS_SIZES:
            continue
        written.append(path)
    # dbt keeps the SQL that loaded each seed under the seed's name (dbt/target/run/ssm/seeds/*.csv):
    # SQL, not CSV, about the project's own code lists. Nothing else is written.
    dbt_seed_sql = {f"dbt/target/run/ssm/seeds/{name}" for name in seeds}
    others = [p for p in written if str(p.relative_to(root)) not in dbt_seed_sql]
    assert [str(p.relative_to(root)) for p in others] == []
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert "-- dbt seed --" in text and not [p for p in PAYLOADS if p.strip() in text], path

    for raw in run.messages:
        message = email.message_from_bytes(raw.data, policy=policy.default)
        for part in message.walk():
            name = (part.get_filename() or "").lower()
            assert part.get_content_type() not in SPREADSHEET_TYPES and not name.endswith(
                SPREADSHEET_SUFFIXES
            )

    # The check is not vacuous: in the deliveries it finds every CSV payload, in CSV and Excel alike
    # (but the CR-prefixed one in Excel: XML turns a bare CR into a line feed, which runs nothing).
    for delivery in run.deliveries[:3]:
        found = formula_cells(delivery)
        for payload in CSV_PAYLOADS:
            if not (delivery.suffix == ".xlsx" and payload.startswith("\r")):
                assert [c for c in found if c.startswith(payload)], (delivery.name, payload)


# ---------------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------------


class ActiveContent(HTMLParser):
    """Collects the tags, attributes and text of an HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str, str]] = []  # (tag, name, value)
        self.text: list[str] = []
        self.start_tags: list[str] = []  # each start tag as written, attributes included

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.extend((tag, name.lower(), value or "") for name, value in attrs)
        self.start_tags.append(self.get_starttag_text() or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def template_tags() -> set[str]:
    """The tags the report templates themselves use."""
    tags = set()
    for template in REPORT_TEMPLATES_DIR.glob("*.html"):
        tags |= {
            t.lower() for t in re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", template.read_text(encoding="utf-8"))
        }
    return tags


def active_content(html: str) -> list[str]:
    """Everything in the document that could run script or navigate to it, described in words."""
    parser = ActiveContent()
    parser.feed(html)
    parser.close()
    problems = [f"<{tag}> element" for tag in sorted(parser.tags & ACTIVE_TAGS)]
    problems += [
        f"<{tag}> not used by the templates" for tag in sorted(parser.tags - template_tags() - IMPLIED_TAGS)
    ]
    for tag, name, value in parser.attributes:
        compact = re.sub(r"[\x00-\x20]", "", value)
        if name.startswith("on"):
            problems.append(f"<{tag} {name}=...>")
        if (
            (name in URL_ATTRIBUTES and URL_SCHEMES.match(compact))
            or (name == "style" and re.search(r"javascript:|expression\(|@import", compact, re.IGNORECASE))
            or name == "srcdoc"
        ):
            problems.append(f"<{tag} {name}={value[:60]!r}>")
        if (
            tag == "img"
            and name == "src"
            and not re.match(r"^(data:image/png;base64,|cid:|[\w.-]+\.png$)", value)
        ):
            problems.append(f"<img src={value[:60]!r}>")
    text = "".join(parser.text)
    if SSTI_RESULT in text:
        problems.append("template syntax from the data was evaluated")
    # A payload written out as markup, outside the quoted value of an attribute: inside one, "<" is
    # inert, and HTML5 serialisers (the e-mail's CSS inliner among them) do not escape it there.
    outside = html
    for start_tag in parser.start_tags:
        outside = outside.replace(start_tag, "<>")
    problems += [f"raw payload {p[:40]!r}" for p in HTML_PAYLOADS if "<" in p and p in outside]
    return problems


def report_documents(run: SeededRun) -> dict[str, str]:
    """Every HTML document a reader gets: the saved reports and e-mail bodies, and the e-mail as sent."""
    documents = {}
    for year in LOADED_YEARS:
        for name in ("report.html", "email.html"):
            documents[f"{year}/{name}"] = (run.root / "reports" / str(year) / name).read_text(
                encoding="utf-8"
            )
    for index, raw in enumerate(run.messages):
        message = email.message_from_bytes(raw.data, policy=policy.default)
        for number, part in enumerate(message.walk()):
            if part.get_content_type() == "text/html":
                documents[f"e-mail {index} part {number} ({part.get_filename() or 'body'})"] = (
                    part.get_content()
                )
    return documents


def test_templates_have_no_active_content() -> None:
    """The templates themselves use no script, frame, object, svg or form element."""
    assert template_tags() & ACTIVE_TAGS == set()
    for template in REPORT_TEMPLATES_DIR.glob("*.html"):
        source = template.read_text(encoding="utf-8")
        assert not re.search(r"\son\w+\s*=", source) and "javascript:" not in source.lower(), template.name


def test_reports_and_emails_carry_no_markup_from_the_delivery(run: SeededRun) -> None:
    """HTML/script in every text field of a delivery is escaped in reports: the reports of the three
    loaded years, their e-mail bodies and the e-mail as the SMTP server received it (body and attached
    report) hold no script element, event handler, javascript: URL or unescaped payload. The attached
    report is a PDF: it holds no script, action, form, embedded file or outside link, and its text is
    the report's text, word for word (a payload that reaches the report is the same inert text there)."""
    documents = report_documents(run)
    assert sum(1 for name in documents if name.startswith("e-mail")) == 1  # the body (the report is a PDF)
    for raw in run.messages:  # the other message, the analysts' alert about 2017, is plain text
        message = email.message_from_bytes(raw.data, policy=policy.default)
        assert raw.rcpt_tos == [LEADERSHIP] or message.get_content_type() == "text/plain"
    assert {name: active_content(html) for name, html in documents.items() if active_content(html)} == {}

    (sent,) = [raw for raw in run.messages if raw.rcpt_tos == [LEADERSHIP]]
    pdf = attached_pdf(email.message_from_bytes(sent.data, policy=policy.default))
    assert active_pdf_content(pdf) == []
    report_html = documents[f"{REPORT_YEAR}/report.html"]
    printed = pdf_text(pdf)
    assert words(printed) == words(html_visible_text(report_html))
    assert SSTI_RESULT not in printed


def poisoned(value: Any, counter: list[int]) -> Any:
    """The same structure with every string replaced by a payload (dict keys and non-strings kept)."""
    if isinstance(value, str):
        counter[0] += 1
        return PAYLOADS[counter[0] % len(PAYLOADS)]
    if isinstance(value, dict):
        return {key: poisoned(item, counter) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(poisoned(item, counter) for item in value)
    return value


def test_every_text_field_of_the_report_is_escaped(run: SeededRun) -> None:
    """Whatever text the warehouse hands the report, it is escaped: the real report context of the
    seeded year with every string (labels, sentences, cells, notes, chart captions and alt texts, the
    footer) replaced by a payload renders, and survives the e-mail's CSS inlining and printing to PDF,
    without active content, and the payloads are there as text."""
    with duckdb.connect(str(run.root / "warehouse.duckdb"), read_only=True) as con:
        context = load_report_context(con, REPORT_YEAR, 5, meta={"code_version": "x", "source_sha256": "y"})
    counter = [0]
    hostile = poisoned(context, counter)
    assert counter[0] > 100  # the context is mostly text
    images = {name: f"{name}.png" for name in context["charts"]}
    full = render_report_html(hostile, images)
    digest = render_email_html(hostile, {name: f"cid:{name}" for name in EMAIL_CHARTS}, "report.pdf")
    for html in (full, digest):
        assert active_content(html) == []
        assert "&lt;script&gt;alert(" in html and "&lt;img src=x onerror=alert(2)&gt;" in html
        message: EmailMessage = build_report_message(
            subject="test", sender="ssm@med.example.edu", recipients=[LEADERSHIP], html=html, text="text",
            images={}, attachment_name="report.pdf", attachment_pdf=b"%PDF-1.4\n%%EOF\n",
            message_id="<x@med.example.edu>",
        )  # fmt: skip
        inlined = message.get_body(preferencelist=("html",)).get_content()
        assert active_content(inlined) == []
        assert "&lt;script&gt;alert(" in inlined
    # Printed to PDF, the same report shows the payloads as text, and nothing in the PDF can run.
    pdf = html_to_pdf(full)
    printed = " ".join(pdf_text(pdf).split())
    assert active_pdf_content(pdf) == []
    assert '<script>alert("xss-1")</script>' in printed and "<img src=x onerror=alert(2)>" in printed
    assert SSTI_RESULT not in printed
