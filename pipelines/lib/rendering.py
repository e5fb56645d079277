"""Render the yearly report: HTML from the Jinja2 templates in ``reports/`` and the e-mail's plain text.

One Jinja2 environment serves every render. It autoescapes ``*.html`` templates
(``select_autoescape``), so any text that came from the warehouse (reason labels, data-quality column
names) is escaped, and it uses ``StrictUndefined``, so a missing context key fails loudly instead of
printing an empty cell in a report to the dean.

Context keys the templates read (all built by ``report_data.load_report_context``): ``title``,
``subtitle``, ``summary``, ``warnings``, ``key_findings``, ``population``, ``demographics``,
``value_items``, ``mentor_experience``, ``reasons``, ``trends``, ``data_quality``, ``methods``,
``footnotes``, ``any_masked``, ``any_no_data``, ``no_data_note``, ``small_cell_min``, ``survey_year``, ``charts`` and ``meta``
(``code_version``, ``source_sha256``). Values are already formatted: a "cell" is a
dict ``{"text", "masked", "no_data"}``, and the templates only print text and add the footnote marker.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

#: The templates folder (``reports/`` at the project root). Resolved from this file rather than taken
#: from ``pipelines.project`` so that rendering does not trigger that module's dbt parse on import.
TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "reports"

REPORT_TEMPLATE = "yearly_report.html"

#: Line width of the plain-text e-mail part (RFC 5322 recommends at most 78 characters).
TEXT_WIDTH = 72


@cache
def environment() -> Environment:
    """Return the one Jinja2 environment for the report templates."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_report_html(
    context: Mapping[str, Any], images: Mapping[str, str], *, trend_years: int | None = None
) -> str:
    """Render the full report as one self-contained HTML page.

    Args:
        context: The dict from ``load_report_context``.
        images: Chart name -> the ``src`` of its <img>: the PNG's file name next to the saved report
            (``"value_items.png"``), or ``"cid:value_items"`` for the e-mail body.
        trend_years: Show only the latest this many years in the trend tables (the chart keeps them
            all). For the e-mail body: once CSS is inlined, every survey year adds about 5 KB, and
            Gmail clips a message body above about 102 KB. None (the default) shows every year.

    Returns:
        The HTML, with the CSS of ``reports/report.css`` in a <style> block (the e-mail step inlines it).

    Raises:
        ValueError: When ``images`` lacks a chart that the context describes.
    """
    missing = sorted(set(context["charts"]) - set(images))
    if missing:
        raise ValueError(
            f"no image source for chart(s) {', '.join(missing)}: pass one per key of context['charts']"
        )
    if trend_years is not None:
        context = _latest_trend_years(context, trend_years)
    return environment().get_template(REPORT_TEMPLATE).render({**context, "images": dict(images)})


def _latest_trend_years(context: Mapping[str, Any], keep: int) -> dict[str, Any]:
    """A copy of the context whose trend tables hold only the latest ``keep`` years."""
    if keep < 1:
        raise ValueError(f"trend_years must be at least 1, got {keep}")
    trends = context["trends"]
    years = trends["years"]
    if len(years) <= keep:
        return dict(context)
    omitted = years[:-keep]
    span = str(omitted[0]) if len(omitted) == 1 else f"{omitted[0]}\u2013{omitted[-1]}"
    metrics = [{**metric, "rows": metric["rows"][-keep:]} for metric in trends["metrics"]]
    plural = "s" if keep > 1 else ""
    note = (
        f"The tables show only the latest {keep} survey year{plural}; earlier years ({span}) are in the chart "
        "and in the full report."
    )
    return {**context, "trends": {**trends, "metrics": metrics, "omitted_years_note": note}}


def render_text_summary(context: Mapping[str, Any], attachment_name: str = "") -> str:
    """Render the plain-text part of the report e-mail.

    Args:
        context: The dict from ``load_report_context``.
        attachment_name: File name of the attached full report (the PDF), to point the reader at it.

    Returns:
        Title, response rate, key findings, the small-cell note when a finding hides a figure, and a
        pointer to the attached full report, wrapped at 72 characters.
    """
    population = context["population"]
    marker = " *"
    lines = [context["title"], context["subtitle"], ""]
    if population["has_class_size"]:
        response = (
            f"Response: {population['respondents']['text']} of {population['class_size']['text']} "
            f"students answered (response rate {population['response_rate']['text']})."
        )
    else:
        response = (
            f"Response: {population['respondents']['text']} students answered; the class size is not "
            "on record, so there is no response rate."
        )
    lines += _wrap(response)
    for warning in context["warnings"]:
        lines += _wrap(f"Note: {warning}")
    lines += ["", "Key findings", ""]
    for finding in context["key_findings"]:
        lines += _wrap(finding["text"] + (marker if finding["masked"] else ""), bullet="- ")
    if any(finding["masked"] for finding in context["key_findings"]):
        lines.append("")
        for note in context["footnotes"]:
            lines += _wrap(f"* {note}")
    where = f" ({attachment_name})" if attachment_name else ""
    lines += [""]
    lines += _wrap(
        f"The full report is attached as a PDF{where}: the study population, the tables by group, the "
        "trends over the years, the data-quality appendix and the methods."
    )
    meta = context["meta"]
    lines += [""]
    lines += _wrap(f"Code version {meta['code_version']}; delivery SHA-256 {meta['source_sha256']}.")
    return "\n".join(lines) + "\n"


def _wrap(text: str, bullet: str = "") -> list[str]:
    indent = " " * len(bullet)
    return textwrap.wrap(
        text,
        TEXT_WIDTH,
        initial_indent=bullet,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [""]


#: The longest subject. RFC 5322 (§2.1.1) asks for lines of at most 78 characters; a 360 px phone shows
#: about 35 of them in its inbox list and the whole subject, in two or three lines, in the message.
SUBJECT_MAX = 78


def email_subject(context: Mapping[str, Any]) -> str:
    """The report e-mail's subject: the survey, the year and the year's headline.

    "SSM survey 2025: <headline>", where the headline (``context["headline"]``, a short sentence of
    the year's figures, made by ``load_report_context`` from the marts) is the only text taken from the
    context besides the year: nothing a respondent wrote can reach the subject. Too long for
    SUBJECT_MAX, the headline loses its last "; "-separated clauses, then (one clause left) its last
    words, marked with an ellipsis. Without a headline: "Student/student mentoring survey 2025:
    yearly report".

    Args:
        context: The dict from ``load_report_context`` (``survey_year``, and ``headline`` if it has one).

    Returns:
        One line of at most SUBJECT_MAX characters.
    """
    year = context["survey_year"]
    # One line: no control character or line break can reach a mail header.
    headline = " ".join("".join(c if c.isprintable() else " " for c in context.get("headline") or "").split())
    if not headline:
        return f"Student/student mentoring survey {year}: yearly report"
    prefix = f"SSM survey {year}: "
    clauses = headline.split("; ")
    while len(clauses) > 1 and len(prefix) + len("; ".join(clauses)) > SUBJECT_MAX:
        clauses.pop()
    subject = prefix + "; ".join(clauses)
    if len(subject) > SUBJECT_MAX:
        cut = subject[: SUBJECT_MAX - 1]
        if subject[SUBJECT_MAX - 1] != " ":  # in the middle of a word: leave the word out
            cut = cut.rsplit(" ", 1)[0]
        subject = cut.rstrip(" ,;:") + "\u2026"
    return subject
