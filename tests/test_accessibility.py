"""Spec §9 (rev 2): the yearly report and its e-mail meet WCAG 2.2 level AA.

Two kinds of check, both on the page as headless Chromium (Debian's, driven by Playwright) renders it:

* axe-core (shipped inside the ``axe-playwright-python`` wheel, no download) with the WCAG 2.0, 2.1
  and 2.2 A/AA rules, expecting no violation;
* the rules axe cannot check: every ``<th>`` has a scope; every data table has a caption (or is
  labelled by a heading); every chart image's alt text gives the chart's figures or points to the
  table that holds them; masked and missing values read as words, never as a bare symbol; the page
  has a language, a title and one ``<h1>``.

They run on every built year's report.html and on its e-mail body (email.html). The e-mail's images
are ``cid:`` references that only a mail client resolves, so they are replaced by the chart PNGs as
data: URIs first: contrast and images are then checked as a mail client would show them.

Each document is opened once, in one browser for the module, and every check reads that one audit.
The checks can fail: a small page that follows every rule passes them all, and a copy of it broken in
one way per rule fails each (test_checks_pass_good_markup, test_checks_catch_broken_markup).
The findings of the run go to test-artifacts/accessibility.json for the people fixing them.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright

from pipelines.lib.report.browser import launch_chromium
from tests.conftest import BUILT_YEARS, BuiltPipeline
from tests.test_report_browser import require_chromium

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
WINDOW = {"width": 800, "height": 1000}  # a mail client's reading pane; the page is at most 680 px
#: axe-core's tags for WCAG 2.2 level AA: the A and AA rules of 2.0, 2.1 and 2.2 (2.2 added AA only).
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
DOCUMENTS = ("report", "email")

# The structural rules, run in the page. Each returns a list of problems, each naming the element.
# - scope: a header cell without scope="col|row|colgroup|rowgroup" (layout tables are not exempt: a
#   <th> in one is a problem of its own).
# - caption: a data table (not role=presentation/none) without a non-empty <caption> and without
#   aria-labelledby naming a heading (h1-h6 or role=heading) with text.
# - chart_alt: an <img> whose alt is missing or empty; or whose alt refers to a table ("the figures
#   are in the table below") without linking it: aria-details/aria-describedby naming a <table> or an
#   element holding one, or a link href="#id" to such an element inside the image's <figure>; or
#   whose alt does neither and states no figure: a percentage such as "85.7%" or "more than 95%",
#   "1.9 times", or a point's words "not shown" / "no data" (the "95%" of "95% confidence
#   interval" / "95% CI" is not a figure).
# - masked_words: a cell of a data table that is empty, holds only symbols ("—", "*", "†", "-"...,
#   footnote markers included), or holds a dash standing alone for a value ("change: —*"): a screen
#   reader says nothing, or "em dash", where the page means "not shown". Dashes in ranges
#   ("75.0" en dash "94.8%", "2016" en dash "2025") and words ("Non-mentors") are fine.
# - page: <html lang> empty, <title> empty, or not exactly one <h1>.
STRUCTURE_JS = r"""() => {
  const describe = (el) => {
    const id = el.id ? "#" + el.id : "";
    const cls = el.getAttribute("class") ? "." + el.getAttribute("class").trim().split(/\s+/).join(".") : "";
    const text = (el.textContent || el.getAttribute("alt") || "").replace(/\s+/g, " ").trim().slice(0, 70);
    return `${el.tagName.toLowerCase()}${id}${cls} "${text}"`;
  };
  const isLayout = (t) => ["presentation", "none"].includes((t.getAttribute("role") || "").trim().toLowerCase());
  const dataTables = [...document.querySelectorAll("table")].filter((t) => !isLayout(t));
  const holdsTable = (el) => el && (el.tagName === "TABLE" || el.querySelector("table") !== null);
  const isHeading = (el) => el && (/^H[1-6]$/.test(el.tagName) || el.getAttribute("role") === "heading");
  const ids = (el, name) => (el.getAttribute(name) || "").split(/\s+/).filter(Boolean);

  const headingBefore = new Map();
  let lastHeading = "";
  for (const el of document.querySelectorAll("h1, h2, h3, h4, h5, h6, table")) {
    if (el.tagName === "TABLE") headingBefore.set(el, lastHeading);
    else lastHeading = el.textContent.replace(/\s+/g, " ").trim().slice(0, 60);
  }

  const scope = [...document.querySelectorAll("th")]
    .filter((th) => !["col", "row", "colgroup", "rowgroup"].includes((th.getAttribute("scope") || "").trim().toLowerCase()))
    .map(describe);

  const caption = dataTables.filter((t) => {
    const c = t.querySelector(":scope > caption");
    if (c && c.textContent.trim()) return false;
    return !ids(t, "aria-labelledby").some((id) => {
      const el = document.getElementById(id);
      return isHeading(el) && el.textContent.trim();
    });
  }).map((t) => {
    const row = t.querySelector("tr");
    const cells = row ? [...row.cells].map((c) => c.textContent.replace(/\s+/g, " ").trim()).join(" | ") : "";
    return `table after heading "${headingBefore.get(t) || ""}", first row "${cells.slice(0, 70)}"`;
  });

  const FIGURE = /\d(?:[.,]\d+)?\s*%(?!\s*(?:confidence|CI)\b)|\d(?:\.\d+)?\s*times\b|\bnot shown\b|\bno data\b/i;
  const linksTable = (img) => {
    const targets = [...ids(img, "aria-details"), ...ids(img, "aria-describedby")];
    const figure = img.closest("figure");
    if (figure) {
      for (const a of figure.querySelectorAll('a[href^="#"]')) targets.push(a.getAttribute("href").slice(1));
    }
    return targets.some((id) => holdsTable(document.getElementById(id)));
  };
  const chart_alt = [];
  for (const img of document.images) {
    const alt = (img.getAttribute("alt") || "").trim();
    const what = `img src=${(img.getAttribute("src") || "").slice(0, 30)} alt="${alt.slice(0, 90)}"`;
    if (!alt) chart_alt.push(`${what}: no alt text`);
    else if (/\btables?\b/i.test(alt)) {
      if (!linksTable(img)) chart_alt.push(`${what}: refers to a table but does not link it (aria-details or a #link in its figure)`);
    } else if (!FIGURE.test(alt)) chart_alt.push(`${what}: states no figure`);
  }

  const masked_words = [];
  // a dash with no letter or digit on either side stands for a value ("—*", "change: —"); a dash
  // in a range ("75.0\u201394.8", "2016\u20132025") or a word ("Non-mentors") does not
  const LONE_DASH = /(^|[^\p{L}\p{N}])[\u2014\u2013\u2012-]+(?=$|[^\p{L}\p{N}])/u;
  for (const t of dataTables) {
    for (const cell of t.querySelectorAll("td, th")) {
      const text = cell.textContent.replace(/\s+/g, " ").trim();
      if (cell.tagName === "TD" && text === "") masked_words.push("empty " + describe(cell));
      else if (text !== "" && /^[\u2014\u2013\u2012\-*\u2020\u2021\u00b7.\u2026?\s]+$/.test(text)) masked_words.push("only symbols: " + describe(cell));
      else if (LONE_DASH.test(text)) masked_words.push("a dash for a value: " + describe(cell));
    }
  }

  const page = [];
  if (!(document.documentElement.getAttribute("lang") || "").trim()) page.push("<html> has no lang");
  if (!document.title.trim()) page.push("<title> is missing or empty");
  const h1 = document.querySelectorAll("h1").length;
  if (h1 !== 1) page.push(`${h1} <h1> elements, expected 1`);

  return {scope, caption, chart_alt, masked_words, page};
}"""
STRUCTURE_RULES = ("scope", "caption", "chart_alt", "masked_words", "page")


@dataclass
class Audit:
    """What the checks found on one document."""

    name: str
    violations: list[dict]  # axe-core's, WCAG 2.2 AA tags only
    structure: dict[str, list[str]]  # rule -> problems (STRUCTURE_JS)
    seconds: float = 0.0


def audit_page(page: Page, name: str) -> Audit:
    """Run axe-core and the structural rules on a loaded page."""
    results = Axe().run(page, options=AXE_OPTIONS)
    return Audit(name=name, violations=results.response["violations"], structure=page.evaluate(STRUCTURE_JS))


def axe_message(audit: Audit, nodes_shown: int = 3) -> str:
    """One paragraph per violated rule: id, impact, how many elements, their selectors, the first ones."""
    lines = [f"{audit.name}: {len(audit.violations)} axe-core rule(s) violated (WCAG 2.2 AA tags)"]
    for v in audit.violations:
        targets = [" ".join(map(str, node["target"])) for node in v["nodes"]]
        lines.append(
            f"- {v['id']} ({v['impact']}, {len(v['nodes'])} element(s)): {v['help']} [{v['helpUrl']}]"
        )
        lines.append("    targets: " + ", ".join(targets[:8]) + (" ..." if len(targets) > 8 else ""))
        for node in v["nodes"][:nodes_shown]:
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            lines.append(f"    {node['html'][:160]}  -- {summary[:220]}")
    return "\n".join(lines)


def structure_message(audit: Audit, rule: str, shown: int = 8) -> str:
    problems = audit.structure[rule]
    head = f"{audit.name}: {len(problems)} problem(s) under rule {rule!r}:"
    tail = [f"  ... and {len(problems) - shown} more"] if len(problems) > shown else []
    return "\n".join([head, *(f"  {p}" for p in problems[:shown]), *tail])


def email_with_inline_images(email_html: Path) -> str:
    """The e-mail body with each cid: image replaced by its PNG (beside it, named after the cid) as a
    data: URI, so the browser shows what a mail client shows."""
    html = email_html.read_text(encoding="utf-8")

    def inline(match: re.Match) -> str:
        cid = match.group(2)
        png = email_html.parent / f"{cid.split('@')[0]}.png"
        assert png.is_file(), f"{email_html}: no PNG for the image cid:{cid} (looked for {png.name})"
        return f"{match.group(1)}data:image/png;base64,{base64.b64encode(png.read_bytes()).decode('ascii')}"

    inlined, count = re.subn(r"""(\bsrc=["'])cid:([^"']+)""", inline, html)
    assert count, f"{email_html}: no cid: images found; the e-mail should carry its charts"
    return inlined


# --------------------------------------------------------------------------------------------------
# fixtures: one browser, one page per document, audits cached for the module
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


def open_and_audit(browser: Browser, path: Path, name: str) -> Audit:
    started = time.perf_counter()
    context = browser.new_context(viewport=WINDOW)
    try:
        context.route(re.compile(r"^(https?|wss?|ftp)://"), lambda route: route.abort())
        page = context.new_page()
        page.goto(path.as_uri(), wait_until="load")
        audit = audit_page(page, name)
    finally:
        context.close()
    audit.seconds = time.perf_counter() - started
    return audit


@pytest.fixture(scope="module")
def audits(
    browser: Browser, built_pipeline: BuiltPipeline, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str, int], Audit]]:
    """audit(document, year), each document audited once; the findings are written out at the end."""
    cache: dict[tuple[str, int], Audit] = {}
    inlined = tmp_path_factory.mktemp("email_inlined")

    def audit(document: str, year: int) -> Audit:
        key = (document, year)
        if key not in cache:
            folder = built_pipeline.root / "reports" / str(year)
            if document == "report":
                path = folder / "report.html"
                assert path.is_file(), f"the pipeline wrote no report for {year}: {path}"
            else:
                source = folder / "email.html"
                assert source.is_file(), f"the pipeline wrote no e-mail body for {year}: {source}"
                path = inlined / f"email_{year}.html"
                path.write_text(email_with_inline_images(source), encoding="utf-8")
            cache[key] = open_and_audit(browser, path, f"{year} {document}.html")
        return cache[key]

    yield audit
    write_findings(cache)


def write_findings(cache: dict[tuple[str, int], Audit]) -> None:
    """test-artifacts/accessibility.json: per document the violated axe rules (impact, element count,
    first targets) and the structural problems; plus the totals by rule across documents."""
    if not cache:
        return
    by_rule: Counter[str] = Counter()
    documents = {}
    for (document, year), audit in sorted(cache.items()):
        rules = {}
        for v in audit.violations:
            rules[v["id"]] = {
                "impact": v["impact"],
                "elements": len(v["nodes"]),
                "targets": [" ".join(map(str, n["target"])) for n in v["nodes"][:5]],
            }
            by_rule[f"{document}: axe {v['id']}"] += len(v["nodes"])
        for rule in STRUCTURE_RULES:
            by_rule[f"{document}: {rule}"] += len(audit.structure[rule])
        documents[f"{document} {year}"] = {
            "seconds": round(audit.seconds, 2),
            "axe": rules,
            "structure": {r: p for r, p in audit.structure.items() if p},
        }
    totals = {rule: count for rule, count in sorted(by_rule.items()) if count}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "accessibility.json").write_text(
        json.dumps({"totals_by_rule": totals, "documents": documents}, indent=1, ensure_ascii=False),
        encoding="utf-8",
    )


# --------------------------------------------------------------------------------------------------
# the built reports and e-mails
# --------------------------------------------------------------------------------------------------

every_document = pytest.mark.parametrize(
    ("document", "year"), [(d, y) for y in BUILT_YEARS for d in DOCUMENTS], ids=lambda v: str(v)
)


@every_document
def test_axe_finds_no_wcag22_aa_violation(audits, document: str, year: int):
    """axe-core with the WCAG 2.0/2.1/2.2 A and AA rules finds nothing on the report and on the e-mail."""
    audit = audits(document, year)
    assert audit.violations == [], axe_message(audit)


@every_document
def test_header_cells_have_scope(audits, document: str, year: int):
    """Every <th> says whether it heads a column or a row (scope), so a screen reader reads each value
    with its headers (WCAG 1.3.1, technique H63)."""
    audit = audits(document, year)
    assert audit.structure["scope"] == [], structure_message(audit, "scope")


@every_document
def test_data_tables_have_captions(audits, document: str, year: int):
    """Every data table has a caption, or aria-labelledby naming a heading, so it is announced by name
    (WCAG 1.3.1, technique H39)."""
    audit = audits(document, year)
    assert audit.structure["caption"] == [], structure_message(audit, "caption")


@every_document
def test_chart_images_give_their_figures(audits, document: str, year: int):
    """Every chart image's alt text states its figures (percentages, "N times"), or says they are in a
    table and links to it (aria-details / aria-describedby, or a #link in its figure): spec §9, WCAG 1.1.1."""
    audit = audits(document, year)
    assert audit.structure["chart_alt"] == [], structure_message(audit, "chart_alt")


@every_document
def test_masked_values_read_as_words(audits, document: str, year: int):
    """No table cell is empty or only a symbol ("—", "*", "†"): a masked share reads the same to a
    screen reader as on the page ("not shown", "more than 95%"), spec §9 rev 2."""
    audit = audits(document, year)
    assert audit.structure["masked_words"] == [], structure_message(audit, "masked_words")


@every_document
def test_page_has_language_title_and_one_h1(audits, document: str, year: int):
    """The page names its language (WCAG 3.1.1), has a title (2.4.2) and exactly one top heading."""
    audit = audits(document, year)
    assert audit.structure["page"] == [], structure_message(audit, "page")


# --------------------------------------------------------------------------------------------------
# the checks themselves: quiet on good markup, loud on each kind of broken markup
# --------------------------------------------------------------------------------------------------

GOOD_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Mentoring survey 2025</title></head>
<body><main>
<h1>Mentoring survey 2025</h1>
<p><img src="{png}" width="40" height="20"
  alt="Share agreeing: all respondents 85.7% (95% CI 80.1% to 90.0%), mentors more than 95%."></p>
<figure><img src="{png}" width="40" height="20" aria-details="trend-tables"
  alt="Share agreeing by year, 2016 to 2025; the figures are in the trend tables below.">
<figcaption>Trends. <a href="#trend-tables">Figures in the tables</a>.</figcaption></figure>
<h2 id="share-heading">Share agreeing</h2>
<table aria-labelledby="share-heading"><tr><th scope="col">Group</th><th scope="col">Share</th></tr>
<tr><th scope="row">Mentors</th><td>more than 95%<sup><a href="#fn">*</a></sup></td></tr>
<tr><th scope="row">Non-mentors</th><td>not shown<sup><a href="#fn">*</a></sup></td></tr></table>
<div id="trend-tables"><table><caption>Share agreeing by year</caption>
<tr><th scope="col">Year</th><th scope="col">All</th></tr>
<tr><th scope="row">2025</th><td>85.7% <span>95% CI 80.1&ndash;90.0%</span> change: not shown</td></tr>
<tr><th scope="row">2024</th><td>no data <span>Non-mentors, 2016&ndash;2024</span></td></tr></table></div>
<p id="fn">* Not shown: a group smaller than 5.</p>
<table role="presentation"><tr><td>layout</td></tr></table>
</main></body></html>"""

BROKEN = {
    # one break per structural rule: (what to replace in GOOD_PAGE, with what)
    "page": ('<html lang="en">', "<html>"),
    "scope": ('<th scope="col">Year</th>', "<th>Year</th>"),
    "caption": ("<caption>Share agreeing by year</caption>", ""),
    "chart_alt_link": ('<a href="#trend-tables">Figures in the tables</a>', "Figures in the tables"),
    "chart_alt": ('aria-details="trend-tables"', ""),
    "masked_words": ("not shown<sup>", "\u2014<sup>"),
    "masked_words_change": ("change: not shown", "change: \u2014"),
}


def _png_data_uri() -> str:
    """A 1x1 PNG stands in for a chart."""
    one_pixel = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/x8AAwMCAO+ip1sAAAAASUVORK5CYII="
    return f"data:image/png;base64,{one_pixel}"


def _audit_html(browser: Browser, html: str, tmp_path: Path, name: str) -> Audit:
    path = tmp_path / f"{name}.html"
    path.write_text(html, encoding="utf-8")
    return open_and_audit(browser, path, name)


def test_checks_pass_good_markup(browser: Browser, tmp_path: Path):
    """A page that follows every rule passes them all: the rules ask for nothing the report cannot do.
    (It is also the markup the templates can copy: scoped headers, captions or aria-labelledby, alt
    text with figures or aria-details to the tables, masked values in words.)"""
    audit = _audit_html(browser, GOOD_PAGE.format(png=_png_data_uri()), tmp_path, "good")
    assert audit.violations == [], axe_message(audit)
    assert {rule: p for rule, p in audit.structure.items() if p} == {}


def test_checks_catch_broken_markup(browser: Browser, tmp_path: Path):
    """A copy of the good page broken in one way per rule, plus low-contrast text, a second <h1> and an
    image without alt: axe-core and every structural rule report it, and the messages name the element."""
    html = GOOD_PAGE.format(png=_png_data_uri())
    for old, new in BROKEN.values():
        assert old in html, old
        html = html.replace(old, new, 1)
    html = html.replace(
        "</main>",
        '<p style="color:#AAAAAA">faint text</p><h1>Second heading</h1>'
        f'<img src="{_png_data_uri()}" width="4" height="4">'
        f'<img src="{_png_data_uri()}" width="4" height="4" alt="Share agreeing with 95% confidence intervals">'
        "</main>",
    )
    audit = _audit_html(browser, html, tmp_path, "broken")
    found = {v["id"] for v in audit.violations}
    assert {"color-contrast", "html-has-lang", "image-alt"} <= found, axe_message(audit)
    message = axe_message(audit)
    assert "color-contrast (serious" in message and "faint text" in message
    for rule in STRUCTURE_RULES:
        assert audit.structure[rule], f"rule {rule!r} missed its broken markup: {audit.structure}"
    assert any("2 <h1>" in p for p in audit.structure["page"])
    masked = "\n".join(audit.structure["masked_words"])
    assert len(audit.structure["masked_words"]) == 2, masked
    assert 'only symbols: td "\u2014*"' in masked and "a dash for a value: td" in masked
    assert any('"Year' in p for p in audit.structure["scope"])
    chart_alt = "\n".join(audit.structure["chart_alt"])
    assert len(audit.structure["chart_alt"]) == 3, chart_alt
    assert "does not link it" in chart_alt and "no alt text" in chart_alt and "states no figure" in chart_alt
    assert 'table after heading "Share agreeing", first row "Year | All"' in audit.structure["caption"]
    assert structure_message(audit, "caption").startswith("broken: 1 problem(s) under rule 'caption'")


def test_a_report_with_a_series_break_and_a_new_metric_passes(browser: Browser, tmp_path: Path):
    """The hand-made 2026 report of tests/test_report_rendering.py (value_mentor reworded, so its
    tables carry a break row and the at-a-glance table a note; mentor_prepared new) passes axe-core
    and the structural rules, charts included."""
    import duckdb

    from pipelines.lib.report.charts import render_charts
    from pipelines.lib.report.context import load_report_context
    from pipelines.lib.report.rendering import render_report_html
    from tests.test_report_rendering import META, K, build_v3_warehouse

    warehouse = tmp_path / "warehouse.duckdb"
    build_v3_warehouse(warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        context = load_report_context(con, 2026, K, META)
    assert context["glance"]["notes"] and any(m["breaks"] for m in context["history"]["trends"])
    images = render_charts(context, tmp_path)
    html = render_report_html(context, {name: image.path.name for name, image in images.items()})
    audit = _audit_html(browser, html, tmp_path, "v3_2026")
    assert audit.violations == [], axe_message(audit)
    assert {rule: p for rule, p in audit.structure.items() if p} == {}
