"""Synthetic market participants, seeded and reproducible, trading through the same matching engine.

Per market there is a hidden fair probability moving as a logit random walk with jumps. Around it:

- **liquidity providers** rest a few levels of bids and asks at fair -/+ a half spread, refreshed
  periodically, so the book always has depth and a market maker has room to quote inside;
- **noise takers** arrive as a Poisson process and cross the spread with IOC orders of random side and
  size (uninformed flow a market maker earns the spread on);
- **informed takers** look at the book as a Poisson process and take whatever is mispriced against the
  fair probability by more than an edge (adverse selection a market maker pays for).

Knobs that make the market harder to make (all off unless a scenario turns them on; see
docs/simulator.md and ``scenarios/news.yaml``):

- ``converge``: the fair value follows `fair_model.ConvergingPath` and ends at the outcome at close;
- ``liquidity_estimate_weight``: the liquidity providers do not know the fair value, they follow the
  tape (`makers.TradeEstimator`) and keep their queue place;
- ``competitors``: makers quoting a cent wide around their own tape estimate;
- ``noise_tolerance``: noise takers are price sensitive (each takes only within a random distance of
  the mid);
- ``news``: fair-value jumps that informed traders sweep the stale book on after a reaction delay.

Every trade is tagged with its counterparties in the exchange's `truth.TruthLog`; `COUNTERPARTY_CLASS`
names the class of each synthetic trader.

Every random draw comes from the exchange's seeded generator, in exchange-time order, so a scenario
replays identically.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from mmframe.api import NANOS_PER_SECOND
from mmframe_sim.fair_model import ConvergingPath, NewsConfig, news_jump
from mmframe_sim.floor import Floor
from mmframe_sim.makers import CompetitorConfig, QuoteKeeper, TradeEstimator, check_weight
from mmframe_sim.model import MarketStatus, OrderRequest, SelfTradePrevention, Side, TimeInForce
from mmframe_sim.money import ONE, Count, Price

LIQUIDITY_USER = "sim-liquidity"
NOISE_USER = "sim-noise"
INFORMED_USER = "sim-informed"
COMPETITOR_USER = "sim-competitor"
NEWS_USER = "sim-news"
COUNTERPARTY_CLASS: dict[str, str] = {
    LIQUIDITY_USER: "maker_background",
    COMPETITOR_USER: "maker_competitor",
    NOISE_USER: "noise",
    INFORMED_USER: "informed",
    NEWS_USER: "informed",
}
"""Counterparty class of each synthetic trader's user id (any other user is an API account)."""
_PARTICIPANT_BALANCE: Price = 1_000_000_000 * 10_000  # $1B: synthetic traders never run out
_MIN_PROB = 0.02
_MAX_PROB = 0.98


@dataclass(frozen=True, slots=True)
class ParticipantConfig:
    """Intensities of the synthetic traders (probabilities and sizes in natural units)."""

    fair_step_seconds: float = 1.0
    liquidity_refresh_seconds: float = 5.0
    liquidity_half_spread: float = 0.04
    liquidity_levels: int = 3
    liquidity_level_gap: float = 0.01
    liquidity_size: int = 50
    noise_rate_per_minute: float = 6.0
    noise_min_size: int = 1
    noise_max_size: int = 20
    noise_slippage: float = 0.02
    informed_rate_per_minute: float = 2.0
    informed_edge: float = 0.03
    informed_size: int = 10
    converge: bool = False
    """Fair value converges to the outcome at close (`fair_model.ConvergingPath`) instead of the
    open-ended logit walk; markets without a close time keep the walk."""
    converge_final_hours: float = 0.0
    """With ``converge``: uncertainty left for the close itself, in hours of the score's diffusion
    (0: the fair value reaches 0 or 1 by the close; more: it converges less and the close decides)."""
    liquidity_estimate_weight: float | None = None
    """None: liquidity providers quote around the true fair value (re-placing every refresh). A
    weight: they quote around an estimate from the tape, each trade pulling it this far, and leave
    unchanged quotes in the queue."""
    noise_tolerance: float = 0.0
    """0: noise takers cross whatever the spread (``noise_slippage`` past the touch). Positive: each
    takes only up to a random distance from the mid, exponential with this mean (probability)."""
    competitors: CompetitorConfig | None = None
    news: NewsConfig | None = None

    def __post_init__(self) -> None:
        for name in ("fair_step_seconds", "liquidity_refresh_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"participants: {name} must be positive")
        for name in ("noise_rate_per_minute", "informed_rate_per_minute", "liquidity_half_spread"):
            if getattr(self, name) < 0:
                raise ValueError(f"participants: {name} must not be negative")
        if not 1 <= self.noise_min_size <= self.noise_max_size:
            raise ValueError("participants: need 1 <= noise_min_size <= noise_max_size")
        if self.liquidity_levels < 0 or self.liquidity_size < 0 or self.informed_size < 0:
            raise ValueError("participants: levels and sizes must not be negative")
        if self.liquidity_estimate_weight is not None:
            check_weight("liquidity", self.liquidity_estimate_weight)
        if self.converge_final_hours < 0:
            raise ValueError("participants: converge final_hours must not be negative")
        if self.noise_tolerance < 0:
            raise ValueError("participants: noise tolerance must not be negative")


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _to_price(probability: float) -> Price:
    return round(probability * ONE)


class Participants:
    """The synthetic traders of one exchange. `attach` starts them in a market."""

    def __init__(self, exchange: Floor, config: ParticipantConfig, rng: random.Random) -> None:
        self._x = exchange
        self.config = config
        self._rng = rng
        self._opened = False
        self._paths: dict[str, ConvergingPath] = {}
        self._estimates: dict[tuple[str, str], TradeEstimator] = {}
        self._keepers: dict[tuple[str, str], QuoteKeeper] = {}
        self._last_step: dict[str, int] = {}
        self._published: dict[str, float] = {}
        """The fair value each converging path last set (to notice one set from outside)."""

    def user_ids(self) -> list[str]:
        users = [LIQUIDITY_USER, NOISE_USER, INFORMED_USER]
        if self.config.competitors is not None:
            users.append(COMPETITOR_USER)
        if self.config.news is not None:
            users.append(NEWS_USER)
        return users

    def attach(self, ticker: str) -> None:
        """Start the fair-value walk and the three kinds of traders in ``ticker``."""
        x = self._x
        if not self._opened:
            for user in self.user_ids():
                x.open_account(user, balance=_PARTICIPANT_BALANCE)
            self._opened = True
        now = x.now_ns()
        cfg = self.config
        x.schedule(now + self._seconds(cfg.fair_step_seconds), lambda t: self._step_fair(ticker, t))
        x.schedule(now, lambda t: self._refresh_liquidity(ticker, t))
        if cfg.noise_rate_per_minute > 0:
            x.schedule(now + self._poisson_gap(cfg.noise_rate_per_minute), lambda t: self._noise(ticker, t))
        if cfg.informed_rate_per_minute > 0:
            x.schedule(
                now + self._poisson_gap(cfg.informed_rate_per_minute), lambda t: self._informed(ticker, t)
            )
        if cfg.competitors is not None:
            x.schedule(now, lambda t: self._refresh_competitor(ticker, t))
        if cfg.news is not None and cfg.news.rate_per_hour > 0:
            x.schedule(now + self._poisson_gap(cfg.news.rate_per_hour / 60.0), lambda t: self._news(ticker, t))

    # --- scheduling helpers ---------------------------------------------------------------------

    @staticmethod
    def _seconds(seconds: float) -> int:
        return max(1, int(seconds * NANOS_PER_SECOND))

    def _poisson_gap(self, rate_per_minute: float) -> int:
        return self._seconds(self._rng.expovariate(rate_per_minute / 60.0))

    def _alive(self, ticker: str) -> bool:
        status = self._x.market_state_in_loop(ticker).status
        return status not in (MarketStatus.DETERMINED, MarketStatus.FINALIZED)

    # --- fair value ---------------------------------------------------------------------------------

    def _hours_to_close(self, ticker: str, now: int) -> float | None:
        close = self._x.market_state_in_loop(ticker).close_ts_ns
        return (close - now) / (3600 * NANOS_PER_SECOND) if close > 0 else None

    def _path(self, ticker: str, now: int) -> ConvergingPath | None:
        """The converging path of ``ticker`` (None: the logit walk), re-anchored if the fair value
        was set from outside (a scripted fault, the admin API) since the path last set it."""
        tau = self._hours_to_close(ticker, now)
        if not self.config.converge or tau is None:
            return None
        fair = self._x.fair_of(ticker)
        path = self._paths.get(ticker)
        if path is None:
            path = self._paths[ticker] = ConvergingPath(fair, tau, self.config.converge_final_hours)
        elif tau > 0 and self._published.get(ticker) != fair:
            path.set_probability(fair, tau)
        return path

    def _publish(self, ticker: str, probability: float) -> None:
        self._published[ticker] = probability
        self._x.set_fair_in_loop(ticker, probability)

    def _step_fair(self, ticker: str, now: int) -> None:
        if not self._alive(ticker):
            return
        x = self._x
        path = self._path(ticker, now)
        if path is not None:
            self._step_converging(ticker, path, now)
            return
        spec = x.market_state_in_loop(ticker).spec
        dt_hours = self.config.fair_step_seconds / 3600.0
        logit = _logit(x.fair_of(ticker)) + spec.volatility * math.sqrt(dt_hours) * self._rng.gauss(0.0, 1.0)
        if spec.jump_rate > 0 and self._rng.random() < spec.jump_rate * dt_hours:
            logit += self._rng.gauss(0.0, spec.jump_size)
        x.set_fair_in_loop(ticker, min(_MAX_PROB, max(_MIN_PROB, _expit(logit))))
        x.schedule(now + self._seconds(self.config.fair_step_seconds), lambda t: self._step_fair(ticker, t))

    def _step_converging(self, ticker: str, path: ConvergingPath, now: int) -> None:
        """Diffuse the score; one nanosecond before close publish the outcome itself (0 or 1), so the
        exchange's determination at close settles the market the way the path went."""
        x = self._x
        close = x.market_state_in_loop(ticker).close_ts_ns
        step = self._seconds(self.config.fair_step_seconds)
        last = self._last_step.get(ticker, now)
        self._last_step[ticker] = now
        if now >= close - 1:
            self._publish(ticker, path.resolve(self._rng.random()))
            # normally the market closes a nanosecond later and this finds it determined; if its
            # close time was moved later meanwhile, the path goes on from its score
            x.schedule(now + step, lambda t: self._step_fair(ticker, t))
            return
        path.step((now - last) / (3600 * NANOS_PER_SECOND), self._rng.gauss(0.0, 1.0))
        self._publish(ticker, path.probability((close - now) / (3600 * NANOS_PER_SECOND)))
        x.schedule(min(now + step, close - 1), lambda t: self._step_fair(ticker, t))

    # --- liquidity providers ---------------------------------------------------------------------------

    def _refresh_liquidity(self, ticker: str, now: int) -> None:
        if not self._alive(ticker):
            return
        x = self._x
        cfg = self.config
        jitter = 0.8 + 0.4 * self._rng.random()
        x.schedule(
            now + self._seconds(cfg.liquidity_refresh_seconds * jitter),
            lambda t: self._refresh_liquidity(ticker, t),
        )
        if not x.is_trading(ticker):
            return
        if cfg.liquidity_estimate_weight is not None:
            self._refresh_estimating_liquidity(ticker, cfg.liquidity_estimate_weight, now)
            return
        x.cancel_user_orders_in_loop(LIQUIDITY_USER, ticker, now)
        grid = x.grid_of(ticker)
        fair = x.fair_of(ticker)
        size = cfg.liquidity_size * 100
        if size <= 0:
            return
        for level in range(cfg.liquidity_levels):
            offset = cfg.liquidity_half_spread + level * cfg.liquidity_level_gap
            bid = grid.round_down(_to_price(fair - offset))
            ask = grid.round_up(_to_price(fair + offset))
            if bid is not None and bid >= grid.min_price:
                self._place(LIQUIDITY_USER, ticker, Side.BID, bid, size, TimeInForce.GOOD_TILL_CANCELED)
            if ask is not None and ask <= grid.max_price:
                self._place(LIQUIDITY_USER, ticker, Side.ASK, ask, size, TimeInForce.GOOD_TILL_CANCELED)

    def _estimate(self, user: str, ticker: str, weight: float) -> float:
        est = self._estimates.get((user, ticker))
        if est is None:
            est = self._estimates[(user, ticker)] = TradeEstimator(self._x.fair_of(ticker), weight)
        return est.update(self._x.truth, ticker)

    def _keeper(self, user: str, ticker: str) -> QuoteKeeper:
        keeper = self._keepers.get((user, ticker))
        if keeper is None:
            keeper = self._keepers[(user, ticker)] = QuoteKeeper(self._x, user, ticker)
        return keeper

    def _refresh_estimating_liquidity(self, ticker: str, weight: float, now: int) -> None:
        """The background book around the tape's estimate, not the hidden fair value."""
        cfg = self.config
        grid = self._x.grid_of(ticker)
        est = self._estimate(LIQUIDITY_USER, ticker, weight)
        size = cfg.liquidity_size * 100
        wanted: dict[tuple[Side, Price], Count] = {}
        for level in range(cfg.liquidity_levels if size > 0 else 0):
            offset = cfg.liquidity_half_spread + level * cfg.liquidity_level_gap
            bid = grid.round_down(max(_to_price(est - offset), grid.min_price))
            ask = grid.round_up(min(_to_price(est + offset), grid.max_price))
            if bid is not None:
                wanted[(Side.BID, bid)] = size
            if ask is not None:
                wanted[(Side.ASK, ask)] = size
        self._keeper(LIQUIDITY_USER, ticker).keep(wanted, now)

    def _refresh_competitor(self, ticker: str, now: int) -> None:
        """A maker quoting a cent wide around its own tape estimate: the touch the others queue behind."""
        comp = self.config.competitors
        if comp is None or not self._alive(ticker):
            return
        x = self._x
        jitter = 0.8 + 0.4 * self._rng.random()
        x.schedule(now + self._seconds(comp.refresh_seconds * jitter), lambda t: self._refresh_competitor(ticker, t))
        if not x.is_trading(ticker):
            return
        grid = x.grid_of(ticker)
        est = self._estimate(COMPETITOR_USER, ticker, comp.estimate_weight)
        size = comp.size * 100
        bid = grid.round_down(max(_to_price(est - comp.width / 2), grid.min_price))
        ask = None if bid is None else grid.round_up(min(bid + max(1, _to_price(comp.width)), grid.max_price))
        wanted: dict[tuple[Side, Price], Count] = {}
        if size > 0 and bid is not None and ask is not None and bid < ask:
            wanted = {(Side.BID, bid): size, (Side.ASK, ask): size}
        self._keeper(COMPETITOR_USER, ticker).keep(wanted, now)

    # --- news ----------------------------------------------------------------------------------------

    def _news(self, ticker: str, now: int) -> None:
        """A fair-value jump now; the informed traders who saw it sweep the stale book after their
        reaction delays (the book learns only from their trades)."""
        news = self.config.news
        if news is None or not self._alive(ticker):
            return
        x = self._x
        rng = self._rng
        x.schedule(now + self._poisson_gap(news.rate_per_hour / 60.0), lambda t: self._news(ticker, t))
        size = rng.uniform(news.min_jump, news.max_jump)
        direction = rng.random()
        delays = [rng.uniform(news.min_delay_ms, news.max_delay_ms) for _ in range(news.traders)]
        if not x.is_trading(ticker):
            return
        path = self._path(ticker, now)
        before = x.fair_of(ticker)
        fair = news_jump(before, size, direction)
        tau = self._hours_to_close(ticker, now)
        if path is not None and tau is not None and tau > 0:
            path.set_probability(fair, tau)
            self._publish(ticker, path.probability(tau))
        else:
            x.set_fair_in_loop(ticker, fair)
        x.truth.record_news(ticker, now, before, x.fair_of(ticker))
        for delay_ms in delays:
            x.schedule(now + max(1, int(delay_ms * 1_000_000)), lambda t: self._sweep(ticker))

    def _sweep(self, ticker: str) -> None:
        news = self.config.news
        if news is not None and self._alive(ticker) and self._x.is_trading(ticker):
            self._take_mispriced(NEWS_USER, ticker, news.edge, news.size * 100)

    # --- takers ---------------------------------------------------------------------------------------------

    def _noise(self, ticker: str, now: int) -> None:
        if not self._alive(ticker):
            return
        x = self._x
        cfg = self.config
        x.schedule(now + self._poisson_gap(cfg.noise_rate_per_minute), lambda t: self._noise(ticker, t))
        side = Side.BID if self._rng.random() < 0.5 else Side.ASK
        size = self._rng.randint(cfg.noise_min_size, cfg.noise_max_size) * 100
        if not x.is_trading(ticker):
            return
        yes_bid, _, yes_ask, _ = x.book_of(ticker).top()
        grid = x.grid_of(ticker)
        if cfg.noise_tolerance > 0:
            self._sensitive_noise(ticker, side, size, yes_bid, yes_ask)
            return
        slip = _to_price(cfg.noise_slippage)
        if side is Side.BID:
            if yes_ask >= ONE:
                return
            price = grid.round_down(min(yes_ask + slip, grid.max_price))
        else:
            if yes_bid <= 0:
                return
            price = grid.round_up(max(yes_bid - slip, grid.min_price))
        if price is not None:
            self._place(NOISE_USER, ticker, side, price, size, TimeInForce.IMMEDIATE_OR_CANCEL)

    def _sensitive_noise(self, ticker: str, side: Side, size: Count, yes_bid: Price, yes_ask: Price) -> None:
        """A price-sensitive taker: walks the book only up to its own random distance from the mid,
        so a wider spread (or a quote further back) gets fewer of them."""
        tolerance = _to_price(self._rng.expovariate(1.0 / self.config.noise_tolerance))
        if yes_bid <= 0 or yes_ask >= ONE:
            return
        grid = self._x.grid_of(ticker)
        mid2 = yes_bid + yes_ask  # twice the mid: stays exact in price units
        if side is Side.BID:
            price = grid.round_down(min((mid2 + 2 * tolerance) // 2, grid.max_price))
            if price is None or price < yes_ask:
                return
        else:
            price = grid.round_up(max(-((-mid2 + 2 * tolerance) // 2), grid.min_price))
            if price is None or price > yes_bid:
                return
        self._place(NOISE_USER, ticker, side, price, size, TimeInForce.IMMEDIATE_OR_CANCEL)

    def _informed(self, ticker: str, now: int) -> None:
        if not self._alive(ticker):
            return
        x = self._x
        cfg = self.config
        x.schedule(
            now + self._poisson_gap(cfg.informed_rate_per_minute), lambda t: self._informed(ticker, t)
        )
        if not x.is_trading(ticker) or cfg.informed_size <= 0:
            return
        self._take_mispriced(INFORMED_USER, ticker, cfg.informed_edge, cfg.informed_size * 100)

    def _take_mispriced(self, user: str, ticker: str, edge: float, size: Count) -> None:
        """Buy what is offered below fair - edge or sell what is bid above fair + edge (IOC)."""
        x = self._x
        fair = x.fair_of(ticker)
        yes_bid, _, yes_ask, _ = x.book_of(ticker).top()
        grid = x.grid_of(ticker)
        if yes_ask < ONE and yes_ask < _to_price(fair - edge):
            price = grid.round_down(_to_price(fair - edge))
            if price is not None:
                self._place(user, ticker, Side.BID, price, size, TimeInForce.IMMEDIATE_OR_CANCEL)
        elif yes_bid > 0 and yes_bid > _to_price(fair + edge):
            price = grid.round_up(_to_price(fair + edge))
            if price is not None:
                self._place(user, ticker, Side.ASK, price, size, TimeInForce.IMMEDIATE_OR_CANCEL)

    def _place(self, user: str, ticker: str, side: Side, price: Price, count: int, tif: TimeInForce) -> None:
        self._x.submit_in_loop(
            user,
            OrderRequest(
                ticker=ticker,
                side=side,
                price=price,
                count=count,
                time_in_force=tif,
                self_trade_prevention_type=SelfTradePrevention.MAKER,
            ),
        )
