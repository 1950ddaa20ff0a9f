"""Ground truth the scoreboard needs and no Kalshi API shows: the hidden fair value over time and, for
every trade, who was on the other side.

The exchange records into one `TruthLog` as it runs (`record_fair` whenever a market's fair value is
set, `record_trade` for every execution); `GET /_sim/truth` and `GET /_sim/fair` read it. With the
fair value at fill time and after it, a fill's PnL splits into the spread earned (price vs fair at the
fill), adverse selection (how fair moved against it afterwards), inventory and fees; the counterparty
class says whose flow it was.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Mapping
from dataclasses import dataclass

from mmframe_sim.model import Side
from mmframe_sim.money import Count, Price

OTHER_ACCOUNT = "account"
"""Counterparty class of a trade against another API account (not a synthetic trader)."""


@dataclass(frozen=True, slots=True)
class TradeTag:
    """Who traded with whom, and the hidden fair YES probability at that instant."""

    trade_id: str
    ticker: str
    ts_ns: int
    price: Price
    count: Count
    taker_side: Side
    maker_user: str
    taker_user: str
    fair: float


@dataclass(frozen=True, slots=True)
class NewsEvent:
    """A fair-value jump (news) the informed traders knew about before the book did."""

    ticker: str
    ts_ns: int
    before: float
    after: float


@dataclass(frozen=True, slots=True)
class TaggedFill:
    """One account's side of a trade with its counterparty and the fair value at fill time."""

    trade_id: str
    user_id: str
    ticker: str
    ts_ns: int
    side: Side  # of this account's order (BID buys YES)
    is_taker: bool
    price: Price
    count: Count
    counterparty: str
    counterparty_class: str
    fair: float


class TruthLog:
    """Append-only fair-value series and trade tags, per market, in exchange-time order.

    Memory: a fair-value change point is 16 bytes (typed arrays), so a market stepping every second
    costs about 58 KB an hour; a trade tag about as much as the exchange's own trade record.
    """

    def __init__(self) -> None:
        self._fair_ts: dict[str, array[int]] = {}
        self._fair_p: dict[str, array[float]] = {}
        self._trades: dict[str, list[TradeTag]] = {}
        self._by_user: dict[str, list[TradeTag]] = {}
        self._news: list[NewsEvent] = []

    # --- recording (the exchange calls these) --------------------------------------------------------

    def record_fair(self, ticker: str, ts_ns: int, probability: float) -> None:
        """The fair value of ``ticker`` is ``probability`` from ``ts_ns`` on (a same-instant change
        replaces the previous one)."""
        stamps = self._fair_ts.get(ticker)
        values = self._fair_p.get(ticker)
        if stamps is None or values is None:
            stamps = self._fair_ts[ticker] = array("q")
            values = self._fair_p[ticker] = array("d")
        if stamps and ts_ns < stamps[-1]:
            ts_ns = stamps[-1]  # an operator's change between catch-ups: keep the series ordered
        if stamps and stamps[-1] == ts_ns:
            values[-1] = probability
            return
        if values and values[-1] == probability:
            return  # unchanged: keep the series short
        stamps.append(ts_ns)
        values.append(probability)

    def record_trade(self, tag: TradeTag) -> None:
        self._trades.setdefault(tag.ticker, []).append(tag)
        self._by_user.setdefault(tag.maker_user, []).append(tag)
        self._by_user.setdefault(tag.taker_user, []).append(tag)

    def record_news(self, ticker: str, ts_ns: int, before: float, after: float) -> None:
        self._news.append(NewsEvent(ticker, ts_ns, before, after))

    # --- reading ---------------------------------------------------------------------------------------

    def tickers(self) -> list[str]:
        return sorted(self._fair_ts)

    def fair_at(self, ticker: str, ts_ns: int) -> float | None:
        """The fair value in force at ``ts_ns`` (None before the market existed)."""
        stamps = self._fair_ts.get(ticker)
        if not stamps:
            return None
        i = bisect.bisect_right(stamps, ts_ns) - 1
        return self._fair_p[ticker][i] if i >= 0 else None

    def fair_series(
        self, ticker: str, since_ns: int | None = None, until_ns: int | None = None
    ) -> list[tuple[int, float]]:
        """``(ts_ns, fair)`` change points of ``ticker`` within [since, until]; the value in force at
        ``since`` comes first (stamped ``since``) so the series is complete over the window."""
        stamps = self._fair_ts.get(ticker, array("q"))
        values = self._fair_p.get(ticker, array("d"))
        lo = 0 if since_ns is None else bisect.bisect_right(stamps, since_ns)
        hi = len(stamps) if until_ns is None else bisect.bisect_right(stamps, until_ns)
        out = list(zip(stamps[lo:hi], values[lo:hi], strict=True))
        if since_ns is not None and lo > 0:
            out.insert(0, (since_ns, values[lo - 1]))
        return out

    def news(self, ticker: str | None = None, since_ns: int | None = None) -> list[NewsEvent]:
        """The news jumps so far (of ``ticker`` if given), in time order."""
        return [
            n for n in self._news
            if (ticker is None or n.ticker == ticker) and (since_ns is None or n.ts_ns >= since_ns)
        ]

    def trades(self, ticker: str, start: int = 0) -> list[TradeTag]:
        """Trade tags of ``ticker`` from index ``start`` on (a cursor for incremental readers)."""
        return self._trades.get(ticker, [])[start:]

    def trade_count(self, ticker: str) -> int:
        return len(self._trades.get(ticker, ()))

    def _tags(self, users: set[str] | None) -> list[TradeTag]:
        """Every trade tag, or only those of ``users`` (an account's own trades, not the whole tape),
        each once."""
        if users is None:
            return [tag for k in sorted(self._trades) for tag in self._trades[k]]
        unique: dict[int, TradeTag] = {}
        for user in sorted(users):
            for tag in self._by_user.get(user, ()):
                unique.setdefault(id(tag), tag)
        return list(unique.values())

    def fills(
        self,
        classes: Mapping[str, str],
        *,
        users: set[str] | None = None,
        ticker: str | None = None,
        since_ns: int | None = None,
    ) -> list[TaggedFill]:
        """Each side of each trade as a `TaggedFill` (only for ``users`` if given), in time order.
        ``classes`` maps a synthetic trader's user id to its counterparty class; any other user is
        `OTHER_ACCOUNT`."""
        out: list[TaggedFill] = []
        for tag in self._tags(users):
            t = tag.ticker
            if (ticker is not None and t != ticker) or (since_ns is not None and tag.ts_ns < since_ns):
                continue
            taker_side = tag.taker_side
            maker_side = Side.ASK if taker_side is Side.BID else Side.BID
            for user, other, side, is_taker in (
                (tag.maker_user, tag.taker_user, maker_side, False),
                (tag.taker_user, tag.maker_user, taker_side, True),
            ):
                if users is not None and user not in users:
                    continue
                out.append(
                    TaggedFill(
                        trade_id=tag.trade_id,
                        user_id=user,
                        ticker=t,
                        ts_ns=tag.ts_ns,
                        side=side,
                        is_taker=is_taker,
                        price=tag.price,
                        count=tag.count,
                        counterparty=other,
                        counterparty_class=classes.get(other, OTHER_ACCOUNT),
                        fair=tag.fair,
                    )
                )
        out.sort(key=lambda f: f.ts_ns)
        return out
