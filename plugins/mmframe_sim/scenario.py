"""Scenarios: YAML files listing the simulated exchange's series, events and markets, the synthetic
traders' intensities and a script of engine-level faults.

Parsed with strictyaml against a schema, so a mistake is reported with its file and line. Times are
offsets from the moment the exchange is built. See ``scenarios/standard.yaml`` for every key.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import strictyaml as sy

from mmframe.api import NANOS_PER_SECOND, Clock
from mmframe_sim.engine import DEFAULT_STARTING_BALANCE, Exchange
from mmframe_sim.fair_model import NewsConfig
from mmframe_sim.fees import FeeType
from mmframe_sim.makers import CompetitorConfig
from mmframe_sim.matching import ranges_for_structure
from mmframe_sim.model import EventSpec, MarketSpec, SeriesSpec
from mmframe_sim.money import parse_price
from mmframe_sim.participants import ParticipantConfig

ENGINE_FAULT_ACTIONS = frozenset(
    {
        "pause_trading",
        "resume_trading",
        "deactivate_market",
        "activate_market",
        "close_market",
        "settle_market",
        "set_fair_value",
    }
)
"""Fault actions the engine runs itself; any other ``action`` is left to the server (network faults)."""

_STRUCTURES = ["linear_cent", "deci_cent", "tapered_deci_cent"]

_LIQUIDITY = sy.Map(
    {
        sy.Optional("refresh_seconds"): sy.Float(),
        sy.Optional("half_spread"): sy.Float(),
        sy.Optional("levels"): sy.Int(),
        sy.Optional("level_gap"): sy.Float(),
        sy.Optional("size"): sy.Int(),
        sy.Optional("estimate_weight"): sy.Float(),
    }
)
_COMPETITORS = sy.Map(
    {
        sy.Optional("refresh_seconds"): sy.Float(),
        sy.Optional("width"): sy.Float(),
        sy.Optional("size"): sy.Int(),
        sy.Optional("estimate_weight"): sy.Float(),
    }
)
_NEWS = sy.Map(
    {
        sy.Optional("rate_per_hour"): sy.Float(),
        sy.Optional("min_jump"): sy.Float(),
        sy.Optional("max_jump"): sy.Float(),
        sy.Optional("traders"): sy.Int(),
        sy.Optional("min_delay_ms"): sy.Float(),
        sy.Optional("max_delay_ms"): sy.Float(),
        sy.Optional("edge"): sy.Float(),
        sy.Optional("size"): sy.Int(),
    }
)
_NOISE = sy.Map(
    {
        sy.Optional("rate_per_minute"): sy.Float(),
        sy.Optional("min_size"): sy.Int(),
        sy.Optional("max_size"): sy.Int(),
        sy.Optional("slippage"): sy.Float(),
        sy.Optional("tolerance"): sy.Float(),
    }
)
_INFORMED = sy.Map(
    {
        sy.Optional("rate_per_minute"): sy.Float(),
        sy.Optional("edge"): sy.Float(),
        sy.Optional("size"): sy.Int(),
    }
)
_SCHEMA = sy.Map(
    {
        "name": sy.Str(),
        sy.Optional("description"): sy.Str(),
        sy.Optional("seed"): sy.Int(),
        sy.Optional("duration_minutes"): sy.Float(),
        sy.Optional("starting_balance"): sy.Str(),
        sy.Optional("participants"): sy.Map(
            {
                sy.Optional("enabled"): sy.Bool(),
                sy.Optional("fair_step_seconds"): sy.Float(),
                sy.Optional("converge"): sy.Bool(),
                sy.Optional("converge_final_hours"): sy.Float(),
                sy.Optional("liquidity"): _LIQUIDITY,
                sy.Optional("competitors"): _COMPETITORS,
                sy.Optional("noise"): _NOISE,
                sy.Optional("informed"): _INFORMED,
                sy.Optional("news"): _NEWS,
            }
        ),
        "series": sy.Seq(
            sy.Map(
                {
                    "ticker": sy.Str(),
                    sy.Optional("title"): sy.Str(),
                    sy.Optional("category"): sy.Str(),
                    sy.Optional("fee_type"): sy.Enum([f.value for f in FeeType]),
                    sy.Optional("fee_multiplier"): sy.Float(),
                }
            )
        ),
        sy.Optional("events"): sy.Seq(
            sy.Map({"ticker": sy.Str(), "series": sy.Str(), sy.Optional("title"): sy.Str()})
        ),
        "markets": sy.Seq(
            sy.Map(
                {
                    "ticker": sy.Str(),
                    "event": sy.Str(),
                    sy.Optional("series"): sy.Str(),
                    sy.Optional("title"): sy.Str(),
                    sy.Optional("price_level_structure"): sy.Enum(_STRUCTURES),
                    sy.Optional("fractional_trading_enabled"): sy.Bool(),
                    sy.Optional("initial_probability"): sy.Float(),
                    sy.Optional("volatility"): sy.Float(),
                    sy.Optional("jump_rate"): sy.Float(),
                    sy.Optional("jump_size"): sy.Float(),
                    sy.Optional("open_offset_seconds"): sy.Float(),
                    sy.Optional("close_offset_seconds"): sy.Float(),
                    sy.Optional("settlement_timer_seconds"): sy.Int(),
                }
            )
        ),
        sy.Optional("faults"): sy.Seq(
            sy.Map(
                {
                    "at_seconds": sy.Float(),
                    "action": sy.Str(),
                    sy.Optional("ticker"): sy.Str(),
                    sy.Optional("probability"): sy.Float(),
                    sy.Optional("duration_seconds"): sy.Float(),
                    sy.Optional("params"): sy.MapPattern(sy.Str(), sy.Str()),
                }
            )
        ),
    }
)


class ScenarioError(ValueError):
    """A scenario file is invalid; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class ScheduledFault:
    """One scripted fault: at ``at_seconds`` after start, run ``action`` (on ``ticker`` if given).

    ``duration_seconds`` undoes pause/deactivation after that long. ``params`` carries extra string
    settings for server-side actions.
    """

    at_seconds: float
    action: str
    ticker: str | None = None
    probability: float | None = None
    duration_seconds: float | None = None
    params: dict[str, str] = field(default_factory=dict)

    @property
    def is_engine_action(self) -> bool:
        return self.action in ENGINE_FAULT_ACTIONS


@dataclass(frozen=True, slots=True)
class MarketPlan:
    """A market of the scenario with times as offsets from the start."""

    spec: MarketSpec  # times zero; filled in by `Scenario.build`
    open_offset_seconds: float
    close_offset_seconds: float | None


@dataclass(frozen=True, slots=True)
class Scenario:
    """A parsed scenario: what to list, how the traders behave, what to break when."""

    name: str
    description: str
    seed: int
    duration_minutes: float
    starting_balance: int
    participants: ParticipantConfig | None
    series: tuple[SeriesSpec, ...]
    events: tuple[EventSpec, ...]
    markets: tuple[MarketPlan, ...]
    faults: tuple[ScheduledFault, ...] = ()
    source: str = "<string>"

    def build(self, clock: Clock, *, seed: int | None = None) -> Exchange:
        """A fresh exchange with this scenario listed and its engine-level faults scheduled."""
        exchange = Exchange(
            clock,
            seed=self.seed if seed is None else seed,
            participants=self.participants if self.participants is not None else False,
        )
        start = clock.now_ns()
        for series in self.series:
            exchange.add_series(series)
        for event in self.events:
            exchange.add_event(event)
        default_close = self.duration_minutes * 60.0
        for plan in self.markets:
            close_offset = default_close if plan.close_offset_seconds is None else plan.close_offset_seconds
            spec = _replace_times(
                plan.spec,
                open_ts_ns=start + int(plan.open_offset_seconds * NANOS_PER_SECOND),
                close_ts_ns=start + int(close_offset * NANOS_PER_SECOND) if close_offset > 0 else 0,
            )
            exchange.add_market(spec)
        for fault in self.faults:
            if fault.is_engine_action:
                _schedule_fault(exchange, start, fault)
        return exchange

    def server_faults(self) -> list[ScheduledFault]:
        """The scripted faults the engine does not handle (for the server)."""
        return [f for f in self.faults if not f.is_engine_action]


def _replace_times(spec: MarketSpec, *, open_ts_ns: int, close_ts_ns: int) -> MarketSpec:
    from dataclasses import replace

    return replace(spec, open_ts_ns=open_ts_ns, close_ts_ns=close_ts_ns)


def _schedule_fault(exchange: Exchange, start_ns: int, fault: ScheduledFault) -> None:
    at = start_ns + int(fault.at_seconds * NANOS_PER_SECOND)
    ticker = fault.ticker or ""

    def run(action: str) -> None:
        # scripted faults run inside the exchange's own time loop, so use the internal paths
        # (no catch-up) and ignore a fault that no longer applies (market already closed, ...)
        from mmframe_sim.model import ExchangeError

        try:
            if action == "pause_trading":
                exchange.set_trading_in_loop(False)
            elif action == "resume_trading":
                exchange.set_trading_in_loop(True)
            elif action == "deactivate_market":
                exchange.deactivate_in_loop(ticker)
            elif action == "activate_market":
                exchange.activate_in_loop(ticker)
            elif action == "close_market":
                exchange.close_in_loop(ticker)
            elif action == "settle_market":
                exchange.settle_in_loop(ticker)
            elif action == "set_fair_value":
                exchange.set_fair_value(ticker, fault.probability if fault.probability is not None else 0.5)
        except ExchangeError:
            pass

    exchange.schedule(at, lambda t: run(fault.action))
    undo = {"pause_trading": "resume_trading", "deactivate_market": "activate_market"}.get(fault.action)
    if undo is not None and fault.duration_seconds is not None:
        exchange.schedule(at + int(fault.duration_seconds * NANOS_PER_SECOND), lambda t: run(undo))


def _probability(value: float, where: str) -> float:
    if not 0.0 < value < 1.0:
        raise ScenarioError(f"{where}: probability {value} must be strictly between 0 and 1")
    return value


def parse_scenario(text: str, source: str = "<string>") -> Scenario:
    """Parse scenario YAML; `ScenarioError` with file and line on any problem."""
    try:
        doc = sy.load(text, _SCHEMA, label=source)
    except sy.YAMLError as exc:
        raise ScenarioError(f"{source}: invalid scenario:\n{exc}") from None
    data: dict[str, Any] = doc.data

    participants: ParticipantConfig | None = None
    p = data.get("participants", {})
    if p.get("enabled", True):
        liq, noise, inf = p.get("liquidity", {}), p.get("noise", {}), p.get("informed", {})
        defaults = ParticipantConfig()
        try:
            competitors = CompetitorConfig(**p["competitors"]) if "competitors" in p else None
            news = NewsConfig(**p["news"]) if "news" in p else None
            participants = ParticipantConfig(
                fair_step_seconds=p.get("fair_step_seconds", defaults.fair_step_seconds),
                liquidity_refresh_seconds=liq.get("refresh_seconds", defaults.liquidity_refresh_seconds),
                liquidity_half_spread=liq.get("half_spread", defaults.liquidity_half_spread),
                liquidity_levels=liq.get("levels", defaults.liquidity_levels),
                liquidity_level_gap=liq.get("level_gap", defaults.liquidity_level_gap),
                liquidity_size=liq.get("size", defaults.liquidity_size),
                noise_rate_per_minute=noise.get("rate_per_minute", defaults.noise_rate_per_minute),
                noise_min_size=noise.get("min_size", defaults.noise_min_size),
                noise_max_size=noise.get("max_size", defaults.noise_max_size),
                noise_slippage=noise.get("slippage", defaults.noise_slippage),
                informed_rate_per_minute=inf.get("rate_per_minute", defaults.informed_rate_per_minute),
                informed_edge=inf.get("edge", defaults.informed_edge),
                informed_size=inf.get("size", defaults.informed_size),
                converge=p.get("converge", defaults.converge),
                converge_final_hours=p.get("converge_final_hours", defaults.converge_final_hours),
                liquidity_estimate_weight=liq.get("estimate_weight", defaults.liquidity_estimate_weight),
                noise_tolerance=noise.get("tolerance", defaults.noise_tolerance),
                competitors=competitors,
                news=news,
            )
        except ValueError as exc:
            raise ScenarioError(f"{source}: {exc}") from None

    series: list[SeriesSpec] = []
    for i, s in enumerate(data["series"]):
        series.append(
            SeriesSpec(
                ticker=s["ticker"],
                title=s.get("title", ""),
                fee_type=FeeType(s.get("fee_type", FeeType.QUADRATIC.value)),
                fee_multiplier_bps=round(s.get("fee_multiplier", 1.0) * 10_000),
                category=s.get("category", ""),
            )
        )
        if series[-1].fee_multiplier_bps < 0:
            raise ScenarioError(f"{source}: series[{i}] fee_multiplier must not be negative")
    series_tickers = {s.ticker for s in series}
    if len(series_tickers) != len(series):
        raise ScenarioError(f"{source}: duplicate series tickers")

    events: dict[str, EventSpec] = {}
    for e in data.get("events", []):
        if e["series"] not in series_tickers:
            raise ScenarioError(f"{source}: event {e['ticker']} names unknown series {e['series']}")
        events[e["ticker"]] = EventSpec(e["ticker"], e["series"], e.get("title", ""))

    markets: list[MarketPlan] = []
    seen: set[str] = set()
    for m in data["markets"]:
        ticker = m["ticker"]
        where = f"{source}: market {ticker}"
        if ticker in seen:
            raise ScenarioError(f"{where}: duplicate ticker")
        seen.add(ticker)
        event = m["event"]
        if event not in events:
            series_ticker = m.get("series")
            if series_ticker is None:
                raise ScenarioError(f"{where}: event {event} is not listed; add it to events or give series")
            if series_ticker not in series_tickers:
                raise ScenarioError(f"{where}: unknown series {series_ticker}")
            events[event] = EventSpec(event, series_ticker)
        structure = m.get("price_level_structure", "linear_cent")
        for name in ("volatility", "jump_rate", "jump_size"):
            if m.get(name, 0.0) < 0:
                raise ScenarioError(f"{where}: {name} must not be negative")
        close = m.get("close_offset_seconds")
        markets.append(
            MarketPlan(
                spec=MarketSpec(
                    ticker=ticker,
                    event_ticker=event,
                    title=m.get("title", ""),
                    price_level_structure=structure,
                    price_ranges=ranges_for_structure(structure),
                    settlement_timer_seconds=m.get("settlement_timer_seconds", 60),
                    fractional_trading_enabled=m.get("fractional_trading_enabled", False),
                    initial_probability=_probability(m.get("initial_probability", 0.5), where),
                    volatility=m.get("volatility", 0.3),
                    jump_rate=m.get("jump_rate", 0.0),
                    jump_size=m.get("jump_size", 0.5),
                ),
                open_offset_seconds=m.get("open_offset_seconds", 0.0),
                close_offset_seconds=close,
            )
        )

    faults: list[ScheduledFault] = []
    for f in data.get("faults", []):
        fault = ScheduledFault(
            at_seconds=f["at_seconds"],
            action=f["action"],
            ticker=f.get("ticker"),
            probability=f.get("probability"),
            duration_seconds=f.get("duration_seconds"),
            params=dict(f.get("params", {})),
        )
        if (
            fault.action
            in {"deactivate_market", "activate_market", "close_market", "settle_market", "set_fair_value"}
            and fault.ticker not in seen
        ):
            raise ScenarioError(
                f"{source}: fault {fault.action} at {fault.at_seconds}s needs a listed ticker"
            )
        faults.append(fault)

    balance = DEFAULT_STARTING_BALANCE
    if "starting_balance" in data:
        try:
            balance = parse_price(data["starting_balance"])
        except ValueError as exc:
            raise ScenarioError(f"{source}: starting_balance: {exc}") from None

    return Scenario(
        name=data["name"],
        description=data.get("description", ""),
        seed=data.get("seed", 0),
        duration_minutes=data.get("duration_minutes", 480.0),
        starting_balance=balance,
        participants=participants,
        series=tuple(series),
        events=tuple(events.values()),
        markets=tuple(markets),
        faults=tuple(faults),
        source=source,
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read and parse a scenario file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario {p}: {exc.strerror}") from None
    return parse_scenario(text, str(p))


SHIPPED_SCENARIOS = ("standard", "news")
"""Scenarios shipped in ``mmframe_sim/scenarios``, loadable by name (`shipped_scenario`)."""


def shipped_scenario(name: str) -> Scenario:
    """A shipped scenario by name: ``standard`` (the default) or ``news`` (informed news flow, makers
    that follow the tape, a fair value that converges to the outcome; see docs/simulator.md)."""
    if name not in SHIPPED_SCENARIOS:
        raise ScenarioError(f"unknown scenario {name!r}; shipped: {', '.join(SHIPPED_SCENARIOS)}")
    resource = importlib.resources.files("mmframe_sim").joinpath(f"scenarios/{name}.yaml")
    return parse_scenario(resource.read_text(encoding="utf-8"), f"mmframe_sim/scenarios/{name}.yaml")


def standard_scenario() -> Scenario:
    """The shipped default scenario (``scenarios/standard.yaml``)."""
    return shipped_scenario("standard")


def news_scenario() -> Scenario:
    """The shipped ``news`` scenario (``scenarios/news.yaml``): where a naive quoter loses money."""
    return shipped_scenario("news")


BULK_ACTIVITY: dict[str, tuple[float, float, float]] = {
    # synthetic traders per market: (liquidity refresh s, noise orders/min, informed orders/min)
    "busy": (30, 2.0, 1.0),
    "quiet": (120, 0.5, 0.25),
    "lively": (5, 0.5, 0.25),
}
"""How lively a `bulk_scenario`'s markets are. ``busy`` saturates the simulator at thousands of
markets (one Python process on a shared machine); ``quiet`` leaves it headroom; ``lively`` (for a few
hundred markets) re-quotes the background book every ~5 s, so a fair-value move reaches the book
within seconds."""


def bulk_scenario(path: Path, markets: int, activity: str = "quiet") -> list[str]:
    """Write a scenario of ``markets`` cent-grid markets in one series (``SIM-BULK``, select them with
    ``markets={series: [SIM-BULK]}``) to ``path``; returns their tickers."""
    if markets < 1:
        raise ValueError("a bulk scenario needs at least one market")
    if activity not in BULK_ACTIVITY:
        raise ValueError(f"unknown activity {activity!r}; known: {', '.join(sorted(BULK_ACTIVITY))}")
    refresh_s, noise, informed = BULK_ACTIVITY[activity]
    tickers = [f"SIM-BULK-M{n:04d}" for n in range(markets)]
    lines = [  # block style only: scenarios are strictyaml
        "name: bulk",
        f"description: {markets} generated markets ({activity})",
        "seed: 7",
        'starting_balance: "10000000.00"',
        "participants:",
        "  liquidity:",
        f"    refresh_seconds: {refresh_s}",
        "    levels: 2",
        "  noise:",
        f"    rate_per_minute: {noise}",
        "  informed:",
        f"    rate_per_minute: {informed}",
        "series:",
        "  - ticker: SIM-BULK",
        "    fee_type: quadratic",
        "events:",
        "  - ticker: SIM-BULK-E",
        "    series: SIM-BULK",
        "markets:",
    ]
    for n, ticker in enumerate(tickers):
        lines += [f"  - ticker: {ticker}", "    event: SIM-BULK-E",
                  f"    initial_probability: {0.2 + (n % 60) / 100:.2f}"]
    path.write_text("\n".join(lines) + "\n")
    return tickers
