"""Errors as the user should read them: the root cause (never ``ExceptionGroup: unhandled errors in a
TaskGroup``), in one line, with what to do about it.

An exception may carry its own advice in an ``advice`` attribute (plugins do: the Kalshi venue's
"the venue rejects our key"); otherwise the advice comes from the kind of error (a path that is not
writable, an address nothing listens on, a host that does not resolve, a timeout).
"""

from __future__ import annotations

import errno
import socket
import ssl

from mmframe.runtime.engine import root_cause

_ERRNO_ADVICE = {
    errno.EACCES: "check that this user may write there, or point the pipeline at another path",
    errno.EPERM: "check that this user may write there, or point the pipeline at another path",
    errno.EROFS: "the file system is read-only: point the pipeline at a writable path",
    errno.ENOSPC: "the disk is full: free some space",
    errno.ENOENT: "check that the path exists (relative paths start from the working directory)",
    errno.ENOTDIR: "a part of the path is a file, not a directory",
    errno.EISDIR: "the path is a directory: name a file",
    errno.EADDRINUSE: "another process holds that port: stop it, or set control.port to another port (0 picks one)",
    errno.EADDRNOTAVAIL: "this machine has no such address: check control.host",
    errno.ECONNREFUSED: "nothing listens there: is the venue (or `mmframe sim serve`) running, and is the URL right?",
    errno.ECONNRESET: "the venue dropped the connection: check the URL's scheme (http/https, ws/wss) and port",
    errno.EHOSTUNREACH: "the host is unreachable: check the URL and the network",
    errno.ENETUNREACH: "the network is unreachable: check the connection",
}


def advice_for(exc: BaseException) -> str | None:
    """What to do about ``exc`` (its root cause), or None when there is nothing useful to say."""
    exc = root_cause(exc)
    own = getattr(exc, "advice", None)
    if isinstance(own, str) and own:
        return own
    if isinstance(exc, socket.gaierror):
        return "the host name does not resolve: check the URL and the network"
    if isinstance(exc, ssl.SSLError):
        return "TLS failed: check the URL's scheme (https/wss for TLS, http/ws without) and the clock"
    if isinstance(exc, TimeoutError):
        return "no answer in time: check the URL, the network, and that the venue is up"
    if isinstance(exc, OSError) and exc.errno in _ERRNO_ADVICE:
        return _ERRNO_ADVICE[exc.errno]
    if isinstance(exc, ConnectionError):
        return "the connection failed: check the URL, the network, and that the venue is up"
    return None


def explain(exc: BaseException) -> str:
    """``Type: message (advice)`` of the root cause of ``exc``, on one line."""
    cause = root_cause(exc)
    text = " ".join(str(cause).split())
    if isinstance(cause, OSError) and cause.filename is not None and str(cause.filename) not in text:
        text = f"{text}: {cause.filename}"
    name = type(cause).__name__
    line = f"{name}: {text}" if text else name
    advice = advice_for(cause)
    if advice and advice not in line:
        line += f" ({advice})"
    return line
