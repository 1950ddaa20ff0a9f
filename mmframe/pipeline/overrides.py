"""``--set dotted.path=value`` overrides, applied to the parsed tree before typing and validation.

Segments address mapping keys, or list items by index (``risk.0.with.per_market=5``). Values are
strings typed by the schema exactly like file values; a value written in flow style (``[A, B]``,
``{use: x}``) sets a list or a mapping. Setting ``venue.<name>.<key>`` on a string venue ``<name>``
turns it into the mapping form ``{<name>: {<key>: value}}``; naming another venue than the file's is
refused (switching venues, e.g. to the real exchange, takes an explicit ``--set venue=<name>``).
"""

from __future__ import annotations

from collections.abc import Iterable

from mmframe.pipeline.errors import OVERRIDE_SOURCE, PipelineIssue
from mmframe.pipeline.tree import Node, parse_fragment


def apply_overrides(root: Node, overrides: Iterable[str]) -> list[PipelineIssue]:
    """Apply every ``KEY=VALUE`` override to ``root`` in order; return the problems found."""
    issues: list[PipelineIssue] = []
    for override in overrides:
        key, sep, text = override.partition("=")
        key = key.strip()
        if not sep or not key:
            issues.append(PipelineIssue(OVERRIDE_SOURCE, None, f"{override}: expected KEY=VALUE, e.g. "
                                                               "strategy.with.spread=0.04"))
            continue
        problem = _set(root, key, _value_node(text, key))
        if problem:
            issues.append(PipelineIssue(OVERRIDE_SOURCE, None, f"{key}: {problem}"))
    return issues


def _value_node(text: str, key: str) -> Node:
    stripped = text.strip()
    if stripped[:1] in ("[", "{"):
        parsed = parse_fragment(stripped)
        if parsed is not None:
            _mark_override(parsed, key)
            return parsed
    return Node(text, None, override=key)


def _mark_override(node: Node, path: str) -> None:
    node.line = None
    node.override = path
    if isinstance(node.value, dict):
        for child_key, child in node.value.items():
            _mark_override(child, f"{path}.{child_key}")
    elif isinstance(node.value, list):
        for index, child in enumerate(node.value):
            _mark_override(child, f"{path}.{index}")


def _venue_name(node: Node) -> str | None:
    """The venue a ``venue:`` node names (string or one-key mapping form), if it names exactly one."""
    if isinstance(node.value, str):
        return node.value.strip() or None
    if isinstance(node.value, dict) and len(node.value) == 1:
        return next(iter(node.value))
    return None


def _set(root: Node, key: str, value: Node) -> str | None:
    """Set ``key`` to ``value`` under ``root``; the reason when the path cannot be set."""
    segments = key.split(".")
    if any(not segment for segment in segments):
        return "empty segment in the key path"
    node = root
    for depth, segment in enumerate(segments):
        last = depth == len(segments) - 1
        where = ".".join(segments[:depth]) or "the top level"
        if depth == 1 and segments[0] == "venue" and not last:
            current = _venue_name(node)
            if current is not None and current != segment:
                return f"venue is {current!r}, not {segment!r}; set venue={segment} first to switch venues"
            if isinstance(node.value, str):
                node.value = {}
        if isinstance(node.value, dict):
            if last:
                node.value[segment] = value
                return None
            child = node.value.get(segment)
            if child is None:
                child = Node({}, None, override=".".join(segments[: depth + 1]))
                node.value[segment] = child
            node = child
        elif isinstance(node.value, list):
            if not segment.isdigit():
                return f"{where} is a list: address its items by index (0..{len(node.value) - 1})"
            index = int(segment)
            if index > len(node.value) or (index == len(node.value) and not last):
                return f"index {index} is out of range: {where} has {len(node.value)} items"
            if last:
                if index == len(node.value):
                    node.value.append(value)
                else:
                    node.value[index] = value
                return None
            node = node.value[index]
        else:
            return f"{where} is a single value, not a mapping or a list"
    return None
