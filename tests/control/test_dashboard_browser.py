"""The dashboard in a real headless Chromium (Debian's ``chromium`` driven by playwright).

Skipped only when Chromium is absent outside CI; in CI (``CI=true``) it must run. Set
``MMFRAME_DASHBOARD_SCREENSHOT=docs/dashboard.png`` to refresh the README's screenshot.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from mmframe.api import BookSide
from tests.control.harness import TOKEN, build, make_pipeline, running, wait_for
from tests.control.memory_exchange import Exchange

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
IN_CI = os.environ.get("CI", "").lower() == "true"
HAVE_BROWSER = Path(CHROMIUM).exists() and importlib.util.find_spec("playwright") is not None
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        not HAVE_BROWSER and not IN_CI, reason="chromium or playwright is not installed (CI always runs this)"
    ),
]


async def test_dashboard_when_operator_pauses_with_the_token_shows_the_state_change(
    exchange: Exchange, registry: Any
) -> None:
    from playwright.async_api import async_playwright, expect

    engine = build(make_pipeline(risk=(("daily-loss", {"max_loss": 100}),)), registry)
    screenshot = os.environ.get("MMFRAME_DASHBOARD_SCREENSHOT")
    async with running(engine), async_playwright() as playwright:
        bid = next(o for o in engine.core.tracker.working("CTL-A") if o.side is BookSide.BID)
        exchange.fill(bid.client_order_id)
        ask = next(o for o in engine.core.tracker.working("CTL-B") if o.side is BookSide.ASK)
        exchange.fill(ask.client_order_id, 50)
        await wait_for(lambda: engine.core.ledger.position("CTL-B").position == -50)
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 860})
            dialogs: list[str] = []

            async def answer(dialog: Any) -> None:
                dialogs.append(dialog.message)
                await dialog.accept(TOKEN)

            page.on("dialog", answer)
            assert engine.control_url is not None
            await page.goto(engine.control_url + "/")

            positions = page.locator("#positions")
            await expect(positions).to_contain_text("CTL-A")
            await expect(positions.locator("tr", has_text="CTL-A")).to_contain_text("1.00")
            await expect(positions.locator("tr", has_text="CTL-B")).to_contain_text("-0.50")
            await expect(page.locator("#orders")).to_contain_text("resting")
            await expect(page.locator("#trading-state")).to_have_text("active")
            if screenshot:
                for yes_bid, no_bid in ((4600, 4900), (4700, 4800), (4500, 5000), (4800, 4700), (4900, 4600)):
                    exchange.move_book("CTL-A", yes_bid, no_bid)  # let the PnL chart move
                    await page.wait_for_timeout(1100)
                await page.screenshot(path=screenshot, full_page=True)

            # A wrong token is refused and changes nothing.
            await page.fill("#token", "not-the-token")
            await page.click("#btn-pause")
            await expect(page.locator("#message")).to_contain_text("refused (401)")
            assert engine.core.state == "active"

            # With no token typed, the page asks for it.
            await page.fill("#token", "")
            await page.click("#btn-pause")
            await expect(page.locator("#trading-state")).to_have_text("paused")
            await expect(page.locator("#message")).to_contain_text("pause: now paused")
            assert dialogs == ["Control token"]
            assert engine.core.state == "paused"
            await expect(page.locator("#orders")).to_contain_text("no working orders")
            assert exchange.resting == {}
        finally:
            await browser.close()
