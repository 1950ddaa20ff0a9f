"""The dashboard at 1280 and 1920 px in a real headless Chromium (Debian's ``chromium`` driven by
playwright): no table overflows its card — with Kalshi-length tickers, long verdict reasons and
five-digit positions —, repeated verdicts are one row with a count, and a parameter changed in the
page (with the token) shows up in ``/state``; a bad one is refused with the server's reason.

Skipped only when Chromium is absent outside CI; in CI (``CI=true``) it must run."""

from __future__ import annotations

from typing import Any

import pytest

from mmframe.api import BookSide
from tests.control.harness import TOKEN, build, make_pipeline, running, wait_for
from tests.control.memory_exchange import Exchange
from tests.control.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS, pytestmark  # noqa: F401

LONG = ("KXHIGHNY-25DEC01-B45.5", "KXELONTWEETS-25DEC05-B700.5")
OVERFLOWS = """() => {
  const out = [];
  for (const card of document.querySelectorAll("main > section")) {
    const box = card.getBoundingClientRect();
    const style = getComputedStyle(card);
    const inner = box.right - parseFloat(style.paddingRight) - parseFloat(style.borderRightWidth);
    if (card.scrollWidth > card.clientWidth + 1) out.push(card.id + " scrolls sideways");
    for (const table of card.querySelectorAll("table")) {
      const right = table.getBoundingClientRect().right;
      if (right > inner + 0.5) out.push(card.id + ": table ends at " + right + " past the card's " + inner);
      for (const cell of table.querySelectorAll("th, td")) {
        if (cell.scrollWidth > cell.clientWidth + 1) out.push(card.id + ": clipped cell " + cell.textContent);
      }
    }
  }
  if (document.documentElement.scrollWidth > window.innerWidth) out.push("the page scrolls sideways");
  return out;
}"""


@pytest.fixture
def exchange() -> Any:
    Exchange.current = Exchange(LONG)
    yield Exchange.current
    Exchange.current = None


@pytest.mark.parametrize("width", [1280, 1920])
async def test_dashboard_when_wide_or_narrow_fits_every_table_and_groups_verdicts(
    width: int, exchange: Exchange, registry: Any
) -> None:
    from playwright.async_api import async_playwright, expect

    pipeline = make_pipeline(tickers=LONG, strategy_config={"spread": 0.04, "size": 30},
                             risk=(("max-order-size", {"max_size": 12.5}), ("daily-loss", {"max_loss": 1000})))
    engine = build(pipeline, registry)
    async with running(engine), async_playwright() as playwright:
        for ticker in LONG:
            bid = next(o for o in engine.core.tracker.working(ticker) if o.side is BookSide.BID)
            exchange.fill(bid.client_order_id, 1250, fee=70_000)
        await wait_for(lambda: all(engine.core.ledger.position(t).position == 1250 for t in LONG))
        for yes_bid, no_bid in ((4400, 5100), (4600, 4900), (4300, 5200)):  # requotes: repeated verdicts
            for ticker in LONG:
                exchange.move_book(ticker, yes_bid, no_bid)
        clipped = [v for v in engine.core.recent_verdicts if v.rule == "max-order-size"]
        assert len(clipped) > len(LONG)
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": width, "height": 1000})
            assert engine.control_url is not None
            await page.goto(engine.control_url + "/")
            await expect(page.locator("#positions")).to_contain_text(LONG[1])
            await expect(page.locator("#verdicts")).to_contain_text("orders clipped to")
            await expect(page.locator("#markets")).to_contain_text("12.00 @ 0.4800")
            assert await page.evaluate(OVERFLOWS) == []
            # One row per market for the repeated verdict, with its count.
            rows = page.locator("#verdicts tr", has_text="max-order-size")
            assert await rows.count() == len(LONG)
            counts = [int((await rows.nth(i).locator(".count").inner_text()).lstrip("×")) for i in range(len(LONG))]
            assert all(count >= 2 for count in counts), counts  # repeats folded, not one row each
            await expect(page.locator("#positions tr", has_text=LONG[0])).to_contain_text("7.0050")  # the fee: $7 + the
            # rounding of 12.5 contracts at $0.45 (a balance change of $5.625 floored to the cent, API.md §9)
        finally:
            await browser.close()


@pytest.mark.parametrize("width", [1280, 1920])
async def test_dashboard_when_params_changed_with_the_token_shows_in_state_and_bad_values_are_refused(
    width: int, exchange: Exchange, registry: Any
) -> None:
    from playwright.async_api import async_playwright, expect

    engine = build(make_pipeline(tickers=LONG, risk=(("daily-loss", {"max_loss": 100}),)), registry)
    async with running(engine) as client, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": width, "height": 1000})
            assert engine.control_url is not None
            await page.goto(engine.control_url + "/")
            spread = page.locator('fieldset[data-target="strategy"] input[data-field="spread"]')
            await expect(spread).to_have_value("0.04")

            # A wrong token is refused by the server and changes nothing.
            await page.fill("#token", "not-the-token")
            await spread.fill("0.05")
            await page.click('fieldset[data-target="strategy"] button')
            await expect(page.locator("#message")).to_contain_text("params refused (401)")
            assert (await client.get("/state")).json()["components"]["strategy"]["params"]["spread"] == 0.04
            await page.fill("#token", TOKEN)

            # Out of the schema: refused by the server with its reason, nothing changes.
            await spread.fill("-1")
            await page.click('fieldset[data-target="strategy"] button')
            await expect(page.locator("#message")).to_contain_text("params refused (400): strategy (mid-quoter): spread")
            assert (await client.get("/state")).json()["components"]["strategy"]["params"]["spread"] == 0.04

            await spread.fill("0.06")
            await page.click('fieldset[data-target="strategy"] button')
            await expect(page.locator("#message")).to_contain_text("params: strategy now spread=0.06")
            state = (await client.get("/state")).json()
            assert state["components"]["strategy"]["params"]["spread"] == 0.06
            loss = page.locator('fieldset[data-target="daily-loss"] input[data-field="max_loss"]')
            await loss.fill("150")
            await page.click('fieldset[data-target="daily-loss"] button')
            await expect(page.locator("#message")).to_contain_text("params: daily-loss now max_loss=150")
            state = (await client.get("/state")).json()
            assert state["components"]["daily-loss"]["params"]["max_loss"] == 150
            await expect(spread).to_have_value("0.06")  # the form shows the applied values
        finally:
            await browser.close()
