"""Parse YAML text with strictyaml into a tree of string scalars that remembers every line.

strictyaml does no implicit typing, so every scalar stays the text the user wrote; values are typed
later from the JSON Schema (`mmframe.pipeline.coerce`). Line numbers come from the underlying
ruamel nodes, which are exact for flow and block style alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import strictyaml
from strictyaml.ruamel.comments import CommentedMap, CommentedSeq
from strictyaml.ruamel.error import MarkedYAMLError

from mmframe.pipeline.errors import PipelineError, PipelineIssue


@dataclass
class Node:
    """One value of the document: a string scalar, a mapping or a list.

    ``line`` is the 1-based line that introduces the value (its key's line for a mapping value, its
    dash's line for a list item); None for a value that came from a ``--set`` override, whose key
    path is then ``override``. ``secret`` marks a scalar that holds an environment variable's value,
    which an error must never echo. ``reported`` marks a value whose problem was already reported
    (e.g. an unset variable), so validation does not pile a second error on it.
    """

    value: str | dict[str, Node] | list[Node]
    line: int | None
    override: str | None = None
    secret: bool = False
    env_vars: tuple[str, ...] = field(default=())
    reported: bool = False

    @property
    def is_scalar(self) -> bool:
        return isinstance(self.value, str)

    @property
    def is_mapping(self) -> bool:
        return isinstance(self.value, dict)

    @property
    def is_list(self) -> bool:
        return isinstance(self.value, list)

    def shape(self) -> str:
        """How the value looks, for messages: ``a mapping``, ``a list`` or ``a string``."""
        if isinstance(self.value, dict):
            return "a mapping"
        if isinstance(self.value, list):
            return "a list"
        return "an empty value" if self.value == "" else "a string"

    def to_plain(self) -> Any:
        """The untyped value: nested dicts, lists and strings."""
        if isinstance(self.value, dict):
            return {key: child.to_plain() for key, child in self.value.items()}
        if isinstance(self.value, list):
            return [child.to_plain() for child in self.value]
        return self.value


_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_INDENT_HINTS = ("mapping values are not allowed here", "expected <block end>", "could not find expected ':'")


def decode_source(data: bytes, file: str) -> str:
    """Decode file bytes as UTF-8 text, or fail with a one-line reason (binary files are not YAML)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PipelineError(
            [PipelineIssue(file, line, "not a YAML file: the content is binary (not UTF-8 text)")]
        ) from None
    return text


def parse_document(text: str, file: str) -> Node:
    """Parse ``text`` into a `Node` whose root is a mapping, or raise `PipelineError` with its line."""
    bad = _CONTROL_CHARS.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        raise PipelineError(
            [PipelineIssue(file, line, "not a YAML file: the content is binary (control characters)")]
        )
    if not _has_content(text):
        raise PipelineError(
            [PipelineIssue(file, 1, "empty pipeline file: expected a mapping with keys such as "
                                    "name, venue, markets, strategy")]
        )
    try:
        document = strictyaml.dirty_load(text, allow_flow_style=True)
    except MarkedYAMLError as exc:
        raise PipelineError([_syntax_issue(exc, file)]) from None
    except Exception as exc:  # the YAML library's own failures must not become tracebacks
        reason = f"not a YAML file: {type(exc).__name__}: {exc}"
        raise PipelineError([PipelineIssue(file, 1, reason)]) from None
    raw = document.as_marked_up()
    if not isinstance(raw, CommentedMap):
        got = "a list" if isinstance(raw, CommentedSeq) else "plain text"
        reason = f"not a pipeline file: expected a mapping (name, venue, markets, strategy, ...), got {got}"
        raise PipelineError([PipelineIssue(file, _first_content_line(text), reason)])
    return Node(_convert_mapping(raw), 1)


def parse_fragment(text: str) -> Node | None:
    """Parse a flow-style ``--set`` value such as ``[A, B]`` or ``{use: x}``; None when it is not YAML."""
    try:
        raw = strictyaml.dirty_load(text, allow_flow_style=True).as_marked_up()
    except Exception:  # not YAML: the caller keeps the text as a plain string
        return None
    if isinstance(raw, CommentedMap):
        return Node(_convert_mapping(raw), None)
    if isinstance(raw, CommentedSeq):
        return Node(_convert_list(raw), None)
    return None


def _has_content(text: str) -> bool:
    return any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines())


def _first_content_line(text: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            return number
    return 1


def _convert(raw: Any, line: int | None) -> Node:
    if isinstance(raw, CommentedMap):
        return Node(_convert_mapping(raw), line)
    if isinstance(raw, CommentedSeq):
        return Node(_convert_list(raw), line)
    return Node("" if raw is None else str(raw), line)


def _convert_mapping(raw: CommentedMap) -> dict[str, Node]:
    out: dict[str, Node] = {}
    for key, value in raw.items():
        out[str(key)] = _convert(value, raw.lc.key(key)[0] + 1)
    return out


def _convert_list(raw: CommentedSeq) -> list[Node]:
    return [_convert(item, raw.lc.item(index)[0] + 1) for index, item in enumerate(raw)]


def _syntax_issue(exc: MarkedYAMLError, file: str) -> PipelineIssue:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 1
    problem = (exc.problem or "").strip()
    context = (exc.context or "").strip()
    if "'\\t'" in problem or "\t" in problem:
        return PipelineIssue(file, line, "tab character in indentation: YAML indents with spaces only")
    duplicate = re.match(r"Duplicate key '(.*)' found", problem)
    if duplicate:
        return PipelineIssue(file, line, f"duplicate key '{duplicate.group(1)}': each key may appear once")
    message = f"YAML syntax error: {problem or context}"
    if context and problem and context.lower() not in ("while parsing", "while scanning"):
        started = f" started on line {exc.context_mark.line + 1}" if exc.context_mark is not None else ""
        message += f" ({context}{started})"
    if any(hint in problem for hint in _INDENT_HINTS):
        message += "; check the indentation of this line"
    lines = exc.problem_mark.buffer.splitlines() if exc.problem_mark is not None and exc.problem_mark.buffer else []
    if 0 < line <= len(lines) and "${" in lines[line - 1]:
        message += "; inside {...} flow style, quote values that use ${VAR}: \"${VAR}\""
    return PipelineIssue(file, line, message)
