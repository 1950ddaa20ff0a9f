"""``avellaneda-stoikov``: inventory-aware quotes from Avellaneda & Stoikov (2008), with the
Guéant–Lehalle–Fernandez-Tapia bounded-inventory approximation as an option.

Model units follow the papers: prices s, r and depths δ in dollars, inventory q in contracts, time
in ``time_unit_seconds`` (σ in dollars per √time unit, k per dollar, A per time unit). Floats are
used for the model; the Quote is exact integers on the market's grid.

Adapted to binary markets (docs/avellaneda-stoikov-binary.md): T is the market's close (no rolling cap),
σ is estimated in log-odds and converted to dollars through p(1−p), k is fitted online from our
fills with a prior and bounds, and the last ``close_window_seconds`` before close can widen or
flatten.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mmframe.api import (
    COUNT_SCALE,
    DAY_SECONDS,
    MAX_CONTRACTS,
    MAX_ORDER_CONTRACTS,
    MAX_PAYOUT_DOLLARS,
    NANOS_PER_SECOND,
    PRICE_SCALE,
    WEEK_SECONDS,
    BookSide,
    ConfigError,
    Configured,
    Count,
    Kind,
    Level,
    MarketView,
    OrderFilled,
    Price,
    Quote,
    count_from_config,
    fraction_from_config,
)
from mmframe_strategies._estimators import FillIntensity, LogOddsVariance, MidVariance, log_odds
from mmframe_strategies._glft import MAX_LOTS, glft_depths
from mmframe_strategies._pricing import REFERENCES, ReferenceHold, grid_of, touch

NAME = "avellaneda-stoikov"

YEAR_SECONDS = 365 * DAY_SECONDS

_EPSILON = 1e-6  # price units: float noise below this never moves a price to the next unit


def _number(
    default: float,
    description: str,
    *,
    minimum: float | None = None,
    exclusive: bool = False,
    maximum: float | None = None,
    below: float | None = None,
    step: float | None = None,
) -> dict[str, Any]:
    """A number field: ``minimum`` (exclusive with ``exclusive``), ``maximum`` or ``below`` (exclusive),
    ``step`` (``multipleOf``: the unit's decimals for dollars and contracts)."""
    field: dict[str, Any] = {"type": "number", "default": default, "description": description}
    if minimum is not None:
        field["exclusiveMinimum" if exclusive else "minimum"] = minimum
    if maximum is not None:
        field["maximum"] = maximum
    if below is not None:
        field["exclusiveMaximum"] = below
    if step is not None:
        field["multipleOf"] = step
    return field


SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "avellaneda-stoikov strategy",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "model": {
            "enum": ["as", "glft"],
            "default": "as",
            "description": "`as`: reservation price r = s − qγσ²(T−t) and total spread γσ²(T−t) + (2/γ)ln(1+γ/k) "
            "(Avellaneda & Stoikov 2008). `glft`: Guéant, Lehalle & Fernandez-Tapia (2013) for bounded "
            "inventory, which uses `A`: the finite-horizon solution at T−t (see `glft_solution`).",
        },
        "glft_solution": {
            "enum": ["finite", "asymptotic"],
            "default": "finite",
            "description": "`glft` only. `finite`: the exact quotes at the time left T−t (Theorem 1: "
            "v = exp(−M(T−t))·1 over inventories −N..N lots, N = `max_inventory`/`size`; no skew left at "
            "the close, the closed form far from it); used when 1 ≤ N ≤ 12, else the closed form. "
            "`asymptotic`: the closed form, which ignores T−t.",
        },
        "gamma": _number(0.1, "Risk aversion γ, per dollar.", minimum=0, exclusive=True, maximum=1000),
        "k": _number(
            1.5, "Fill-intensity decay k in λ(δ) = A·e^(−kδ), per dollar.", minimum=0, exclusive=True, maximum=1_000_000),
        "A": _number(
            140,
            "Fill-intensity scale A in λ(δ) = A·e^(−kδ), fills per time unit (`glft` only).",
            minimum=0,
            exclusive=True, maximum=1_000_000),
        "estimate_k": {
            "type": "boolean",
            "default": False,
            "description": "Fit k (and A) to our own fills by maximum likelihood over the depths we quoted "
            "and how long; the configured values stand until `k_min_fills` fills, then the fit is redone "
            "at every fill and shrunk toward the configured k and A (`k_prior_fills`) within "
            "`k_min`..`k_max`.",
        },
        "k_min_fills": {
            "type": "integer",
            "minimum": 1,
            "maximum": 100_000,
            "default": 50,
            "description": "Fills before the first fit of k.",
        },
        "k_prior_fills": _number(
            20,
            "Weight of the configured k and A as a prior, in fills: the fitted ln k (and A) are averaged "
            "with the configured ones weighted N : `k_prior_fills` (N = fills seen); 0 uses the fit alone.",
            minimum=0, maximum=1_000_000),
        "k_min": _number(0.5, "Lowest k the fit may give, per dollar.", minimum=0, exclusive=True, maximum=1_000_000),
        "k_max": _number(
            10_000, "Highest k the fit may give, per dollar.", minimum=0, exclusive=True, maximum=1_000_000),
        "k_bin_width": _number(0.01, "Depth resolution of the k fit, dollars.", minimum=0, exclusive=True, below=1, step=0.0001),
        "sigma": _number(
            0, "Volatility σ, dollars per √time unit; 0 estimates it online (see `sigma_model`).",
            minimum=0, maximum=MAX_PAYOUT_DOLLARS),
        "sigma_model": {
            "enum": ["log_odds", "price"],
            "default": "log_odds",
            "description": "How σ is estimated when `sigma` is 0. `log_odds`: from the reference's log-odds "
            "ln(p/(1−p)) sampled every `sigma_sample_seconds`, by bipower variation (jumps enter only "
            "times their neighbours) with a first-order tick-noise correction, converted to dollars as payout·p(1−p)·σ_x at the current p. `price`: "
            "the time-decayed mean of squared reference changes in dollars (every change counts).",
        },
        "sigma_sample_seconds": _number(
            10, "Sampling interval of the `log_odds` estimator, seconds.", minimum=0, exclusive=True, maximum=DAY_SECONDS),
        "sigma_initial": _number(
            0.005,
            "σ used until `sigma_min_moves` mid changes were seen, dollars per √time unit.",
            minimum=0,
            exclusive=True, maximum=MAX_PAYOUT_DOLLARS),
        "sigma_floor": _number(0.001, "Lowest σ the estimate may give, dollars per √time unit.", minimum=0, maximum=MAX_PAYOUT_DOLLARS),
        "sigma_halflife_seconds": _number(
            300, "Half-life of the time-decayed σ estimate, seconds.", minimum=0, exclusive=True, maximum=YEAR_SECONDS),
        "sigma_min_moves": {
            "type": "integer",
            "minimum": 1,
            "maximum": 1_000_000,
            "default": 20,
            "description": "Reference changes (non-zero sampled increments for `log_odds`) needed before the σ "
            "estimate replaces `sigma_initial`.",
        },
        "time_unit_seconds": _number(
            1, "Seconds per model time unit (the unit of T−t, σ² and A).", minimum=0, exclusive=True, maximum=WEEK_SECONDS),
        "horizon": {
            "enum": ["close", "fixed", "rolling"],
            "default": "close",
            "description": "T: the market's `close` time (uncapped: the inventory term grows with the time "
            "left to resolution; markets without a close time use `horizon_seconds`), `fixed` = first "
            "quote + `horizon_seconds`, or `rolling`: T−t is always `horizon_seconds`.",
        },
        "horizon_seconds": _number(
            3600, "Horizon length, seconds (see `horizon`).", minimum=0, exclusive=True, maximum=YEAR_SECONDS),
        "reference": {
            "enum": list(REFERENCES),
            "default": "mid",
            "description": "The price s: book `mid`, size-weighted `microprice`, or an external `fair_value`.",
        },
        "size": _number(1, "Order size per side, contracts (Δ in `glft`).", minimum=0, exclusive=True, maximum=MAX_ORDER_CONTRACTS, step=0.01),
        "size_increment": _number(
            1, "Sizes round down to a multiple of this many contracts.", minimum=0, exclusive=True, maximum=MAX_ORDER_CONTRACTS, step=0.01),
        "size_shape": _number(
            0,
            "Inventory-scaled sizes: the side that grows |q| quotes size·e^(−η|q|) with this η per contract "
            "(0 keeps sizes fixed).",
            minimum=0, maximum=100),
        "max_inventory": _number(
            0,
            "Stop quoting the side that would take |q| beyond this many contracts; 0 means no bound.",
            minimum=0, maximum=MAX_CONTRACTS, step=0.01),
        "close_behaviour": {
            "enum": ["none", "widen", "flatten"],
            "default": "none",
            "description": "The last `close_window_seconds` before the market's close: `widen` moves both "
            "quotes out by up to `close_widen` (linearly, 0 at the window's start to all of it at close); "
            "`flatten` quotes only the side that reduces the position, sized to it, one tick behind the "
            "other side's best price (nothing when flat); `none` changes nothing.",
        },
        "close_window_seconds": _number(
            900, "Length of the window before close that `close_behaviour` applies to, seconds.",
            minimum=0, exclusive=True, maximum=YEAR_SECONDS),
        "close_widen": _number(
            0.05, "Extra depth per side at the close for `widen`, dollars.", minimum=0, maximum=MAX_PAYOUT_DOLLARS,
            step=0.0001),
        "skew": {
            "type": "boolean",
            "default": True,
            "description": "Shift the quotes with inventory (the model's reservation price). false centres "
            "the same spread on the reference price whatever the position: Avellaneda & Stoikov's "
            "symmetric benchmark (`pipelines/as2008-symmetric.yaml`).",
        },
        "allow_cross": {
            "type": "boolean",
            "default": False,
            "description": "Let a quote reach the other side of the book (normally bids stay below the best "
            "ask and asks above the best bid).",
        },
    },
}

UPDATABLE = frozenset(
    {
        "gamma",
        "k",
        "A",
        "estimate_k",
        "sigma",
        "sigma_initial",
        "sigma_floor",
        "horizon_seconds",
        "size",
        "size_shape",
        "max_inventory",
        "k_prior_fills",
        "k_min",
        "k_max",
        "close_behaviour",
        "close_window_seconds",
        "close_widen",
        "skew",
        "allow_cross",
    }
)

EXAMPLE: dict[str, Any] = {
    "gamma": 0.1,
    "k": 1.5,
    "sigma": 0,
    "horizon": "close",
    "horizon_seconds": 3600,
    "size": 10,
}


@dataclass(frozen=True, slots=True)
class ASParams:
    """The config, as floats for the model and integers for sizes."""

    model: str
    glft_solution: str
    gamma: float
    k: float
    a: float
    estimate_k: bool
    k_min_fills: int
    k_bin_width: float
    k_prior_fills: float
    k_min: float
    k_max: float
    sigma2: float  # 0: estimate
    sigma_model: str
    sigma_sample_ns: int
    sigma2_initial: float
    sigma2_floor: float
    sigma_halflife_ns: float
    sigma_min_moves: int
    unit_ns: float
    horizon: str
    horizon_ns: int
    reference: str
    size: Count
    size_increment: Count
    size_shape: float
    max_inventory: Count
    close_behaviour: str
    close_window_ns: int
    close_widen: float
    allow_cross: bool
    skew: bool = True

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ASParams:
        def real(name: str) -> float:
            return float(fraction_from_config(config[name], name))

        params = cls(
            model=config["model"],
            glft_solution=config["glft_solution"],
            gamma=real("gamma"),
            k=real("k"),
            a=real("A"),
            estimate_k=bool(config["estimate_k"]),
            k_min_fills=config["k_min_fills"],
            k_bin_width=real("k_bin_width"),
            k_prior_fills=real("k_prior_fills"),
            k_min=real("k_min"),
            k_max=real("k_max"),
            sigma2=real("sigma") ** 2,
            sigma_model=config["sigma_model"],
            sigma_sample_ns=max(1, int(fraction_from_config(config["sigma_sample_seconds"], "sigma_sample_seconds")
                                       * NANOS_PER_SECOND)),
            sigma2_initial=real("sigma_initial") ** 2,
            sigma2_floor=real("sigma_floor") ** 2,
            sigma_halflife_ns=real("sigma_halflife_seconds") * NANOS_PER_SECOND,
            sigma_min_moves=config["sigma_min_moves"],
            unit_ns=real("time_unit_seconds") * NANOS_PER_SECOND,
            horizon=config["horizon"],
            horizon_ns=int(fraction_from_config(config["horizon_seconds"], "horizon_seconds") * NANOS_PER_SECOND),
            reference=config["reference"],
            size=count_from_config(config["size"], "size"),
            size_increment=count_from_config(config["size_increment"], "size_increment"),
            size_shape=real("size_shape"),
            max_inventory=count_from_config(config["max_inventory"], "max_inventory"),
            close_behaviour=config["close_behaviour"],
            close_window_ns=int(fraction_from_config(config["close_window_seconds"], "close_window_seconds")
                                * NANOS_PER_SECOND),
            close_widen=real("close_widen"),
            allow_cross=bool(config["allow_cross"]),
            skew=bool(config.get("skew", True)),
        )
        if params.size < params.size_increment:
            raise ConfigError(f"{NAME}: size is smaller than size_increment", field="size")
        if params.k_min > params.k_max:
            raise ConfigError(f"{NAME}: k_min is above k_max", field="k_min")
        if params.unit_ns < 1:
            raise ConfigError(f"{NAME}: time_unit_seconds must be at least one nanosecond", field="time_unit_seconds")
        return params


class _MarketState:
    """What the strategy remembers about one market."""

    __slots__ = ("ask_depth", "bid_depth", "intensity", "log_odds", "p", "payout_dollars", "quoted_ns", "start_ns", "variance")

    def __init__(self, p: ASParams, now_ns: int) -> None:
        self.variance = MidVariance(p.sigma_halflife_ns, p.unit_ns)
        self.log_odds = LogOddsVariance(p.sigma_sample_ns, p.sigma_halflife_ns, p.unit_ns)
        self.p = 0.5  # the reference as a fraction of the payout, at the last quote
        self.payout_dollars = 1.0
        self.intensity = FillIntensity(p.k_bin_width)
        self.start_ns = now_ns
        self.quoted_ns: int | None = None
        self.bid_depth: float | None = None
        self.ask_depth: float | None = None


class AvellanedaStoikovStrategy(Configured[ASParams]):
    """One bid and one ask per market from the Avellaneda–Stoikov (or GLFT) model.

    Per quote: s from the reference; σ² fixed or estimated; T−t from the horizon; q = position in
    contracts. ``as``: r = s − qγσ²(T−t), spread = γσ²(T−t) + (2/γ)ln(1+γ/k), bid/ask = r ∓ spread/2.
    ``glft``: with Δ = size, c1 = ln(1+γΔ/k)/(γΔ), c2 = √(γσ²/(2AΔk)·(1+γΔ/k)^(1+k/(γΔ))),
    bid = s − c1 − (2q+Δ)/2·c2, ask = s + c1 − (2q−Δ)/2·c2 (Guéant 2017's form with lot size Δ;
    Δ = 1 is GLFT 2013), or with ``glft_solution: finite`` and 1..12 lots of inventory the exact
    finite-horizon quotes at T−t (`mmframe_strategies._glft`). σ is estimated in log-odds and
    converted through p(1−p) (``sigma_model``); k is fitted from our fills with a prior and bounds
    (``estimate_k``); the last ``close_window_seconds`` before close widen or flatten
    (``close_behaviour``). Then: bid rounds down and ask rounds up to the grid, a price beyond the
    grid is clamped to its edge (a clamped side that would meet the other is dropped), and unless
    ``allow_cross`` the bid stays below the best ask and the ask above the best bid. The side that
    would push |q| past ``max_inventory`` is not quoted. An invalid, crossed or locked book, or a
    missing reference, pulls the market.
    """

    KIND = Kind.STRATEGY
    NAME = NAME
    SUMMARY = "Avellaneda–Stoikov inventory-aware quotes (optionally GLFT bounded inventory); σ and k online."
    SCHEMA = SCHEMA
    UPDATABLE = UPDATABLE
    EXAMPLE = EXAMPLE

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self._markets: dict[str, _MarketState] = {}
        self._hold = ReferenceHold()

    def parse(self, config: Mapping[str, Any]) -> ASParams:
        return ASParams.from_config(config)

    def params_changed(self) -> None:
        self._params = self.params

    def sigma2(self, ticker: str) -> float:
        """σ² now for ``ticker`` (dollars² per time unit): fixed, estimated, or the cold-start value.

        With `sigma_model` ``log_odds`` the estimate is σ_x² (log-odds² per time unit) converted at
        the reference's last p: σ² = (payout·p(1−p))²·σ_x² (the delta method: dp/dx = p(1−p)).
        """
        p = self._params
        if p.sigma2 > 0.0:
            return p.sigma2
        state = self._markets.get(ticker)
        estimate: float | None = None
        if state is not None:
            if p.sigma_model == "log_odds":
                x_variance = state.log_odds.variance(p.sigma_min_moves)
                if x_variance is not None:
                    slope = state.payout_dollars * state.p * (1.0 - state.p)
                    estimate = slope * slope * x_variance
            else:
                estimate = state.variance.variance(p.sigma_min_moves)
        return p.sigma2_initial if estimate is None else max(estimate, p.sigma2_floor)

    def intensity(self, ticker: str) -> tuple[float, float]:
        """(k, A) in use for ``ticker``: fitted when ``estimate_k`` has enough fills, else configured.

        The fit is shrunk toward the configured values as a prior worth `k_prior_fills` fills (a
        weighted mean of ln k, and of A), then bounded by `k_min`..`k_max`: a handful of fills at
        one lucky depth cannot send k to the fit's extremes.
        """
        p = self._params
        state = self._markets.get(ticker)
        if (
            p.estimate_k
            and state is not None
            and state.intensity.k is not None
            and state.intensity.a is not None
        ):
            n = float(state.intensity.fills)
            weight = n / (n + p.k_prior_fills)
            k = math.exp(weight * math.log(state.intensity.k) + (1.0 - weight) * math.log(p.k))
            a = weight * state.intensity.a + (1.0 - weight) * p.a
            return min(max(k, p.k_min), p.k_max), a
        return p.k, p.a

    def on_fill(self, fill: OrderFilled, market: MarketView) -> None:
        """Count the fill at the depth its side was quoted at (for the k fit)."""
        p = self._params
        state = self._markets.get(fill.ticker)
        if not p.estimate_k or state is None:
            return
        depth = state.bid_depth if fill.side is BookSide.BID else state.ask_depth
        if depth is None:
            return
        state.intensity.fill(depth)
        if state.intensity.fills >= p.k_min_fills:
            state.intensity.fit()

    def quote(self, market: MarketView) -> Quote:
        """The quote for ``market`` now (see the class docstring)."""
        p = self._params
        ticker = market.ticker
        top = touch(market.book)
        if top is None:
            return Quote.empty(ticker)
        reference = self._hold.reference(market, p.reference)
        if reference is None:
            return Quote.empty(ticker)
        best_bid, best_ask = top
        now = market.now_ns
        state = self._markets.get(ticker)
        if state is None:
            state = self._markets[ticker] = _MarketState(p, now)
        payout = market.book.payout
        state.payout_dollars = payout / PRICE_SCALE
        state.p = min(max(reference / payout, 0.0), 1.0)
        if p.sigma2 <= 0.0:
            if p.sigma_model == "log_odds":
                state.log_odds.update(log_odds(state.p), now)
            else:
                state.variance.update(reference, now)
        if p.estimate_k and state.quoted_ns is not None:
            self._expose(state, now)

        s = reference / PRICE_SCALE
        position = market.position.position
        # Unskewed, the model quotes as if flat: the same spread, centred on the reference.
        q = position / COUNT_SCALE if p.skew else 0.0
        sigma2 = self.sigma2(ticker)
        k, a = self.intensity(ticker)
        gamma = p.gamma
        drop_bid = drop_ask = False  # a side the finite GLFT solution does not quote
        if p.model == "as":
            inventory_term = gamma * sigma2 * self._time_left(market, state, now)
            r = s - q * inventory_term
            half = 0.5 * inventory_term + math.log1p(gamma / k) / gamma
            bid_dollars, ask_dollars = r - half, r + half
        else:
            glft_bid, glft_ask = self._glft(market, state, now, s, q, sigma2, k, a)
            # A side the finite solution does not quote is placed beyond the grid (clamped to its
            # edge) and dropped once on the grid.
            drop_bid, drop_ask = glft_bid is None, glft_ask is None
            bid_dollars = -1.0 if glft_bid is None else glft_bid
            ask_dollars = self._payout_edge(market) if glft_ask is None else glft_ask

        closing = self._closing(market, now)  # None outside the window; 0 at its start, 1 at the close
        if closing is not None and p.close_behaviour == "widen":
            extra = closing * p.close_widen
            bid_dollars, ask_dollars = bid_dollars - extra, ask_dollars + extra
        bid, ask = self._on_grid(market, bid_dollars, ask_dollars, best_bid, best_ask)
        if drop_bid:
            bid = None
        if drop_ask:
            ask = None
        bid_size, ask_size = self._sizes(q)
        if closing is not None and p.close_behaviour == "flatten":
            bid, ask, bid_size, ask_size = self._flatten(market, position, best_bid, best_ask)
        if p.max_inventory:
            # The losing side: the one whose fill would take |q| past the bound is not quoted.
            if position + bid_size > p.max_inventory:
                bid = None
            if position - ask_size < -p.max_inventory:
                ask = None
        if not bid_size:
            bid = None
        if not ask_size:
            ask = None

        state.quoted_ns = now
        state.bid_depth = None if bid is None else s - bid / PRICE_SCALE
        state.ask_depth = None if ask is None else ask / PRICE_SCALE - s
        return Quote(
            ticker,
            () if bid is None else (Level(bid, bid_size),),
            () if ask is None else (Level(ask, ask_size),),
        )

    def _glft(
        self, market: MarketView, state: _MarketState, now: int, s: float, q: float, sigma2: float, k: float, a: float
    ) -> tuple[float | None, float | None]:
        """GLFT bid and ask in dollars: finite-horizon when the inventory grid is small enough,
        else the asymptotic closed form. None for a side the finite solution does not quote (at
        ±N lots)."""
        p = self._params
        gamma = p.gamma
        lot = p.size / COUNT_SCALE
        lots = p.max_inventory // p.size if p.size else 0
        if p.glft_solution == "finite" and 1 <= lots <= MAX_LOTS:
            n = max(-lots, min(lots, round(q / lot)))
            tau = self._time_left(market, state, now)
            bid_depth, ask_depth = glft_depths(
                gamma=gamma, sigma2=sigma2, k=k, a=a, lot=lot, lots=lots, tau=tau, n=n
            )
            return (
                None if bid_depth is None else s - bid_depth,
                None if ask_depth is None else s + ask_depth,
            )
        gl = gamma * lot
        c1 = math.log1p(gl / k) / gl
        c2 = math.sqrt(gamma * sigma2 / (2.0 * a * lot * k) * (1.0 + gl / k) ** (1.0 + k / gl))
        return s - c1 - (2.0 * q + lot) / 2.0 * c2, s + c1 - (2.0 * q - lot) / 2.0 * c2

    @staticmethod
    def _payout_edge(market: MarketView) -> float:
        return market.book.payout / PRICE_SCALE + 1.0

    def _closing(self, market: MarketView, now: int) -> float | None:
        """How far into the pre-close window ``now`` is (0 at its start, 1 at or after the close), or
        None outside it, without a close time, or with `close_behaviour` ``none``."""
        p = self._params
        info = market.info
        close = info.close_ts_ns if info is not None else None
        if p.close_behaviour == "none" or close is None:
            return None
        left = close - now
        if left > p.close_window_ns:
            return None
        return 1.0 if left <= 0 else 1.0 - left / p.close_window_ns

    def _flatten(
        self, market: MarketView, position: Count, best_bid: Price | None, best_ask: Price | None
    ) -> tuple[Price | None, Price | None, Count, Count]:
        """Only the side that reduces ``position``, sized to it (rounded down to the increment),
        priced one tick behind the other side's best (the most eager price a post-only order can
        rest at); the model's price when that side of the book is empty."""
        grid = grid_of(market)
        increment = self._params.size_increment
        size = min(self._params.size, abs(position)) // increment * increment
        if position > 0 and size:
            ask = grid.next_up(best_bid) if best_bid is not None else grid.max_price
            return None, ask, 0, size
        if position < 0 and size:
            bid = grid.next_down(best_ask) if best_ask is not None else grid.min_price
            return bid, None, size, 0
        return None, None, 0, 0

    def _time_left(self, market: MarketView, state: _MarketState, now: int) -> float:
        p = self._params
        if p.horizon == "rolling":
            left = p.horizon_ns
        elif p.horizon == "fixed":
            left = state.start_ns + p.horizon_ns - now
        else:
            info = market.info
            close = info.close_ts_ns if info is not None else None
            left = p.horizon_ns if close is None else close - now  # no cap: resolution risk is real
        return left / p.unit_ns if left > 0 else 0.0

    def _expose(self, state: _MarketState, now: int) -> None:
        assert state.quoted_ns is not None
        elapsed = (now - state.quoted_ns) / self._params.unit_ns
        if elapsed <= 0.0:
            return
        if state.bid_depth is not None:
            state.intensity.expose(state.bid_depth, elapsed)
        if state.ask_depth is not None:
            state.intensity.expose(state.ask_depth, elapsed)

    def _on_grid(
        self,
        market: MarketView,
        bid_dollars: float,
        ask_dollars: float,
        best_bid: Price | None,
        best_ask: Price | None,
    ) -> tuple[Price | None, Price | None]:
        grid = grid_of(market)
        bid_units = math.floor(bid_dollars * PRICE_SCALE + _EPSILON)
        ask_units = math.ceil(ask_dollars * PRICE_SCALE - _EPSILON)
        bid = grid.round_down(bid_units)
        ask = grid.round_up(ask_units)
        bid_clamped = bid is None
        ask_clamped = ask is None
        if bid is None:
            bid = grid.min_price
        if ask is None:
            ask = grid.max_price
        if not self._params.allow_cross:
            if best_ask is not None and bid >= best_ask:
                bid = grid.next_down(best_ask)
            if best_bid is not None and ask <= best_bid:
                ask = grid.next_up(best_bid)
        if bid is not None and ask is not None and bid >= ask:
            if bid_clamped:
                bid = None
            elif ask_clamped:
                ask = None
            else:
                bid = ask = None
        return bid, ask

    def _sizes(self, q: float) -> tuple[Count, Count]:
        p = self._params
        bid = ask = p.size
        if p.size_shape and q:
            shrunk = int(p.size * math.exp(-p.size_shape * abs(q)))
            if q > 0:
                bid = shrunk
            else:
                ask = shrunk
        increment = p.size_increment
        return bid // increment * increment, ask // increment * increment


SPEC = AvellanedaStoikovStrategy.spec()
