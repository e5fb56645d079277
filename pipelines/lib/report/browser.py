"""How the project starts a headless browser: Debian's Chromium driven by Playwright.

Playwright's own browser download is not used (no internet here beyond the package registries);
`make install` installs Debian's `chromium` package instead. Playwright is a dev dependency: this
module does not import it; callers pass their Playwright instance in.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

CHROMIUM = "/usr/bin/chromium"
# No sandbox (containers, root), no GPU, and none of the background traffic a first start makes.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def chromium_path() -> str:
    """The Chromium executable (Debian's, else one on PATH), or a RuntimeError saying how to install it."""
    found = CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium")
    if found is None:
        raise RuntimeError(
            f"Chromium is not installed ({CHROMIUM} not found, none on PATH). `make install` installs "
            "Debian's package: apt-get install --no-install-recommends chromium"
        )
    return found


def launch_chromium(playwright: Playwright) -> Browser:
    """Headless Chromium with the project's flags."""
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
