"""Errors as the user reads them: the root cause of a task group's error, on one line, with advice."""

from __future__ import annotations

import errno
import socket

import pytest

from mmframe.runtime.errors import advice_for, explain


def _group(exc: Exception) -> BaseException:
    """``exc`` as anyio/asyncio task groups deliver it: wrapped, possibly twice."""
    return ExceptionGroup("unhandled errors in a TaskGroup", [ExceptionGroup("inner", [exc])])


def test_explain_when_wrapped_in_task_groups_names_the_root_cause_not_the_group() -> None:
    error = PermissionError(errno.EACCES, "Permission denied", "/var/lib/x/journal.sqlite")
    text = explain(_group(error))
    assert "ExceptionGroup" not in text and "TaskGroup" not in text
    assert text.startswith("PermissionError: [Errno 13] Permission denied: '/var/lib/x/journal.sqlite'")
    assert "check that this user may write there" in text


@pytest.mark.parametrize(
    ("error", "advice"),
    [
        (TimeoutError(), "no answer in time"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), "nothing listens there"),
        (socket.gaierror(-2, "Name or service not known"), "does not resolve"),
        (OSError(errno.EADDRINUSE, "Address already in use"), "control.port"),
        (FileNotFoundError(errno.ENOENT, "No such file or directory", "x.pem"), "check that the path exists"),
        (OSError(errno.EROFS, "Read-only file system"), "read-only"),
    ],
)
def test_advice_for_common_causes_says_what_to_check(error: Exception, advice: str) -> None:
    assert advice in (advice_for(_group(error)) or "")
    assert advice in explain(error)


def test_explain_when_the_error_carries_its_own_advice_uses_it() -> None:
    class KeyProblem(RuntimeError):
        advice = "check the key"

    assert explain(_group(KeyProblem("the venue rejects our key abc"))) == (
        "KeyProblem: the venue rejects our key abc (check the key)"
    )


def test_explain_when_the_message_spans_lines_keeps_one_line() -> None:
    assert explain(ValueError("first\n  second")) == "ValueError: first second"


def test_explain_when_nothing_useful_to_add_gives_type_and_message_only() -> None:
    assert explain(KeyError("x")) == "KeyError: 'x'"
    assert explain(RuntimeError()) == "RuntimeError"
