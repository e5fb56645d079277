"""The report e-mail as the tests read it: its MIME structure, and its PDF's text (pypdf) compared
with what report.html shows.

A PDF's streams are compressed, so a byte scan of one proves nothing: the privacy and hostile-text
tests read its text instead. pypdf extracts the text as Chromium drew it: line breaks where the page
broke lines, the en dash and the minus sign as themselves or as compatibility forms. Both sides are
therefore normalised (NFKC, every dash and minus as "-", whitespace collapsed) before comparison.
"""

from __future__ import annotations

import functools
import io
import re
import unicodedata
from collections import Counter
from email.message import EmailMessage
from html.parser import HTMLParser

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
HIDDEN_CLASSES = {"sr-only", "visually-hidden", "visuallyhidden"}  # read by screen readers, not printed
NOT_SHOWN = {"head", "script", "style", "template", "title"}
DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"), "-")
# A figure: a count, a percentage, a decimal, an interval (two joined by a dash), with its sign or its
# "<" (a masked count); not digits inside a word (the hex SHA-256 in the footer, "SHA-256").
FIGURE = re.compile(r"(?<![\w.])[<>]?-?\d+(?:\.\d+)?%?(?:-\d+(?:\.\d+)?%?)?(?!\w)")


class _VisibleText(HTMLParser):
    """The text of the page a reader sees: not the head, not hidden elements; a break at every tag."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # (tag, hidden)

    def _hidden(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.parts.append(" ")
        if tag in VOID:
            return
        values = dict(attrs)
        style = re.sub(r"\s", "", (values.get("style") or "").lower())
        hidden = (
            self._hidden()
            or tag in NOT_SHOWN
            or "hidden" in values
            or "display:none" in style
            or bool(HIDDEN_CLASSES & set((values.get("class") or "").split()))
        )
        self.stack.append((tag, hidden))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        self.parts.append(" ")
        if any(open_tag == tag for open_tag, _ in self.stack):
            while self.stack.pop()[0] != tag:
                pass

    def handle_data(self, data: str) -> None:
        if not self._hidden():
            self.parts.append(data)


def html_visible_text(html: str) -> str:
    """The text report.html shows (what a browser draws of it, not its head or hidden elements)."""
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


@functools.lru_cache(maxsize=8)  # the privacy scans read the same PDFs several times
def pdf_text(data: bytes) -> str:
    """Every page's text, as pypdf extracts it."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def normalise(text: str) -> str:
    """One form for both sides: NFKC, every dash and minus a hyphen, whitespace collapsed to one space,
    and no space around a dash before a digit (an interval or a sign broken over two lines)."""
    text = unicodedata.normalize("NFKC", text).translate(DASHES)
    text = re.sub(r"\s*-\s*(?=\d)", "-", text)
    return re.sub(r"\s+", " ", text).strip()


def figures(text: str) -> Counter[str]:
    """Every count, percentage, interval and other number in the text, with how often it appears."""
    return Counter(FIGURE.findall(normalise(text)))


def figure_differences(html: str, pdf: bytes) -> tuple[Counter[str], Counter[str]]:
    """(figures report.html shows that the PDF lacks, figures the PDF shows that report.html does not)."""
    shown, printed = figures(html_visible_text(html)), figures(pdf_text(pdf))
    return shown - printed, printed - shown


def words(text: str) -> str:
    """The text without any whitespace: the same words in the same order, however lines were broken."""
    return re.sub(r"\s+", "", normalise(text))


# PDF actions that run something, open something outside the document, or send something.
ACTIVE_ACTIONS = {"/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/GoToR", "/GoToE", "/Rendition"}


def active_pdf_content(data: bytes) -> list[str]:
    """Everything in the PDF that could run script, open a file or another document, or reach the
    network, described in words: actions of those kinds, JavaScript, forms, embedded files, and
    links to anything but a place in the document."""
    reader = PdfReader(io.BytesIO(data))
    problems: list[str] = []
    seen: set[int] = set()

    def visit(value: object, where: str) -> None:
        if isinstance(value, IndirectObject):
            if value.idnum in seen:
                return
            seen.add(value.idnum)
            value = value.get_object()
        if isinstance(value, DictionaryObject):
            if value.get("/S") in ACTIVE_ACTIONS:
                problems.append(f"{value['/S']} action in {where}")
            if "/JS" in value or "/JavaScript" in value:
                problems.append(f"JavaScript in {where}")
            if value.get("/Type") in ("/EmbeddedFile", "/Filespec") or "/EmbeddedFiles" in value:
                problems.append(f"embedded file in {where}")
            if "/AcroForm" in value or value.get("/Subtype") == "/Widget":
                problems.append(f"form in {where}")
            if "/URI" in value:
                problems.append(f"link to {str(value['/URI'])[:60]!r} in {where}")
            for key, item in value.items():
                if key not in ("/Parent", "/P", "/Prev", "/Next", "/First", "/Last"):
                    visit(item, f"{where}{key}")
        elif isinstance(value, ArrayObject):
            for item in value:
                visit(item, where)

    visit(reader.trailer["/Root"], "/Root")
    return problems


def shape(part: EmailMessage) -> str | tuple:
    """The MIME tree: a leaf's content type, or (multipart type, [its parts' shapes])."""
    if part.is_multipart():
        return (part.get_content_type(), [shape(child) for child in part.iter_parts()])
    return part.get_content_type()


def report_message_problems(message: EmailMessage, year: int | str) -> list[str]:
    """What is wrong with a report e-mail's structure (spec §9 rev 2), in words; [] when nothing is.

    multipart/mixed [multipart/alternative [text/plain, multipart/related [text/html, image/png
    inline parts with a Content-ID, one per cid: of the HTML]], application/pdf attachment named
    ssm_report_<year>.pdf]; no part but the PDF is an attachment.
    """
    problems = []
    images = [p for p in message.walk() if p.get_content_maintype() == "image"]
    expected = (
        "multipart/mixed",
        [
            (
                "multipart/alternative",
                ["text/plain", ("multipart/related", ["text/html"] + ["image/png"] * len(images))],
            ),
            "application/pdf",
        ],
    )
    if not images or shape(message) != expected:
        problems.append(f"structure {shape(message)}")
    leaves = [p for p in message.walk() if not p.is_multipart()]
    attachments = [p for p in leaves if p.is_attachment()]
    if [(p.get_content_type(), p.get_filename()) for p in attachments] != [
        ("application/pdf", f"ssm_report_{year}.pdf")
    ]:
        problems.append(f"attachments {[(p.get_content_type(), p.get_filename()) for p in attachments]}")
    for image in images:
        if image.get_content_disposition() != "inline" or not image["Content-ID"]:
            problems.append(
                f"image {image.get_filename()}: {image['Content-Disposition']}, Content-ID {image['Content-ID']}"
            )
        if not image.get_content().startswith(b"\x89PNG"):
            problems.append(f"image {image.get_filename()} is no PNG")
    related = [p for p in message.walk() if p.get_content_type() == "multipart/related"]
    if related and related[0].get_param("type") != "text/html":
        problems.append("multipart/related without type=text/html (RFC 2387)")
    body = message.get_body(preferencelist=("html",))
    html = body.get_content() if body is not None else ""
    sources = {src[4:] for src in re.findall(r'<img[^>]+src="(cid:[^"]+)"', html)}
    content_ids = {image["Content-ID"].strip("<>") for image in images if image["Content-ID"]}
    if sources != content_ids:
        problems.append(f"cid: sources {sorted(sources)} but inline parts {sorted(content_ids)}")
    pdfs = [p for p in attachments if p.get_content_type() == "application/pdf"]
    if pdfs and not pdfs[0].get_content().startswith(b"%PDF-"):
        problems.append("the PDF attachment is no PDF")
    return problems


def attached_pdf(message: EmailMessage) -> bytes:
    """The bytes of the message's one PDF attachment."""
    (pdf,) = [p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"]
    return pdf.get_content()
