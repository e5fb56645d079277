"""Render the yearly report (HTML), its e-mail digest (HTML) and the digest's plain text.

One Jinja2 environment serves every render. It autoescapes ``*.html`` templates
(``select_autoescape``), so any text that came from the warehouse (reason labels, data-quality column
names) is escaped, and it uses ``StrictUndefined``, so a missing context key fails loudly instead of
printing an empty cell in a report to the dean.

The context is built by ``report_data.load_report_contexts``; its values are already formatted (a
"cell" is a dict ``{"text", "masked", "no_data", "fig"}``), and the templates only print text and add
the footnote markers.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from functools import cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from pipelines.paths import REPORT_TEMPLATES_DIR

REPORT_TEMPLATE = "yearly_report.html"
EMAIL_TEMPLATE = "email.html"
#: The charts the e-mail digest shows; the rest are in the attached report.
EMAIL_CHARTS = ("value_items", "trends")

#: Line width of the plain-text e-mail part (RFC 5322 recommends at most 78 characters).
TEXT_WIDTH = 72


@cache
def environment() -> Environment:
    """Return the one Jinja2 environment for the report templates."""
    return Environment(
        loader=FileSystemLoader(REPORT_TEMPLATES_DIR),
        autoescape=select_autoescape(),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _check_images(context: Mapping[str, Any], images: Mapping[str, str], names: Any) -> None:
    missing = sorted(set(names) - set(images))
    if missing:
        raise ValueError(f"no image source for chart(s) {', '.join(missing)}: pass one per chart shown")


def render_report_html(context: Mapping[str, Any], images: Mapping[str, str]) -> str:
    """Render the full report as one self-contained HTML page.

    Args:
        context: One year's dict from ``load_report_contexts``.
        images: Chart name -> the ``src`` of its <img> (a data: URI, so the page is self-contained).

    Returns:
        The HTML, with the CSS of ``reports/report.css`` in a <style> block.

    Raises:
        ValueError: When ``images`` lacks a chart that the context describes.
    """
    _check_images(context, images, context["charts"])
    return environment().get_template(REPORT_TEMPLATE).render({**context, "images": dict(images)})


def attachment_note(attachment_name: str) -> str:
    """The sentence that tells the reader of the e-mail what is attached."""
    return (
        f"The full report is attached as a PDF ({attachment_name}): the study population, every table by "
        "group with the answers in full, the years so far, the data-quality appendix and the methods."
    )


def render_email_html(context: Mapping[str, Any], images: Mapping[str, str], attachment_name: str) -> str:
    """Render the e-mail digest: headline, key findings, the at-a-glance table and the main charts.

    Args:
        context: One year's dict from ``load_report_contexts``.
        images: Chart name -> ``src`` (``"cid:<name>"`` in the e-mail) for each of ``EMAIL_CHARTS``.
        attachment_name: File name of the attached PDF report.

    Returns:
        The HTML with its CSS in a <style> block; the e-mail step inlines it.
    """
    _check_images(context, images, EMAIL_CHARTS)
    values = {**context, "images": dict(images), "attachment_note": attachment_note(attachment_name)}
    return environment().get_template(EMAIL_TEMPLATE).render(values)


def render_text_summary(context: Mapping[str, Any], attachment_name: str = "") -> str:
    """Render the plain-text part of the e-mail: the digest's words without the charts.

    Args:
        context: One year's dict from ``load_report_contexts``.
        attachment_name: File name of the attached full report (the PDF), to point the reader at it.

    Returns:
        Title, headline, key findings, the at-a-glance figures, the small-group note when something is
        hidden, and what is attached, wrapped at 72 characters.
    """
    marker = " *"
    lines = [context["title"], context["headline_sentence"]["text"], ""]
    if attachment_name:
        lines += _wrap(attachment_note(attachment_name))
    for warning in context["warnings"]:
        lines += _wrap(f"Note: {warning}")
    lines += ["", "Key findings", ""]
    for finding in context["key_findings"]:
        lines += _wrap(finding["text"] + (marker if finding["masked"] else ""), bullet="- ")
    lines += _wrap(context["cross_sectional"])
    glance = context["glance"]
    lines += ["", f"At a glance, {glance['year']}", ""]
    for row in glance["rows"]:
        masked = any(row[key]["masked"] for key in ("this_year", "change", "range", "trend"))
        text = (
            f"{row['label']} ({row['group'].lower()}): {row['this_year']['text']}; change "
            f"{row['change']['text']}; so far {row['range']['text']}; trend {row['trend']['text']}"
        )
        lines += _wrap(text + (marker if masked else ""), bullet="- ")
    for note in glance.get("notes", []):
        lines += _wrap(note)
    if context["any_masked"]:
        lines.append("")
        lines += _wrap(f"* {context['footnotes']['small']}")
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
