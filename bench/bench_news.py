"""Can the simulator punish a naive market maker? A fixed ±2c quoter on the ``news`` scenario.

Run: ``python bench/bench_news.py [--seeds 10] [--hours 2] [--svg docs/news-probe.svg]``. For each
seed the exchange runs in-process on a manual clock (no server, no wall clock) with
`mmframe_sim.probe.FixedQuoter` (10 contracts at book mid -/+ 2c, re-placed every second, at most 50
contracts a market, never reacting to news) until every market has closed and settled at $1/$0.
Everything is judged from the simulator's ground truth (`Exchange.truth`): PnL is the account's cash
after settlement minus its cash before (fees included); "informed" is the share of its contracts
filled by informed traders; "edge" is price vs true fair value at the fill (spread earned net of
adverse selection at the instant); markouts are the same 1 s / 10 s / 60 s later. The last row is the
mean with a 95% interval (t distribution). ``--svg`` draws one seed's busiest market (for the quoter): fair value, book
mid and the quoter's fills by counterparty class.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import sys
from pathlib import Path

from mmframe_sim.participants import COUNTERPARTY_CLASS
from mmframe_sim.probe import MARKOUT_SECONDS, PROBE_USER, FixedQuoter, ProbeResult, run_probe, score
from mmframe_sim.scenario import news_scenario

from mmframe.api import NANOS_PER_SECOND, TestClock

_T975 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26, 10: 2.23,
         15: 2.13, 20: 2.09, 30: 2.04}


def _t975(df: int) -> float:
    return _T975.get(df) or next((v for k, v in sorted(_T975.items()) if k >= df), 1.96)


def table(results: list[ProbeResult]) -> str:
    head = "seed     PnL $   fees $  contracts  informed  edge c  " + "  ".join(f"mo{h}s c" for h in MARKOUT_SECONDS)
    lines = [head]
    for r in results:
        marks = "  ".join(f"{r.markouts_cents[h]:6.2f}" for h in MARKOUT_SECONDS)
        lines.append(f"{r.seed:4d}  {r.pnl / 10_000:8.2f}  {r.fees / 10_000:7.2f}  {r.contracts:9.0f}  "
                     f"{r.share('informed'):8.0%}  {r.edge_cents:6.2f}  {marks}")
    pnls = [r.pnl / 10_000 for r in results]
    mean = statistics.fmean(pnls)
    half = _t975(len(pnls) - 1) * statistics.stdev(pnls) / math.sqrt(len(pnls)) if len(pnls) > 1 else math.nan
    informed = sum(r.by_class.get("informed", 0.0) for r in results) / max(1e-9, sum(r.contracts for r in results))
    lines.append(f"mean  {mean:8.2f}  (95% interval {mean - half:.2f} .. {mean + half:.2f})  "
                 f"informed share of all its contracts {informed:.0%}")
    return "\n".join(lines)


def draw(seed: int, hours: float, path: Path) -> None:
    """Run one seed again, sampling the books every 5 s, and write an SVG of the market where the
    quoter traded most."""
    scenario = dataclasses.replace(news_scenario(), duration_minutes=hours * 60)
    clock = TestClock()
    x = scenario.build(clock, seed=seed)
    x.open_account(PROBE_USER, balance=10_000_000 * 10_000)
    tickers = [m.ticker for m in x.markets()]
    quoter = FixedQuoter(x, PROBE_USER, tickers)
    start = clock.now_ns()
    all_mids: dict[str, list[tuple[float, float]]] = {t: [] for t in tickers}
    while clock.now_ns() < start + int(hours * 3600 * NANOS_PER_SECOND) - NANOS_PER_SECOND:
        clock.advance(1)
        x.advance()
        for ticker in tickers if (clock.now_ns() - start) % (5 * NANOS_PER_SECOND) == 0 else ():
            book = x.orderbook(ticker, depth=1)  # before the quoter re-quotes: the others' book
            if book.yes and book.no:
                all_mids[ticker].append(((clock.now_ns() - start) / 3.6e12,
                                         (book.yes[-1][0] + 10_000 - book.no[-1][0]) / 20_000))
        quoter.requote()
    counts = {t: len(x.truth.fills(COUNTERPARTY_CLASS, users={PROBE_USER}, ticker=t)) for t in tickers}
    ticker = max(tickers, key=lambda t: counts[t])
    mids = all_mids[ticker]
    # the fair value every 10 s, plus a vertical step at each news jump (keeps the file small)
    end = clock.now_ns()
    samples = [(t, x.truth.fair_at(ticker, t) or 0.0) for t in range(start, end, 10 * NANOS_PER_SECOND)]
    samples += [(n.ts_ns - 1, n.before) for n in x.truth.news(ticker)] + [(n.ts_ns, n.after) for n in x.truth.news(ticker)]
    fair = [((t - start) / 3.6e12, p) for t, p in sorted(samples)]
    fills = [f for f in x.truth.fills(COUNTERPARTY_CLASS, users={PROBE_USER}, ticker=ticker)]
    w, h, pad = 900, 360, 40

    def xy(t: float, p: float) -> str:
        return f"{pad + t / hours * (w - 2 * pad):.1f},{h - pad - p * (h - 2 * pad):.1f}"

    colours = {"informed": "#d62728", "noise": "#2ca02c"}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
             f'<rect width="{w}" height="{h}" fill="white"/>',
             f'<text x="{pad}" y="20">news scenario, seed {seed}, {ticker}: true fair value (black), book mid without '
             'the quoter (blue), the ±2c quoter\'s fills (red: informed, green: noise)</text>']
    for p in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line x1="{pad}" x2="{w - pad}" y1="{xy(0, p).split(",")[1]}" y2="{xy(0, p).split(",")[1]}" stroke="#eee"/>')
        parts.append(f'<text x="4" y="{xy(0, p).split(",")[1]}">{p:.2f}</text>')
    for k in range(int(hours) + 1):
        parts.append(f'<text x="{xy(k, 0).split(",")[0]}" y="{h - 12}">{k} h</text>')
    parts.append(f'<polyline fill="none" stroke="black" stroke-width="1.2" points="{" ".join(xy(t, p) for t, p in fair)}"/>')
    parts.append(f'<polyline fill="none" stroke="#1f77b4" stroke-width="0.8" points="{" ".join(xy(t, p) for t, p in mids)}"/>')
    for f in fills:
        cx, cy = xy((f.ts_ns - start) / 3.6e12, f.price / 10_000).split(",")
        parts.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{colours.get(f.counterparty_class, "#999")}"/>')
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n")
    r = score(x, PROBE_USER, 10_000_000 * 10_000, seed)
    print(f"figure: seed {seed}, {len(fills)} fills in {ticker}, informed share {r.share('informed'):.0%} -> {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--svg", type=Path, default=None)
    args = parser.parse_args(argv)
    results = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        results.append(run_probe(news_scenario(), seed, hours=args.hours))
        print(f"seed {seed} done", file=sys.stderr, flush=True)
    print(f"fixed ±2c quoter on the news scenario, {args.hours:g} simulated hours per seed, markets settled at close")
    print(table(results))
    if args.svg is not None:
        draw(args.first_seed, args.hours, args.svg)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
