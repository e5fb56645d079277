"""The full report as a PDF (spec §9 rev 2; issue 14): printed by headless Chromium from report.html.

Promises: the PDF's text (selectable, read back with pypdf) holds every count, percentage and interval
that report.html shows, and none that it does not, word for word the report's text; the check fails
for a PDF of another year's report; the PDF holds nothing that runs or opens anything; it is printed
once per report content (reports/<year>/report.pdf, keyed to report.html's SHA-256) and kept while
the report does not change; without Chromium, the error says what to install.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import pytest

from pipelines.lib.report.pdf import (
    PDF_FILE,
    PDF_KEY_FILE,
    PdfError,
    html_to_pdf,
    keep_pdf_of_unchanged_report,
    report_pdf,
)
from tests.conftest import BuiltPipeline
from tests.report_email_parts import (
    active_pdf_content,
    figure_differences,
    figures,
    html_visible_text,
    pdf_text,
    words,
)

YEAR, OTHER_YEAR = 2021, 2020


def test_the_pdf_is_the_report_printed_once_per_content(
    built_pipeline: BuiltPipeline, tmp_path: Path
) -> None:
    report_dir = tmp_path / str(YEAR)
    shutil.copytree(built_pipeline.root / "reports" / str(YEAR), report_dir)
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    digest = hashlib.sha256(html.encode("utf-8")).hexdigest()

    started = time.monotonic()
    path, made = report_pdf(report_dir, html, digest)
    print(f"PDF of the {YEAR} report: {time.monotonic() - started:.1f} s, {path.stat().st_size:,} bytes")
    assert made and path == report_dir / PDF_FILE
    assert (report_dir / PDF_KEY_FILE).read_text().strip() == digest
    pdf = path.read_bytes()

    # Every figure the report shows is in the PDF's text, and no other; the words are the report's.
    shown = figures(html_visible_text(html))
    assert sum(shown.values()) > 200  # counts, percentages, intervals, tests: the check has material
    assert figure_differences(html, pdf) == ({}, {})
    assert words(pdf_text(pdf)) == words(html_visible_text(html))
    assert active_pdf_content(pdf) == []

    # The check can fail: the same PDF is not the report of another year.
    other = (built_pipeline.root / "reports" / str(OTHER_YEAR) / "report.html").read_text(encoding="utf-8")
    missing, extra = figure_differences(other, pdf)
    assert missing and extra, "a PDF of the 2021 report must not pass for the 2020 report"

    # The same content again: the PDF there is kept (not printed again), also across a new rendering.
    assert report_pdf(report_dir, html, digest) == (path, False)
    rendered_again = tmp_path / "rendered again"
    rendered_again.mkdir()
    assert keep_pdf_of_unchanged_report(report_dir, rendered_again, digest)
    assert (rendered_again / PDF_FILE).read_bytes() == pdf
    changed = tmp_path / "changed"
    changed.mkdir()
    assert not keep_pdf_of_unchanged_report(report_dir, changed, "0" * 64)
    assert not (changed / PDF_FILE).exists()


def test_without_chromium_the_error_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(PdfError, match=r"apt-get install --no-install-recommends chromium"):
        html_to_pdf("<p>report</p>", executable=str(tmp_path / "chromium"))
