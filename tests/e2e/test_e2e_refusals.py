"""Inputs that cannot be meant are refused before they cost money, with a clear error naming the key.

A table of malformed pipelines: each goes through the real CLI in-process twice, ``mmframe check``
and ``mmframe run`` (``venue: sim``: the embedded simulator, had it got that far), and must be refused
by both with the same ``FILE:LINE: key: reason`` line, and no traceback. Then a table of bad
``POST /params`` bodies against a running daemon: each is answered 400 (413 for a body too large, 404
for an unknown target) with the reason naming the key, nothing changes, and no traceback is logged.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from mmframe.cli import create_cli
from mmframe.pipeline import load_pipeline_text
from mmframe.plugins import load_registry
from tests.control.harness import build, running

BASE = """\
name: table
venue: sim
markets: [SIM-RAIN-NYC, SIM-FED-DEC]
strategy:
  use: symmetric
  with:
    spread: 0.04
    size: 10
risk:
  - use: stale-data
    with:
      max_age_seconds: 30
  - use: max-order-size
    with:
      max_size: 25
  - use: max-position
    with:
      per_market: 100
      total: 300
  - use: price-band
    with:
      min_price: 0.02
      max_price: 0.98
  - use: daily-loss
    with:
      max_loss: 250
control:
  port: 0
runtime:
  shutdown_timeout_seconds: 5
"""

KALSHI_VENUE = """\
venue:
  kalshi:
    rest_url: http://127.0.0.1:9/trade-api/v2
    ws_url: ws://127.0.0.1:9/trade-api/ws/v2
    key_id: 00000000-0000-0000-0000-000000000000
    private_key_path: {key}
"""


@dataclass(frozen=True)
class Case:
    """``old`` replaced by ``new`` in `BASE`; the refusal must name ``key`` on the line holding ``at``
    (default: the first line of ``new``)."""

    name: str
    old: str
    new: str
    key: str
    at: str | None = None


def _set(line: str, value: str, key: str, name: str | None = None) -> Case:
    """Replace the value of ``line``'s key (``"    spread: 0.04"``) with ``value``."""
    head = line.split(":")[0]
    return Case(name or f"{head.strip()}={value}", line, f"{head}: {value}", key)


def _add(after: str, text: str, key: str, name: str) -> Case:
    """Add ``text`` (one or more lines) after the line ``after``."""
    return Case(name, after, f"{after}\n{text}", key, at=text.splitlines()[0])


SPREAD, SIZE = "    spread: 0.04", "    size: 10"
STALE, MAX_SIZE = "      max_age_seconds: 30", "      max_size: 25"
PER_MARKET, TOTAL = "      per_market: 100", "      total: 300"
MIN_PRICE, MAX_PRICE = "      min_price: 0.02", "      max_price: 0.98"
MAX_LOSS = "      max_loss: 250"
MARKETS = "markets: [SIM-RAIN-NYC, SIM-FED-DEC]"

CASES: list[Case] = [
    # --- the strategy -----------------------------------------------------------------------------
    _set(SPREAD, "5", "strategy.with.spread", "spread five dollars"),
    _set(SPREAD, "1e400", "strategy.with.spread"),
    _set(SPREAD, "0.0400000001", "strategy.with.spread"),
    _set(SPREAD, "-0.04", "strategy.with.spread"),
    _set(SPREAD, "0", "strategy.with.spread"),
    _set(SPREAD, "NaN", "strategy.with.spread"),
    _set(SPREAD, ".inf", "strategy.with.spread"),
    _set(SPREAD, "wide", "strategy.with.spread"),
    _set(SPREAD, "[0.04]", "strategy.with.spread"),
    _set(SIZE, "10.001", "strategy.with.size"),
    _set(SIZE, "1e6", "strategy.with.size"),
    _set(SIZE, "0", "strategy.with.size"),
    _set(SIZE, "-5", "strategy.with.size"),
    _set(SIZE, "0.5", "strategy.with.size", "size below size_increment"),
    _add(SIZE, "    levels: 0", "strategy.with.levels", "levels=0"),
    _add(SIZE, "    levels: 21", "strategy.with.levels", "levels=21"),
    _add(SIZE, "    levels: 1.5", "strategy.with.levels", "levels=1.5"),
    _add(SIZE, "    level_spacing: 2", "strategy.with.level_spacing", "level_spacing=2"),
    _add(SIZE, "    skew_per_contract: 1", "strategy.with.skew_per_contract", "skew_per_contract=1"),
    _add(SIZE, "    max_skew: -0.01", "strategy.with.max_skew", "max_skew negative"),
    _add(SIZE, "    size_skew_per_contract: 1.5", "strategy.with.size_skew_per_contract", "size skew above 1"),
    _add(SIZE, "    reference: midd", "strategy.with.reference", "reference typo"),
    _add(SIZE, "    join: maybe", "strategy.with.join", "join not an option"),
    _add(SIZE, "    sprad: 0.05", "sprad", "unknown strategy key"),
    _add(SIZE, "    max_order_age_s: 1e9", "strategy.with.max_order_age_s", "order age a billion seconds"),
    _add(SIZE, "    refresh_tolerance: 1.0", "strategy.with.refresh_tolerance", "refresh tolerance a dollar"),
    Case("strategy with a list", "  with:\n    spread: 0.04\n    size: 10", "  with: [1, 2]", "strategy.with",
         at="  with: [1, 2]"),
    Case("unknown strategy", "  use: symmetric", "  use: symetric", "symetric"),
    # --- risk rules -------------------------------------------------------------------------------
    _set(MIN_PRICE, "0.99", "risk.3.with.min_price", "price band min above max"),
    _set(MAX_PRICE, "1.5", "risk.3.with.max_price"),
    _set(MIN_PRICE, "-0.1", "risk.3.with.min_price"),
    _add(MAX_PRICE, "      max_distance_from_mid: 1", "risk.3.with.max_distance_from_mid", "distance a dollar"),
    _set(STALE, "1e308", "risk.0.with.max_age_seconds"),
    _set(STALE, "0", "risk.0.with.max_age_seconds"),
    _set(STALE, "86401", "risk.0.with.max_age_seconds"),
    _set(MAX_SIZE, "1e9", "risk.1.with.max_size"),
    _add(MAX_SIZE, "      size_increment: 50", "risk.1.with.size_increment", "increment above max size"),
    _add(MAX_SIZE, "      max_notional: 1e8", "risk.1.with.max_notional", "notional 100 million"),
    _set(PER_MARKET, "1e7", "risk.2.with.per_market"),
    _set(PER_MARKET, "10.001", "risk.2.with.per_market"),
    _set(TOTAL, "-1", "risk.2.with.total"),
    _set(MAX_LOSS, "0", "risk.4.with.max_loss"),
    _set(MAX_LOSS, "1e12", "risk.4.with.max_loss"),
    _add(MAX_LOSS, "      resume_after_seconds: -1", "risk.4.with.resume_after_seconds", "negative cool-down"),
    Case("unknown rule", "  - use: max-position", "  - use: max-postion", "max-postion"),
    Case("action-rate of zero", "  - use: daily-loss", "  - use: action-rate\n    with: {max_actions: 0}\n"
         "  - use: daily-loss", "risk.4.with.max_actions", at="    with: {max_actions: 0}"),
    Case("min-spread a dollar", "  - use: daily-loss", "  - use: min-spread\n    with: {min_spread: 1}\n"
         "  - use: daily-loss", "risk.4.with.min_spread", at="    with: {min_spread: 1}"),
    Case("lifecycle a million minutes", "  - use: daily-loss", "  - use: market-lifecycle\n"
         "    with: {stop_before_close_minutes: 1e6}\n  - use: daily-loss",
         "risk.4.with.stop_before_close_minutes", at="    with: {stop_before_close_minutes: 1e6}"),
    # --- markets ----------------------------------------------------------------------------------
    Case("duplicate ticker", MARKETS, "markets: [SIM-RAIN-NYC, SIM-FED-DEC, SIM-RAIN-NYC]", "SIM-RAIN-NYC"),
    Case("unicode ticker", MARKETS, "markets: [SIM-RAIN-NYC, SIM-ÉLECT]", "markets.1"),
    Case("ticker with a space", MARKETS, "markets: [SIM-RAIN-NYC, 'SIM FED']", "markets.1"),
    Case("no markets", MARKETS, "markets: []", "markets"),
    Case("ticker too long", MARKETS, f"markets: [SIM-RAIN-NYC, {'X' * 200}]", "markets.1"),
    Case("close window empty", MARKETS, "markets:\n  series: [SIM]\n  filters:\n    min_close_minutes: 600\n"
         "    max_close_hours: 2", "markets.filters.min_close_minutes", at="    min_close_minutes: 600"),
    Case("missing policy typo", MARKETS, "markets:\n  tickers: [SIM-RAIN-NYC]\n  missing: ignore",
         "markets.missing", at="  missing: ignore"),
    # --- venues -----------------------------------------------------------------------------------
    Case("ws_url with http", "venue: sim", KALSHI_VENUE.replace("ws://", "http://").rstrip(),
         "venue.kalshi.ws_url", at="    ws_url: http://"),
    Case("rest_url with ws", "venue: sim", KALSHI_VENUE.replace("rest_url: http://", "rest_url: ws://").rstrip(),
         "venue.kalshi.rest_url", at="    rest_url: ws://"),
    Case("key_id missing", "venue: sim", KALSHI_VENUE.replace(
        "    key_id: 00000000-0000-0000-0000-000000000000\n", "").rstrip(), "venue.kalshi.key_id", at="venue:"),
    Case("key file missing", "venue: sim", KALSHI_VENUE.replace("{key}", "/nonexistent/key.pem").rstrip(),
         "venue.kalshi.private_key_path", at="    private_key_path:"),
    Case("unknown venue", "venue: sim", "venue: kalshii", "kalshii"),
    Case("order group limit ten million", "venue: sim", "venue:\n  sim:\n    order_group_contracts_limit: 1e7",
         "venue.sim.order_group_contracts_limit", at="    order_group_contracts_limit"),
    Case("sim tier gold", "venue: sim", "venue:\n  sim:\n    tier: gold", "venue.sim.tier", at="    tier: gold"),
    Case("sim balance negative", "venue: sim", "venue:\n  sim:\n    balance: -5", "venue.sim.balance",
         at="    balance: -5"),
    # --- sinks ------------------------------------------------------------------------------------
    Case("journal through a file", "control:", "sinks:\n  - use: journal\n    with:\n      path: {blocker}/j.sqlite\n"
         "control:", "sinks.0.with.path", at="      path: "),
    Case("journal mid interval zero", "control:", "sinks:\n  - use: journal\n    with:\n"
         "      mid_interval_seconds: 0\ncontrol:", "sinks.0.with.mid_interval_seconds", at="      mid_interval"),
    Case("jsonl ten bytes", "control:", "sinks:\n  - use: jsonl\n    with:\n      max_bytes: 10\ncontrol:",
         "sinks.0.with.max_bytes", at="      max_bytes: 10"),
    Case("webhook over ftp", "control:", "sinks:\n  - use: webhook\n    with:\n      url: ftp://example.com/x\n"
         "control:", "sinks.0.with.url", at="      url: ftp://"),
    # --- the rest of the file ---------------------------------------------------------------------
    _set("  shutdown_timeout_seconds: 5", "1e9", "runtime.shutdown_timeout_seconds"),
    _add("  shutdown_timeout_seconds: 5", "  max_intent_age_ms: 0", "runtime.max_intent_age_ms", "intent age 0"),
    _add("  shutdown_timeout_seconds: 5", "  price_tolerance: 1", "runtime.price_tolerance", "tolerance a dollar"),
    _set("  port: 0", "70000", "control.port"),
    _add("  port: 0", "  flatten_max_slippage: 2", "control.flatten_max_slippage", "slippage two dollars"),
    Case("name with spaces", "name: table", "name: my table", "name"),
    Case("unknown top-level key", "name: table", "name: table\nstratgy: {}", "stratgy", at="stratgy: {}"),
    Case("missing strategy", "strategy:\n  use: symmetric\n  with:\n    spread: 0.04\n    size: 10\n", "",
         "strategy", at="name: table"),
    Case("deeply nested", "runtime:", "deep: " + "[" * 40 + "]" * 40 + "\nruntime:", "nested", at="deep: "),
]


@pytest.fixture(scope="module")
def registry() -> Any:
    return load_registry()


@pytest.fixture(scope="module")
def cli(registry: Any) -> Any:
    return create_cli(registry)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = Path(tmp_path_factory.mktemp("refusals"))
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path = root / "key.pem"
    path.write_bytes(pem)
    path.chmod(0o600)
    (root / "blocker").write_text("a file, not a directory\n")
    return root


@pytest.fixture(autouse=True)
def _no_kalshi_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in [n for n in os.environ if n.startswith("KALSHI_")]:
        monkeypatch.delenv(name)
    yield
    logging.getLogger().handlers[:] = [h for h in logging.getLogger().handlers if not getattr(h, "_mmframe", False)]


def _text(case: Case, workdir: Path) -> str:
    assert BASE.count(case.old) >= 1, f"{case.name}: {case.old!r} is not in the base pipeline"
    text = BASE.replace(case.old, case.new, 1)
    return text.replace("{key}", str(workdir / "key.pem")).replace("{blocker}", str(workdir / "blocker"))


def _line_of(text: str, fragment: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(fragment) or (fragment.strip() and line.strip().startswith(fragment.strip())):
            return number
    raise AssertionError(f"{fragment!r} not found in the case's pipeline")


def _invoke(cli: Any, *args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def test_base_pipeline_is_valid_so_each_case_fails_for_its_own_reason(cli: Any, workdir: Path) -> None:
    path = workdir / "base.yaml"
    path.write_text(BASE, encoding="utf-8")
    result = _invoke(cli, "check", str(path))
    assert (result.exit_code, result.stdout) == (0, f"{path}: ok\n")


def test_the_table_has_at_least_60_distinct_cases() -> None:
    assert len(CASES) >= 60
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_malformed_pipeline_is_refused_by_check_and_run_alike_naming_the_key_at_its_line(
    cli: Any, workdir: Path, case: Case
) -> None:
    text = _text(case, workdir)
    path = workdir / f"{re.sub(r'[^a-z0-9]+', '-', case.name.lower())}.yaml"
    path.write_text(text, encoding="utf-8")
    line = _line_of(text, case.at or case.new.splitlines()[0])

    check = _invoke(cli, "check", str(path))
    assert check.exit_code == 1, check.stdout
    first = check.stdout.splitlines()[0]
    assert first.startswith(f"{path}:{line}: "), f"expected line {line}:\n{check.stdout}"
    assert case.key in first, first
    assert "Traceback" not in check.stdout + check.stderr

    run = _invoke(cli, "run", str(path), "--duration", "20", "--no-status")
    assert run.exit_code in (1, 2), run.stderr  # refused: invalid file (1) or cannot start (2)
    assert first in run.stderr, f"run said:\n{run.stderr}"  # the same located message as check
    assert "Traceback" not in run.stdout + run.stderr
    assert "running pipeline" not in run.stderr  # refused before anything started


def test_a_file_too_large_is_refused_at_once_by_check_and_run(cli: Any, workdir: Path) -> None:
    path = workdir / "huge.yaml"
    path.write_text(BASE + "".join(f"k{i}: v{i}\n" for i in range(80_000)), encoding="utf-8")
    check = _invoke(cli, "check", str(path))
    run = _invoke(cli, "run", str(path), "--no-status")
    message = f"{path}: the file is "
    assert check.exit_code == 1 and check.stdout.startswith(message) and "at most 512 KiB" in check.stdout
    assert run.exit_code == 1 and run.stderr.startswith(message)


# --- markets the venue does not list: only the venue knows, so only run refuses them -------------


def test_run_when_a_ticker_does_not_exist_on_the_venue_refuses_to_start_naming_it(cli: Any, workdir: Path) -> None:
    path = workdir / "unknown-ticker.yaml"
    path.write_text(BASE.replace(MARKETS, "markets: [SIM-RAIN-NYC, SIM-NOPE-1]"), encoding="utf-8")
    assert _invoke(cli, "check", str(path)).exit_code == 0  # offline: check cannot know the venue's list
    run = _invoke(cli, "run", str(path), "--duration", "20", "--no-status")
    assert run.exit_code == 2, run.stderr
    assert "1 market(s) do not exist on the venue: SIM-NOPE-1" in run.stderr
    assert "missing: skip" in run.stderr  # the advice names the option
    assert "Traceback" not in run.stderr


def test_run_when_unknown_tickers_may_be_skipped_quotes_the_others_with_a_warning(cli: Any, workdir: Path) -> None:
    path = workdir / "skip-ticker.yaml"
    path.write_text(BASE.replace(MARKETS, "markets: {tickers: [SIM-RAIN-NYC, SIM-NOPE-1], missing: skip}"),
                    encoding="utf-8")
    run = _invoke(cli, "run", str(path), "--duration", "2", "--no-status")
    assert run.exit_code == 0, run.stderr
    assert "skipping 1 market(s) the venue does not list (markets.missing: skip): SIM-NOPE-1" in run.stderr


# --- POST /params ----------------------------------------------------------------------------------

TOKEN = "refusals-token-0123456789"
PARAMS_PIPELINE = BASE.replace("control:\n  port: 0", f"control:\n  port: 0\n  token: {TOKEN}")


@dataclass(frozen=True)
class Body:
    name: str
    raw: bytes
    fragment: str
    status: int = 400


def _params(target: str, field: str, value: str) -> bytes:
    return f'{{"target": "{target}", "params": {{"{field}": {value}}}}}'.encode()


BODIES: list[Body] = [
    Body("NaN", _params("strategy", "spread", "NaN"), "spread: NaN is not a finite number"),
    Body("Infinity", _params("strategy", "spread", "Infinity"), "spread: Infinity is not a finite number"),
    Body("-Infinity", _params("max-position", "per_market", "-Infinity"), "per_market: -Infinity"),
    Body("nested 1000 deep", b'{"target": "strategy", "params": ' + b"[" * 1000 + b"]" * 1000 + b"}",
         "nested 1001 levels deep"),
    Body("nested params value", _params("strategy", "spread", "[[[[[[[[[0.04]]]]]]]]]"), "nested"),
    Body("truncated JSON", b'{"target": "strategy",', "malformed JSON"),
    Body("not UTF-8", b'{"target": "strategy", "params": {"spread": "\xff\xfe"}}', "malformed JSON"),
    Body("too large", b'{"target": "strategy", "params": {"x": "' + b"a" * 70_000 + b'"}}', "body too large", 413),
    Body("spread five dollars", _params("strategy", "spread", "5"), "spread $5.0000 is not below"),
    Body("spread 1e400", _params("strategy", "spread", "1e400"), "spread: is out of range"),
    Body("spread too precise", _params("strategy", "spread", "0.0400000001"), "spread: has more than 4 decimal"),
    Body("spread negative", _params("strategy", "spread", "-0.04"), "spread: must be > 0"),
    Body("spread a word", _params("strategy", "spread", '"wide"'), "spread: expected a number, got 'wide'"),
    Body("spread true", _params("strategy", "spread", "true"), "spread: expected a number, got true"),
    Body("spread null", _params("strategy", "spread", "null"), "spread: expected a number, got null"),
    Body("size a million", _params("strategy", "size", "1e6"), "size: must be <= 10000"),
    Body("levels fractional", _params("strategy", "levels", "1.5"), "levels: expected an integer"),
    Body("band min above max", _params("price-band", "min_price", "0.99"), "min_price 0.99 is above max_price"),
    Body("band max above a dollar", _params("price-band", "max_price", "1.5"), "max_price: must be < 1"),
    Body("stale 1e308", _params("stale-data", "max_age_seconds", "1e308"), "max_age_seconds: is out of range"),
    Body("loss zero", _params("daily-loss", "max_loss", "0"), "max_loss: must be > 0"),
    Body("max size below increment", _params("max-order-size", "max_size", "0.5"), "size_increment"),
    Body("integer with 5000 digits", _params("strategy", "size", "9" * 5000), "malformed JSON"),
    Body("unknown field", _params("strategy", "sprad", "0.05"), "unknown field 'sprad' (did you mean 'spread'?)"),
    Body("fixed field", _params("strategy", "size_increment", "2"), "size_increment cannot change at run time"),
    Body("params a list", b'{"target": "strategy", "params": [1]}', "params must be a non-empty JSON object"),
    Body("body a list", b"[1, 2]", "expected a JSON object"),
    Body("target NaN", b'{"target": NaN, "params": {"spread": 0.05}}', "target: NaN is not a finite number"),
    Body("unknown target", _params("nope", "spread", "0.05"), "unknown target 'nope'", 404),
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_the_params_table_has_at_least_20_bodies() -> None:
    assert len(BODIES) >= 20


@pytest.mark.anyio
async def test_bad_params_bodies_are_refused_with_the_reason_naming_the_key_and_nothing_changes(
    registry: Any, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline = load_pipeline_text(PARAMS_PIPELINE, "params.yaml", registry)
    engine = build(pipeline, registry)
    wrong: list[str] = []
    with caplog.at_level(logging.INFO):
        async with running(engine, settle=False) as client:
            auth = {"Authorization": f"Bearer {TOKEN}"}
            before = (await client.get("/state")).json()["components"]
            for body in BODIES:
                response = await client.post("/params", content=body.raw, headers=auth)
                error = response.json().get("error", "") if response.headers.get("content-type", "").startswith(
                    "application/json") else response.text
                if response.status_code != body.status or body.fragment not in error:
                    wrong.append(f"{body.name}: {response.status_code} {error!r}")
            after = (await client.get("/state")).json()["components"]
            good = await client.post("/params", content=_params("strategy", "spread", "0.05"), headers=auth)
    assert wrong == [], "\n".join(wrong)
    assert after == before  # nothing half-applied
    assert good.status_code == 200, good.text  # and the endpoint still works
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


def test_params_refusals_read_like_the_loader_s(registry: Any, workdir: Path) -> None:
    """The same bad value says the same thing in a file and in a /params body."""
    path = workdir / "same-words.yaml"
    path.write_text(BASE.replace(SPREAD, "    spread: 0.0400000001"), encoding="utf-8")
    check = CliRunner().invoke(create_cli(registry), ["check", str(path)])
    assert "strategy.with.spread: has more than 4 decimal places, got 0.0400000001" in check.stdout
    assert json.loads(_params("strategy", "spread", "1"))  # (the /params wording is checked in the table)
