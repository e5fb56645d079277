"""The full report as a PDF, for the e-mail's attachment: headless Chromium prints report.html.

Mail gateways often hold back .html attachments (spec §9, rev 2), so the e-mail carries the report as
a PDF with selectable text. Debian's Chromium, which `make install` already installs for the browser
tests, prints the same report.html a reader opens, through its command line (`--print-to-pdf`):
Playwright is a dev dependency and the pipeline does not need it. Why Chromium and not WeasyPrint, with
the measurements: docs/decisions.md, "The report as a PDF".

What is added to the page for printing, and nothing else: the paper and its margins, headings kept
with what follows them, images and table rows not split across pages, and a content security policy
that lets the page run no script and load nothing but its own data: images.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from pipelines.lib.report.browser import CHROMIUM_ARGS, chromium_path

PDF_FILE = "report.pdf"
#: Beside the PDF: the SHA-256 of the report.html it was printed from (a PDF is made once per content).
PDF_KEY_FILE = "report.pdf.sha256"

#: A PDF of one report takes 1-2 s on this 2-core machine; far more means Chromium hangs.
TIMEOUT_SECONDS = 120.0

# At the start of <head>, so that print rules the report's own stylesheet may one day carry win.
# US Letter: the school is American; A4 printers scale it down by 3%.
PRINT_STYLE = """<style media="print">
@page { size: letter; margin: 14mm 12mm; }
h1, h2, h3, h4, caption { break-after: avoid; }
img, figure, tr { break-inside: avoid; }
</style>"""
# The report has no script and loads nothing (its images are data: URIs): keep it so in the browser.
PAGE_POLICY = (
    '<meta http-equiv="Content-Security-Policy" '
    "content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">"
)

_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)


class PdfError(RuntimeError):
    """The PDF could not be made; the message says why and what to do."""


def for_print(html: str) -> str:
    """The report's HTML with the page policy and the print rules at the start of its <head>."""
    added = PAGE_POLICY + "\n" + PRINT_STYLE + "\n"
    head = _HEAD.search(html)
    if head is None:
        return added + html
    return html[: head.end()] + "\n" + added + html[head.end() :]


def html_to_pdf(
    html: str, *, executable: str | None = None, timeout_seconds: float = TIMEOUT_SECONDS
) -> bytes:
    """Print a self-contained HTML page to PDF with headless Chromium.

    Args:
        html: the page; its images must be inside it (data: URIs): the page may load nothing.
        executable: the Chromium to run (default: Debian's, else one on PATH).
        timeout_seconds: how long Chromium may take before it is stopped.

    Returns:
        The PDF's bytes.

    Raises:
        PdfError: Chromium is missing (the message says what to install), failed, or took too long.
    """
    try:
        chromium = chromium_path() if executable is None else _existing(executable)
    except RuntimeError as exc:
        raise PdfError(f"The report's PDF cannot be made: {exc}") from exc
    with tempfile.TemporaryDirectory(prefix="ssm-pdf-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(for_print(html), encoding="utf-8")
        output = Path(tmp) / "report.pdf"
        command = [
            chromium, "--headless", *CHROMIUM_ARGS, "--no-pdf-header-footer",
            "--generate-pdf-document-outline", f"--user-data-dir={Path(tmp) / 'profile'}",
            f"--print-to-pdf={output}", page.as_uri(),
        ]  # fmt: skip
        # A session of its own, so that a Chromium that hangs goes with all its helper processes.
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            console, _ = process.communicate(timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise PdfError(
                f"Chromium ({chromium}) did not print the report's PDF within {timeout_seconds:g} s; "
                "try again, and if it keeps failing run the same command by hand: "
                f"{chromium} --headless --print-to-pdf=out.pdf report.html"
            ) from None
        # Chromium exits 0 also when it wrote nothing (a page it could not load): look at the file.
        data = output.read_bytes() if output.is_file() else b""
    if process.returncode != 0 or not data.startswith(b"%PDF-"):
        said = [
            line for line in console.decode(errors="replace").splitlines() if "dbus" not in line and line
        ][-3:]
        raise PdfError(
            f"Chromium ({chromium}) made no PDF of the report (exit status {process.returncode}"
            + (f"; it said: {' | '.join(said)}" if said else "")
            + "). Check that `chromium --headless --print-to-pdf=out.pdf report.html` works here."
        )
    return data


def _existing(executable: str) -> str:
    found = shutil.which(executable)
    if found is None:
        raise RuntimeError(
            f"Chromium is not installed ({executable} not found). `make install` installs Debian's "
            "package: apt-get install --no-install-recommends chromium"
        )
    return found


def report_pdf(report_dir: Path, report_html: str, report_sha256: str) -> tuple[Path, bool]:
    """report_dir/report.pdf printed from report_html, made only if no PDF of this content is there.

    Args:
        report_dir: reports/<year>/.
        report_html: the report as saved in report_dir (report.html), already read.
        report_sha256: its SHA-256 (hex), the PDF's key.

    Returns:
        (the PDF's path, whether it was made now).

    Raises:
        PdfError: as html_to_pdf.
    """
    pdf, key = report_dir / PDF_FILE, report_dir / PDF_KEY_FILE
    if pdf.is_file() and key.is_file() and key.read_text(encoding="ascii").strip() == report_sha256:
        return pdf, False
    data = html_to_pdf(report_html)
    # The key last: a process killed in between leaves a PDF without key, which is made again.
    key.unlink(missing_ok=True)
    partial = pdf.with_name(PDF_FILE + ".partial")
    partial.write_bytes(data)
    partial.replace(pdf)
    key.write_text(report_sha256 + "\n", encoding="ascii")
    return pdf, True


def keep_pdf_of_unchanged_report(old_dir: Path, new_dir: Path, report_sha256: str) -> bool:
    """Copy the PDF from a year's old report folder into its new one when the report did not change.

    A report is rendered again on every run (and before every send), into a new folder that replaces
    the old one; without this, its PDF would be printed again for the same content.

    Returns:
        Whether a PDF was kept.
    """
    pdf, key = old_dir / PDF_FILE, old_dir / PDF_KEY_FILE
    if not (pdf.is_file() and key.is_file()) or key.read_text(encoding="ascii").strip() != report_sha256:
        return False
    shutil.copy2(pdf, new_dir / PDF_FILE)
    shutil.copy2(key, new_dir / PDF_KEY_FILE)
    return True
