"""``/params`` targets are the engine's built components: every rule by its name (a second rule of
the same kind is ``name#2``), the config each runs with now, changed in one place."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from mmframe.control.params import ParamsError, ParamsService
from tests.control.harness import build, make_pipeline
from tests.control.memory_exchange import Exchange


def _service(registry: Any, exchange: Exchange) -> tuple[Any, ParamsService]:
    engine = build(make_pipeline(risk=(("daily-loss", {"max_loss": 50}), ("daily-loss", {"max_loss": 80}))), registry)
    return engine, ParamsService(engine)


def test_params_when_a_rule_kind_is_used_twice_each_is_its_own_target(registry: Any, exchange: Exchange) -> None:
    engine, service = _service(registry, exchange)
    described = service.describe()
    assert list(described) == ["strategy", "daily-loss", "daily-loss#2"]
    assert described["daily-loss#2"]["use"] == "daily-loss"
    assert described["daily-loss"]["params"]["max_loss"] == 50
    assert described["daily-loss#2"]["params"]["max_loss"] == 80
    # the targets are the built components themselves, not a copy
    rules = {named.name: named.rule for named in engine.core.rules}
    assert engine.parts.configured["daily-loss#2"].component is rules["daily-loss#2"]
    assert engine.parts.configured["strategy"].component is engine.core.strategy


def test_params_when_second_rule_updated_only_it_and_its_built_config_change(registry: Any, exchange: Exchange) -> None:
    engine, service = _service(registry, exchange)
    result = service.apply({"target": "daily-loss#2", "params": {"max_loss": Decimal("20")}})
    assert result["params"]["max_loss"] == Decimal("20")
    assert engine.parts.configured["daily-loss#2"].config["max_loss"] == Decimal("20")
    assert engine.parts.configured["daily-loss"].config["max_loss"] == 50
    rules = {named.name: named.rule for named in engine.core.rules}
    assert rules["daily-loss#2"].params.max_loss == 200_000 and rules["daily-loss"].params.max_loss == 500_000
    assert service.describe()["daily-loss#2"]["params"]["max_loss"] == Decimal("20")


def test_params_when_refused_the_built_config_is_unchanged(registry: Any, exchange: Exchange) -> None:
    engine, service = _service(registry, exchange)
    with pytest.raises(ParamsError, match="daily-loss#2"):
        service.apply({"target": "daily-loss#2", "params": {"max_loss": -1}})
    assert engine.parts.configured["daily-loss#2"].config["max_loss"] == 80
