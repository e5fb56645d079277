"""The yearly report in a real browser: headless Chromium (Debian's, driven by Playwright) opens each
built year's report.html from disk, as a reader would open the attachment.

What a browser sees and the HTML tests cannot: script and console errors, images that do not decode,
requests that fail, and a layout wider than a phone or a mail client's reading pane. A full-page
screenshot per year goes to test-artifacts/report_<year>.png for a person to look at.

email.html is not opened here: its images are cid: references that only a mail client resolves.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from pipelines.lib.report.browser import chromium_path, launch_chromium
from tests.conftest import BUILT_YEARS, BuiltPipeline

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
NARROW = 800  # px: a mail client's reading pane, a tablet; the page itself is at most 680 px wide
PHONE = 360  # px: a small phone (report.css lets numbers wrap below 600 px)
TOLERANCE = 1  # px: sub-pixel rounding


def report_file(built_pipeline: BuiltPipeline, year: int) -> Path:
    path = built_pipeline.root / "reports" / str(year) / "report.html"
    assert path.is_file(), f"the pipeline wrote no report for {year}: {path}"
    return path


def require_chromium() -> None:
    """Fail (not skip) when Chromium is missing: the set-up installs it."""
    try:
        chromium_path()
    except RuntimeError as error:
        message = str(error)
    else:
        return
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


def _short(text: str, limit: int = 160) -> str:
    """Messages can quote a whole data: URI; keep them readable."""
    return text if len(text) <= limit else text[:limit] + "..."


@contextmanager
def open_report(
    browser: Browser, path: Path, *, media: str = "screen", width: int = NARROW
) -> Iterator[tuple[Page, list[str]]]:
    """The report loaded in a window width px wide, with everything that went wrong while loading it.

    Problems are console errors and warnings, uncaught script errors, and failed requests. Requests to
    the network are refused, so a report that is not self-contained shows up as a failed request.
    """
    context = browser.new_context(viewport={"width": width, "height": 1000})
    problems: list[str] = []
    try:
        context.route(re.compile(r"^(https?|wss?|ftp)://"), lambda route: route.abort())
        page = context.new_page()
        page.on(
            "console",
            lambda message: (
                problems.append(f"console {message.type}: {_short(message.text)}")
                if message.type in ("error", "warning")
                else None
            ),
        )
        page.on("pageerror", lambda error: problems.append(f"page error: {_short(str(error))}"))
        page.on(
            "requestfailed",
            lambda request: problems.append(f"request failed: {_short(request.url)} ({request.failure})"),
        )
        page.emulate_media(media=media)
        page.goto(path.as_uri(), wait_until="load")
        yield page, problems
    finally:
        context.close()


def images(page: Page) -> list[dict]:
    return page.evaluate(
        """() => Array.from(document.images).map((img) => ({
            src: img.getAttribute("src").slice(0, 60),
            complete: img.complete,
            naturalWidth: img.naturalWidth,
            alt: (img.getAttribute("alt") || "").trim(),
        }))"""
    )


def overflow(page: Page, width: int = NARROW) -> tuple[int, list[str]]:
    """The document's scroll width, and the first elements whose right edge passes the viewport."""
    return page.evaluate(
        """(limit) => {
            const wide = [];
            for (const el of document.body.querySelectorAll("*")) {
                const right = el.getBoundingClientRect().right;
                if (right > limit) {
                    const cls = el.className ? "." + String(el.className).split(" ").join(".") : "";
                    wide.push(`${el.tagName.toLowerCase()}${cls} ends at ${Math.round(right)}px: `
                              + el.textContent.trim().slice(0, 60));
                }
            }
            return [document.scrollingElement.scrollWidth, wide.slice(0, 10)];
        }""",
        width + TOLERANCE,
    )


def test_chromium_is_installed():
    """The set-up (`make install`) installs Debian's Chromium, so the browser tests run and are not skipped."""
    require_chromium()


@pytest.mark.parametrize("year", BUILT_YEARS)
def test_report_loads_without_errors(browser: Browser, built_pipeline: BuiltPipeline, year: int):
    """Each year's report opens from disk with no console error or warning, no script error and no
    failed request (nothing fetched from the network), and a full-page screenshot is written for review."""
    with open_report(browser, report_file(built_pipeline, year)) as (page, problems):
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"report_{year}.png"), full_page=True)
    assert problems == []


@pytest.mark.parametrize("year", BUILT_YEARS)
def test_report_images_load_and_are_described(browser: Browser, built_pipeline: BuiltPipeline, year: int):
    """Every chart in the report decodes (naturalWidth > 0) and has alt text for screen readers and for
    mail clients that block images."""
    with open_report(browser, report_file(built_pipeline, year)) as (page, _problems):
        found = images(page)
    assert found, "the report has no images; the charts are missing"
    broken = [img["src"] for img in found if not img["complete"] or img["naturalWidth"] == 0]
    assert broken == [], f"images that did not load: {broken}"
    undescribed = [img["src"] for img in found if not img["alt"]]
    assert undescribed == [], f"images without alt text: {undescribed}"


@pytest.mark.parametrize("year", BUILT_YEARS)
def test_report_heading_names_the_year(browser: Browser, built_pipeline: BuiltPipeline, year: int):
    """The report has one top heading, naming the survey and its year, and the page title says the same."""
    with open_report(browser, report_file(built_pipeline, year)) as (page, _problems):
        headings = page.locator("h1").all_inner_texts()
        title = page.title()
    assert len(headings) == 1, f"expected one h1, found {headings}"
    assert re.search(rf"mentoring survey\b.*\b{year}\b", headings[0], re.IGNORECASE), headings[0]
    assert str(year) in title


@pytest.mark.parametrize("window", [NARROW, PHONE])
@pytest.mark.parametrize("year", BUILT_YEARS)
def test_report_fits_a_narrow_window(browser: Browser, built_pipeline: BuiltPipeline, year: int, window: int):
    """At 800 px wide (mail client pane, tablet) and at 360 px (phone) the report needs no horizontal
    scrollbar: nothing is wider than the window."""
    with open_report(browser, report_file(built_pipeline, year), width=window) as (page, _problems):
        width, wide = overflow(page, window)
    assert width <= window + TOLERANCE, f"scroll width {width}px in a {window}px window; too wide: {wide}"


@pytest.mark.parametrize("year", BUILT_YEARS)
def test_report_prints_without_errors(
    browser: Browser, built_pipeline: BuiltPipeline, year: int, tmp_path: Path
):
    """With print media the report renders, and prints to PDF, with no console, script or request error."""
    with open_report(browser, report_file(built_pipeline, year), media="print") as (page, problems):
        assert page.evaluate("matchMedia('print').matches")
        pdf = tmp_path / f"report_{year}.pdf"
        page.pdf(path=str(pdf), format="A4")
    assert problems == []
    assert pdf.stat().st_size > 10_000


def test_problems_are_caught(browser: Browser, built_pipeline: BuiltPipeline, tmp_path: Path):
    """The checks above can fail: a copy of a report with a console error, a script error, a missing
    image without alt text and a remote image shows each of them."""
    html = report_file(built_pipeline, BUILT_YEARS[0]).read_text(encoding="utf-8")
    broken = tmp_path / "report.html"
    injected = (
        '<script>console.error("injected error");</script>'
        '<script>throw new Error("injected throw");</script>'
        '<img src="missing.png" alt="">'
        '<img src="https://example.invalid/pixel.png" alt="remote">'
        '<div style="width: 1200px">too wide</div>'
    )
    assert "</body>" in html
    broken.write_text(html.replace("</body>", injected + "</body>"), encoding="utf-8")
    with open_report(browser, broken) as (page, problems):
        found = images(page)
        width, _wide = overflow(page)
    text = "\n".join(problems)
    assert "console error: injected error" in text
    assert "page error: " in text and "injected throw" in text
    assert "request failed: " in text and "missing.png" in text
    assert "example.invalid" in text
    assert any(img["naturalWidth"] == 0 and not img["alt"] for img in found)
    assert width > NARROW + TOLERANCE


@pytest.mark.parametrize("year", [BUILT_YEARS[0], 2018, BUILT_YEARS[-1]])
def test_email_digest_fits_a_phone_as_received(
    browser: Browser, built_pipeline: BuiltPipeline, year: int, tmp_path: Path
):
    """Spec §9 rev 2: the e-mail body, as the message carries it (CSS inlined, no <style> block, so no
    media query helps), needs no horizontal scrollbar at 360 px: nothing is wider than the phone (the
    64-character SHA-256 in the footer breaks, numbers wrap)."""
    import base64

    from pipelines.lib.mail.messages import build_report_message
    from pipelines.lib.report.rendering import EMAIL_CHARTS

    folder = built_pipeline.root / "reports" / str(year)
    message = build_report_message(
        subject="digest", sender="ssm@example.edu", recipients=["dean@example.edu"],
        html=(folder / "email.html").read_text(encoding="utf-8"), text="text",
        images={name: folder / f"{name}.png" for name in EMAIL_CHARTS},
        attachment_name="report.pdf", attachment_pdf=b"%PDF-1.4\n%%EOF\n",
    )  # fmt: skip
    body = message.get_body(preferencelist=("html",)).get_content()
    assert "<style" not in body
    for name in EMAIL_CHARTS:
        data = base64.b64encode((folder / f"{name}.png").read_bytes()).decode()
        body = body.replace(f"cid:{name}", f"data:image/png;base64,{data}")
    page_file = tmp_path / "email.html"
    page_file.write_text(body, encoding="utf-8")
    with open_report(browser, page_file, width=PHONE) as (page, problems):
        width, wide = overflow(page, PHONE)
    assert problems == []
    assert width <= PHONE + TOLERANCE, f"scroll width {width}px in a {PHONE}px window; too wide: {wide}"
