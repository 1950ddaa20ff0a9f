"""Positions, cash, PnL and fees, exactly, in price units (1/10,000 dollar).

Internally every amount is kept in *micro* units, price x count (1/1,000,000 dollar), where fills
are exact. Amounts are converted to price units only when read, by flooring (``// 100``), so a
reported PnL never overstates; the floors are chosen so that realised + unrealised equals cash
flow + mark value exactly in price units too (see `Position.unrealised_pnl`).

Everything is in YES terms: a bid buys YES at p (cash -p per contract); an ask sells YES at p
(cash +p), which on Kalshi is buying NO at payout - p — the same PnL, since the NO contract is worth
payout - mark.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from mmframe.domain.fees import OrderFees
from mmframe.domain.money import COUNT_SCALE, ONE_DOLLAR, Count, Price
from mmframe.domain.quote import BookSide


def _to_price_floor(micro: int) -> Price:
    return micro // COUNT_SCALE


def _to_price_ceil(micro: int) -> Price:
    return -(-micro // COUNT_SCALE)


class Position:
    """One market's signed YES position (+ long YES, - long NO) with average cost and PnL.

    Fills at YES price p: a bid buys YES at p; an ask sells YES at p (equivalently buys NO at
    payout - p). Realised PnL is booked when a fill reduces the position, against the average
    cost; fees are tracked separately and `net_pnl` subtracts them.

    A position held by a `Ledger` tells it after every fill, settlement, seed or payout change.
    """

    __slots__ = (
        "_basis",
        "_cash",
        "_fees",
        "_on_change",
        "_payout",
        "_realised",
        "position",
        "settled",
        "ticker",
        "volume",
    )

    def __init__(self, ticker: str, payout: Price = ONE_DOLLAR) -> None:
        self._on_change: Callable[[str], None] | None = None
        self.ticker = ticker
        self._payout = payout
        self.position = 0
        self._fees = 0
        self.volume = 0
        self.settled = False
        # Cost of the open position in micro units, always >= 0: what a long paid, or what a short
        # received, at average cost. Reductions take a floored pro-rata share; the remainder stays,
        # so a round trip books exactly its cash.
        self._basis = 0
        self._realised = 0
        self._cash = 0

    ticker: str
    position: Count
    volume: Count
    """Contracts traded (sum of fill counts)."""
    settled: bool

    @property
    def payout(self) -> Price:
        """What one YES contract pays when it wins."""
        return self._payout

    @payout.setter
    def payout(self, payout: Price) -> None:
        if payout != self._payout:
            self._payout = payout
            self._changed()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self.ticker)

    @property
    def fees(self) -> Price:
        """Fees paid, price units, rounded up (the venue's per-order rounding can leave a fraction
        of $0.0001 on fractional fills)."""
        return _to_price_ceil(self._fees)

    @property
    def avg_price(self) -> Price:
        """Average YES entry price of the open position (0 when flat), floored to the price unit."""
        if self.position == 0:
            return 0
        return self._basis // abs(self.position)

    @property
    def realised_pnl(self) -> Price:
        """PnL booked by reductions and settlement, before fees, floored to the price unit."""
        return _to_price_floor(self._realised)

    @property
    def cash_flow(self) -> Price:
        """Trading cash in YES terms (sells minus buys, settlement included, fees excluded), floored."""
        return _to_price_floor(self._cash)

    @property
    def cost_basis(self) -> Price:
        """What the open position cost (long) or brought in (short), price units, rounded up."""
        return _to_price_ceil(self._basis)

    def apply_fill(
        self, side: BookSide, price: Price, count: Count, fee: Price = 0, *, fee_micro: int | None = None
    ) -> None:
        """Book a fill of ``count`` at YES ``price``; a bid buys YES, an ask sells YES. The balance
        charge is ``fee`` price units, or ``fee_micro`` micro-dollars when given (`Ledger.book` gives
        the venue's per-order charge)."""
        if count <= 0:
            raise ValueError(f"fill count must be positive, got {count} in {self.ticker}")
        signed = count if side is BookSide.BID else -count
        self._cash -= signed * price
        self._trade(signed, price)
        self._fees += fee * COUNT_SCALE if fee_micro is None else fee_micro
        self.volume += count
        self._changed()

    def _trade(self, signed: Count, price: Price) -> None:
        position = self.position
        if position == 0 or (position > 0) == (signed > 0):
            self._basis += abs(signed) * price
            self.position = position + signed
            return
        closing = min(abs(signed), abs(position))
        # The released cost is rounded as the venue rounds it: down on what a long paid; a short's
        # cost there is the NO legs' (1 - p each), rounded down too, which is our YES basis rounded up.
        released = self._basis * closing // abs(position) if position > 0 else -(-self._basis * closing // -position)
        exit_value = closing * price
        self._realised += exit_value - released if position > 0 else released - exit_value
        self._basis -= released
        self.position = position + signed
        opening = abs(signed) - closing
        if opening:
            self._basis = opening * price

    def unrealised_pnl(self, mark: Price | None) -> Price:
        """Mark-to-market PnL of the open position at YES price ``mark`` (0 when flat or no mark).

        Defined as floor(realised + open PnL) - floor(realised), so that
        ``realised_pnl + unrealised_pnl(m) == floor(cash + position x m)`` holds exactly.
        """
        if self.position == 0 or mark is None:
            return 0
        open_pnl = (
            self.position * mark - self._basis if self.position > 0 else self._basis + self.position * mark
        )
        return _to_price_floor(self._realised + open_pnl) - _to_price_floor(self._realised)

    def net_pnl(self, mark: Price | None) -> Price:
        """Realised + unrealised - fees."""
        return self.realised_pnl + self.unrealised_pnl(mark) - self.fees

    def mark_value(self, mark: Price) -> Price:
        """The open position valued at YES price ``mark`` in YES terms (negative when short), floored."""
        return _to_price_floor(self.position * mark)

    def settle(self, yes_won: bool) -> Price:
        """Close the position at payout/0, book the PnL, return the settlement cash.

        The returned cash is what the venue pays: a long YES gets ``position x payout`` when YES
        wins; a long NO (short YES) gets ``|position| x payout`` when NO wins; otherwise 0.
        """
        position = self.position
        final = self.payout if yes_won else 0
        paid = position * final if position > 0 else -position * (self.payout - final)
        if position:
            self._cash += position * final
            self._trade(-position, final)
        self.settled = True
        self._changed()
        return _to_price_floor(paid)

    def worst_case_loss(self, resting_bids: Count = 0, resting_asks: Count = 0) -> Price:
        """The most this market can lose if every resting order fills and the market settles
        against us (the collateral Kalshi locks).

        A long YES of q at average p can lose q x p (NO wins); a short of q can lose
        q x (payout - p) (YES wins). Resting orders are given without prices here, so each is
        charged its largest possible loss: payout per contract (a bid at the payout, an ask at 0).
        Use `worst_case_loss_with` when prices are known. Rounded up to the price unit.
        """
        return self._worst_case(resting_bids * self.payout, resting_asks * self.payout)

    def worst_case_loss_with(self, orders: Iterable[tuple[BookSide, Price, Count]]) -> Price:
        """`worst_case_loss` with resting orders given as (side, YES price, remaining): a bid at b
        adds b per contract if NO wins, an ask at a adds payout - a per contract if YES wins."""
        bids = asks = 0
        for side, price, remaining in orders:
            if side is BookSide.BID:
                bids += price * remaining
            else:
                asks += (self.payout - price) * remaining
        return self._worst_case(bids, asks)

    def _worst_case(self, bid_loss: int, ask_loss: int) -> Price:
        position = self.position
        if position >= 0:
            loss_if_no = self._basis + bid_loss
            loss_if_yes = self._basis - position * self.payout + ask_loss
        else:
            loss_if_no = -self._basis + bid_loss
            loss_if_yes = -position * self.payout - self._basis + ask_loss
        return _to_price_ceil(max(0, loss_if_no, loss_if_yes))

    def seed(self, position: Count, avg_price: Price) -> None:
        """Start from a position read from the venue (startup reconciliation).

        The position is booked as if bought (or sold) at ``avg_price``; realised PnL, fees and
        volume restart at 0.
        """
        self.position = position
        self._basis = abs(position) * avg_price if position else 0
        self._cash = -position * avg_price
        self._realised = 0
        self._fees = 0
        self.volume = 0
        self.settled = False
        self._changed()

    def carry(self, position: Count, cost_basis_micro: int) -> None:
        """Start from a position carried over from earlier books with its exact cost (micro-dollars,
        what a long paid or a short received, >= 0), as `seed` does with a price; realised PnL, fees
        and volume restart at 0."""
        if cost_basis_micro < 0:
            raise ValueError(f"a cost basis cannot be negative, got {cost_basis_micro} in {self.ticker}")
        self.position = position
        self._basis = cost_basis_micro if position else 0
        self._cash = -self._basis if position > 0 else self._basis
        self._realised = 0
        self._fees = 0
        self.volume = 0
        self.settled = False
        self._changed()

    # --- exact amounts, micro-dollars (1/1,000,000 $) ----------------------------------------------

    @property
    def cost_basis_micro(self) -> int:
        """What the open position cost (long) or brought in (short), exactly."""
        return self._basis

    @property
    def realised_micro(self) -> int:
        """Realised PnL before fees, exactly."""
        return self._realised

    @property
    def fees_micro(self) -> int:
        """Fees charged, exactly."""
        return self._fees

    def net_micro(self, mark: Price | None) -> int:
        """Realised + open PnL at YES price ``mark`` - fees, exactly (open PnL 0 without a mark:
        the position valued at its cost)."""
        if mark is None or self.position == 0:
            return self._realised - self._fees
        return self._cash + self.position * mark - self._fees

    def __repr__(self) -> str:
        return (
            f"Position({self.ticker!r}, position={self.position}, avg_price={self.avg_price}, "
            f"realised={self.realised_pnl}, fees={self.fees})"
        )


class Ledger:
    """All positions, by ticker, with totals.

    Watchers (`watch`) hear the ticker of every position created or changed (fill, settlement,
    seed, payout).
    """

    def __init__(self, order_fees: OrderFees | None = None) -> None:
        self._positions: dict[str, Position] = {}
        self._watchers: list[Callable[[str], None]] = []
        self.order_fees = order_fees if order_fees is not None else OrderFees()
        """The venue's per-order fee rounding (`book` charges through it)."""

    def watch(self, changed: Callable[[str], None]) -> None:
        """Call ``changed(ticker)`` after the position of ``ticker`` is created or changes."""
        self._watchers.append(changed)

    def _changed(self, ticker: str) -> None:
        for changed in self._watchers:
            changed(ticker)

    def position(self, ticker: str, payout: Price = ONE_DOLLAR) -> Position:
        """The position of ``ticker`` (created flat on first use, with ``payout``)."""
        found = self._positions.get(ticker)
        if found is None:
            found = self._positions[ticker] = Position(ticker, payout)
            found._on_change = self._changed
            self._changed(ticker)
        return found

    def book(
        self, ticker: str, side: BookSide, price: Price, count: Count, trade_fee: Price, order: str | None
    ) -> int:
        """Book a fill as the venue does: ``trade_fee`` is the fill's fee rounded up to $0.0001 (the
        venue's ``fee_cost``), charged to the balance through the per-order rounding of ``order``
        (the venue's order id; `OrderFees`). A fill of no order (None: a position carried in), or in
        a market that does not pay $1 (not a Kalshi contract: a model market in a backtest), is
        charged ``trade_fee`` as is. Returns the charge, micro-dollars."""
        if count <= 0:
            raise ValueError(f"fill count must be positive, got {count} in {ticker}")
        position = self.position(ticker)
        if order is None or position.payout != ONE_DOLLAR:
            charged = trade_fee * COUNT_SCALE
        else:
            revenue = -count * price if side is BookSide.BID else count * price
            charged = self.order_fees.charge(order, revenue, trade_fee)
        position.apply_fill(side, price, count, fee_micro=charged)
        return charged

    @property
    def positions(self) -> Mapping[str, Position]:
        """Every position seen, by ticker (read-only view)."""
        return self._positions

    def realised_pnl(self) -> Price:
        """Sum of realised PnL, before fees."""
        return sum(p.realised_pnl for p in self._positions.values())

    def fees(self) -> Price:
        """Sum of fees paid."""
        return sum(p.fees for p in self._positions.values())

    def unrealised_pnl(self, marks: Mapping[str, Price | None]) -> Price:
        """Sum of unrealised PnL, each position marked at ``marks[ticker]`` (missing: 0)."""
        return sum(p.unrealised_pnl(marks.get(t)) for t, p in self._positions.items())

    def net_pnl(self, marks: Mapping[str, Price | None]) -> Price:
        """Realised + unrealised - fees over all positions."""
        return self.realised_pnl() + self.unrealised_pnl(marks) - self.fees()
