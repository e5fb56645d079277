"""Take the README's screenshot of the asset lineage from a running Dagster UI (`make dev`).

Usage: python scripts/screenshot_lineage.py [URL] [OUTPUT]   (defaults: http://127.0.0.1:3000, docs/lineage.png)
Uses Debian's Chromium through Playwright (no browser download).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from pipelines.lib.report.browser import launch_chromium


def main() -> None:
    base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:3000"
    output = Path(sys.argv[2] if len(sys.argv) > 2 else "docs/lineage.png")
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 2200, "height": 1800})
        # Everything upstream of the e-mail: the one lineage from the delivery file to leadership's inbox.
        page.goto(
            f"{base}/assets/report/report_email?view=lineage&lineageScope=upstream&lineageDepth=4"
        )  # 4 = all levels here
        page.wait_for_load_state("networkidle")
        # The first visit asks to join the community; that dialog is not part of the picture.
        with contextlib.suppress(PlaywrightTimeout):
            page.get_by_role("button", name="Skip").click(timeout=15000)
        page.wait_for_timeout(4000)
        output.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(output))
        browser.close()
    print(output)


if __name__ == "__main__":
    main()
