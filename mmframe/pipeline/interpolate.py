"""Environment interpolation in scalar values: ``${VAR}``, ``${VAR:-default}``; ``$$`` is a literal ``$``.

Interpolated scalars are marked secret so that no error message ever echoes their value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from mmframe.pipeline.tree import Node

_REFERENCE = re.compile(r"\$\$|\$\{(?P<body>[^}]*)\}|\$\{")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

Report = Callable[[Node, str, str], None]
"""``report(node, key_path, message)``"""


def interpolate(node: Node, environ: Mapping[str, str], report: Report, path: str = "") -> None:
    """Substitute environment references in every scalar under ``node``, in place.

    Problems (unset variable, malformed reference) are handed to ``report``; the scalar keeps its
    text so validation can go on.
    """
    if isinstance(node.value, dict):
        for key, child in node.value.items():
            interpolate(child, environ, report, f"{path}.{key}" if path else key)
    elif isinstance(node.value, list):
        for index, child in enumerate(node.value):
            interpolate(child, environ, report, f"{path}.{index}" if path else str(index))
    elif node.override is None and "$" in node.value:
        _substitute(node, environ, report, path)


def _substitute(node: Node, environ: Mapping[str, str], report: Report, path: str) -> None:
    assert isinstance(node.value, str)
    used: list[str] = []
    failed = False

    def replace(match: re.Match[str]) -> str:
        nonlocal failed
        text = match.group(0)
        if text == "$$":
            return "$"
        body = match.group("body")
        if body is None:
            failed = True
            report(node, path, "unterminated '${': write ${NAME} or ${NAME:-default} (or $$ for a literal $)")
            return text
        name, has_default, default = body.partition(":-")
        if not _NAME.fullmatch(name):
            failed = True
            report(node, path, f"invalid environment reference '${{{name}}}': the name must match "
                               "[A-Za-z_][A-Za-z0-9_]*")
            return text
        used.append(name)
        value = environ.get(name)
        if value is None or (value == "" and has_default):
            if has_default:
                return default
            failed = True
            report(node, path, f"environment variable {name} is not set "
                               f"(set it, or give a default: ${{{name}:-default}})")
            return text
        return value

    result = _REFERENCE.sub(replace, node.value)
    if used:
        node.secret = True
        node.env_vars = tuple(used)
    if failed:
        node.reported = True
    else:
        node.value = result
