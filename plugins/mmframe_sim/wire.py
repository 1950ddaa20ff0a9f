"""Engine records -> Kalshi's JSON objects (API.md §3-6): fixed-point strings, RFC3339 times, wire names.

Shared by the REST routes and the WebSocket channels so one object has one shape everywhere. Formatting
is the simulator's own (`mmframe_sim.money`), as the demo captures in ``shared/kalshi/samples`` show:

- prices (``yes_price_dollars``, book levels, ``price_ranges``, ``balance_dollars``): 4 decimals;
- costs, fees, exposure, PnL (``fee_cost``, ``*_fill_cost_dollars``, ``*_fees_dollars``,
  ``market_exposure_dollars``, ``total_traded_dollars``, ``realized_pnl_dollars``,
  ``fees_paid_dollars``, settlement totals): 6 decimals, with every digit the exact amount has
  (``"0.040590"``: 0.41 contract at $0.099);
- ``average_fill_price``/``average_fee_paid``: 4 decimals when exact at $0.0001 (the capture's
  ``"0.5200"``/``"0.0175"``), else 6 (``"0.523333"``);
- counts: 2 decimals.
"""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Iterable
from typing import Any

from mmframe_sim.engine import (
    BalanceView,
    EventSpec,
    Fill,
    MarketState,
    OrderbookView,
    OrderGroupView,
    OrderView,
    PositionView,
    SeriesSpec,
    Settlement,
    Trade,
)
from mmframe_sim.fees import FeeType
from mmframe_sim.money import (
    CENT,
    CENT_MICROS,
    Micros,
    Price,
    format_count,
    format_micros,
    format_micros_short,
    format_price,
    price_micros,
)

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_NEVER_NS = 4_102_444_800 * 1_000_000_000  # 2100-01-01: a close time for markets that never close


def rfc3339(ts_ns: int, *, fraction: bool = True) -> str:
    """``2026-06-11T06:29:30.164956Z`` (microseconds; whole seconds without ``fraction``)."""
    moment = _EPOCH + _dt.timedelta(microseconds=ts_ns // 1_000)
    if fraction:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# Cached: the same few thousand amounts are formatted over and over on the hot paths.
@functools.lru_cache(maxsize=65_536)
def dollars4(amount: Price) -> str:
    """Price units as a 4-decimal dollar string (price fields)."""
    return format_price(amount)


@functools.lru_cache(maxsize=65_536)
def dollars6(amount: Micros) -> str:
    """Micros as a 6-decimal dollar string (costs, fees, exposure, PnL)."""
    return format_micros(amount)


def fee6(fee: Price) -> str:
    """A trade fee (price units, always whole $0.0001) as Kalshi's 6-decimal fee string."""
    return dollars6(price_micros(fee))


def average(amount: Micros) -> str:
    """A create/amend average: 4 decimals when exact at $0.0001, else 6."""
    return format_micros_short(amount)


@functools.lru_cache(maxsize=65_536)
def count_str(count: int) -> str:
    """Count units as Kalshi's 2-decimal count string."""
    return format_count(count)


def cents(amount: Price) -> int:
    """Price units to whole cents, toward minus infinity (balances are whole cents on Kalshi)."""
    return amount // CENT


def micros_cents(amount: Micros) -> int:
    """Micros to whole cents, toward minus infinity (settlement ``revenue``)."""
    return amount // CENT_MICROS


def market_json(market: MarketState, now_ns: int) -> dict[str, Any]:
    """A Market object as GET /markets returns it."""
    spec = market.spec
    close_ns = market.close_ts_ns or _NEVER_NS
    body: dict[str, Any] = {
        "ticker": market.ticker,
        "event_ticker": market.event_ticker,
        "market_type": "binary",
        "title": spec.title or market.ticker,
        "yes_sub_title": spec.title or market.ticker,
        "no_sub_title": spec.title or market.ticker,
        "created_time": rfc3339(market.created_ns),
        "updated_time": rfc3339(now_ns),
        "open_time": rfc3339(market.open_ts_ns, fraction=False),
        "close_time": rfc3339(close_ns, fraction=False),
        "expected_expiration_time": rfc3339(close_ns, fraction=False),
        "expiration_time": rfc3339(close_ns, fraction=False),
        "latest_expiration_time": rfc3339(close_ns, fraction=False),
        "settlement_timer_seconds": spec.settlement_timer_seconds,
        "status": str(market.status),
        "yes_bid_dollars": dollars4(market.yes_bid),
        "yes_bid_size_fp": count_str(market.yes_bid_size),
        "yes_ask_dollars": dollars4(market.yes_ask),
        "yes_ask_size_fp": count_str(market.yes_ask_size),
        "no_bid_dollars": dollars4(market.no_bid),
        "no_ask_dollars": dollars4(market.no_ask),
        "last_price_dollars": dollars4(market.last_price),
        "previous_yes_bid_dollars": "0.0000",
        "previous_yes_ask_dollars": "0.0000",
        "previous_price_dollars": "0.0000",
        "volume_fp": count_str(market.volume),
        "volume_24h_fp": count_str(market.volume),
        "open_interest_fp": count_str(market.open_interest),
        "notional_value_dollars": "1.0000",
        "liquidity_dollars": "0.0000",
        "result": market.result,
        "can_close_early": spec.can_close_early,
        "expiration_value": "",
        "rules_primary": spec.title,
        "rules_secondary": "",
        "price_level_structure": market.price_level_structure,
        "price_ranges": [
            {"start": dollars4(r.start), "end": dollars4(r.end), "step": dollars4(r.step)}
            for r in market.price_ranges
        ],
        "fractional_trading_enabled": spec.fractional_trading_enabled,
        "exchange_index": 0,
    }
    if market.settlement_value is not None:
        body["settlement_value_dollars"] = dollars4(market.settlement_value)
    return body


def orderbook_json(book: OrderbookView) -> dict[str, Any]:
    """The ``orderbook_fp`` object: both bid ladders, ascending, best last."""
    return {
        "yes_dollars": [[dollars4(p), count_str(c)] for p, c in book.yes],
        "no_dollars": [[dollars4(p), count_str(c)] for p, c in book.no],
    }


def trade_json(trade: Trade) -> dict[str, Any]:
    """A public trade (GET /markets/trades)."""
    side = trade.taker_outcome_side
    return {
        "trade_id": trade.trade_id,
        "ticker": trade.ticker,
        "count_fp": count_str(trade.count),
        "yes_price_dollars": dollars4(trade.price),
        "no_price_dollars": dollars4(trade.no_price),
        "taker_outcome_side": side,
        "taker_book_side": str(trade.taker_side),
        "taker_side": side,
        "created_time": rfc3339(trade.ts_ns),
        "is_block_trade": False,
    }


def series_json(series: SeriesSpec) -> dict[str, Any]:
    return {
        "ticker": series.ticker,
        "title": series.title or series.ticker,
        "category": series.category,
        "frequency": "custom",
        "fee_type": str(series.fee_type),
        # Kalshi sends a JSON number here; it is a multiplier, not money.
        "fee_multiplier": series.fee_multiplier_bps / 10_000,
        "tags": [],
        "settlement_sources": [],
        "contract_url": "",
    }


def _multiplier(bps: int | None) -> int | float | None:
    """A fee multiplier as Kalshi sends it: a JSON number (1, 0.5, 1.25), from basis points."""
    if bps is None:
        return None
    whole, rest = divmod(bps, 10_000)
    return whole if rest == 0 else bps / 10_000


def event_fee_update_json(
    event_ticker: str, fee_type: FeeType | None, multiplier_bps: int | None
) -> dict[str, Any]:
    """The ``event_fee_update`` msg: both overrides always present, null when not overridden."""
    return {
        "event_ticker": event_ticker,
        "fee_type_override": None if fee_type is None else str(fee_type),
        "fee_multiplier_override": _multiplier(multiplier_bps),
    }


def event_json(
    event: EventSpec,
    series: SeriesSpec | None,
    markets: list[dict[str, Any]] | None = None,
    fee_override: tuple[FeeType | None, int | None] = (None, None),
) -> dict[str, Any]:
    fee_type, multiplier_bps = fee_override
    body: dict[str, Any] = {
        "event_ticker": event.event_ticker,
        "series_ticker": event.series_ticker,
        "title": event.title or event.event_ticker,
        "sub_title": "",
        "mutually_exclusive": False,
        "category": series.category if series is not None else "",
        "collateral_return_type": "",
        "available_on_brokers": False,
        "fee_type_override": None if fee_type is None else str(fee_type),
        "fee_multiplier_override": _multiplier(multiplier_bps),
    }
    if markets is not None:
        body["markets"] = markets
    return body


def order_json(order: OrderView, *, user_id: str | None = None) -> dict[str, Any]:
    """An Order object (GET /portfolio/orders). V2 orders are ``side: yes`` with buy/sell ``action``."""
    return {
        "order_id": order.order_id,
        "user_id": user_id or order.user_id,
        "client_order_id": order.client_order_id or "",
        "ticker": order.ticker,
        "outcome_side": order.outcome_side,
        "book_side": str(order.side),
        "side": "yes",
        "action": "buy" if order.outcome_side == "yes" else "sell",
        "type": "limit",
        "status": str(order.status),
        "yes_price_dollars": dollars4(order.price),
        "no_price_dollars": dollars4(order.no_price),
        "fill_count_fp": count_str(order.filled),
        "remaining_count_fp": count_str(order.remaining),
        "initial_count_fp": count_str(order.initial_count),
        "taker_fill_cost_dollars": dollars6(order.taker_fill_cost),
        "maker_fill_cost_dollars": dollars6(order.maker_fill_cost),
        "taker_fees_dollars": fee6(order.taker_fees),
        "maker_fees_dollars": fee6(order.maker_fees),
        "expiration_time": (
            rfc3339(order.expiration_time_s * 1_000_000_000, fraction=False)
            if order.expiration_time_s
            else None
        ),
        "created_time": rfc3339(order.created_ns),
        "last_update_time": rfc3339(order.last_update_ns or order.created_ns),
        "self_trade_prevention_type": str(order.self_trade_prevention_type),
        "order_group_id": order.order_group_id,
        "cancel_order_on_pause": order.cancel_order_on_pause,
        "subaccount_number": order.subaccount,
        "exchange_index": 0,
    }


def user_order_json(order: OrderView) -> dict[str, Any]:
    """The WS ``user_order`` message body: the Order fields plus ms timestamps and ``is_yes``."""
    body = order_json(order)
    body["is_yes"] = True
    body["created_ts_ms"] = order.created_ns // 1_000_000
    body["last_updated_ts_ms"] = (order.last_update_ns or order.created_ns) // 1_000_000
    body["expiration_ts_ms"] = order.expiration_time_s * 1000 if order.expiration_time_s else None
    return body


def fill_json(fill: Fill) -> dict[str, Any]:
    """A Fill (GET /portfolio/fills). REST fills carry no ``client_order_id``."""
    return {
        "fill_id": fill.fill_id,
        "trade_id": fill.trade_id,
        "order_id": fill.order_id,
        "ticker": fill.ticker,
        "market_ticker": fill.ticker,
        "exchange_index": 0,
        "outcome_side": fill.outcome_side,
        "book_side": str(fill.side),
        "side": "yes",
        "action": "buy" if fill.outcome_side == "yes" else "sell",
        "count_fp": count_str(fill.count),
        "yes_price_dollars": dollars4(fill.price),
        "no_price_dollars": dollars4(fill.no_price),
        "is_taker": fill.is_taker,
        "created_time": rfc3339(fill.ts_ns),
        "fee_cost": fee6(fill.fee),
        "subaccount_number": fill.subaccount,
        "ts": fill.ts_ns // 1_000_000_000,
    }


def ws_fill_json(fill: Fill) -> dict[str, Any]:
    """The WS ``fill`` message body."""
    return {
        "trade_id": fill.trade_id,
        "order_id": fill.order_id,
        "client_order_id": fill.client_order_id or "",
        "market_ticker": fill.ticker,
        "exchange_index": 0,
        "is_taker": fill.is_taker,
        "outcome_side": fill.outcome_side,
        "book_side": str(fill.side),
        "side": "yes",
        "action": "buy" if fill.outcome_side == "yes" else "sell",
        "purchased_side": fill.outcome_side,
        "yes_price_dollars": dollars4(fill.price),
        "count_fp": count_str(fill.count),
        "fee_cost": fee6(fill.fee),
        "post_position_fp": count_str(fill.post_position),
        "ts": fill.ts_ns // 1_000_000_000,
        "ts_ms": fill.ts_ns // 1_000_000,
        "subaccount": fill.subaccount,
    }


def position_json(position: PositionView) -> dict[str, Any]:
    """A MarketPosition (GET /portfolio/positions)."""
    return {
        "ticker": position.ticker,
        "exchange_index": 0,
        "total_traded_dollars": dollars6(position.total_traded),
        "position_fp": count_str(position.position),
        "market_exposure_dollars": dollars6(position.exposure),
        "realized_pnl_dollars": dollars6(position.realized_pnl),
        "fees_paid_dollars": dollars6(position.fees_paid),
        "resting_orders_count": position.resting_orders_count,
        "last_updated_ts": rfc3339(position.last_updated_ns),
    }


def ws_position_json(position: PositionView) -> dict[str, Any]:
    """The WS ``market_position`` message body."""
    return {
        "user_id": position.user_id,
        "market_ticker": position.ticker,
        "position_fp": count_str(position.position),
        "position_cost_dollars": dollars6(position.exposure),
        "realized_pnl_dollars": dollars6(position.realized_pnl),
        "fees_paid_dollars": dollars6(position.fees_paid),
        "position_fee_cost_dollars": dollars6(position.fees_paid),
        "volume_fp": count_str(position.volume),
        "subaccount": position.subaccount,
    }


def event_positions_json(positions: Iterable[PositionView]) -> list[dict[str, Any]]:
    """Per-event totals of the given market positions (GET /portfolio/positions ``event_positions``)."""
    totals: dict[str, list[int]] = {}
    for p in positions:
        t = totals.setdefault(p.event_ticker, [0, 0, 0, 0])
        t[0] += p.exposure
        t[1] += abs(p.position)
        t[2] += p.realized_pnl
        t[3] += p.fees_paid
    return [
        {
            "event_ticker": event_ticker,
            "total_cost_dollars": dollars6(t[0]),
            "total_cost_shares_fp": count_str(t[1]),
            "event_exposure_dollars": dollars6(t[0]),
            "realized_pnl_dollars": dollars6(t[2]),
            "fees_paid_dollars": dollars6(t[3]),
        }
        for event_ticker, t in totals.items()
    ]


def settlement_json(settlement: Settlement) -> dict[str, Any]:
    return {
        "ticker": settlement.ticker,
        "event_ticker": settlement.event_ticker,
        "market_result": settlement.market_result,
        "yes_count_fp": count_str(settlement.yes_count),
        "no_count_fp": count_str(settlement.no_count),
        "yes_total_cost_dollars": dollars6(settlement.yes_total_cost),
        "no_total_cost_dollars": dollars6(settlement.no_total_cost),
        "revenue": micros_cents(settlement.revenue),
        "settled_time": rfc3339(settlement.settled_ns),
        "fee_cost": dollars6(settlement.fee_cost),
        "value": cents(settlement.value),
    }


def balance_json(balance: BalanceView) -> dict[str, Any]:
    return {
        "balance": balance.balance_cents,
        "balance_dollars": dollars4(balance.available),
        "portfolio_value": balance.portfolio_value_cents,
        "updated_ts": balance.updated_ns // 1_000_000_000,
        "balance_breakdown": [{"exchange_index": 0, "balance": dollars4(balance.available)}],
    }


def order_group_summary_json(group: OrderGroupView) -> dict[str, Any]:
    """One entry of GET /portfolio/order_groups."""
    return {
        "id": group.order_group_id,
        "contracts_limit_fp": count_str(group.contracts_limit),
        "is_auto_cancel_enabled": group.is_auto_cancel_enabled,
        "exchange_index": 0,
    }


def order_group_json(group: OrderGroupView) -> dict[str, Any]:
    """GET /portfolio/order_groups/{id}."""
    return {
        "is_auto_cancel_enabled": group.is_auto_cancel_enabled,
        "contracts_limit_fp": count_str(group.contracts_limit),
        "orders": list(group.order_ids),
    }
