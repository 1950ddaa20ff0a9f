"""Open an HTML file in Debian's headless Chromium (through playwright) and report what a reader would
see: the plots drawn and any console or page error. Shared by the report tests."""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
IN_CI = os.environ.get("CI", "").lower() == "true"
HAVE_BROWSER = Path(CHROMIUM).exists() and importlib.util.find_spec("playwright") is not None
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

needs_browser = pytest.mark.skipif(
    not HAVE_BROWSER and not IN_CI, reason="chromium or playwright is not installed (CI always runs this)"
)


@dataclass
class PageSeen:
    """What the browser saw: drawn plots (their titles), console errors and uncaught page errors."""

    plots: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    tables: int = 0


async def open_in_chromium(path: Path, *, width: int = 1280) -> PageSeen:
    """Load ``path`` (file://, no network) and wait until every plot is drawn."""
    from playwright.async_api import async_playwright

    seen = PageSeen()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": width, "height": 900})

            def console(message: Any) -> None:
                if message.type == "error":
                    seen.console_errors.append(message.text)

            page.on("console", console)
            page.on("pageerror", lambda error: seen.page_errors.append(str(error)))
            await page.goto(path.resolve().as_uri())
            await page.wait_for_load_state("load")
            # A plot is drawn when plotly has rendered its SVG layer with at least one trace.
            await page.wait_for_function(
                "() => [...document.querySelectorAll('.js-plotly-plot')]"
                ".every(p => p.querySelector('.main-svg') && p.data && p.data.length > 0)",
                timeout=30_000,
            )
            seen.plots = await page.evaluate(
                "() => [...document.querySelectorAll('.js-plotly-plot')]"
                ".map(p => (p.layout && p.layout.title && p.layout.title.text) || '')"
            )
            seen.tables = await page.evaluate("() => document.querySelectorAll('table').length")
        finally:
            await browser.close()
    return seen
