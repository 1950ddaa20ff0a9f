"""What every risk rule shares: a resolved config, converted params, run-time updates."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from mmframe.api import Configured, Event, Kind

P = TypeVar("P")


class ConfiguredRule(Configured[P]):
    """Base of the rules (`mmframe.api.Configured` for ``Kind.RISK``): ``NAME``, ``SCHEMA`` and
    ``UPDATABLE`` declare the rule; `parse` turns a resolved config into the params the rule reads
    (``self.params``)."""

    KIND = Kind.RISK
    SCHEMA: ClassVar[dict[str, Any]]
    EXAMPLE: ClassVar[dict[str, Any]]

    def observe(self, event: Event) -> None:
        """Most rules keep no counters."""


def schema(properties: dict[str, Any], title: str) -> dict[str, Any]:
    """A rule's config schema: Draft 2020-12, closed object."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
    }
