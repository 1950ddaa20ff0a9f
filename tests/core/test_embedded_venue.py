"""Venues that embed an exchange (`mmframe.embedded`): the registry links the embedding venue to its
client venue, so neither plugin imports the other (the ``sim`` venue trades through ``kalshi``)."""

from __future__ import annotations

import types
from typing import Any

import pytest

from mmframe.api import (
    ClientVenue,
    ComponentContext,
    ComponentSpec,
    EmbeddedExchange,
    Kind,
    LiveClock,
    VenueEndpoint,
    hookimpl,
)
from mmframe.plugins import UnknownComponentError, load_registry

CLIENT_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url"],
    "properties": {"url": {"type": "string"}, "limit": {"type": "integer"}, "mode": {"enum": ["a", "b"]}},
}
EXCHANGE_SCHEMA = {"type": "object", "additionalProperties": False, "properties": {"seed": {"type": "integer"}}}


class Exchange:
    """An embedded exchange that records what it was built with."""

    name = "embedded"

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    async def start(self) -> VenueEndpoint:
        return VenueEndpoint("http://x", "ws://x", "k", b"pem")

    async def stop(self) -> None:
        return None


class Client:
    """A client venue that keeps its config and context."""

    def __init__(self, config: dict[str, Any], ctx: ComponentContext) -> None:
        self.config, self.ctx = config, ctx


def _plugin(name: str, **hooks: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, hook in hooks.items():
        setattr(module, hook_name, hookimpl(hook))
    return module


def _client_plugin() -> types.ModuleType:
    def register_venues(register: Any) -> None:
        register(ComponentSpec(kind=Kind.VENUE, name="client", summary="c", factory=Client,
                               config_schema=CLIENT_SCHEMA))

    return _plugin("test_client_plugin", register_venues=register_venues)


def _embedding_plugin(client: str = "client") -> types.ModuleType:
    def register_venues(register: Any) -> None:
        register(ComponentSpec(kind=Kind.VENUE, name="embedded", summary="e",
                               factory=lambda config, ctx: Exchange(config), config_schema=EXCHANGE_SCHEMA,
                               client=ClientVenue(client, omit=frozenset({"url"}))))

    return _plugin("test_embedding_plugin", register_venues=register_venues)


def _ctx() -> ComponentContext:
    import logging

    return ComponentContext(pipeline="p", markets=("T",), clock=LiveClock(), logger=logging.getLogger("t"))


@pytest.mark.parametrize("order", ["embedding first", "client first"])
def test_registry_when_venue_embeds_an_exchange_offers_the_clients_keys_less_the_omitted(order: str) -> None:
    plugins = [_embedding_plugin(), _client_plugin()]
    registry = load_registry(extra_modules=plugins if order == "embedding first" else plugins[::-1])

    schema = registry.get(Kind.VENUE, "embedded").config_schema

    assert list(schema["properties"]) == ["seed", "limit", "mode"]
    assert schema["additionalProperties"] is False and "required" not in schema  # `url` is the exchange's


def test_registry_when_embedding_venue_built_splits_its_config_between_exchange_and_client() -> None:
    registry = load_registry(extra_modules=[_client_plugin(), _embedding_plugin()])
    ctx = _ctx()

    venue = registry.get(Kind.VENUE, "embedded").factory({"seed": 3, "limit": 5}, ctx)

    assert isinstance(venue, Client) and venue.config == {"limit": 5}
    assert isinstance(venue.ctx.exchange, EmbeddedExchange) and isinstance(venue.ctx.exchange, Exchange)
    assert venue.ctx.exchange.config == {"seed": 3}
    assert ctx.exchange is None  # the pipeline's own context is left alone


def test_registry_when_client_venue_missing_reports_the_embedding_venue_broken_naming_it() -> None:
    registry = load_registry(extra_modules=[_embedding_plugin(client="nowhere")])

    entry = next(e for e in registry.entries(Kind.VENUE) if e.name == "embedded")

    assert entry.status == "error" and "needs the venue 'nowhere'" in (entry.error or "")
    with pytest.raises(UnknownComponentError, match="nowhere"):
        registry.get(Kind.VENUE, "embedded")


def test_registry_when_linked_twice_keeps_one_link() -> None:
    registry = load_registry(extra_modules=[_client_plugin(), _embedding_plugin()])
    registry.link_clients()

    venue = registry.get(Kind.VENUE, "embedded").factory({"seed": 1, "mode": "a"}, _ctx())

    assert venue.config == {"mode": "a"} and venue.ctx.exchange.config == {"seed": 1}


def test_sim_venue_when_registered_is_the_kalshi_venue_around_the_simulator() -> None:
    registry = load_registry()
    sim = registry.get(Kind.VENUE, "sim")
    kalshi = registry.get(Kind.VENUE, "kalshi")

    expected = [k for k in kalshi.config_schema["properties"]
                if k not in {"rest_url", "ws_url", "key_id", "private_key_path", "subaccount"}]
    assert list(sim.config_schema["properties"]) == ["scenario", "seed", "balance", "tier", "latency", "truth_path",
                                                    *expected]
    venue = sim.factory({"seed": 7}, _ctx())  # builds without starting anything
    assert venue.name == "sim" and venue.embedded and not venue.opened
