"""mmframe: a market-making daemon for Kalshi prediction markets, built as a declarative plugin framework."""

__version__ = "0.1.0"
