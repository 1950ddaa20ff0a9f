"""Parse YAML text with strictyaml into a tree of string scalars that remembers every line.

strictyaml does no implicit typing, so every scalar stays the text the user wrote; values are typed
later from the JSON Schema (`mmframe.pipeline.coerce`). Line numbers come from the underlying
ruamel nodes, which are exact for flow and block style alike.

Only strictyaml's loader is used (no tags, no anchors, no duplicate keys, every scalar a string):
its schema-validation pass re-walks the document from the root for every value and is quadratic
in the number of keys (a 600 kB file took minutes), and the JSON Schema does that job here.
Files are capped at `MAX_PIPELINE_BYTES` and nesting at `MAX_DEPTH`, so ``check`` answers an absurd
file at once with what is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from strictyaml import ruamel as strict_ruamel
from strictyaml.parser import StrictYAMLLoader
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


MAX_PIPELINE_BYTES = 512 * 1024
"""The largest pipeline file read (512 KiB). A pipeline is tens of lines; even 2,000 explicit
tickers are about 50 kB. The pure-Python YAML parser reads about 0.3 MB/s, so this also bounds
how long ``check`` takes (about 2 s at most here)."""

MAX_DEPTH = 32
"""The deepest nesting of mappings and lists accepted (pipelines nest 5 levels)."""


class _Loader(StrictYAMLLoader):  # type: ignore[misc]  # strictyaml has no type hints
    """strictyaml's loader (flow style allowed): no tags, anchors or duplicate keys, scalars as text."""

    label = "<pipeline>"
    allow_flow_style = True


_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_INDENT_HINTS = ("mapping values are not allowed here", "expected <block end>", "could not find expected ':'")


def too_large(size: int, file: str) -> PipelineError:
    """The error for a pipeline file of ``size`` bytes over `MAX_PIPELINE_BYTES`."""
    return PipelineError([PipelineIssue(
        file, None, f"the file is {_megabytes(size)}; a pipeline file is at most {_megabytes(MAX_PIPELINE_BYTES)} "
                    "(a pipeline is a few dozen lines: is this the right file?)")])


def _megabytes(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB" if size >= 1 << 20 else f"{size / 1024:.0f} KiB"


def decode_source(data: bytes, file: str) -> str:
    """Decode file bytes as UTF-8 text, or fail with a one-line reason (binary files are not YAML)."""
    if len(data) > MAX_PIPELINE_BYTES:
        raise too_large(len(data), file)
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
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_PIPELINE_BYTES:
        raise too_large(size, file)
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
    deep = _too_deep(text)
    if deep is not None:
        raise PipelineError([PipelineIssue(file, deep, f"nested more than {MAX_DEPTH} levels deep: "
                                                       "a pipeline nests a few levels (check the brackets)")])
    try:
        raw = _load(text)
    except MarkedYAMLError as exc:
        raise PipelineError([_syntax_issue(exc, file)]) from None
    except RecursionError:
        raise PipelineError([PipelineIssue(file, 1, f"nested more than {MAX_DEPTH} levels deep")]) from None
    except Exception as exc:  # the YAML library's own failures must not become tracebacks
        reason = f"not a YAML file: {type(exc).__name__}: {exc}"
        raise PipelineError([PipelineIssue(file, 1, reason)]) from None
    if not isinstance(raw, CommentedMap):
        got = "a list" if isinstance(raw, CommentedSeq) else "plain text"
        reason = f"not a pipeline file: expected a mapping (name, venue, markets, strategy, ...), got {got}"
        raise PipelineError([PipelineIssue(file, _first_content_line(text), reason)])
    try:
        return Node(_convert_mapping(raw), 1)
    except _TooDeep as exc:
        raise PipelineError([PipelineIssue(file, exc.line, f"nested more than {MAX_DEPTH} levels deep: "
                                                           "a pipeline nests a few levels")]) from None


def parse_fragment(text: str) -> Node | None:
    """Parse a flow-style ``--set`` value such as ``[A, B]`` or ``{use: x}``; None when it is not YAML."""
    if len(text) > MAX_PIPELINE_BYTES or _too_deep(text) is not None:
        return None
    try:
        raw = _load(text)
    except Exception:  # not YAML: the caller keeps the text as a plain string
        return None
    try:
        if isinstance(raw, CommentedMap):
            return Node(_convert_mapping(raw), None)
        if isinstance(raw, CommentedSeq):
            return Node(_convert_list(raw), None)
    except _TooDeep:
        return None
    return None


def _load(text: str) -> Any:
    """The ruamel document (a CommentedMap, a CommentedSeq, or a plain value) of ``text``."""
    return strict_ruamel.load(text, Loader=_Loader)


_BRACKETS = re.compile(r"[\[\]{}\n]")


def _too_deep(text: str) -> int | None:
    """The line where flow brackets (``[`` ``{``) open more than `MAX_DEPTH` levels, if they do.

    A cheap linear pre-scan (quoted brackets may count too: harmless at this depth); it keeps the
    recursive parser away from input like ``[[[[...`` that would exhaust the stack. Block-style
    nesting is bounded by `_check_depth` after parsing."""
    if "[" not in text and "{" not in text:
        return None
    depth = 0
    line = 1
    for match in _BRACKETS.finditer(text):
        char = match.group()
        if char == "\n":
            line += 1
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line
        elif depth:
            depth -= 1
    return None


def _has_content(text: str) -> bool:
    return any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines())


def _first_content_line(text: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            return number
    return 1


def _convert(raw: Any, line: int | None, depth: int) -> Node:
    if isinstance(raw, CommentedMap | CommentedSeq) and depth >= MAX_DEPTH:
        raise _TooDeep(line)
    if isinstance(raw, CommentedMap):
        return Node(_convert_mapping(raw, depth + 1), line)
    if isinstance(raw, CommentedSeq):
        return Node(_convert_list(raw, depth + 1), line)
    return Node("" if raw is None else str(raw), line)


class _TooDeep(Exception):
    def __init__(self, line: int | None) -> None:
        super().__init__(line)
        self.line = line


def _convert_mapping(raw: CommentedMap, depth: int = 0) -> dict[str, Node]:
    out: dict[str, Node] = {}
    for key, value in raw.items():
        out[str(key)] = _convert(value, raw.lc.key(key)[0] + 1, depth)
    return out


def _convert_list(raw: CommentedSeq, depth: int = 0) -> list[Node]:
    return [_convert(item, raw.lc.item(index)[0] + 1, depth) for index, item in enumerate(raw)]


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
