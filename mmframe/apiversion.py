"""The plugin API's version, and the check of the range a plugin declares it needs.

A plugin declares the range at module level in the module its entry point names::

    MMFRAME_API = ">=1.0,<2"

Clauses are separated by commas; each is an operator (``>=``, ``>``, ``<=``, ``<``, ``==``, ``!=``)
and a ``MAJOR`` or ``MAJOR.MINOR`` version. A plugin without the attribute is assumed to work with
the running API (it is reported ``ok``); one whose range excludes `API_VERSION` is reported with the
status ``api-mismatch`` and its components are not registered. CONTRIBUTING.md states the stability
policy: what a minor and a major change of `API_VERSION` may do.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable

API_VERSION = "1.2"
"""The version of `mmframe.api` this core provides (``MAJOR.MINOR``)."""

REQUIRES_ATTRIBUTE = "MMFRAME_API"
"""The module attribute in which a plugin declares the API range it needs."""

_CLAUSE = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(\d+)(?:\.(\d+))?\s*$")
_OPS: dict[str, Callable[[tuple[int, int], tuple[int, int]], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq, "!=": operator.ne,
}


def parse_version(text: str) -> tuple[int, int]:
    """``"1.2"`` -> (1, 2); ``"2"`` -> (2, 0)."""
    major, _, minor = text.strip().partition(".")
    return int(major), int(minor or 0)


def api_range_problem(requirement: object, version: str = API_VERSION) -> str | None:
    """Why ``requirement`` (a plugin's `REQUIRES_ATTRIBUTE`) excludes ``version``, or None when it
    includes it. A requirement that cannot be read is a problem too, worded as such."""
    if not isinstance(requirement, str) or not requirement.strip():
        return f"{REQUIRES_ATTRIBUTE} must be a version range such as '>=1.0,<2', got {requirement!r}"
    current = parse_version(version)
    for clause in requirement.split(","):
        match = _CLAUSE.match(clause)
        if match is None:
            return (f"{REQUIRES_ATTRIBUTE} = {requirement!r}: cannot read {clause.strip()!r} "
                    "(expected e.g. '>=1.0,<2')")
        op, major, minor = match.groups()
        if not _OPS[op](current, (int(major), int(minor or 0))):
            return f"needs mmframe API {requirement.strip()}, this mmframe provides {version}"
    return None
