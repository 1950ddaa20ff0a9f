"""Venues that embed an exchange: the seam between a plugin that runs an exchange in-process and a
plugin that speaks its protocol, without either importing the other.

The ``sim`` venue (plugin ``mmframe_sim``) starts the simulator; the ``kalshi`` venue (plugin
``mmframe_kalshi``) is the client that trades on it. The simulator's spec names its client
(`ComponentSpec.client` = `ClientVenue`); the registry then offers the client's config keys under
the embedding venue's name too, and builds the client venue with `ComponentContext.exchange` set to
the `EmbeddedExchange` the embedding factory returned. The client starts that exchange in its
``open`` and connects to the `VenueEndpoint` it hands back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class VenueEndpoint:
    """Where a client venue connects, and as whom: what a started `EmbeddedExchange` hands it."""

    rest_url: str
    ws_url: str
    key_id: str
    private_key_pem: bytes = field(repr=False)
    """The account's private key, PEM (a fresh key the exchange registered; never logged)."""
    details: Mapping[str, Any] = field(default_factory=dict)
    """Status the client venue adds to its ``describe()`` (e.g. the simulator's admin URL); no secrets."""
    unix_socket: str | None = None
    """Connect over this Unix socket instead of TCP (the URLs then only name the paths): the
    simulator under simulated time (`in_virtual_time`), whose delivery must be synchronous."""


@runtime_checkable
class EmbeddedExchange(Protocol):
    """An exchange a venue runs inside the daemon (``venue: sim``), built by the embedding venue's
    factory; the client venue starts it in ``open`` and stops it in ``close``."""

    @property
    def name(self) -> str:
        """The venue name the pipeline used (``sim``): the client venue reports it as its own."""
        ...

    async def start(self) -> VenueEndpoint:
        """Start the exchange (in the running event loop) and open a funded account on it."""
        ...

    async def stop(self) -> None:
        """Stop the exchange; safe to call when it never started."""
        ...


@dataclass(frozen=True)
class ClientVenue:
    """The client venue of a venue that embeds an exchange (`mmframe.api.ComponentSpec.client`).

    ``name``: the venue that connects to the exchange (``kalshi``). ``omit``: its config keys the
    embedding venue does not offer because the exchange supplies them (URLs, key). The embedding
    venue's config schema is its own keys plus the client's remaining ones; its factory gets only
    its own keys and returns an `EmbeddedExchange`; the client's factory gets the rest.
    """

    name: str
    omit: frozenset[str] = frozenset()
