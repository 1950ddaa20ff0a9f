"""Accounts: cash, collateral locked by resting orders, signed positions, fees and settlement.

Every amount is in micro-dollars (`Micros`, 1/1,000,000 $): a price (1/10,000 $) times a count (1/100
contract) is exact there, so trades never round. Views hand out micros too; the wire formats them.

Money model (conserved, see `Accounts.total_money_micro`):
- ``cash`` is all the account's money; ``locked`` (part of it) backs resting orders; available =
  cash - locked.
- A fill of ``c`` contracts costs the buyer of each leg its own price (YES buyer p, NO buyer 1 - p), so
  every trade puts exactly $1 per contract into escrow. An account holding both legs nets them at once:
  each YES+NO pair pays $1 back from escrow. Escrow is therefore $1 x open interest.
- Settlement pays $1 per winning contract out of escrow.
- Fees (API.md §9, `mmframe_sim.fees.charge_fill`): the trade fee is rounded up to $0.0001; the balance
  change (revenue - fee) is floored to the cent and the shortfall (the rounding fee) accumulates per
  order, refunded by whole cents once it reaches $0.01. Cash therefore stays cent-aligned. Everything
  charged goes to the exchange's fee account. A position's ``fees_paid`` is the plain sum of its fills'
  trade fees (as Kalshi reports it: the capture's three fills of $0.0175, $0.0007, $0.0007 show
  ``fees_paid_dollars "0.018900"``); ``fees_charged`` is what its cash paid (rounding included).
- Collateral of a resting order: its opening part at its own leg price, plus a fee allowance (the taker
  fee at the worst price it could fill, + 1 cent for rounding). The closing part (contracts that net an
  existing opposite position, reserved per market so two orders cannot close the same contracts)
  needs no cost collateral.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mmframe_sim.fees import FeeType, charge_fill, taker_fee, trade_fee
from mmframe_sim.model import (
    BalanceView,
    ExchangeError,
    Fill,
    Order,
    PositionView,
    Settlement,
    Side,
)
from mmframe_sim.money import (
    CENT_MICROS,
    ONE,
    Count,
    Micros,
    Price,
    cost_micros,
    format_micros,
    micros_ceil_price,
    micros_floor_price,
    price_micros,
)

HALF: Price = ONE // 2


@dataclass(slots=True)
class PositionRecord:
    """One account's position in one market (micro-dollar amounts)."""

    ticker: str
    event_ticker: str
    position: Count = 0
    basis: Micros = 0  # cost of the open position
    realized: Micros = 0
    fees: Micros = 0  # plain sum of the fills' trade fees (Kalshi's fees_paid)
    fees_charged: Micros = 0  # what cash paid in fees: trade fees + rounding fees - rebates
    traded: Micros = 0
    volume: Count = 0
    resting_orders: int = 0
    reserved_by_asks: Count = 0  # YES contracts resting asks will close
    reserved_by_bids: Count = 0  # NO contracts resting bids will close
    last_updated_ns: int = 0

    def view(self, user_id: str) -> PositionView:
        return PositionView(
            user_id=user_id,
            ticker=self.ticker,
            event_ticker=self.event_ticker,
            position=self.position,
            total_traded=self.traded,
            exposure=self.basis,
            realized_pnl=self.realized,
            fees_paid=self.fees,
            fees_charged=self.fees_charged,
            volume=self.volume,
            resting_orders_count=self.resting_orders,
            last_updated_ns=self.last_updated_ns,
        )


@dataclass(slots=True, eq=False)
class Account:
    """A user's money, positions, orders, fills and settlements."""

    user_id: str
    cash: Micros = 0
    locked: Micros = 0
    updated_ns: int = 0
    positions: dict[str, PositionRecord] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)  # every order, in arrival order
    resting: dict[str, Order] = field(default_factory=dict)  # resting orders, in arrival order
    client_order_ids: dict[str, Order] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    settlements: list[Settlement] = field(default_factory=list)

    @property
    def available(self) -> Micros:
        return self.cash - self.locked

    def position(self, ticker: str, event_ticker: str) -> PositionRecord:
        rec = self.positions.get(ticker)
        if rec is None:
            rec = self.positions[ticker] = PositionRecord(ticker, event_ticker)
        return rec


def own_price(order: Order) -> Price:
    """What one contract of ``order`` costs its owner: YES price for bids, NO price for asks."""
    return order.price if order.side is Side.BID else ONE - order.price


def fee_bound_price(side: Side, yes_price: Price) -> Price:
    """The fill price with the highest fee an order at ``yes_price`` can get: bids fill at or below
    their price, asks at or above, and P(1-P) peaks at $0.50."""
    return min(yes_price, HALF) if side is Side.BID else max(yes_price, HALF)


def lock_for(side: Side, yes_price: Price, remaining: Count, closing: Count, multiplier_bps: int) -> Micros:
    """Collateral (micro) for ``remaining`` contracts of an order of which ``closing`` net a position."""
    if remaining <= 0:
        return 0
    opening = remaining - min(closing, remaining)
    own = yes_price if side is Side.BID else ONE - yes_price
    fee = taker_fee(fee_bound_price(side, yes_price), remaining, multiplier_bps)
    return cost_micros(own, opening) + price_micros(fee) + CENT_MICROS


class Accounts:
    """All accounts, plus the exchange's fee income."""

    def __init__(self) -> None:
        self.by_user: dict[str, Account] = {}
        self.fees_collected: Micros = 0
        self.deposits: Micros = 0  # net external money in

    # --- accounts -------------------------------------------------------------------------------

    def open(self, user_id: str, balance: Price, now_ns: int) -> Account:
        acct = self.by_user.get(user_id)
        if acct is None:
            acct = self.by_user[user_id] = Account(user_id, updated_ns=now_ns)
            self.deposit(acct, balance)
        return acct

    def get(self, user_id: str) -> Account:
        acct = self.by_user.get(user_id)
        if acct is None:
            raise ExchangeError(404, "not_found", "account not found", user_id)
        return acct

    def deposit(self, acct: Account, amount: Price) -> None:
        micro = price_micros(amount)
        if acct.available + micro < 0:
            raise ExchangeError(400, "insufficient_balance", "insufficient balance to withdraw")
        acct.cash += micro
        self.deposits += micro

    def balance(self, acct: Account, marks: dict[str, Price]) -> BalanceView:
        """``marks``: last YES price per ticker, for ``portfolio_value``."""
        value = 0
        for rec in acct.positions.values():
            if rec.position > 0:
                value += cost_micros(marks.get(rec.ticker, 0), rec.position)
            elif rec.position < 0:
                value += cost_micros(ONE - marks.get(rec.ticker, ONE), -rec.position)
        return BalanceView(
            available=micros_floor_price(acct.available),
            locked=micros_ceil_price(acct.locked),
            portfolio_value=micros_floor_price(value),
            updated_ns=acct.updated_ns,
        )

    # --- collateral -----------------------------------------------------------------------------------

    def closable(self, rec: PositionRecord, side: Side) -> Count:
        """Contracts an order of ``side`` could still close without collateral."""
        if side is Side.ASK:
            return max(0, rec.position - rec.reserved_by_asks)
        return max(0, -rec.position - rec.reserved_by_bids)

    def reserve(self, acct: Account, order: Order, multiplier_bps: int) -> None:
        """Give a new (or re-priced, re-sized) order its closing reservation and lock its collateral,
        or raise ``insufficient_balance`` leaving everything as it was. ``order.remaining`` and
        ``order.price`` are what to back; the order's current reservation and lock count as its own."""
        rec = acct.position(order.ticker, order.event_ticker)
        closing = min(order.remaining, self.closable(rec, order.side) + order.closing_remaining)
        need = lock_for(order.side, order.price, order.remaining, closing, multiplier_bps)
        if need - order.locked > acct.available:
            raise ExchangeError(
                400,
                "insufficient_balance",
                "insufficient balance",
                f"need ${format_micros(need)}, available ${format_micros(acct.available + order.locked)}",
            )
        self._set_closing(rec, order, closing)
        acct.locked += need - order.locked
        order.locked = need

    def release(self, acct: Account, order: Order) -> None:
        """Drop an order's reservation and collateral (it left the book)."""
        rec = acct.positions.get(order.ticker)
        if rec is not None:
            self._set_closing(rec, order, 0)
        acct.locked -= order.locked
        order.locked = 0

    def relock(self, acct: Account, order: Order, multiplier_bps: int) -> None:
        """Recompute collateral after ``order.remaining`` shrank (fill, decrease): the opening part
        shrinks first, so the closing reservation only drops below what remains."""
        rec = acct.position(order.ticker, order.event_ticker)
        if order.closing_remaining > order.remaining:
            self._set_closing(rec, order, order.remaining)
        need = lock_for(order.side, order.price, order.remaining, order.closing_remaining, multiplier_bps)
        acct.locked += need - order.locked
        order.locked = need

    @staticmethod
    def _set_closing(rec: PositionRecord, order: Order, closing: Count) -> None:
        delta = closing - order.closing_remaining
        if order.side is Side.ASK:
            rec.reserved_by_asks += delta
        else:
            rec.reserved_by_bids += delta
        order.closing_remaining = closing

    # --- fills -------------------------------------------------------------------------------------------

    def apply_fill(
        self,
        acct: Account,
        order: Order,
        yes_price: Price,
        count: Count,
        *,
        is_taker: bool,
        fee_type: FeeType,
        multiplier_bps: int,
        now_ns: int,
    ) -> tuple[Price, PositionRecord]:
        """Book one fill of ``order`` (the caller has already lowered ``order.remaining`` by ``count``
        and will call `relock`): cash, position, PnL, fees. Returns (trade fee, position)."""
        rec = acct.position(order.ticker, order.event_ticker)
        own = yes_price if order.side is Side.BID else ONE - yes_price
        held = -rec.position if order.side is Side.BID else rec.position  # opposite-leg contracts held
        closed = min(count, max(0, held))
        opened = count - closed
        # the reserved part of the order is used first: it always has contracts to close
        used_reserved = min(count, order.closing_remaining)
        if used_reserved:
            self._set_closing(rec, order, order.closing_remaining - used_reserved)

        fee = trade_fee(yes_price, count, is_taker=is_taker, fee_type=fee_type, multiplier_bps=multiplier_bps)
        cost = cost_micros(own, count)
        revenue = cost_micros(ONE, closed) - cost
        charge = charge_fill(revenue, fee, order.rounding_accumulator)
        order.rounding_accumulator = charge.accumulator
        acct.cash += charge.balance_change
        self.fees_collected += charge.net_fee

        if closed:
            abs_pos = abs(rec.position)
            released = rec.basis if closed == abs_pos else rec.basis * closed // abs_pos
            rec.basis -= released
            rec.realized += cost_micros(ONE - own, closed) - released
        rec.basis += cost_micros(own, opened)
        rec.position += count if order.side is Side.BID else -count
        rec.fees += charge.trade_fee
        rec.fees_charged += charge.net_fee
        rec.traded += cost
        rec.volume += count
        rec.last_updated_ns = now_ns
        acct.updated_ns = now_ns

        if is_taker:
            order.taker_fill_cost += cost
            order.taker_fees += fee
        else:
            order.maker_fill_cost += cost
            order.maker_fees += fee
        order.filled += count
        order.last_update_ns = now_ns
        return fee, rec

    # --- settlement ----------------------------------------------------------------------------------------

    def settle(
        self, ticker: str, result: str, now_ns: int, seq: int
    ) -> list[tuple[Account, PositionRecord, Settlement]]:
        """Pay $1 per winning contract (``result`` yes|no) to every net position in ``ticker``."""
        out: list[tuple[Account, PositionRecord, Settlement]] = []
        for acct in self.by_user.values():
            rec = acct.positions.get(ticker)
            if rec is None or rec.position == 0:
                continue
            yes_count = max(rec.position, 0)
            no_count = max(-rec.position, 0)
            won = yes_count if result == "yes" else no_count
            revenue = cost_micros(ONE, won)
            acct.cash += revenue
            rec.realized += revenue - rec.basis
            settlement = Settlement(
                user_id=acct.user_id,
                ticker=ticker,
                event_ticker=rec.event_ticker,
                market_result=result,
                yes_count=yes_count,
                no_count=no_count,
                yes_total_cost=rec.basis if yes_count else 0,
                no_total_cost=rec.basis if no_count else 0,
                revenue=revenue,
                fee_cost=0,
                value=ONE if result == "yes" else 0,
                settled_ns=now_ns,
                seq=seq,
            )
            rec.basis = 0
            rec.position = 0
            rec.last_updated_ns = now_ns
            acct.updated_ns = now_ns
            acct.settlements.append(settlement)
            out.append((acct, rec, settlement))
        return out

    # --- conservation ------------------------------------------------------------------------------------

    def total_cash(self) -> Micros:
        return sum(a.cash for a in self.by_user.values())

    def total_money_micro(self, open_interest: Count) -> Micros:
        """All cash + $1 escrow per open contract (``open_interest`` summed over markets) + fees."""
        return self.total_cash() + cost_micros(ONE, open_interest) + self.fees_collected
